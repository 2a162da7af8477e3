"""Where the app's data lives: the datasets (sample company and the user's own), the knowledge base,
how the embedded default is prepared, and which dataset an import goes to."""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

from advisor.audit import LOCAL, AuditLog
from advisor.settings import Settings, get_settings
from company.errors import StoreError
from company.importers import ImportPlan, ImportReport, commit, plan_import
from company.reading import read_source
from company.store import Profile, Store
from company.workspaces import SAMPLE_ID, Dataset, Workspaces

Progress = Callable[[float, str], None]
NEW_PREFIX = "new:"


def workspaces(settings: Settings | None = None) -> Workspaces:
    return Workspaces((settings or get_settings()).company_dir)


def open_store(settings: Settings | None = None) -> Store:
    """The active dataset's store (the sample company's folder when nothing exists yet)."""
    return workspaces(settings).active_store()


def active_dataset(settings: Settings | None = None) -> Dataset | None:
    return workspaces(settings).active()


@lru_cache(maxsize=4)
def _knowledge(folder: Path, backend: str, model_dir: str | None):
    from retrieval.knowledge_base import KnowledgeBase  # chromadb is heavy; only when the base is used

    return KnowledgeBase(folder, backend, model_dir)


def open_knowledge(settings: Settings | None = None):
    """The knowledge base for these settings (one instance per folder and backend per process)."""
    settings = settings or get_settings()
    model_dir = str(settings.embedding_model_dir) if settings.embedding_model_dir else None
    kb = _knowledge(settings.knowledge_dir.resolve(), settings.embedding_backend, model_dir)
    kb.use_guides = settings.builtin_guides
    return kb


def load_sample(
    store_or_settings: Store | Settings | None = None,
    partners: int | None = None,
    months: int | None = None,
    seed: int | None = None,
    progress: Progress | None = None,
    end_month: str | None = None,
    user: str | None = LOCAL,
) -> dict:
    """Generate the sample company into the sample dataset (or the given store); returns the manifest.

    The sample runs up to the last complete month before today unless end_month says otherwise. It
    replaces only the sample dataset: a company's own datasets are never touched."""
    from company.sample import generate, last_complete_month  # numpy-heavy; only needed when generating

    settings = store_or_settings if isinstance(store_or_settings, Settings) else get_settings()
    if isinstance(store_or_settings, Store):
        store = store_or_settings
    else:
        spaces = workspaces(settings)
        store = spaces.prepare(SAMPLE_ID, Profile(name="示例公司", kind="sample")).store
    notify = progress or (lambda _f, _m: None)
    sample = generate(
        partners=partners or settings.sample_partners,
        months=months or settings.sample_months,
        seed=settings.sample_seed if seed is None else seed,
        end_month=end_month or last_complete_month(),
        progress=lambda f, m: notify(0.8 * f, m),
    )
    notify(0.85, "写入数据库")
    store.replace_all(sample.tables, meta={"source": "sample", "manifest": sample.manifest})
    if not isinstance(store_or_settings, Store):  # a user's action (a given store is a program's, e.g. a benchmark)
        if workspaces(settings).active_id() in (None, SAMPLE_ID):
            workspaces(settings).activate(SAMPLE_ID)
        AuditLog(settings.data_dir).record(
            "import", user, target="sample", dataset=SAMPLE_ID, partners=partners or settings.sample_partners
        )
    notify(1.0, "示例公司已就绪")
    return sample.manifest


def ensure_default(settings: Settings | None = None, progress: Progress | None = None) -> dict[str, bool | int]:
    """Prepare the embedded default where nothing is there yet: the sample company, the guide index."""
    settings = settings or get_settings()
    notify = progress or (lambda _f, _m: None)
    spaces = workspaces(settings)
    made_sample = False
    if not any(d.id == SAMPLE_ID and d.store.exists() for d in spaces.list()):
        load_sample(settings, progress=lambda f, m: notify(0.5 * f, m))
        made_sample = True
    guides = open_knowledge(settings).ensure_guides(lambda f, m: notify(0.5 + 0.5 * f, m))
    return {"sample": made_sample, "guides": guides}


def target_for_import(spaces: Workspaces, filename: str, dataset: str | None = None) -> tuple[Dataset, bool]:
    """The dataset an import goes to, and whether it is new.

    dataset: an existing id, or 'new:名称'. Without it the active dataset is used, except that the
    sample company never receives a company's data: then a new dataset named after the file is made."""
    if dataset and not dataset.startswith(NEW_PREFIX):
        chosen = spaces.get(dataset)
        if chosen.profile.is_sample:
            raise StoreError(
                "示例公司是虚构的演示数据，不能导入真实数据。不指定数据集时会为您的文件新建一个数据集；"
                "也可以用 --dataset new:公司名称 新建。"
            )
        return chosen, False
    active = spaces.active()
    if dataset is None and active is not None and not active.profile.is_sample:
        return active, False
    name = dataset[len(NEW_PREFIX) :].strip() if dataset else Path(filename).stem
    name = name or "我的公司"
    for _attempt in range(20):  # claim a folder atomically: two imports at once get two datasets
        dataset_id = spaces.new_id(name)
        try:
            os.makedirs(spaces.root / dataset_id)
        except FileExistsError:
            continue
        return spaces.prepare(dataset_id, Profile(name=name, kind="company")), True
    raise StoreError("无法新建数据集文件夹，请检查数据文件夹的权限。")


def planning_store(spaces: Workspaces, dataset: str | None = None) -> Store | None:
    """The store an import is checked against before anything is created: None for a new dataset."""
    if dataset and not dataset.startswith(NEW_PREFIX):
        return spaces.get(dataset).store
    active = spaces.active()
    if dataset is None and active is not None and not active.profile.is_sample:
        return active.store
    return None


def commit_to_dataset(
    plan: ImportPlan, *, dataset: str | None = None, settings: Settings | None = None, user: str | None = LOCAL
) -> ImportReport:
    """Write a checked import into its dataset (made now if new) and make that dataset active; the import is
    recorded in the audit log as `user`'s."""
    settings = settings or get_settings()
    spaces = workspaces(settings)
    target, is_new = target_for_import(spaces, plan.report.file, dataset)
    try:
        report = commit(plan, target.store)
    except BaseException:
        if is_new:
            spaces.discard(target.id)
        raise
    report.dataset_id, report.dataset_name, report.dataset_created = target.id, target.profile.name, is_new
    spaces.activate(target.id)
    AuditLog(settings.data_dir).record(
        "import",
        user,
        target="company_data",
        file=report.file,
        table=report.table,
        dataset=target.id,
        dataset_created=is_new,
        inserted=report.inserted,
        updated=report.updated,
        deleted=report.deleted,
        skipped=report.rows_skipped,
    )
    return report


def import_into_workspace(
    source: Path | str | bytes,
    *,
    filename: str | None = None,
    dataset: str | None = None,
    settings: Settings | None = None,
    progress: Progress | None = None,
    user: str | None = LOCAL,
    **options,
) -> ImportReport:
    """Import one file the way a user does: into the active company dataset, or a new one when the sample
    is active; the dataset becomes active once the data is in. Nothing changes when it fails."""
    settings = settings or get_settings()
    notify = progress or (lambda _f, _m: None)
    spaces = workspaces(settings)
    if dataset and not dataset.startswith(NEW_PREFIX):
        target_for_import(spaces, filename or "", dataset)  # refuses the sample before reading anything
    notify(0.05, "读取文件")
    raw = read_source(source, filename, settings.max_upload_mb)
    try:
        notify(0.3, f"校验 {raw.rows:,} 行数据")
        plan = plan_import(raw, filename or raw.name, store=planning_store(spaces, dataset), **options)
        notify(0.6, "写入数据库")
        report = commit_to_dataset(plan, dataset=dataset, settings=settings, user=user)
    finally:
        raw.close()
    notify(1.0, "导入完成")
    return report
