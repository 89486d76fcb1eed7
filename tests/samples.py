"""Sample values shared by tests and benchmarks."""

from __future__ import annotations

from datetime import UTC, datetime

from goat_core.ports import Receipt

__all__ = ["RECEIPT"]

RECEIPT = Receipt(
    group_name="Grupo 15",
    buyer_name="Alice Fernández",
    buyer_email="alice@example.com",
    home="Arsenal",
    away="Chelsea",
    league="Premier League",
    round="Regular Season - 12",
    kickoff=datetime(2024, 10, 5, 14, 0, tzinfo=UTC),
    result_backed="Arsenal",
    quantity=3,
    unit_price=1000,
    amount_paid=3000,
    paid_with="Webpay",
    purchase_id="5f0c2a9e-8d41-4b7a-9c3e-2a1b6d7e8f90",
    issued_at=datetime(2024, 10, 1, 12, 3, tzinfo=UTC),
)
