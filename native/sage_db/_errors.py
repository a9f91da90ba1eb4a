"""Exceptions raised by sage_db. Holds only exception classes."""

from __future__ import annotations


class SageDBError(Exception):
    """Base class of sage_db errors."""


class SageDBCorruptionError(SageDBError):
    """A snapshot or write-ahead log is damaged in a way that cannot be cut off safely."""


class SageDBLockedError(SageDBError):
    """Another process holds the database open for writing."""


class ReadOnlyError(SageDBError):
    """A write was attempted through a read-only handle."""
