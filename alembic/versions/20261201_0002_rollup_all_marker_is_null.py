"""The site is marked so that no client value collides with it: NULL, not '*'.

A client could send station_id or model_version '*', which collided with the rollup's
marker and failed the hour for every station, and whose alerts shared the site's
fingerprint. hourly_rollups: the rows over all stations / model versions hold NULL there,
and the unique key treats NULLs as equal (PostgreSQL 15+), so an hour still has one site
row. alerts: a site-wide episode's fingerprint becomes `rule@site` (stations keep
`rule:station`); queued notifications follow. Receivers' dedup keys do not change.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01 23:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_UNIQUE = "uq_hourly_rollups_hour_station_id_model_version"
_KEY = ["hour", "station_id", "model_version"]


def upgrade() -> None:
    op.alter_column("hourly_rollups", "station_id", existing_type=sa.Text(), nullable=True)
    op.alter_column("hourly_rollups", "model_version", existing_type=sa.Text(), nullable=True)
    op.execute("UPDATE hourly_rollups SET model_version = NULL WHERE model_version = '*'")
    op.execute(
        "UPDATE hourly_rollups SET station_id = NULL "
        "WHERE station_id = '*' AND model_version IS NULL"
    )
    op.drop_constraint(_UNIQUE, "hourly_rollups", type_="unique")
    op.create_unique_constraint(_UNIQUE, "hourly_rollups", _KEY, postgresql_nulls_not_distinct=True)
    op.execute("UPDATE alerts SET fingerprint = rule || '@site' WHERE station_id IS NULL")
    _follow_alert_fingerprints()


def _follow_alert_fingerprints() -> None:
    op.execute(
        "UPDATE notifications n SET payload = jsonb_set(n.payload, '{fingerprint}', "
        "to_jsonb(a.fingerprint)) FROM alerts a "
        "WHERE a.id = n.alert_id AND a.station_id IS NULL AND n.payload ? 'fingerprint'"
    )


def downgrade() -> None:
    op.execute("UPDATE alerts SET fingerprint = rule || ':*' WHERE station_id IS NULL")
    _follow_alert_fingerprints()
    op.drop_constraint(_UNIQUE, "hourly_rollups", type_="unique")
    op.execute("UPDATE hourly_rollups SET station_id = '*' WHERE station_id IS NULL")
    op.execute("UPDATE hourly_rollups SET model_version = '*' WHERE model_version IS NULL")
    op.create_unique_constraint(_UNIQUE, "hourly_rollups", _KEY)
    op.alter_column("hourly_rollups", "model_version", existing_type=sa.Text(), nullable=False)
    op.alter_column("hourly_rollups", "station_id", existing_type=sa.Text(), nullable=False)
