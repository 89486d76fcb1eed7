"""Receipts and email: receipts rendered per second in one worker, and emails per second.

    python benchmarks/receipts.py [--receipts 200] [--emails 500]

- ``render``: ``WeasyReceiptRenderer.render`` in this process (one worker, one thread)
  after one warm-up render: receipts per second, p50 and p99 in milliseconds, and the
  process's peak RSS (MB) afterwards. Goals (issue 11): ≥ 10 receipts/s per core,
  p50 ≤ 100 ms, RSS ≤ 250 MB.
- ``smtp``: ``SmtpMailer.send`` (one connection per email, as the job does) to an aiosmtpd
  server started here on 127.0.0.1: emails per second and p50 in milliseconds.

Prints one JSON document, with the load average before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

from tests.samples import RECEIPT
from tests.servers.smtp import SmtpServer

from goat_adapters.mail import SmtpMailer
from goat_adapters.pdf import WeasyReceiptRenderer
from goat_core.ports import Email


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def render(count: int) -> dict[str, float]:
    renderer = WeasyReceiptRenderer()
    renderer.render(RECEIPT)  # fonts and stylesheets load once
    took: list[float] = []
    start = time.perf_counter()
    for _ in range(count):
        begin = time.perf_counter()
        renderer.render(RECEIPT)
        took.append(time.perf_counter() - begin)
    elapsed = time.perf_counter() - start
    return {
        "receipts": count,
        "per_second": round(count / elapsed, 1),
        "p50_ms": round(statistics.median(took) * 1000, 1),
        "p99_ms": round(_percentile(took, 0.99) * 1000, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def smtp(count: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as directory:
        server = SmtpServer(Path(directory))
        server.start()
        try:
            mailer = SmtpMailer("127.0.0.1", server.port, "goat@example.com")
            email = Email("alice@example.com", "Purchase accepted", "text\n", "<p>html</p>")
            took: list[float] = []
            start = time.perf_counter()
            for _ in range(count):
                begin = time.perf_counter()
                mailer.send(email)
                took.append(time.perf_counter() - begin)
            elapsed = time.perf_counter() - start
        finally:
            server.stop()
        assert len(server.received) == count
    return {
        "emails": count,
        "per_second": round(count / elapsed, 1),
        "p50_ms": round(statistics.median(took) * 1000, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--receipts", type=int, default=200)
    parser.add_argument("--emails", type=int, default=500)
    options = parser.parse_args()
    before = os.getloadavg()
    report = {
        "render": render(options.receipts),
        "smtp": smtp(options.emails),
        "load_before": before,
        "load_after": os.getloadavg(),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
