"""installation: a random id per installation, for message ids unique across sites.

webhook-id was `msg_beltwatch_<row id>`: unique inside one database only, so two sites
posting to one receiver, or a rebuilt database, reused ids for different messages and a
deduplicating receiver dropped them. The id made here goes into every message id.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "installation",
        sa.Column(
            "id",
            postgresql.UUID(as_uuid=True),
            server_default=sa.text("gen_random_uuid()"),
            nullable=False,
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_installation")),
    )
    op.execute("INSERT INTO installation DEFAULT VALUES")


def downgrade() -> None:
    op.drop_table("installation")
