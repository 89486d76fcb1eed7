"""Indexes for listings that stay cheap as data grows (issue 16).

- ``ix_fixtures_upcoming``: the fixtures not started (``status`` NS or TBD) by kick-off,
  partial: the first page and every filtered page read and count only these, however
  many finished fixtures the table keeps;
- ``ix_fixtures_open``: the fixtures not ended, partial: the live and finished pages are
  counted from these few and the table's total;
- ``ix_fixtures_latest``: ``kickoff DESC, id`` for "the rest, latest first";
- ``fixture_tally``: how many fixtures are stored, kept by a trigger on PostgreSQL, so
  that a page's total is not a count of every row (SQLite counts them).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision: str | None = "0005"
branch_labels: str | None = None
depends_on: str | None = None

NOT_STARTED = "status IN ('NS', 'TBD')"
OPEN = "status NOT IN ('AET', 'FT', 'PEN', 'ABD', 'AWD', 'CANC', 'WO')"


def upgrade() -> None:
    op.create_index(
        "ix_fixtures_upcoming",
        "fixtures",
        ["kickoff", "id"],
        postgresql_where=sa.text(NOT_STARTED),
        sqlite_where=sa.text(NOT_STARTED),
    )
    op.create_index(
        "ix_fixtures_open",
        "fixtures",
        ["kickoff"],
        postgresql_where=sa.text(OPEN),
        sqlite_where=sa.text(OPEN),
    )
    op.create_index("ix_fixtures_latest", "fixtures", [sa.text("kickoff DESC"), "id"])
    op.create_table(
        "fixture_tally",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("fixtures", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_fixture_tally"),
    )
    op.execute("INSERT INTO fixture_tally (id, fixtures) SELECT 1, count(*) FROM fixtures")
    if op.get_bind().dialect.name == "postgresql":
        # AFTER INSERT fires for the rows an INSERT ... ON CONFLICT DO UPDATE inserted,
        # not for those it updated; fixtures are never deleted but by hand
        op.execute(
            """
            CREATE FUNCTION goat_fixture_tally() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF TG_OP = 'INSERT' THEN
                    UPDATE fixture_tally SET fixtures = fixtures + 1 WHERE id = 1;
                ELSE
                    UPDATE fixture_tally SET fixtures = fixtures - 1 WHERE id = 1;
                END IF;
                RETURN NULL;
            END $$
            """
        )
        op.execute(
            "CREATE TRIGGER goat_fixture_tally AFTER INSERT OR DELETE ON fixtures"
            " FOR EACH ROW EXECUTE FUNCTION goat_fixture_tally()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER goat_fixture_tally ON fixtures")
        op.execute("DROP FUNCTION goat_fixture_tally()")
    op.drop_table("fixture_tally")
    op.drop_index("ix_fixtures_latest", table_name="fixtures")
    op.drop_index("ix_fixtures_open", table_name="fixtures")
    op.drop_index("ix_fixtures_upcoming", table_name="fixtures")
