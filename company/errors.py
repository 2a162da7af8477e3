"""User-readable errors of the company-data layer; the UI and CLI show .message as is."""

from __future__ import annotations


class CanmouError(Exception):
    """Base of every error whose message a channel manager can act on."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class DataFileError(CanmouError):
    """The file itself cannot be read: empty, too large, undecodable, unknown format."""


class ImportRejected(CanmouError):
    """The file was read but did not validate; .report lists every problem."""

    def __init__(self, message: str, report):
        super().__init__(message)
        self.report = report


class StoreError(CanmouError):
    """The company database is missing or cannot be used."""
