"""``/admin/bonds`` and ``/admin/account``: the group's inventory and account (admins)."""

from __future__ import annotations

from litestar import Controller, get, patch
from litestar.params import FromPath, JSONBody

from goat_app.http.common import AUTH_PROBLEMS, BEARER, ExchangeDep, IdentityDep, problems
from goat_app.http.schemas_group import (
    AccountOut,
    LotOut,
    LotsOut,
    LotUpdateIn,
    account_out,
    lot_out,
)

__all__ = ["GroupAdminController"]


class GroupAdminController(Controller):
    path = "/admin"
    tags = ["group bonds"]  # noqa: RUF012  # Litestar reads it as a class attribute
    security = BEARER  # Litestar reads it as a class attribute

    @get(
        "/bonds",
        sync_to_thread=True,
        responses=problems(*AUTH_PROBLEMS, 403),
        operation_id="listGroupBonds",
        summary="List the group's inventory (admins)",
    )
    def inventory(self, exchange: ExchangeDep, identity: IdentityDep) -> LotsOut:
        """The group's lots: held, on sale or on auction, with their discount and origin."""
        return LotsOut([lot_out(v) for v in exchange.group_inventory(identity.viewer)])

    @patch(
        "/bonds/{bond_id:str}",
        sync_to_thread=True,
        responses=problems(*AUTH_PROBLEMS, 403, 404, 409, 422),
        operation_id="updateGroupBonds",
        summary="Put a lot on sale or off it, with a discount (admins)",
    )
    def update(
        self,
        exchange: ExchangeDep,
        identity: IdentityDep,
        bond_id: FromPath[str],
        data: JSONBody[LotUpdateIn],
    ) -> LotOut:
        """``on_sale`` puts the lot on sale (or holds it); ``discount`` is 0, 10, 20 or 30."""
        view = exchange.update_lot(
            identity.viewer, bond_id, on_sale=data.on_sale, discount=data.discount
        )
        return lot_out(view)

    @get(
        "/account",
        sync_to_thread=True,
        responses=problems(*AUTH_PROBLEMS, 403),
        operation_id="getGroupAccount",
        summary="The group's account (admins)",
    )
    def account(self, exchange: ExchangeDep, identity: IdentityDep) -> AccountOut:
        """What users paid for group bonds and what the group's winning lots paid out."""
        return account_out(*exchange.group_account(identity.viewer))
