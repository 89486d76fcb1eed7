"""The initial schema.

Revision ID: 0001
Revises:
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None

# a serial key: INTEGER PRIMARY KEY (the rowid) on SQLite, BIGSERIAL on PostgreSQL
SERIAL = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
INSTANT = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "fixtures",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("kickoff", INSTANT, nullable=False),
        sa.Column("kickoff_date", sa.Date(), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("status_long", sa.String(64)),
        sa.Column("elapsed", sa.Integer()),
        sa.Column("referee", sa.String(200)),
        sa.Column("league_id", sa.BigInteger()),
        sa.Column("league_name", sa.String(200), nullable=False),
        sa.Column("league_round", sa.String(200), nullable=False),
        sa.Column("league_country", sa.String(200)),
        sa.Column("league_logo", sa.String(500)),
        sa.Column("league_flag", sa.String(500)),
        sa.Column("league_season", sa.Integer()),
        sa.Column("home_id", sa.BigInteger(), nullable=False),
        sa.Column("home_name", sa.String(200), nullable=False),
        sa.Column("home_search", sa.String(200), nullable=False),
        sa.Column("home_logo", sa.String(500)),
        sa.Column("away_id", sa.BigInteger(), nullable=False),
        sa.Column("away_name", sa.String(200), nullable=False),
        sa.Column("away_search", sa.String(200), nullable=False),
        sa.Column("away_logo", sa.String(500)),
        sa.Column("goals_home", sa.Integer()),
        sa.Column("goals_away", sa.Integer()),
        sa.Column("odds_home", sa.String(32)),
        sa.Column("odds_draw", sa.String(32)),
        sa.Column("odds_away", sa.String(32)),
        sa.Column("available", sa.Integer(), nullable=False),
        sa.Column("updated_at", INSTANT, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_fixtures"),
        sa.CheckConstraint("available >= 0", name="ck_fixtures_available_not_negative"),
    )
    op.create_index("ix_fixtures_kickoff_id", "fixtures", ["kickoff", "id"])
    op.create_index("ix_fixtures_kickoff_date", "fixtures", ["kickoff_date"])
    op.create_index("ix_fixtures_status", "fixtures", ["status"])
    op.create_index("ix_fixtures_home_search", "fixtures", ["home_search"])
    op.create_index("ix_fixtures_away_search", "fixtures", ["away_search"])

    op.create_table(
        "users",
        sa.Column("id", sa.String(200), nullable=False),
        sa.Column("email", sa.String(320)),
        sa.Column("name", sa.String(200)),
        sa.Column("wallet", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_users"),
        sa.CheckConstraint("wallet >= 0", name="ck_users_wallet_not_negative"),
    )

    op.create_table(
        "ledger",
        sa.Column("id", SERIAL, nullable=False),
        sa.Column("user_id", sa.String(200), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("reference", sa.String(200)),
        sa.Column("at", INSTANT, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_ledger"),
    )
    op.create_index("ix_ledger_user_id_id", "ledger", ["user_id", "id"])

    op.create_table(
        "purchases",
        sa.Column("request_id", sa.String(200), nullable=False),
        sa.Column("group_id", sa.String(32), nullable=False),
        sa.Column("fixture_id", sa.BigInteger(), nullable=False),
        sa.Column("league_name", sa.String(200), nullable=False),
        sa.Column("round", sa.String(200), nullable=False),
        sa.Column("date", sa.String(32), nullable=False),
        sa.Column("result", sa.String(8), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("reserved", sa.Integer(), nullable=False),
        sa.Column("wallet", sa.Boolean(), nullable=False),
        sa.Column("created_at", INSTANT, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("deposit_token", sa.String(200), nullable=False),
        sa.Column("seller", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.String(200)),
        sa.Column("payout", sa.BigInteger()),
        sa.Column("buy_order", sa.String(64)),
        sa.Column("payment_url", sa.String(500)),
        sa.Column("payment_outcome", sa.String(16)),
        sa.Column("location", sa.String(200)),
        sa.Column("updated_at", INSTANT),
        sa.PrimaryKeyConstraint("request_id", name="pk_purchases"),
    )
    op.create_index(
        "ix_purchases_user_id_created_at_request_id",
        "purchases",
        ["user_id", "created_at", "request_id"],
    )
    op.create_index(
        "ix_purchases_user_id_status_created_at", "purchases", ["user_id", "status", "created_at"]
    )
    op.create_index("ix_purchases_fixture_id_status", "purchases", ["fixture_id", "status"])
    op.create_index("ix_purchases_deposit_token", "purchases", ["deposit_token"])
    op.create_index("ix_purchases_buy_order", "purchases", ["buy_order"])

    op.create_table(
        "outbox",
        sa.Column("id", SERIAL, nullable=False),
        sa.Column("topic", sa.String(200), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("created_at", INSTANT, server_default=sa.func.now(), nullable=False),
        sa.Column("sent_at", INSTANT),
        sa.PrimaryKeyConstraint("id", name="pk_outbox"),
    )
    op.create_index(
        "ix_outbox_unsent",
        "outbox",
        ["id"],
        postgresql_where=sa.text("sent_at IS NULL"),
        sqlite_where=sa.text("sent_at IS NULL"),
    )

    op.create_table(
        "inbox",
        sa.Column("key", sa.String(300), nullable=False),
        sa.Column("received_at", INSTANT, server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_inbox"),
    )

    op.create_table(
        "parked_validations",
        sa.Column("request_id", sa.String(200), nullable=False),
        sa.Column("group_id", sa.String(32), nullable=False),
        sa.Column("valid", sa.Boolean(), nullable=False),
        sa.Column("seller", sa.Integer(), nullable=False),
        sa.Column("parked_at", INSTANT, nullable=False),
        sa.PrimaryKeyConstraint("request_id", name="pk_parked_validations"),
    )

    op.create_table(
        "dead_letters",
        sa.Column("id", SERIAL, nullable=False),
        sa.Column("topic", sa.String(200), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("received_at", INSTANT, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_dead_letters"),
    )

    op.create_table(
        "auctions",
        sa.Column("id", SERIAL, nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("received_at", INSTANT, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_auctions"),
    )

    op.create_table(
        "recommendations",
        sa.Column("user_id", sa.String(200), nullable=False),
        sa.Column("updated_at", INSTANT),
        sa.Column("items", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("user_id", name="pk_recommendations"),
    )


def downgrade() -> None:
    for table in (
        "recommendations",
        "auctions",
        "dead_letters",
        "parked_validations",
        "inbox",
        "outbox",
        "purchases",
        "ledger",
        "users",
        "fixtures",
    ):
        op.drop_table(table)
