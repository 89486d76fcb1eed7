"""Our users and their wallets: first sight of a user, and topping a wallet up."""

from __future__ import annotations

from goat_core.errors import InvalidInput
from goat_core.model import LedgerKind, User
from goat_core.services.context import Context

__all__ = ["MAX_WALLET", "Accounts"]

MAX_WALLET = 10**15
"""The most a wallet may hold after a top-up, in CLP (payouts may add to it).

Far below what a BIGINT holds, so that racing top-ups cannot carry a balance past it.
"""


class Accounts:
    """Users as the tokens name them, and their wallets."""

    def __init__(self, context: Context) -> None:
        self._context = context

    def register(self, user_id: str, email: str | None, name: str | None) -> User:
        """The user, created with an empty wallet on first sight (from a token's claims)."""
        with self._context.uow() as uow:
            user = uow.users.get_or_create(user_id, email, name)
            uow.commit()
        return user

    def top_up(self, user_id: str, amount: int) -> int:
        """Add money to a user's wallet; return the new balance.

        Raises ``InvalidInput`` naming ``amount`` if it is not positive or would carry
        the balance past ``MAX_WALLET`` (checked on the balance the credit wrote, in the
        same transaction, so racing top-ups cannot pass it either).
        """
        if amount <= 0:
            raise InvalidInput("amount", "must be a positive integer")
        with self._context.uow() as uow:
            uow.users.get_or_create(user_id, None, None)
            balance = uow.wallets.credit(
                user_id, amount, LedgerKind.TOP_UP, None, self._context.clock.now()
            )
            if balance > MAX_WALLET:  # leaving without commit takes the credit back
                raise InvalidInput("amount", f"a wallet holds at most {MAX_WALLET} CLP")
            uow.commit()
        return balance
