"""Shared wiring for mimamori: configuration, contracts, the bus client,
service supervision and the ``mimamori`` command."""

__version__ = "0.1.0"
