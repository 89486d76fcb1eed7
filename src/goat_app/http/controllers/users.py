"""``/users``: the caller's profile and wallet."""

from __future__ import annotations

from litestar import Controller, get, put
from litestar.params import JSONBody

from goat_app.http.common import AUTH_PROBLEMS, BEARER, ExchangeDep, IdentityDep, problems
from goat_app.http.schemas import TopUpIn, UserOut, WalletOut, user_out

__all__ = ["UsersController"]


class UsersController(Controller):
    path = "/users"
    tags = ["users"]  # noqa: RUF012  # Litestar reads it as a class attribute
    security = BEARER  # Litestar reads it as a class attribute

    @get(
        "/me",
        sync_to_thread=True,
        responses=problems(*AUTH_PROBLEMS),
        operation_id="getMe",
        summary="Get the caller's profile",
    )
    def me(self, exchange: ExchangeDep, identity: IdentityDep) -> UserOut:
        """The caller's profile (created from the token's claims on first use)."""
        user = exchange.register(identity.user_id, identity.email, identity.name)
        return user_out(user, identity.admin)

    @get(
        "/wallet",
        sync_to_thread=True,
        responses=problems(*AUTH_PROBLEMS),
        operation_id="getWallet",
        summary="Get the caller's balance",
    )
    def wallet(self, exchange: ExchangeDep, identity: IdentityDep) -> WalletOut:
        """The caller's balance in CLP."""
        return WalletOut(exchange.balance(identity.user_id))

    @put(
        "/wallet",
        sync_to_thread=True,
        responses=problems(*AUTH_PROBLEMS, 422),
        operation_id="topUpWallet",
        summary="Top up the caller's wallet",
    )
    def top_up(
        self, exchange: ExchangeDep, identity: IdentityDep, data: JSONBody[TopUpIn]
    ) -> WalletOut:
        """Add ``amount`` CLP to the caller's wallet; answers the new balance."""
        return WalletOut(exchange.top_up(identity.user_id, data.amount))
