"""The endpoints of CONTRACT §4, one controller per concern.

Handlers are sync (the core is): Litestar runs them in threads. Each translates HTTP into
one call of the ``Exchange`` and its answer back; the rules are the core's.
"""

from goat_app.http.controllers.admin import AdminController
from goat_app.http.controllers.admin_bonds import GroupAdminController
from goat_app.http.controllers.auctions import AuctionsController
from goat_app.http.controllers.bonds import BondsController
from goat_app.http.controllers.fixtures import FixturesController
from goat_app.http.controllers.operations import OperationsController
from goat_app.http.controllers.purchases import PurchasesController, ReceiptFilesController
from goat_app.http.controllers.recommendations import JobsController, RecommendationsController
from goat_app.http.controllers.users import UsersController
from goat_app.http.controllers.webpay import SandboxController, WebpayController

__all__ = [
    "AdminController",
    "AuctionsController",
    "BondsController",
    "FixturesController",
    "GroupAdminController",
    "JobsController",
    "OperationsController",
    "PurchasesController",
    "ReceiptFilesController",
    "RecommendationsController",
    "SandboxController",
    "UsersController",
    "WebpayController",
]
