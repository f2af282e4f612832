"""initial schema: every table of the data model; `predictions` range-partitioned by captured_at.

The daily partitions themselves are created by code (monitor/core/db/partitions.py); dropping
the parent table drops them with it.

Revision ID: 0001
Revises:
Create Date: 2026-11-25 08:10:57.844102
"""

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "alerts",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("fingerprint", sa.Text(), nullable=False),
        sa.Column("rule", sa.Text(), nullable=False),
        sa.Column("station_id", sa.Text(), nullable=True),
        sa.Column("severity", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_evaluated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_notified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ok_hours", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("ok_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column(
            "evidence",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "severity IN ('critical', 'warning', 'info')", name=op.f("ck_alerts_severity")
        ),
        sa.CheckConstraint("status IN ('firing', 'resolved')", name=op.f("ck_alerts_status")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alerts")),
    )
    op.create_index(
        "ix_alerts_station_id_started_at", "alerts", ["station_id", "started_at"], unique=False
    )
    op.create_index("ix_alerts_status", "alerts", ["status"], unique=False)
    op.create_index(
        "uq_alerts_fingerprint_firing",
        "alerts",
        ["fingerprint"],
        unique=True,
        postgresql_where=sa.text("status = 'firing'"),
    )
    op.create_table(
        "hourly_rollups",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("hour", sa.DateTime(timezone=True), nullable=False),
        sa.Column("station_id", sa.Text(), nullable=False),
        sa.Column("model_version", sa.Text(), nullable=False),
        sa.Column("n_total", sa.Integer(), nullable=False),
        sa.Column("n_undamaged", sa.Integer(), nullable=False),
        sa.Column("n_minor", sa.Integer(), nullable=False),
        sa.Column("n_critical", sa.Integer(), nullable=False),
        sa.Column("brightness_p05", sa.Float(), nullable=True),
        sa.Column("brightness_p50", sa.Float(), nullable=True),
        sa.Column("brightness_p95", sa.Float(), nullable=True),
        sa.Column("blur_p05", sa.Float(), nullable=True),
        sa.Column("blur_p50", sa.Float(), nullable=True),
        sa.Column("blur_p95", sa.Float(), nullable=True),
        sa.Column("sharpness_p05", sa.Float(), nullable=True),
        sa.Column("sharpness_p50", sa.Float(), nullable=True),
        sa.Column("sharpness_p95", sa.Float(), nullable=True),
        sa.Column("sharpness_tile_min_p50", sa.Float(), nullable=True),
        sa.Column("contrast_p50", sa.Float(), nullable=True),
        sa.Column("luma_p01_p50", sa.Float(), nullable=True),
        sa.Column("clipped_dark_mean", sa.Float(), nullable=True),
        sa.Column("clipped_bright_mean", sa.Float(), nullable=True),
        sa.Column("latency_p50", sa.Float(), nullable=True),
        sa.Column("latency_p95", sa.Float(), nullable=True),
        sa.Column("mean_confidence", sa.Float(), nullable=True),
        sa.Column(
            "processed_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hourly_rollups")),
        sa.UniqueConstraint(
            "hour",
            "station_id",
            "model_version",
            name=op.f("uq_hourly_rollups_hour_station_id_model_version"),
        ),
    )
    op.create_index(
        "ix_hourly_rollups_station_id_hour", "hourly_rollups", ["station_id", "hour"], unique=False
    )
    op.create_table(
        "monitor_runs",
        sa.Column("hour", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column(
            "started_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "status IN ('running', 'done', 'failed')", name=op.f("ck_monitor_runs_status")
        ),
        sa.PrimaryKeyConstraint("hour", name=op.f("pk_monitor_runs")),
    )
    op.create_table(
        "predictions",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("captured_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("station_id", sa.Text(), nullable=False),
        sa.Column("parcel_id", sa.Text(), nullable=True),
        sa.Column("model_version", sa.Text(), nullable=False),
        sa.Column("predicted_class", sa.Text(), nullable=False),
        sa.Column("p_undamaged", sa.REAL(), nullable=False),
        sa.Column("p_minor", sa.REAL(), nullable=False),
        sa.Column("p_critical", sa.REAL(), nullable=False),
        sa.Column("latency_ms", sa.REAL(), nullable=True),
        sa.Column("brightness", sa.REAL(), nullable=False),
        sa.Column("blur", sa.REAL(), nullable=False),
        sa.Column("sharpness", sa.REAL(), nullable=False),
        sa.Column("sharpness_tile_min", sa.REAL(), nullable=False),
        sa.Column("contrast", sa.REAL(), nullable=False),
        sa.Column("clipped_dark", sa.REAL(), nullable=False),
        sa.Column("clipped_bright", sa.REAL(), nullable=False),
        sa.Column("luma_p01", sa.REAL(), nullable=False),
        sa.Column("luma_p99", sa.REAL(), nullable=False),
        sa.Column("mean_r", sa.REAL(), nullable=False),
        sa.Column("mean_g", sa.REAL(), nullable=False),
        sa.Column("mean_b", sa.REAL(), nullable=False),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("image_ref", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "action IN ('none', 'review', 'divert')", name=op.f("ck_predictions_action")
        ),
        sa.CheckConstraint(
            "predicted_class IN ('undamaged', 'minor', 'critical')",
            name=op.f("ck_predictions_predicted_class"),
        ),
        sa.PrimaryKeyConstraint("id", "captured_at", name=op.f("pk_predictions")),
        postgresql_partition_by="RANGE (captured_at)",
    )
    op.create_index(
        "ix_predictions_captured_at_brin",
        "predictions",
        ["captured_at"],
        unique=False,
        postgresql_using="brin",
    )
    op.create_index(
        "ix_predictions_station_id_captured_at",
        "predictions",
        ["station_id", "captured_at"],
        unique=False,
    )
    op.create_table(
        "reference_profiles",
        sa.Column("station_id", sa.Text(), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("window_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("provisional", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("n_predictions", sa.BigInteger(), nullable=False),
        sa.Column("sample", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("quantiles", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("hourly_spread", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("class_mix", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("baseline_critical_rate", sa.Float(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "baseline_critical_rate >= 0 AND baseline_critical_rate <= 1",
            name=op.f("ck_reference_profiles_critical_rate"),
        ),
        sa.CheckConstraint("window_end > window_start", name=op.f("ck_reference_profiles_window")),
        sa.PrimaryKeyConstraint("station_id", name=op.f("pk_reference_profiles")),
    )
    op.create_table(
        "reviews",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("prediction_id", sa.UUID(), nullable=False),
        sa.Column("captured_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("true_class", sa.Text(), nullable=False),
        sa.Column("reviewer", sa.Text(), nullable=False),
        sa.Column(
            "reviewed_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "true_class IN ('undamaged', 'minor', 'critical')", name=op.f("ck_reviews_true_class")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reviews")),
        sa.UniqueConstraint("prediction_id", name=op.f("uq_reviews_prediction_id")),
    )
    op.create_index("ix_reviews_captured_at", "reviews", ["captured_at"], unique=False)
    op.create_table(
        "silences",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("rule", sa.Text(), nullable=True),
        sa.Column("station_id", sa.Text(), nullable=True),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.Text(), nullable=False),
        sa.Column("comment", sa.Text(), server_default=sa.text("''"), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("ends_at > starts_at", name=op.f("ck_silences_window")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_silences")),
    )
    op.create_index("ix_silences_ends_at", "silences", ["ends_at"], unique=False)
    op.create_table(
        "notifications",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("alert_id", sa.BigInteger(), nullable=False),
        sa.Column("channel", sa.Text(), nullable=False),
        sa.Column("event", sa.Text(), nullable=False),
        sa.Column("hour", sa.DateTime(timezone=True), nullable=False),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("status", sa.Text(), server_default=sa.text("'pending'"), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column(
            "next_attempt_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "event IN ('trigger', 'resolve', 'repeat')", name=op.f("ck_notifications_event")
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'delivered', 'failed')", name=op.f("ck_notifications_status")
        ),
        sa.ForeignKeyConstraint(
            ["alert_id"],
            ["alerts.id"],
            name=op.f("fk_notifications_alert_id_alerts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
        sa.UniqueConstraint(
            "alert_id",
            "channel",
            "event",
            "hour",
            name=op.f("uq_notifications_alert_id_channel_event_hour"),
        ),
    )
    op.create_index(
        "ix_notifications_due",
        "notifications",
        ["next_attempt_at"],
        unique=False,
        postgresql_where=sa.text("status = 'pending'"),
    )


def downgrade() -> None:
    op.drop_index(
        "ix_notifications_due",
        table_name="notifications",
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.drop_table("notifications")
    op.drop_index("ix_silences_ends_at", table_name="silences")
    op.drop_table("silences")
    op.drop_index("ix_reviews_captured_at", table_name="reviews")
    op.drop_table("reviews")
    op.drop_table("reference_profiles")
    op.drop_index("ix_predictions_station_id_captured_at", table_name="predictions")
    op.drop_index(
        "ix_predictions_captured_at_brin", table_name="predictions", postgresql_using="brin"
    )
    op.drop_table("predictions")
    op.drop_table("monitor_runs")
    op.drop_index("ix_hourly_rollups_station_id_hour", table_name="hourly_rollups")
    op.drop_table("hourly_rollups")
    op.drop_index(
        "uq_alerts_fingerprint_firing",
        table_name="alerts",
        postgresql_where=sa.text("status = 'firing'"),
    )
    op.drop_index("ix_alerts_status", table_name="alerts")
    op.drop_index("ix_alerts_station_id_started_at", table_name="alerts")
    op.drop_table("alerts")
