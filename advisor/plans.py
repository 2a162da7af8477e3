"""Saved plan documents: generate from tools (or a chat draft), keep as JSON in the data folder, export."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from company.errors import CanmouError
from company.schema import REGIONS
from company.store import Store
from documents.builders import from_draft_args
from documents.docx import export_docx, render_docx
from documents.markdown import export_markdown, render_markdown
from documents.model import PlanDocument

KIND_NAMES = {"work_plan": "季度渠道工作计划", "incentive": "激励/返利方案", "strategy": "渠道策略"}
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
    """Build a document for kind (work_plan / incentive / strategy) from the same arguments a chat draft keeps."""
    if kind not in KIND_NAMES:
        raise PlanError(
            f"不认识的方案类型「{kind}」。可选：{'、'.join(f'{k}（{v}）' for k, v in KIND_NAMES.items())}。"
        )
    document = from_draft_args(kind, args, store, search, version=version)
    document.args = {"kind": kind, **args}
    return document


def export(document: PlanDocument, out: Path | str) -> list[Path]:
    """Write .docx and/or .md by the file's suffix; no suffix writes both."""
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
        written += export(document, folder / (safe_name(f"季度渠道工作计划-{period}-{label}") + fmt))
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
                    document.args.get("kind", document.kind),
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

    def delete(self, plan_id: str) -> None:
        (self.folder / f"{plan_id}.json").unlink(missing_ok=True)


__all__ = [
    "KIND_NAMES",
    "PlanError",
    "PlanLibrary",
    "export",
    "generate",
    "regional_plans",
    "render_docx",
    "render_markdown",
]
