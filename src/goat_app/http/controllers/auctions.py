"""``/auctions``: trading the group's bonds with other groups (admins, CONTRACT §4b)."""

from __future__ import annotations

from litestar import Controller, get, post
from litestar.params import FromPath, JSONBody

from goat_app.http.common import AUTH_PROBLEMS, BEARER, ExchangeDep, IdentityDep, problems
from goat_app.http.schemas_group import (
    AuctionCreatedOut,
    BondIn,
    OffersOut,
    ProposalCreatedOut,
    ProposalOut,
    ProposalsOut,
    offer_out,
    proposal_out,
)

__all__ = ["AuctionsController"]


class AuctionsController(Controller):
    path = "/auctions"
    tags = ["auctions"]  # noqa: RUF012  # Litestar reads it as a class attribute
    security = BEARER  # Litestar reads it as a class attribute

    @post(
        "/",
        status_code=201,
        sync_to_thread=True,
        responses=problems(*AUTH_PROBLEMS, 403, 404, 409, 422),
        operation_id="offerBonds",
        summary="Auction bonds of a lot (admins)",
    )
    def offer(
        self, exchange: ExchangeDep, identity: IdentityDep, data: JSONBody[BondIn]
    ) -> AuctionCreatedOut:
        """Publish an ``offer``; its bonds are held on auction until a trade is decided."""
        offer = exchange.offer_bonds(identity.viewer, data.bond_id, data.quantity)
        return AuctionCreatedOut(offer_out(offer))

    @get(
        "/",
        sync_to_thread=True,
        responses=problems(*AUTH_PROBLEMS, 403),
        operation_id="listOurAuctions",
        summary="List our auctions (admins)",
    )
    def ours(self, exchange: ExchangeDep, identity: IdentityDep) -> OffersOut:
        """Our auctions, open and closed, oldest first."""
        return OffersOut([offer_out(o) for o in exchange.our_offers(identity.viewer)])

    @get(
        "/offers",
        sync_to_thread=True,
        responses=problems(*AUTH_PROBLEMS, 403),
        operation_id="listOpenOffers",
        summary="List other groups' open offers (admins)",
    )
    def offers(self, exchange: ExchangeDep, identity: IdentityDep) -> OffersOut:
        """Other groups' offers for which no acceptance was seen, oldest first."""
        return OffersOut([offer_out(o) for o in exchange.open_offers(identity.viewer)])

    @post(
        "/{auction_id:str}/proposals",
        status_code=201,
        sync_to_thread=True,
        responses=problems(*AUTH_PROBLEMS, 403, 404, 409, 422),
        operation_id="proposeBonds",
        summary="Propose bonds for another group's auction (admins)",
    )
    def propose(
        self,
        exchange: ExchangeDep,
        identity: IdentityDep,
        auction_id: FromPath[str],
        data: JSONBody[BondIn],
    ) -> ProposalCreatedOut:
        """Publish a ``proposal``; its bonds are held until the offering group answers."""
        proposal = exchange.propose_bonds(identity.viewer, auction_id, data.bond_id, data.quantity)
        return ProposalCreatedOut(proposal_out(proposal))

    @get(
        "/proposals",
        sync_to_thread=True,
        responses=problems(*AUTH_PROBLEMS, 403),
        operation_id="listReceivedProposals",
        summary="List proposals for our auctions (admins)",
    )
    def received(self, exchange: ExchangeDep, identity: IdentityDep) -> ProposalsOut:
        """Other groups' proposals for our auctions, with their state."""
        found = exchange.received_proposals(identity.viewer)
        return ProposalsOut([proposal_out(p) for p in found])

    @get(
        "/my-proposals",
        sync_to_thread=True,
        responses=problems(*AUTH_PROBLEMS, 403),
        operation_id="listMyProposals",
        summary="List our proposals (admins)",
    )
    def mine(self, exchange: ExchangeDep, identity: IdentityDep) -> ProposalsOut:
        """Our proposals for other groups' auctions, with their state."""
        return ProposalsOut([proposal_out(p) for p in exchange.my_proposals(identity.viewer)])

    @post(
        "/proposals/{proposal_id:str}/accept",
        status_code=200,
        sync_to_thread=True,
        responses=problems(*AUTH_PROBLEMS, 403, 404, 409),
        operation_id="acceptProposal",
        summary="Accept a proposal for our auction (admins)",
    )
    def accept(
        self, exchange: ExchangeDep, identity: IdentityDep, proposal_id: FromPath[str]
    ) -> ProposalOut:
        """Swap the bonds, reject every other proposal of the auction, close it."""
        return proposal_out(exchange.accept_proposal(identity.viewer, proposal_id))

    @post(
        "/proposals/{proposal_id:str}/reject",
        status_code=200,
        sync_to_thread=True,
        responses=problems(*AUTH_PROBLEMS, 403, 404, 409),
        operation_id="rejectProposal",
        summary="Reject a proposal for our auction (admins)",
    )
    def reject(
        self, exchange: ExchangeDep, identity: IdentityDep, proposal_id: FromPath[str]
    ) -> ProposalOut:
        """Publish a ``rejection``; the auction stays open."""
        return proposal_out(exchange.reject_proposal(identity.viewer, proposal_id))
