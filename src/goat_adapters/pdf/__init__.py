"""Receipts as PDF (weasyprint): ``WeasyReceiptRenderer``, the ``ports.ReceiptRenderer``.

Needs ``pip install goat[pdf]`` and pango on the system (Debian: ``libpango-1.0-0
libpangoft2-1.0-0``), plus a font (``fonts-dejavu-core``).
"""

from goat_adapters.pdf.renderer import WeasyReceiptRenderer, receipt_html

__all__ = ["WeasyReceiptRenderer", "receipt_html"]
