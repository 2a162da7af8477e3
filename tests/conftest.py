"""Shared fixtures: a small generated company, isolated data folders, settings pointed at them."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from advisor.runtime import pin_threads

pin_threads()
# Relative periods (本季度, 上季度, latest) resolve against today: tests fix the day (subprocesses inherit it).
os.environ.setdefault("CANMOU_TODAY", "2026-11-30")

from advisor.settings import reset_settings  # noqa: E402
from company.sample import SampleCompany, generate  # noqa: E402
from company.store import Profile, Store  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def small_company() -> SampleCompany:
    return generate(partners=40, months=12, seed=3)


@pytest.fixture(scope="session")
def _loaded_template(tmp_path_factory, small_company) -> Path:
    folder = tmp_path_factory.mktemp("template") / "company"
    store = Store(folder / "sample")
    store.replace_all(small_company.tables, meta={"source": "sample", "manifest": small_company.manifest})
    store.save_profile(Profile(name="示例公司", kind="sample"))
    (folder / "ACTIVE").write_text("sample", encoding="utf-8")
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
    """The (empty) sample dataset's folder of an empty data folder."""
    return Store(data_dir / "company" / "sample")


@pytest.fixture
def loaded_store(data_dir, _loaded_template) -> Store:
    """The active sample dataset holding the small sample company (a private copy per test)."""
    shutil.copytree(_loaded_template, data_dir / "company")
    return Store(data_dir / "company" / "sample")


@pytest.fixture
def fake_backend():
    """A test-only backend registered as llm_backend="fake" (as a plugin would); its model replies from a queue."""
    from advisor.llm_backends import BACKENDS, register_backend
    from tests.fake_llm import FakeBackend

    backend = FakeBackend()
    register_backend("fake", backend)
    yield backend
    BACKENDS.pop("fake", None)
