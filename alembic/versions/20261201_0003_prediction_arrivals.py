"""prediction_arrivals: a ledger of stored rows per capture hour, so late rows are judged.

An hour marked done was never revisited, so rows that landed after it (a spool replayed
after an outage, a directory backlog) were ignored. The log writer now counts what it
stores per capture hour in the same transaction, and monitor_runs remembers the count the
hour was processed with; the monitor processes an hour again when the count has grown.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 23:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "prediction_arrivals",
        sa.Column("hour", sa.DateTime(timezone=True), nullable=False),
        sa.Column("rows", sa.BigInteger(), nullable=False),
        sa.Column("last_arrival", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("hour", name=op.f("pk_prediction_arrivals")),
    )
    op.add_column("monitor_runs", sa.Column("rows_seen", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    op.drop_column("monitor_runs", "rows_seen")
    op.drop_table("prediction_arrivals")
