"""Reads and writes of the database, one module per table family, each function named for
the question it answers (`hourly_counts(conn, hour)`). The hourly monitor, the CLI and
the dashboard all go through these; SQL for a table lives nowhere else."""
