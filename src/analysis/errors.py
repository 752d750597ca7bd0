"""Errors the CLI turns into one-line messages (exit 2 for bad input, 1 for a failed run)."""

from __future__ import annotations


class WorkbenchError(Exception):
    """An expected failure with a message fit for a person; never shown with a traceback."""

    exit_code = 1


class InputError(WorkbenchError):
    """Unreadable or invalid input: a file, a parameter, a configuration value."""

    exit_code = 2


class StoreLockedError(WorkbenchError):
    """Another process holds the DuckDB write lock for longer than we were willing to wait."""

    exit_code = 3
