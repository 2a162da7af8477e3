"""Where the app's data lives and how the embedded default is prepared (sample company first)."""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

from advisor.settings import Settings, get_settings
from company.store import Store

Progress = Callable[[float, str], None]


def open_store(settings: Settings | None = None) -> Store:
    return Store((settings or get_settings()).company_dir)


@lru_cache(maxsize=4)
def _knowledge(folder: Path, backend: str, model_dir: str | None):
    from retrieval.knowledge_base import KnowledgeBase  # chromadb is heavy; only when the base is used

    return KnowledgeBase(folder, backend, model_dir)


def open_knowledge(settings: Settings | None = None):
    """The knowledge base for these settings (one instance per folder and backend per process)."""
    settings = settings or get_settings()
    model_dir = str(settings.embedding_model_dir) if settings.embedding_model_dir else None
    return _knowledge(settings.knowledge_dir.resolve(), settings.embedding_backend, model_dir)


def load_sample(store: Store, partners: int, months: int, seed: int, progress: Progress | None = None) -> dict:
    """Generate the sample company and swap it in as the whole company database; returns the manifest."""
    from company.sample import generate  # numpy-heavy; only needed when generating

    notify = progress or (lambda _f, _m: None)
    sample = generate(partners=partners, months=months, seed=seed, progress=lambda f, m: notify(0.8 * f, m))
    notify(0.85, "写入数据库")
    store.replace_all(sample.tables, meta={"source": "sample", "manifest": sample.manifest})
    notify(1.0, "示例公司已就绪")
    return sample.manifest


def ensure_default(settings: Settings | None = None, progress: Progress | None = None) -> dict[str, bool | int]:
    """Prepare the embedded default where nothing is there yet: the sample company, the guide index."""
    settings = settings or get_settings()
    notify = progress or (lambda _f, _m: None)
    store = open_store(settings)
    made_sample = False
    if not store.exists():
        load_sample(
            store,
            settings.sample_partners,
            settings.sample_months,
            settings.sample_seed,
            lambda f, m: notify(0.5 * f, m),
        )
        made_sample = True
    guides = open_knowledge(settings).ensure_guides(lambda f, m: notify(0.5 + 0.5 * f, m))
    return {"sample": made_sample, "guides": guides}
