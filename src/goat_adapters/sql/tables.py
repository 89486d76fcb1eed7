"""The schema, as SQLAlchemy Core tables: what the repositories query and what the
migrations must build (a test compares the two)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Dialect,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    func,
    text,
)


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC instant on every dialect.

    PostgreSQL keeps ``timestamptz``; SQLite has no time zones, so the instant is stored
    as naive UTC and given its zone back when read.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)  # the core only makes aware times; be lenient
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, datetime) and value.tzinfo is UTC:
            return value  # already UTC: what PostgreSQL sessions (in UTC) read
        if isinstance(value, str):  # SQLite's CURRENT_TIMESTAMP server defaults
            value = datetime.fromisoformat(value)
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# Odds are text: the exact decimal the broker sent, on every dialect (SQLite has no
# exact decimal type).
fixtures = Table(
    "fixtures",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=False),
    Column("kickoff", UtcDateTime, nullable=False),
    # the kick-off's calendar date where it is played, as the date filter reads it
    Column("kickoff_date", Date, nullable=False),
    Column("timezone", String(64), nullable=False),
    Column("status", String(16), nullable=False),
    Column("status_long", String(64)),
    Column("elapsed", Integer),
    Column("referee", String(200)),
    Column("league_id", BigInteger),
    Column("league_name", String(200), nullable=False),
    Column("league_round", String(200), nullable=False),
    Column("league_country", String(200)),
    Column("league_logo", String(500)),
    Column("league_flag", String(500)),
    Column("league_season", Integer),
    Column("home_id", BigInteger, nullable=False),
    Column("home_name", String(200), nullable=False),
    # casefolded in Python, so that the team filter matches exactly as the core does
    # on every dialect and locale
    Column("home_search", String(200), nullable=False),
    Column("home_logo", String(500)),
    Column("away_id", BigInteger, nullable=False),
    Column("away_name", String(200), nullable=False),
    Column("away_search", String(200), nullable=False),
    Column("away_logo", String(500)),
    Column("goals_home", Integer),
    Column("goals_away", Integer),
    Column("odds_home", String(32)),
    Column("odds_draw", String(32)),
    Column("odds_away", String(32)),
    Column("available", Integer, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    CheckConstraint("available >= 0", name="available_not_negative"),
)
Index(None, fixtures.c.kickoff, fixtures.c.id)
Index(None, fixtures.c.kickoff_date)
Index(None, fixtures.c.status)
Index(None, fixtures.c.home_search)
Index(None, fixtures.c.away_search)
# partial: the pages read and count the few fixtures not started (or not ended) through
# these, however many finished ones are kept (statuses as in goat_core.model)
_NOT_STARTED = "status IN ('NS', 'TBD')"
_ENDED = "status IN ('AET', 'FT', 'PEN', 'ABD', 'AWD', 'CANC', 'WO')"
_NOT_ENDED = "status NOT IN ('AET', 'FT', 'PEN', 'ABD', 'AWD', 'CANC', 'WO')"


def _partial(condition: str) -> dict[str, Any]:
    """The options of a partial index, the same condition on both dialects."""
    return {"postgresql_where": text(condition), "sqlite_where": text(condition)}


Index("ix_fixtures_upcoming", fixtures.c.kickoff, fixtures.c.id, **_partial(_NOT_STARTED))
Index("ix_fixtures_open", fixtures.c.kickoff, **_partial(_NOT_ENDED))
Index("ix_fixtures_latest", fixtures.c.kickoff.desc(), fixtures.c.id)
# a team filter's upcoming fixtures, by the names in team_names it matched (0010)
Index(
    "ix_fixtures_home_upcoming",
    fixtures.c.home_search,
    fixtures.c.kickoff,
    **_partial(_NOT_STARTED),
)
Index(
    "ix_fixtures_away_upcoming",
    fixtures.c.away_search,
    fixtures.c.kickoff,
    **_partial(_NOT_STARTED),
)
Index("ix_fixtures_ended", fixtures.c.kickoff.desc(), fixtures.c.id, **_partial(_ENDED))

# every team name stored (fixtures' home_search and away_search), kept by triggers
# (migration 0010): a team filter matches its text against these few names
team_names = Table("team_names", metadata, Column("search", String(200), primary_key=True))

# how many fixtures are stored, not started (NS, TBD) and not ended (one row, id 1):
# kept by triggers on PostgreSQL (migrations 0006, 0008)
fixture_tally = Table(
    "fixture_tally",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("fixtures", BigInteger, nullable=False),
    Column("not_started", BigInteger, nullable=False),
    Column("not_ended", BigInteger, nullable=False),
)

users = Table(
    "users",
    metadata,
    Column("id", String(200), primary_key=True),
    Column("email", String(320)),
    Column("name", String(200)),
    Column("wallet", BigInteger, nullable=False),
    # how many purchases the user has, kept by a trigger on PostgreSQL (migration 0009)
    Column("purchases", BigInteger, nullable=False, server_default="0"),
    CheckConstraint("wallet >= 0", name="wallet_not_negative"),
)

ledger = Table(
    "ledger",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("user_id", String(200), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("reference", String(200)),
    Column("at", UtcDateTime, nullable=False),
)
Index(None, ledger.c.user_id, ledger.c.id)

# No foreign keys on the hot path: the use cases check existence, and on PostgreSQL a
# key check would add a share lock on the hottest row (the fixture) to every purchase.
purchases = Table(
    "purchases",
    metadata,
    Column("request_id", String(200), primary_key=True),
    Column("group_id", String(32), nullable=False),
    Column("fixture_id", BigInteger, nullable=False),
    Column("league_name", String(200), nullable=False),
    Column("round", String(200), nullable=False),
    Column("date", String(32), nullable=False),
    Column("result", String(8), nullable=False),
    Column("quantity", Integer, nullable=False),
    Column("reserved", Integer, nullable=False),
    Column("wallet", Boolean, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("status", String(16), nullable=False),
    Column("deposit_token", String(200), nullable=False),
    Column("seller", Integer, nullable=False),
    Column("user_id", String(200)),
    Column("payout", BigInteger),
    Column("buy_order", String(64)),
    Column("payment_url", String(500)),
    Column("payment_outcome", String(16)),
    Column("location", Text),
    Column("updated_at", UtcDateTime),
    # money taken for a purchase that ended not accepted: "pending" once claimed (by one
    # caller only), "done" when refunded or credited (migration 0007)
    Column("give_back", String(16)),
    Column("give_back_amount", BigInteger),
)
Index(None, purchases.c.user_id, purchases.c.created_at, purchases.c.request_id)
Index(None, purchases.c.user_id, purchases.c.status, purchases.c.created_at)
Index(None, purchases.c.fixture_id, purchases.c.status)
Index(None, purchases.c.deposit_token)
Index(None, purchases.c.buy_order)
# the few pending give-backs, every expiry round; partial, so a purchase's insert skips it
Index(
    "ix_purchases_give_back_pending",
    purchases.c.updated_at,
    **_partial("give_back = 'pending'"),
)

outbox = Table(
    "outbox",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("topic", String(200), nullable=False),
    Column("payload", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False, server_default=func.now()),
    Column("sent_at", UtcDateTime),
)
# only the unsent few are ever looked for
Index(
    "ix_outbox_unsent",
    outbox.c.id,
    postgresql_where=text("sent_at IS NULL"),
    sqlite_where=text("sent_at IS NULL"),
)

# jobs decided in a transaction, handed to the job queue after it commits
job_outbox = Table(
    "job_outbox",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("kind", String(64), nullable=False),
    Column("fields", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False, server_default=func.now()),
    Column("sent_at", UtcDateTime),
)
Index(
    "ix_job_outbox_unsent",
    job_outbox.c.id,
    postgresql_where=text("sent_at IS NULL"),
    sqlite_where=text("sent_at IS NULL"),
)

inbox = Table(
    "inbox",
    metadata,
    Column("key", String(300), primary_key=True),
    Column("received_at", UtcDateTime, nullable=False, server_default=func.now()),
)

parked_validations = Table(
    "parked_validations",
    metadata,
    Column("request_id", String(200), primary_key=True),
    Column("group_id", String(32), nullable=False),
    Column("valid", Boolean, nullable=False),
    Column("seller", Integer, nullable=False),
    Column("parked_at", UtcDateTime, nullable=False),
)

# another group's purchases of fixtures not announced yet, applied when they arrive
parked_requests = Table(
    "parked_requests",
    metadata,
    Column("request_id", String(200), primary_key=True),
    Column("fixture_id", BigInteger, nullable=False),
    Column("payload", Text, nullable=False),
    Column("parked_at", UtcDateTime, nullable=False),
)
Index(None, parked_requests.c.fixture_id)
Index(None, parked_requests.c.parked_at)

dead_letters = Table(
    "dead_letters",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("topic", String(200), nullable=False),
    Column("payload", Text, nullable=False),
    Column("reason", Text, nullable=False),
    Column("received_at", UtcDateTime, nullable=False),
)

auctions = Table(
    "auctions",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("payload", Text, nullable=False),
    Column("received_at", UtcDateTime, nullable=False),
)

# items: a JSON list of {"fixture_id", "pond"}, pond as an exact decimal string
recommendations = Table(
    "recommendations",
    metadata,
    Column("user_id", String(200), primary_key=True),
    Column("updated_at", UtcDateTime),
    Column("items", Text, nullable=False),
)

# the embedded Webpay sandbox's transactions (goat_adapters.webpay.sandbox_sql): shared by
# every API process on the database, as Webpay's are by every server of Transbank
webpay_sandbox = Table(
    "webpay_sandbox",
    metadata,
    Column("token", String(64), primary_key=True),
    Column("buy_order", String(26), nullable=False),
    Column("session_id", String(61), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("return_url", Text, nullable=False),
    Column("decision", String(16)),
    Column("committed", Boolean, nullable=False, server_default=text("false")),
    Column("refunded", Boolean, nullable=False, server_default=text("false")),
    Column("created_at", UtcDateTime, nullable=False, server_default=func.now()),
)

# The group's own bonds (CONTRACT §4b). A lot is made by one event (its source), once;
# its quantity is decremented conditionally, never below 0.
lots = Table(
    "lots",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("fixture_id", BigInteger, nullable=False),
    Column("result", String(8), nullable=False),
    Column("quantity", Integer, nullable=False),
    Column("status", String(16), nullable=False),
    Column("origin", String(16), nullable=False),
    Column("source", String(300), nullable=False),
    Column("discount", Integer, nullable=False),
    Column("settled", Boolean, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    CheckConstraint("quantity >= 0", name="quantity_not_negative"),
)
Index(None, lots.c.source, unique=True)
Index(None, lots.c.fixture_id)
Index(None, lots.c.status, lots.c.created_at)

group_account = Table(
    "group_account",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("amount", BigInteger, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("reference", String(300), nullable=False),
    Column("at", UtcDateTime, nullable=False),
)
Index(None, group_account.c.kind, group_account.c.reference, unique=True)

auction_offers = Table(
    "auction_offers",
    metadata,
    Column("auction_id", String(200), primary_key=True),
    Column("group_id", String(32), nullable=False),
    Column("fixture_id", BigInteger, nullable=False),
    Column("league_name", String(200), nullable=False),
    Column("round", String(200), nullable=False),
    Column("result", String(200), nullable=False),
    Column("quantity", Integer, nullable=False),
    Column("state", String(16), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("lot_id", String(64)),
)
Index(None, auction_offers.c.state, auction_offers.c.created_at)

auction_proposals = Table(
    "auction_proposals",
    metadata,
    Column("proposal_id", String(200), primary_key=True),
    Column("auction_id", String(200), nullable=False),
    Column("group_id", String(32), nullable=False),
    Column("fixture_id", BigInteger, nullable=False),
    Column("league_name", String(200), nullable=False),
    Column("round", String(200), nullable=False),
    Column("result", String(200), nullable=False),
    Column("quantity", Integer, nullable=False),
    Column("state", String(16), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("lot_id", String(64)),
)
Index(None, auction_proposals.c.auction_id)
