"""station_retirements: stations taken out of service on purpose.

A station is known from its first prediction; once it is retired (`beltwatch station
retire`) its silence is no longer a fault: no `no_data` fires for it from the hour it was
retired, and its open alerts resolve with that reason. A retired station that sends again
is judged like any other; `station unretire` deletes the row.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "station_retirements",
        sa.Column("station_id", sa.Text(), nullable=False),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("retired_by", sa.Text(), nullable=False),
        sa.Column("comment", sa.Text(), server_default=sa.text("''"), nullable=False),
        sa.PrimaryKeyConstraint("station_id", name=op.f("pk_station_retirements")),
    )


def downgrade() -> None:
    op.drop_table("station_retirements")
