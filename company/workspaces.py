"""Datasets (workspaces): the built-in sample company and each company's own data, kept apart.

Layout under the company folder (settings.company_dir):
    ACTIVE            the id of the active dataset
    sample/           the fictional sample company (kind "sample")
    <id>/             a company's own data (kind "company"), one Store folder each
An import never merges real data into the sample: importing while the sample is active creates a
new dataset and makes it active (advisor.workspace decides that; this module only keeps the folders).
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from company.errors import StoreError
from company.store import POINTER, Profile, Store

ACTIVE = "ACTIVE"
SAMPLE_ID = "sample"
_ID_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,47}$")


@dataclass(frozen=True)
class Dataset:
    id: str
    folder: Path

    @property
    def store(self) -> Store:
        return Store(self.folder)

    @property
    def profile(self) -> Profile:
        return self.store.profile()

    def describe(self) -> str:
        """「名称」(示例/公司数据, 币种) as shown in page headers and answers."""
        p = self.profile
        kind = "内置示例公司，虚构数据" if p.is_sample else "公司数据"
        return f"「{p.name}」（{kind}，金额单位：{p.money.zh}）"


def slug(name: str) -> str:
    """An ASCII folder id from a dataset name; Chinese-only names get 'company'."""
    text = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:40]
    return text or "company"


class Workspaces:
    """The datasets in one company folder, and which one is active."""

    def __init__(self, root: Path | str):
        self.root = Path(root)
        self._migrate_single_store()

    # ---- layout -------------------------------------------------------------------------------
    def _migrate_single_store(self) -> None:
        """A data folder from before workspaces held one store directly in root: move it into a dataset."""
        if not (self.root / POINTER).exists():
            return
        legacy = Store(self.root)
        source = legacy.meta("source", "import") if legacy.exists() else "import"
        dataset_id = SAMPLE_ID if source == "sample" else "company"
        target = self.root / dataset_id
        target.mkdir(parents=True, exist_ok=True)
        for item in list(self.root.iterdir()):
            if item.is_file() and (item.name.startswith("company-") or item.name == POINTER):
                shutil.move(str(item), target / item.name)
        Store(target).save_profile(
            Profile(
                name="示例公司" if dataset_id == SAMPLE_ID else "我的公司",
                kind="sample" if dataset_id == SAMPLE_ID else "company",
                created_at=datetime.now().isoformat(timespec="seconds"),
            )
        )
        if not (self.root / ACTIVE).exists():
            self._write_active(dataset_id)

    def _write_active(self, dataset_id: str) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self.root / (ACTIVE + ".tmp")
        tmp.write_text(dataset_id, encoding="utf-8")
        os.replace(tmp, self.root / ACTIVE)

    # ---- reading ------------------------------------------------------------------------------
    def list(self) -> list[Dataset]:
        if not self.root.exists():
            return []
        found = [
            Dataset(p.name, p)
            for p in sorted(self.root.iterdir())
            if p.is_dir() and _ID_RE.match(p.name) and ((p / POINTER).exists() or (p / "dataset.json").exists())
        ]
        return sorted(found, key=lambda d: (d.id != SAMPLE_ID, d.id))

    def get(self, dataset_id: str) -> Dataset:
        for dataset in self.list():
            if dataset.id == dataset_id:
                return dataset
        choices = "、".join(f"{d.id}（{d.profile.name}）" for d in self.list()) or "（还没有数据集）"
        raise StoreError(f"没有编号为「{dataset_id}」的数据集。现有数据集：{choices}。")

    def active_id(self) -> str | None:
        try:
            value = (self.root / ACTIVE).read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            value = ""
        ids = [d.id for d in self.list()]
        if value in ids:
            return value
        return ids[0] if ids else None

    def active(self) -> Dataset | None:
        dataset_id = self.active_id()
        return None if dataset_id is None else Dataset(dataset_id, self.root / dataset_id)

    def active_store(self) -> Store:
        """The store of the active dataset; when there is none yet, the (empty) sample folder."""
        dataset = self.active()
        return dataset.store if dataset else Store(self.root / SAMPLE_ID)

    # ---- changing -----------------------------------------------------------------------------
    def activate(self, dataset_id: str) -> Dataset:
        dataset = self.get(dataset_id)
        self._write_active(dataset.id)
        return dataset

    def new_id(self, name: str) -> str:
        base = slug(name)
        if base == SAMPLE_ID:
            base = "company"
        taken = {p.name for p in self.root.iterdir()} if self.root.exists() else set()
        candidate, n = base, 1
        while candidate in taken:
            n += 1
            candidate = f"{base}-{n}"
        return candidate

    def prepare(self, dataset_id: str, profile: Profile) -> Dataset:
        """A dataset folder with its profile (no data yet; the first write creates the database)."""
        if not _ID_RE.match(dataset_id):
            raise StoreError(f"数据集编号「{dataset_id}」只能用小写字母、数字、- 和 _。")
        folder = self.root / dataset_id
        folder.mkdir(parents=True, exist_ok=True)
        if not profile.created_at:
            profile.created_at = datetime.now().isoformat(timespec="seconds")
        Store(folder).save_profile(profile)
        return Dataset(dataset_id, folder)

    def discard(self, dataset_id: str) -> None:
        """Remove a dataset folder that never received data (an import into a new dataset failed)."""
        folder = self.root / dataset_id
        if folder.is_dir() and not (folder / POINTER).exists():
            shutil.rmtree(folder, ignore_errors=True)

    def remove(self, dataset_id: str) -> None:
        dataset = self.get(dataset_id)
        if dataset.id == self.active_id():
            others = [d.id for d in self.list() if d.id != dataset.id]
            if others:
                self._write_active(others[0])
            else:
                (self.root / ACTIVE).unlink(missing_ok=True)
        with dataset.store.lock():
            trash = self.root / f".removed-{dataset.id}-{datetime.now():%Y%m%d%H%M%S}"
            os.replace(dataset.folder, trash)
        shutil.rmtree(trash, ignore_errors=True)
