"""A lot locks its buyers' rows in user order.

Since a lot's purchases go in as one ``unnest`` statement, 0009's trigger updates all
its buyers' ``users`` rows in one ``UPDATE ... FROM``, in the order of PostgreSQL's plan
(a scan of ``users`` takes them as they are stored). Two lots sharing buyers (two API
processes) could take them in different orders and deadlock: PostgreSQL aborted one
after a second. The trigger now locks the rows first, by user id (``SELECT ... ORDER BY
id FOR UPDATE`` locks in its order); the debits that follow lock nothing new.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30
"""

from __future__ import annotations

from alembic import op

revision = "0011"
down_revision: str | None = "0010"
branch_labels: str | None = None
depends_on: str | None = None

_COUNT = """
    UPDATE users SET purchases = users.purchases + bought.n
    FROM (SELECT user_id, count(*) AS n FROM added WHERE user_id IS NOT NULL
          GROUP BY user_id) AS bought
    WHERE users.id = bought.user_id;
"""
_LOCK_IN_ORDER = """
    PERFORM FROM users WHERE id IN (SELECT user_id FROM added) ORDER BY id FOR UPDATE;
"""


def _count_purchases(body: str) -> str:
    return (
        "CREATE OR REPLACE FUNCTION goat_user_purchases() RETURNS trigger LANGUAGE plpgsql"
        f" AS $$ BEGIN {body} RETURN NULL; END $$"
    )


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_count_purchases(_LOCK_IN_ORDER + _COUNT))


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_count_purchases(_COUNT))
