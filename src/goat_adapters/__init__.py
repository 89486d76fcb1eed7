"""Adapters: one package per technology, each implementing ports of ``goat_core.ports``."""
