"""Where the app's data lives and how the embedded default is prepared (sample company first)."""

from __future__ import annotations

from collections.abc import Callable

from advisor.settings import Settings, get_settings
from company.store import Store

Progress = Callable[[float, str], None]


def open_store(settings: Settings | None = None) -> Store:
    return Store((settings or get_settings()).company_dir)


def load_sample(store: Store, partners: int, months: int, seed: int, progress: Progress | None = None) -> dict:
    """Generate the sample company and swap it in as the whole company database; returns the manifest."""
    from company.sample import generate  # numpy-heavy; only needed when generating

    notify = progress or (lambda _f, _m: None)
    sample = generate(partners=partners, months=months, seed=seed, progress=lambda f, m: notify(0.8 * f, m))
    notify(0.85, "写入数据库")
    store.replace_all(sample.tables, meta={"source": "sample", "manifest": sample.manifest})
    notify(1.0, "示例公司已就绪")
    return sample.manifest


def ensure_default(settings: Settings | None = None, progress: Progress | None = None) -> bool:
    """Prepare the embedded default when nothing is there yet; returns True if it created data."""
    settings = settings or get_settings()
    store = open_store(settings)
    if store.exists():
        return False
    load_sample(store, settings.sample_partners, settings.sample_months, settings.sample_seed, progress)
    return True
