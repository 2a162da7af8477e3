"""Session-independent handles the pages share: settings and the company store."""

from __future__ import annotations

from advisor.settings import Settings, get_settings
from advisor.workspace import open_store
from company.store import Store


def settings() -> Settings:
    return get_settings()


def store() -> Store:
    # A Store is only a folder path; each query opens its own read-only connection.
    return open_store(settings())


def knowledge():
    """The knowledge base for the current settings (opened once per process)."""
    from advisor.workspace import open_knowledge

    return open_knowledge(settings())


def history(owner: str | None = None):
    """The chat history; with `owner` (a browser session's key) only that session's conversations."""
    from advisor.history import History

    return History(settings().data_dir / "history.sqlite", owner=owner)
