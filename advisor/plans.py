"""Saved plan documents: generate from tools (or take a chat draft's), keep as JSON in the data folder, export."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from advisor.audit import LOCAL, AuditLog
from advisor.settings import get_settings
from advisor.types import Draft
from company.errors import CanmouError
from company.schema import REGIONS
from company.store import Store
from documents.builders import build_plan
from documents.docx import export_docx, render_docx
from documents.kinds import PLAN_KINDS
from documents.markdown import export_markdown, render_markdown
from documents.model import PlanDocument

KIND_NAMES = {kind.id: kind.zh for kind in PLAN_KINDS.values()}  # the 方案 page's choices, from documents.kinds
Progress = Callable[[float, str], None]


class PlanError(CanmouError):
    """A plan cannot be generated, found or written; the message says what to do."""


@dataclass
class SavedPlan:
    plan_id: str
    title: str
    kind: str
    saved_at: str
    path: Path


def generate(kind: str, args: dict, store: Store, search=None, version: int = 1) -> PlanDocument:
    """Build the document of a plan kind (any of its names, see documents.kinds) from the arguments a chat
    draft keeps: the same builder, so the same arguments give the chat draft's text."""
    return _for_library(build_plan(kind, args, store, search, version=version))


def _for_library(document: PlanDocument) -> PlanDocument:
    # The 方案 page's 按新参数重新生成 reads the kind from the saved arguments.
    return document.model_copy(update={"args": {"kind": document.kind, **document.args}})


def draft_document(draft: Draft) -> PlanDocument:
    """The document a chat draft shows, as it is: exporting it never rebuilds it from the arguments."""
    if draft.document is None:
        raise PlanError(
            "这份草案由旧版本生成，没有随附的方案文档，不能导出 Word。"
            "请重新起草一次（例如再说一遍「设计一个返利方案」）后下载。"
        )
    return draft.document


def save_draft(draft: Draft, folder: Path | str, user: str | None = LOCAL) -> PlanDocument:
    """Keep a chat draft's document in the plan library (also listed on the 方案 page): one file per draft
    version, however often it is downloaded. Returns the document. The download is recorded in the audit log."""
    document = _for_library(draft_document(draft))
    digest = hashlib.sha1(json.dumps(draft.args, sort_keys=True, default=str).encode()).hexdigest()[:10]
    plan_id = PlanLibrary(folder).save(document, f"draft-{draft.kind}-{digest}-v{draft.version}")
    AuditLog(Path(folder).parent).record(
        "export", user, title=document.title, kind=document.kind, plan=plan_id, format="docx", source="chat draft"
    )
    return document


def export(document: PlanDocument, out: Path | str, user: str | None = LOCAL) -> list[Path]:
    """Write .docx and/or .md by the file's suffix; no suffix writes both. Recorded in the audit log."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    suffix = out.suffix.lower()
    if suffix not in ("", ".docx", ".md"):
        raise PlanError(f"输出文件只能是 .docx 或 .md（收到 {out.name}）；不写扩展名则两种都生成。")
    written = []
    if suffix in ("", ".docx"):
        written.append(export_docx(document, out.with_suffix(".docx")))
    if suffix in ("", ".md"):
        written.append(export_markdown(document, out.with_suffix(".md")))
    AuditLog(get_settings().data_dir).record(
        "export", user, title=document.title, kind=document.kind, files=[str(p) for p in written]
    )
    return written


def regional_plans(
    store: Store, search, quarter: str | None, folder: Path, progress: Progress | None = None, fmt: str = ".docx"
) -> list[Path]:
    """One quarterly plan per region plus the company summary (all regions), written into folder."""
    notify = progress or (lambda _f, _m: None)
    known = set(store.query("SELECT DISTINCT region FROM partners WHERE region IS NOT NULL")["region"])
    regions = [r for r in REGIONS if r in known] + sorted(known - set(REGIONS))
    scopes: list[str | None] = [*regions, None]
    written: list[Path] = []
    for number, region in enumerate(scopes):
        label = region or "全公司汇总"
        notify(number / len(scopes), f"[{number + 1}/{len(scopes)}] 生成{label}季度计划")
        document = generate("work_plan", {"quarter": quarter, "region": region}, store, search)
        period = document.metadata.period.split("（")[0]
        written += export(document, folder / (safe_name(f"{PLAN_KINDS['work_plan'].zh}-{period}-{label}") + fmt))
    notify(1.0, f"已生成 {len(scopes)} 份计划")
    return written


def safe_name(text: str) -> str:
    return re.sub(r"[\\/:*?\"<>|\s（）()]+", "-", text).strip("-")[:80]


class PlanLibrary:
    """Plans saved as JSON in `folder` (data/plans by default), newest first."""

    def __init__(self, folder: Path | str):
        self.folder = Path(folder)

    def save(self, document: PlanDocument, plan_id: str | None = None) -> str:
        self.folder.mkdir(parents=True, exist_ok=True)
        plan_id = plan_id or datetime.now().strftime("%Y%m%d-%H%M%S-%f")
        tmp = self.folder / f"{plan_id}.json.tmp"
        tmp.write_text(document.to_json(), encoding="utf-8")
        tmp.replace(self.folder / f"{plan_id}.json")  # a crash mid-write never leaves half a plan
        return plan_id

    def list(self) -> list[SavedPlan]:
        if not self.folder.exists():
            return []
        out = []
        for path in sorted(self.folder.glob("*.json"), reverse=True):
            try:
                document = PlanDocument.load(path)
            except ValueError:
                continue  # a damaged file is skipped, not fatal
            out.append(
                SavedPlan(
                    path.stem,
                    document.title,
                    document.kind,
                    datetime.fromtimestamp(path.stat().st_mtime).strftime("%Y-%m-%d %H:%M"),
                    path,
                )
            )
        return out

    def load(self, plan_id: str) -> PlanDocument:
        path = self.folder / f"{plan_id}.json"
        if not path.exists():
            raise PlanError(f"没有编号为 {plan_id} 的方案。")
        return PlanDocument.load(path)

    def delete(self, plan_id: str, user: str | None = LOCAL) -> None:
        """Remove a saved plan; the deletion is recorded in the audit log of the data folder holding the library."""
        path = self.folder / f"{plan_id}.json"
        if not path.exists():
            return
        try:
            title = PlanDocument.load(path).title
        except ValueError:  # a damaged file (list() skips it) can still be removed
            title = ""
        path.unlink(missing_ok=True)
        AuditLog(self.folder.parent).record("delete", user, target="plan", id=plan_id, title=title)


__all__ = [
    "KIND_NAMES",
    "PlanError",
    "PlanLibrary",
    "draft_document",
    "export",
    "generate",
    "regional_plans",
    "render_docx",
    "render_markdown",
    "save_draft",
]
