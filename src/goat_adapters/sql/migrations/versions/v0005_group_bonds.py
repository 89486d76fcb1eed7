"""The group's own bonds (CONTRACT §4b): lots, the group's account, auctions, proposals.

Tables ``lots``, ``group_account``, ``auction_offers`` and ``auction_proposals``.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision: str | None = "0004"
branch_labels: str | None = None
depends_on: str | None = None

# a serial key: INTEGER PRIMARY KEY (the rowid) on SQLite, BIGSERIAL on PostgreSQL
SERIAL = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
INSTANT = sa.DateTime(timezone=True)


def _bonds(name: str, key: str) -> None:
    """An offer's or a proposal's table: the bonds it names, its state, our lot."""
    extra = (
        [sa.Column("auction_id", sa.String(200), nullable=False)] if key == "proposal_id" else []
    )
    op.create_table(
        name,
        sa.Column(key, sa.String(200), nullable=False),
        *extra,
        sa.Column("group_id", sa.String(32), nullable=False),
        sa.Column("fixture_id", sa.BigInteger(), nullable=False),
        sa.Column("league_name", sa.String(200), nullable=False),
        sa.Column("round", sa.String(200), nullable=False),
        sa.Column("result", sa.String(200), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("created_at", INSTANT, nullable=False),
        sa.Column("lot_id", sa.String(64)),
        sa.PrimaryKeyConstraint(key, name=f"pk_{name}"),
    )


def upgrade() -> None:
    op.create_table(
        "lots",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("fixture_id", sa.BigInteger(), nullable=False),
        sa.Column("result", sa.String(8), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("origin", sa.String(16), nullable=False),
        sa.Column("source", sa.String(300), nullable=False),
        sa.Column("discount", sa.Integer(), nullable=False),
        sa.Column("settled", sa.Boolean(), nullable=False),
        sa.Column("created_at", INSTANT, nullable=False),
        sa.CheckConstraint("quantity >= 0", name="ck_lots_quantity_not_negative"),
        sa.PrimaryKeyConstraint("id", name="pk_lots"),
    )
    op.create_index("ix_lots_source", "lots", ["source"], unique=True)
    op.create_index("ix_lots_fixture_id", "lots", ["fixture_id"])
    op.create_index("ix_lots_status_created_at", "lots", ["status", "created_at"])
    op.create_table(
        "group_account",
        sa.Column("id", SERIAL, nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("reference", sa.String(300), nullable=False),
        sa.Column("at", INSTANT, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_group_account"),
    )
    op.create_index(
        "ix_group_account_kind_reference", "group_account", ["kind", "reference"], unique=True
    )
    _bonds("auction_offers", "auction_id")
    op.create_index("ix_auction_offers_state_created_at", "auction_offers", ["state", "created_at"])
    _bonds("auction_proposals", "proposal_id")
    op.create_index("ix_auction_proposals_auction_id", "auction_proposals", ["auction_id"])


def downgrade() -> None:
    for table in ("auction_proposals", "auction_offers", "group_account", "lots"):
        op.drop_table(table)
