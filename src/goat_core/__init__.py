"""goat_core: the CoolGoat bond exchange as a pure library (stdlib + attrs).

``Exchange`` is the one door: every use case and every query of the exchange is one of
its methods (``goat_core.services`` holds one module per concern behind it). The domain
types are in ``goat_core.model``, the typed jobs in ``goat_core.jobs``, what the core
needs from outside in ``goat_core.ports`` (``typing.Protocol``), and the one error tree
in ``goat_core.errors``. ``goat_adapters.memory`` runs all of it without any server::

    from goat_adapters.memory import World, make_fixture

    world = World()                        # Exchange over the in-memory adapters
    world.add_fixtures(make_fixture(1))
    world.fund("alice", 5000)
    world.exchange.buy_bonds(BuyBonds("alice", 1, Outcome.HOME, quantity=2, wallet=True))
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
