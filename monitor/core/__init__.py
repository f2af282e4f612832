"""The shared core: vocabulary, settings, exceptions and the database (models, engine,
migrations, partitions). Imports nothing from the hourly monitor, the CLI or inference."""
