"""``/bonds``: the group's bonds on sale, bought by our users from their wallet."""

from __future__ import annotations

from litestar import Controller, get, post
from litestar.params import FromPath, JSONBody

from goat_app.http.common import AUTH_PROBLEMS, BEARER, ExchangeDep, IdentityDep, problems
from goat_app.http.schemas import purchase_out
from goat_app.http.schemas_group import (
    BondsOnSaleOut,
    BuyBondsIn,
    LotPurchaseOut,
    bond_on_sale_out,
)
from goat_app.logs import note_purchase

__all__ = ["BondsController"]


class BondsController(Controller):
    path = "/bonds"
    tags = ["group bonds"]  # noqa: RUF012  # Litestar reads it as a class attribute
    security = BEARER  # Litestar reads it as a class attribute

    @get(
        "/",
        sync_to_thread=True,
        responses=problems(*AUTH_PROBLEMS),
        operation_id="listBondsOnSale",
        summary="List the group's bonds on sale",
    )
    def on_sale(self, exchange: ExchangeDep, identity: IdentityDep) -> BondsOnSaleOut:
        """The group's lots on sale for fixtures not started, at their discounted price."""
        price = exchange.rules.bond_price
        return BondsOnSaleOut([bond_on_sale_out(v, price) for v in exchange.lots_on_sale()])

    @post(
        "/{bond_id:str}/buy",
        status_code=201,
        sync_to_thread=True,
        responses=problems(*AUTH_PROBLEMS, 402, 404, 409, 422),
        operation_id="buyGroupBonds",
        summary="Buy bonds of a lot on sale",
    )
    def buy(
        self,
        exchange: ExchangeDep,
        identity: IdentityDep,
        bond_id: FromPath[str],
        data: JSONBody[BuyBondsIn],
    ) -> LotPurchaseOut:
        """Buy by wallet at the discounted price: accepted at once, not announced."""
        view = exchange.buy_from_lot(identity.user_id, bond_id, data.quantity)
        note_purchase(view.purchase.request_id)
        return LotPurchaseOut(purchase_out(view))
