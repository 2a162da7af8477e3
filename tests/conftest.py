"""Shared fixtures: a small generated company, isolated data folders, settings pointed at them."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from advisor.runtime import pin_threads

pin_threads()

from advisor.settings import reset_settings  # noqa: E402
from company.sample import SampleCompany, generate  # noqa: E402
from company.store import Store  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def small_company() -> SampleCompany:
    return generate(partners=40, months=12, seed=3)


@pytest.fixture(scope="session")
def _loaded_template(tmp_path_factory, small_company) -> Path:
    folder = tmp_path_factory.mktemp("template") / "company"
    Store(folder).replace_all(small_company.tables, meta={"source": "sample", "manifest": small_company.manifest})
    return folder


@pytest.fixture(scope="session")
def guides_kb(tmp_path_factory):
    """A knowledge base holding the authored guides (indexed once per test session)."""
    from retrieval.knowledge_base import GUIDES_DIR, KnowledgeBase

    kb = KnowledgeBase(tmp_path_factory.mktemp("kb") / "knowledge")
    assert kb.ensure_guides() == len(list(GUIDES_DIR.glob("*.md")))
    return kb


@pytest.fixture
def data_dir(tmp_path, monkeypatch) -> Path:
    """An empty data folder that the app's settings point at."""
    folder = tmp_path / "data"
    monkeypatch.setenv("CANMOU_DATA_DIR", str(folder))
    reset_settings()
    yield folder
    reset_settings()


@pytest.fixture
def empty_store(data_dir) -> Store:
    return Store(data_dir / "company")


@pytest.fixture
def loaded_store(data_dir, _loaded_template) -> Store:
    """A store holding the small sample company (a private copy per test)."""
    shutil.copytree(_loaded_template, data_dir / "company")
    return Store(data_dir / "company")
