"""The OpenAPI document as a client generator and a person read it, and the offline UI."""

from __future__ import annotations

import re
from typing import Any

from goat_app.testing import MemoryApp

OPERATIONS = {
    ("get", "/fixtures"): "listFixtures",
    ("get", "/fixtures/{fixture_id}"): "getFixture",
    ("post", "/requests"): "buyBonds",
    ("get", "/requests"): "listPurchases",
    ("get", "/requests/{request_id}"): "getPurchase",
    ("get", "/requests/{request_id}/receipt"): "getReceipt",
    ("patch", "/requests/validate"): "validatePurchase",
    ("get", "/users/me"): "getMe",
    ("get", "/users/wallet"): "getWallet",
    ("put", "/users/wallet"): "topUpWallet",
    ("post", "/webpay/create"): "createPayment",
    ("post", "/webpay/commit"): "commitPayment",
    ("get", "/webpay/return"): "returnFromWebpay",
    ("get", "/recommendations"): "getRecommendations",
    ("post", "/recommendations"): "requestRecommendations",
    ("get", "/workers/heartbeat"): "getWorkersHeartbeat",
    ("get", "/health"): "getHealth",
    ("get", "/ready"): "getReadiness",
    ("get", "/admin/dead-letters"): "listDeadLetters",
    ("get", "/admin/bonds"): "listGroupBonds",
    ("patch", "/admin/bonds/{bond_id}"): "updateGroupBonds",
    ("get", "/admin/account"): "getGroupAccount",
    ("get", "/bonds"): "listBondsOnSale",
    ("post", "/bonds/{bond_id}/buy"): "buyGroupBonds",
    ("post", "/auctions"): "offerBonds",
    ("get", "/auctions"): "listOurAuctions",
    ("get", "/auctions/offers"): "listOpenOffers",
    ("post", "/auctions/{auction_id}/proposals"): "proposeBonds",
    ("get", "/auctions/proposals"): "listReceivedProposals",
    ("get", "/auctions/my-proposals"): "listMyProposals",
    ("post", "/auctions/proposals/{proposal_id}/accept"): "acceptProposal",
    ("post", "/auctions/proposals/{proposal_id}/reject"): "rejectProposal",
}


def _document(api: MemoryApp) -> dict[str, Any]:
    answer = api.client.get("/schema/openapi.json")
    assert answer.status_code == 200
    document: dict[str, Any] = answer.json()
    return document


def _operations(document: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (method, path): operation
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if isinstance(operation, dict) and "operationId" in operation
    }


def test_every_operation_has_its_stable_id_and_a_description(api: MemoryApp) -> None:
    """Each operation carries the operation id named here, a summary written for people,
    and its handler's docstring as description."""
    operations = _operations(_document(api))

    assert {key: op["operationId"] for key, op in operations.items()} == OPERATIONS
    for key, operation in operations.items():
        assert operation.get("description"), key
        assert " " in operation.get("summary", ""), key  # not the handler's name


def test_closed_sets_are_enums(api: MemoryApp) -> None:
    """A purchase's result and status, its payment outcome and the fixtures' status filter
    list their values."""
    document = _document(api)
    schemas = document["components"]["schemas"]
    purchase = schemas["PurchaseOut"]["properties"]
    status_filter = next(
        p
        for p in _operations(document)[("get", "/fixtures")]["parameters"]
        if p["name"] == "status"
    )

    def values(node: dict[str, Any]) -> set[str]:
        found: set[str] = set(node.get("enum", []))
        for key in ("oneOf", "anyOf"):
            for option in node.get(key, []):
                found |= values(option)
        ref = node.get("$ref")
        if ref:
            found |= values(schemas[ref.rsplit("/", 1)[-1]])
        return found

    assert values(purchase["result"]) == {"home", "draw", "away"}
    assert values(purchase["status"]) == {
        "pending",
        "pending_payment",
        "accepted",
        "rejected",
        "won",
        "lost",
    }
    assert values(purchase["payment_outcome"]) == {"accepted", "rejected", "cancelled"}
    assert values(status_filter["schema"]) == {"upcoming", "live", "finished"}


def test_problem_documents_have_real_examples_not_random_ones(api: MemoryApp) -> None:
    """The problem schema has no generated examples; each problem response shows a real one."""
    document = _document(api)
    buy = _operations(document)[("post", "/requests")]

    assert "examples" not in str(document["components"]["schemas"]["ProblemOut"])
    conflict = buy["responses"]["409"]["content"]["application/problem+json"]["examples"]
    [example] = conflict.values()
    assert example["value"]["status"] == 409
    assert example["value"]["type"] == "urn:goat:problem:conflict"


def test_the_browsable_ui_loads_only_local_assets(api: MemoryApp) -> None:
    """/schema names no other host, and every script, style and icon it names is served."""
    page = api.client.get("/schema")
    assets = re.findall(r"(?:src|href)=['\"]([^'\"]+)['\"]", page.text)

    assert page.status_code == 200
    assert not re.search(r"https?://", page.text)
    assert len(assets) == 4
    for asset in assets:
        assert asset.startswith("/schema/assets/")
        assert api.client.get(asset).status_code == 200, asset
