"""Receipts on S3 (boto3): ``S3ReceiptStore``, a ``ports.ReceiptStore``.

Needs ``pip install goat[s3]``; used when ``GOAT_S3_BUCKET`` is set.
"""

from goat_adapters.s3.store import DEFAULT_EXPIRY_SECONDS, S3ReceiptStore

__all__ = ["DEFAULT_EXPIRY_SECONDS", "S3ReceiptStore"]
