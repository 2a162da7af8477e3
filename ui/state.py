"""Session-independent handles the pages share: settings, the company store, the knowledge base and the history."""

from __future__ import annotations

from advisor.settings import Settings, get_settings
from advisor.workspace import active_dataset as _active_dataset
from advisor.workspace import open_store
from company.store import Store


def settings() -> Settings:
    return get_settings()


def store() -> Store:
    # A Store is only a folder path; each query opens its own read-only connection.
    return open_store(settings())


def active_dataset():
    """The active dataset (its profile and store), or None before any data exists."""
    return _active_dataset(settings())


def knowledge():
    """The knowledge base for the current settings (opened once per process)."""
    from advisor.workspace import open_knowledge

    return open_knowledge(settings())


def history(owner: str):
    """The chat history of one signed-in user (`owner`, the account's name): only their conversations."""
    from advisor.history import History

    return History(settings().data_dir / "history.sqlite", owner=owner)
