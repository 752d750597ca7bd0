"""Deliverability workbench: the typed API behind the CLI and the notebooks."""

__version__ = "0.1.0"
