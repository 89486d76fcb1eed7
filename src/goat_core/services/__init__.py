"""The use cases of the exchange, one module per concern, behind ``Exchange``.

Start from ``exchange.Exchange``; each of its methods names the module that does the
work (``docs/architecture.md`` has the map).
"""

from goat_core.services.exchange import Exchange
from goat_core.services.inbox import Handled
from goat_core.services.payments import PAYMENT_TIMEOUT, PaymentReturn, payment_answer
from goat_core.services.purchasing import Bought, BuyBonds
from goat_core.services.queries import Page, RecommendedFixtures
from goat_core.services.recommendations import rank

__all__ = [
    "PAYMENT_TIMEOUT",
    "Bought",
    "BuyBonds",
    "Exchange",
    "Handled",
    "Page",
    "PaymentReturn",
    "RecommendedFixtures",
    "payment_answer",
    "rank",
]
