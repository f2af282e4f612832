"""reference_profiles.set_by: who set a station's reference.

A reference decides what the lens and lighting rules call normal, so setting one is an
operator's decision worth a name, like a silence's `created_by` and a label's `reviewer`.
NULL: set by the monitor itself (a provisional profile) or before this column existed.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("reference_profiles", sa.Column("set_by", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("reference_profiles", "set_by")
