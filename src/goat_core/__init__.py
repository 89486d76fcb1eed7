"""goat_core: the CoolGoat bond exchange as a pure library (stdlib + attrs).

Start from ``goat_core.services.Exchange`` (the use cases), ``goat_core.model`` (the domain
types), ``goat_core.ports`` (what the core needs from outside) and ``goat_core.errors``.
``goat_adapters.memory`` runs all of it without any server.
"""

from goat_core.errors import GoatError
from goat_core.model import Outcome, PurchaseStatus, Rules
from goat_core.services import BuyBonds, Exchange, PaymentReturn

__all__ = [
    "BuyBonds",
    "Exchange",
    "GoatError",
    "Outcome",
    "PaymentReturn",
    "PurchaseStatus",
    "Rules",
]
