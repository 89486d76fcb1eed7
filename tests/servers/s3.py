"""A real S3 API for tests: moto's server (``moto[server]``) on a free port of 127.0.0.1.

Its objects live in this test process's memory, so ``stop()`` then ``start()`` is an S3
that was down for a while and kept what it had.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from tests.servers.mqtt import free_port, wait_listening

__all__ = ["AWS_TEST_ENV", "MotoS3", "moto_s3"]

AWS_TEST_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}
"""Fake credentials in the environment, where boto3's standard chain finds them."""


class MotoS3:
    """moto's S3 server, started and stopped on one fixed port."""

    def __init__(self, port: int | None = None) -> None:
        from moto.server import ThreadedMotoServer

        self.port = port or free_port()
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self._server.start()
        wait_listening("127.0.0.1", self.port)

    def stop(self) -> None:
        self._server.stop()

    def create_bucket(self, name: str) -> None:
        import boto3

        boto3.client("s3", endpoint_url=self.url).create_bucket(Bucket=name)


@contextmanager
def moto_s3() -> Iterator[MotoS3]:
    """A running moto S3 with fake credentials in the environment, both undone after."""
    saved = {name: os.environ.get(name) for name in AWS_TEST_ENV}
    os.environ.update(AWS_TEST_ENV)
    server = MotoS3()
    server.start()
    try:
        yield server
    finally:
        server.stop()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
