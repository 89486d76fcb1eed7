"""goat_core: the CoolGoat bond exchange as a pure library (stdlib + attrs).

``Exchange`` is the one door: every use case and every query of the exchange is one of
its methods (``goat_core.services`` holds one module per concern behind it). The domain
types are in ``goat_core.model`` (the group's own bonds and auctions in
``goat_core.inventory``), the typed jobs in ``goat_core.jobs``, what the core
needs from outside in ``goat_core.ports`` (``typing.Protocol``), and the one error tree
in ``goat_core.errors``. The in-memory adapters run all of it without any server: the
``World`` of the memory adapter package builds an ``Exchange`` over them in one line (see
the README, "Using goat as a library").
"""

from goat_core.errors import GoatError
from goat_core.jobs import Job, MakeReceipt, Recommend
from goat_core.model import Outcome, PurchaseStatus, Rules, Viewer
from goat_core.services import Bought, BuyBonds, Exchange, Handled, Page, PaymentReturn

__all__ = [
    "Bought",
    "BuyBonds",
    "Exchange",
    "GoatError",
    "Handled",
    "Job",
    "MakeReceipt",
    "Outcome",
    "Page",
    "PaymentReturn",
    "PurchaseStatus",
    "Recommend",
    "Rules",
    "Viewer",
]
