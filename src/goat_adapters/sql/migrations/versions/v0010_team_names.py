"""The names of the teams stored, so that a team filter reads a few fixtures, not all.

``?home=`` and ``?away=`` match fixtures whose team name contains the text. A ``LIKE
'%text%'`` cannot use an index: each such page read every upcoming fixture (1.2 ms of
PostgreSQL's time with 6,250 of them). Now ``team_names`` holds every casefolded team
name ever stored (a few hundred), kept by triggers on ``fixtures``: a filter matches the
text against those names, then reads the upcoming fixtures of the names that matched
through ``ix_fixtures_home_upcoming`` / ``ix_fixtures_away_upcoming``.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision: str | None = "0009"
branch_labels: str | None = None
depends_on: str | None = None

NOT_STARTED = "status IN ('NS', 'TBD')"
_SQLITE_NEW_NAMES = (
    "INSERT INTO team_names (search) SELECT NEW.home_search WHERE NOT EXISTS"
    " (SELECT 1 FROM team_names WHERE search = NEW.home_search);"
    " INSERT INTO team_names (search) SELECT NEW.away_search WHERE NOT EXISTS"
    " (SELECT 1 FROM team_names WHERE search = NEW.away_search);"
)
"""A SQLite trigger's body: a conflict clause in a trigger yields to the outer
statement's (the fixtures' upsert), so NOT EXISTS instead of OR IGNORE."""


def upgrade() -> None:
    op.create_table(
        "team_names",
        sa.Column("search", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("search", name="pk_team_names"),
    )
    for side in ("home", "away"):
        op.create_index(
            f"ix_fixtures_{side}_upcoming",
            "fixtures",
            [f"{side}_search", "kickoff"],
            postgresql_where=sa.text(NOT_STARTED),
            sqlite_where=sa.text(NOT_STARTED),
        )
    if op.get_bind().dialect.name == "postgresql":
        # fixtures stored: once per statement, the names in order (two listeners storing
        # the same new names wait for each other in the same order)
        op.execute(
            """
            CREATE FUNCTION goat_team_names() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                INSERT INTO team_names (search)
                SELECT home_search FROM stored UNION SELECT away_search FROM stored
                ORDER BY 1
                ON CONFLICT DO NOTHING;
                RETURN NULL;
            END $$
            """
        )
        op.execute(
            "CREATE TRIGGER goat_team_names_insert AFTER INSERT ON fixtures"
            " REFERENCING NEW TABLE AS stored FOR EACH STATEMENT"
            " EXECUTE FUNCTION goat_team_names()"
        )
        # a team renamed: only for a row whose names changed (a reservation, which
        # updates no name, does not even consider it; a statement trigger with a column
        # list cannot see its rows)
        op.execute(
            """
            CREATE FUNCTION goat_team_renamed() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                INSERT INTO team_names (search)
                VALUES (least(NEW.home_search, NEW.away_search)),
                       (greatest(NEW.home_search, NEW.away_search))
                ON CONFLICT DO NOTHING;
                RETURN NULL;
            END $$
            """
        )
        op.execute(
            "CREATE TRIGGER goat_team_names_update AFTER UPDATE OF home_search, away_search"
            " ON fixtures FOR EACH ROW WHEN (OLD.home_search IS DISTINCT FROM NEW.home_search"
            " OR OLD.away_search IS DISTINCT FROM NEW.away_search)"
            " EXECUTE FUNCTION goat_team_renamed()"
        )
    else:
        op.execute(
            f"CREATE TRIGGER goat_team_names_insert AFTER INSERT ON fixtures"
            f" BEGIN {_SQLITE_NEW_NAMES} END"
        )
        op.execute(
            "CREATE TRIGGER goat_team_names_update AFTER UPDATE OF home_search, away_search"
            f" ON fixtures BEGIN {_SQLITE_NEW_NAMES} END"
        )
    op.execute(
        "INSERT INTO team_names (search)"
        " SELECT home_search FROM fixtures UNION SELECT away_search FROM fixtures"
    )


def downgrade() -> None:
    for event in ("insert", "update"):
        if op.get_bind().dialect.name == "postgresql":
            op.execute(f"DROP TRIGGER goat_team_names_{event} ON fixtures")
        else:
            op.execute(f"DROP TRIGGER goat_team_names_{event}")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION goat_team_renamed()")
        op.execute("DROP FUNCTION goat_team_names()")
    for side in ("home", "away"):
        op.drop_index(f"ix_fixtures_{side}_upcoming", table_name="fixtures")
    op.drop_table("team_names")
