"""Servers the integration tests and benchmarks start for themselves."""
