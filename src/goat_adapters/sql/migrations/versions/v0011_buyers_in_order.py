"""A lot locks its buyers' rows in user order, and a buyer's row inserted meanwhile counts.

Since a lot's purchases go in as one ``unnest`` statement, 0009's trigger updates all
its buyers' ``users`` rows in one ``UPDATE ... FROM``, in the order of PostgreSQL's plan
(a scan of ``users`` takes them as they are stored). Two lots sharing buyers (two API
processes) could take them in different orders and deadlock: PostgreSQL aborted one
after a second. The trigger now locks the rows first, by user id in code point order
(``SELECT ... ORDER BY id COLLATE "C" FOR NO KEY UPDATE`` locks in its order, and so
does Python's ``sorted``, with which the listener pays winners); the debits that follow
lock nothing new.

0009's count could also miss a purchase written while its buyer's row was first
inserted: the ``UPDATE`` did not see the new row (not committed yet), and the new row
counted the purchases committed before it. Now the first insert of a row takes an
advisory lock named after the user before it counts. A purchase whose buyer has no row
it can see takes the same lock, shared, before it locks any row; then it locks its
buyers' rows in order (a row committed meanwhile among them) and adds to them. Whichever
comes second waits for the other's commit, so the row counts the purchase once. Buyers
with a row (every caller of the API, registered first) take no such lock. Three threads
writing lots of up to 200 buyers while a fourth registers them: no deadlock, no drift.

Each row inserted into ``users`` holds its advisory lock until commit: an import of
many thousands of users at once needs several transactions (or a larger
``max_locks_per_transaction``).

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

_ADD = """
    UPDATE users SET purchases = users.purchases + bought.n
    FROM (SELECT user_id, count(*) AS n FROM added WHERE {buyers} GROUP BY user_id) AS bought
    WHERE users.id = bought.user_id
"""
"""Add a statement's purchases to their buyers' rows (``added``: the rows it inserted)."""

_COUNT = _ADD.format(buyers="user_id IS NOT NULL")

_COUNT_IN_ORDER = f"""
    DECLARE
        unseen TEXT[];
        buyer TEXT;
    BEGIN
        -- a buyer without a row may have its first insert under way, counting without
        -- these purchases: wait for it, before any row is locked
        SELECT array_agg(DISTINCT a.user_id ORDER BY a.user_id) INTO unseen FROM added AS a
        WHERE a.user_id IS NOT NULL AND NOT EXISTS (SELECT FROM users WHERE id = a.user_id);
        FOREACH buyer IN ARRAY coalesce(unseen, '{{}}') LOOP
            PERFORM pg_advisory_xact_lock_shared(hashtextextended('user-first-seen:' || buyer, 0));
        END LOOP;
        -- in the order of Python's sorted() (the listener pays winners so): code points
        PERFORM FROM users WHERE id IN (SELECT user_id FROM added)
        ORDER BY id COLLATE "C" FOR NO KEY UPDATE;
        {_COUNT};
        RETURN NULL;
    END
"""  # noqa: S608 (no input: the statement's text only)

_FIRST_SEEN = """
    BEGIN
        UPDATE users SET purchases = (SELECT count(*) FROM purchases WHERE user_id = NEW.id)
        WHERE id = NEW.id;
        RETURN NULL;
    END
"""


# the first insert of a user's row: purchases of theirs being written finish first
_FIRST_SEEN_LOCKED = _FIRST_SEEN.replace(
    "BEGIN",
    "BEGIN PERFORM pg_advisory_xact_lock(hashtextextended('user-first-seen:' || NEW.id, 0));",
    1,
)


def _function(name: str, body: str) -> str:
    return f"CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $${body}$$"


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_function("goat_user_purchases", _COUNT_IN_ORDER))
        op.execute(_function("goat_user_first_seen", _FIRST_SEEN_LOCKED))


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_function("goat_user_purchases", f"BEGIN {_COUNT}; RETURN NULL; END"))
        op.execute(_function("goat_user_first_seen", _FIRST_SEEN))
