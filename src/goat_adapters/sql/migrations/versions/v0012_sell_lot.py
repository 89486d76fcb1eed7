"""A lot of purchases is written by one call of a function, ``goat_sell_lot``.

Until now a lot was five statements in one psycopg pipeline, inside ``BEGIN`` and
``COMMIT``. From the API's event loop each statement cost at least two turns of the loop
(psycopg's asynchronous pipeline waits for the socket before sending each command and
again to flush), and each turn waited behind the requests the loop was answering
(``benchmarks/README.md``, session 12). The function runs the same statements, in the
same order, so the lot's locks are taken as before: its buyers' ``users`` rows by id
(the purchases' trigger, 0011), then its fixtures by id. Called outside a transaction
it is a transaction of its own, so a lot is one command and one round trip.

A check that falls short raises SQLSTATE ``GL001``, which rolls everything back; its
detail says which: ``purchases 0`` (a request id is known), ``debits 0`` (a wallet does
not cover its sales), ``bonds I`` (the lot's I-th fixture by id has too few bonds left).
``goat_adapters.sql.sales.Lot`` turns it into the error ``SaleLedger.record`` raises.

Each part of the lot comes as one JSON array of rows named as their columns (the
purchases, the debits, the announcements, the jobs, the fixtures' bonds): psycopg
dumped a list per column element by element in Python. The purchases are read with
the ``purchases`` table's columns, listed here: a migration that adds a column
replaces the function, or the column stays at its default in every lot
(``test_goat_sell_lot_writes_every_column_of_purchases`` fails until then).

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-30
"""

from __future__ import annotations

from alembic import op

revision = "0012"
down_revision: str | None = "0011"
branch_labels: str | None = None
depends_on: str | None = None

_PURCHASE_COLUMNS = (
    ("request_id", "TEXT"),
    ("group_id", "TEXT"),
    ("fixture_id", "BIGINT"),
    ("league_name", "TEXT"),
    ("round", "TEXT"),
    ("date", "TEXT"),
    ("result", "TEXT"),
    ("quantity", "INTEGER"),
    ("reserved", "INTEGER"),
    ("wallet", "BOOLEAN"),
    ("created_at", "TIMESTAMP WITH TIME ZONE"),
    ("status", "TEXT"),
    ("deposit_token", "TEXT"),
    ("seller", "INTEGER"),
    ("user_id", "TEXT"),
    ("payout", "BIGINT"),
    ("buy_order", "TEXT"),
    ("payment_url", "TEXT"),
    ("payment_outcome", "TEXT"),
    ("location", "TEXT"),
    ("updated_at", "TIMESTAMP WITH TIME ZONE"),
    ("give_back", "TEXT"),
    ("give_back_amount", "BIGINT"),
)
_PURCHASE_RECORD = ", ".join(f"{name} {kind}" for name, kind in _PURCHASE_COLUMNS)
_COLUMNS = ", ".join(name for name, _ in _PURCHASE_COLUMNS)
_ARGUMENTS = "purchases JSON, debits JSON, announcements JSON, jobs JSON, bonds JSON"

_SELL_LOT = f"""
CREATE FUNCTION goat_sell_lot({_ARGUMENTS}) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    written BIGINT;
    bond RECORD;
BEGIN
    -- the purchases; their trigger locks their buyers' rows, by id (0011)
    INSERT INTO purchases ({_COLUMNS})
    SELECT * FROM json_to_recordset(purchases) AS sale({_PURCHASE_RECORD})
    ON CONFLICT (request_id) DO NOTHING;
    GET DIAGNOSTICS written = ROW_COUNT;
    IF written < json_array_length(purchases) THEN
        RAISE EXCEPTION 'a purchase of the lot is known already'
        USING ERRCODE = 'GL001', DETAIL = 'purchases 0';
    END IF;
    -- each wallet debited once for its sales' total, then a ledger row per sale, in order
    WITH sale AS (
        SELECT * FROM ROWS FROM (json_to_recordset(debits) AS (user_id TEXT, amount BIGINT,
            kind TEXT, reference TEXT, at TIMESTAMP WITH TIME ZONE)) WITH ORDINALITY
            AS sale(user_id, amount, kind, reference, at, n)
    ), wanted AS (
        SELECT user_id, CAST(sum(amount) AS BIGINT) AS amount FROM sale GROUP BY user_id
    ), debited AS (
        UPDATE users SET wallet = users.wallet - wanted.amount FROM wanted
        WHERE users.id = wanted.user_id AND users.wallet >= wanted.amount
        RETURNING users.id
    )
    INSERT INTO ledger (user_id, amount, kind, reference, at)
    SELECT sale.user_id, -sale.amount, sale.kind, sale.reference, sale.at
    FROM sale JOIN debited ON debited.id = sale.user_id ORDER BY sale.n;
    GET DIAGNOSTICS written = ROW_COUNT;
    IF written < json_array_length(debits) THEN
        RAISE EXCEPTION 'a wallet of the lot cannot pay'
        USING ERRCODE = 'GL001', DETAIL = 'debits 0';
    END IF;
    INSERT INTO outbox (topic, payload)
    SELECT * FROM json_to_recordset(announcements) AS message(topic TEXT, payload TEXT);
    INSERT INTO job_outbox (kind, fields)
    SELECT * FROM json_to_recordset(jobs) AS job(kind TEXT, fields TEXT);
    -- the fixtures, the hottest rows, last and by id
    FOR bond IN
        SELECT * FROM ROWS FROM (json_to_recordset(bonds) AS (fixture_id BIGINT,
            quantity INTEGER)) WITH ORDINALITY AS wanted(fixture_id, quantity, n)
        ORDER BY n
    LOOP
        UPDATE fixtures SET available = available - bond.quantity
        WHERE id = bond.fixture_id AND available >= bond.quantity;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'a fixture of the lot has too few bonds left'
            USING ERRCODE = 'GL001', DETAIL = 'bonds ' || (bond.n - 1);
        END IF;
    END LOOP;
END
$$
"""  # noqa: S608 (no input: the schema's names only)


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_SELL_LOT)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP FUNCTION goat_sell_lot({_ARGUMENTS})")
