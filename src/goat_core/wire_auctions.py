"""``fixtures/auctions`` on the wire (CONTRACT §3, §4b): parse peers' messages, render ours."""

from __future__ import annotations

import json

from goat_core.errors import MalformedMessage
from goat_core.inventory import AuctionMessage, AuctionType
from goat_core.wire import MAX_QUANTITY, _group, _int, _object, _opt_str, _str, load

__all__ = ["parse_auction", "render_auction"]


def parse_auction(payload: bytes | str) -> AuctionMessage:
    """A fixtures/auctions message; ``proposal_id`` is ``""`` for an offer."""
    data = _object(load(payload), "")
    raw_type = _str(data, "type").strip().casefold()
    try:
        kind = AuctionType(raw_type)
    except ValueError:
        raise MalformedMessage("type", "must be offer, proposal, acceptance or rejection") from None
    quantity = _int(data, "quantity")
    if not 1 <= quantity <= MAX_QUANTITY:
        raise MalformedMessage("quantity", f"must be from 1 to {MAX_QUANTITY}")
    proposal_id = _text_id(data.get("proposal_id"), "proposal_id")
    if kind is not AuctionType.OFFER and not proposal_id:
        raise MalformedMessage("proposal_id", f"a {kind} names a proposal")
    auction_id = _text_id(data.get("auction_id"), "auction_id")
    if not auction_id:
        raise MalformedMessage("auction_id", "must be a non-empty string")
    return AuctionMessage(
        auction_id=auction_id,
        proposal_id=proposal_id,
        fixture_id=_int(data, "fixture_id"),
        league_name=_opt_str(data, "league_name") or "",
        round=_opt_str(data, "round") or "",
        result=_str(data, "result"),
        quantity=quantity,
        group_id=_group(data),
        type=kind,
    )


def render_auction(message: AuctionMessage) -> str:
    """Our message as fixtures/auctions carries it (``group_id`` an int when it is one)."""
    group: str | int = int(message.group_id) if message.group_id.isdigit() else message.group_id
    return json.dumps(
        {
            "auction_id": message.auction_id,
            "proposal_id": message.proposal_id,
            "fixture_id": message.fixture_id,
            "league_name": message.league_name,
            "round": message.round,
            "result": message.result,
            "quantity": message.quantity,
            "group_id": group,
            "type": message.type.value,
        }
    )


def _text_id(value: object, field: str) -> str:
    """An id as a string (peers may send a number); "" when absent or null."""
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise MalformedMessage(field, "must be a string")
    return str(value).strip()
