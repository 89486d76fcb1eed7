"""The weasyprint receipt renderer: what the PDF says, and that values are only text."""

from __future__ import annotations

import io

import attrs
import pytest

pytest.importorskip("weasyprint")
pypdf = pytest.importorskip("pypdf")

from goat_adapters.pdf import WeasyReceiptRenderer, receipt_html  # noqa: E402
from tests.samples import RECEIPT  # noqa: E402


def _text(pdf: bytes) -> str:
    return " ".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf)).pages)


@pytest.fixture(scope="module")
def renderer() -> WeasyReceiptRenderer:
    """One renderer for the module (weasyprint loads its fonts once)."""
    return WeasyReceiptRenderer()


def test_the_receipt_holds_what_the_contract_lists(renderer: WeasyReceiptRenderer) -> None:
    """Group, buyer, teams, league, round, kick-off, result, quantity, amount, id and date."""
    pdf = renderer.render(RECEIPT)

    assert pdf.startswith(b"%PDF")
    text = _text(pdf)
    for expected in (
        "Grupo 15",
        "Alice Fernández",
        "alice@example.com",
        "Arsenal",
        "Chelsea",
        "PREMIER LEAGUE",  # the stylesheet capitalizes the league line
        "REGULAR SEASON - 12",
        "05 Oct 2024, 14:00 UTC",
        "$3.000 CLP",
        "Webpay",
        "01 Oct 2024, 12:03 UTC",
    ):
        assert expected in text, expected
    assert RECEIPT.purchase_id in text.replace("\n", "")


def test_markup_and_template_syntax_in_names_are_printed_as_text(
    renderer: WeasyReceiptRenderer,
) -> None:
    """Team and buyer names holding HTML or ``$placeholders`` are escaped, never obeyed."""
    hostile = attrs.evolve(
        RECEIPT,
        home='<img src="http://example.invalid/x.png">Arsenal',
        away="${css}$group_name",
        buyer_name="</bdi><script>alert(1)</script>",
    )

    page = receipt_html(hostile)
    text = _text(renderer.render(hostile)).replace("\n", "")

    assert "<img" not in page
    assert "<script>" not in page
    assert "&lt;img" in page
    assert "${css}$group_name" in text
    assert "<script>alert(1)</script>" in text


def test_right_to_left_names_render(renderer: WeasyReceiptRenderer) -> None:
    """Arabic and Hebrew team names render without breaking the page."""
    text = _text(renderer.render(attrs.evolve(RECEIPT, home="الهلال", away="מכבי חיפה")))

    assert "Chelsea" not in text
    assert "PREMIER LEAGUE" in text


def test_rendering_fetches_nothing(renderer: WeasyReceiptRenderer) -> None:
    """The URL fetcher refuses every URL, so nothing remote is ever read while rendering."""
    with pytest.raises(ValueError, match="refused"):
        renderer._fetcher.fetch("http://example.invalid/font.woff")
