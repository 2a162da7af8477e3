"""The plan document as data: metadata, sections with paragraphs, tables and charts, and numbered references.

A PlanDocument is what the builders produce and what the Markdown and Word renderers read; it saves to
JSON (tables as records) and loads back, so a plan can be reopened and exported again later.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from datetime import date as Date
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_serializer, field_validator

from documents.kinds import PlanKindId, UnknownPlanKind, plan_kind

CITATION = re.compile(r"\[(\d+)\]")


def cell(value: Any) -> Any:
    """A DataFrame cell as a JSON value: NaN/NA -> None, numpy scalars -> Python, dates -> ISO text."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, pd.Timestamp | datetime | Date):
        return value.isoformat()
    return value


def frame_to_records(frame: pd.DataFrame) -> dict[str, Any]:
    """{'columns': [...], 'records': [{column: value}, ...]}; columns are kept so an empty table keeps its header."""
    columns = [str(c) for c in frame.columns]
    records = [
        {column: cell(value) for column, value in zip(columns, row, strict=True)}
        for row in frame.itertuples(index=False, name=None)
    ]
    return {"columns": columns, "records": records}


def frame_from_records(value: Any) -> pd.DataFrame:
    if isinstance(value, pd.DataFrame):
        return value
    if isinstance(value, dict) and "records" in value:
        return pd.DataFrame.from_records(value["records"], columns=value.get("columns"))
    if isinstance(value, list):
        return pd.DataFrame.from_records(value)
    raise ValueError("表格数据应为 DataFrame 或 {columns, records} 记录格式")


class Paragraph(BaseModel):
    """One paragraph; guidance sentences carry their citation markers [n] inline."""

    text: str
    style: Literal["body", "bullet", "note"] = "body"

    @property
    def citations(self) -> list[int]:
        return [int(n) for n in CITATION.findall(self.text)]


class Table(BaseModel):
    """A tool table shown in the document: the frame, a caption, and the unit note printed with it."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    caption: str
    frame: pd.DataFrame
    note: str = ""  # e.g. "金额单位：元；比例单位：%"
    units: dict[str, str] = Field(default_factory=dict)  # column -> unit, shown in the header as 列名（单位）
    source: str = ""  # the tool that produced the numbers

    @field_validator("frame", mode="before")
    @classmethod
    def _frame(cls, value: Any) -> pd.DataFrame:
        return frame_from_records(value)

    @field_serializer("frame")
    def _dump_frame(self, frame: pd.DataFrame) -> dict[str, Any]:
        return frame_to_records(frame)


class Chart(BaseModel):
    """A chart to render to PNG. bar/line: x is the category column, y the value column(s);
    gantt: x is the task column and y = [start column, end column] (ISO dates)."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    kind: Literal["bar", "line", "gantt"]
    title: str
    data: pd.DataFrame
    x: str
    y: list[str]
    x_label: str = ""
    y_label: str = ""
    label: str | None = None  # gantt: column written on each bar (e.g. the owner)
    markers: list[str] = Field(default_factory=list)  # gantt: ISO dates drawn as dashed lines (review dates)
    caption: str = ""

    @field_validator("y", mode="before")
    @classmethod
    def _y(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("data", mode="before")
    @classmethod
    def _data(cls, value: Any) -> pd.DataFrame:
        return frame_from_records(value)

    @field_serializer("data")
    def _dump_data(self, frame: pd.DataFrame) -> dict[str, Any]:
        return frame_to_records(frame)

    def model_post_init(self, _context: Any) -> None:
        missing = [c for c in [self.x, *self.y, *([self.label] if self.label else [])] if c not in self.data.columns]
        if missing:
            raise ValueError(f"图表「{self.title}」的数据里没有列：{'、'.join(missing)}")
        if self.kind == "gantt" and len(self.y) != 2:
            raise ValueError(f"甘特图「{self.title}」需要开始和结束两列（y = [开始, 结束]）")


class Section(BaseModel):
    """A heading with its content, shown in this order: paragraphs, tables, charts, closing paragraphs
    (e.g. the cited guidance that comments on the table), then subsections."""

    heading: str
    level: int = Field(1, ge=1, le=3)
    numbered: bool = True  # level-1 sections get 一、二、…; level-2 get （一）（二）…
    paragraphs: list[Paragraph] = Field(default_factory=list)
    tables: list[Table] = Field(default_factory=list)
    charts: list[Chart] = Field(default_factory=list)
    closing: list[Paragraph] = Field(default_factory=list)
    subsections: list[Section] = Field(default_factory=list)

    @field_validator("paragraphs", "closing", mode="before")
    @classmethod
    def _paragraphs(cls, value: Any) -> Any:
        return [{"text": p} if isinstance(p, str) else p for p in value or []]

    def walk(self) -> Iterator[Section]:
        yield self
        for sub in self.subsections:
            yield from sub.walk()


class Metadata(BaseModel):
    company: str
    period: str  # the plan or analysis period, e.g. 2026年第4季度（2026-10-01 ~ 2026-12-31）
    scope: str = "全国"  # region or 全国
    author: str = "渠道管理部"
    date: Date = Field(default_factory=Date.today)
    version: int = 1
    basis: str = ""  # the data period the numbers come from, when it differs from the plan period


class Reference(BaseModel):
    """[n] in the text points at this retrieved guide passage."""

    number: int
    title: str
    heading_path: list[str] = Field(default_factory=list)
    source: str
    location: str = ""
    text: str
    chunk_id: str = ""

    @property
    def label(self) -> str:
        """'title > heading > heading（source location）', the line printed in the reference list."""
        path = f" > {' > '.join(self.heading_path)}" if self.heading_path else ""
        where = f"{self.source} {self.location}".strip()
        return f"{self.title}{path}（{where}）"


class PlanDocument(BaseModel):
    """A plan a manager hands to the boss or the distributors, with every number traceable to a tool.

    The chat shows it as Markdown and the Word file renders the same object: sections (numbered 一、二、…), then
    the references as the last numbered chapter, then the appendix (unnumbered, e.g. 需要补充的数据).
    """

    kind: PlanKindId
    title: str
    metadata: Metadata
    sections: list[Section] = Field(default_factory=list)
    references: list[Reference] = Field(default_factory=list)
    references_heading: str = "参考依据"
    appendix: list[Section] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)  # data caveats the tools reported
    args: dict[str, Any] = Field(default_factory=dict)  # the arguments that produced it, so it can be rebuilt
    # headline numbers of the tools by canonical name (rebate_total, revenue_target …): a revision reports the ones
    # that moved. Documents saved before the canonical names are keyed by the Chinese labels and have no labels.
    figures: dict[str, float | int | str | None] = Field(default_factory=dict)
    # the Chinese label of each figure, in the dataset's currency (rebate_total -> 返利合计(元)), for the renderers
    figure_labels: dict[str, str] = Field(default_factory=dict)
    adjustments: list[str] = Field(default_factory=list)  # what the builder changed in its arguments (按预算调整返点…)

    @field_validator("kind", mode="before")
    @classmethod
    def _kind(cls, value: Any) -> str:
        """Any name of a kind (documents saved before the one vocabulary say quarterly_plan, incentive_plan)."""
        try:
            return plan_kind(value).id
        except UnknownPlanKind as exc:
            raise ValueError(exc.message) from exc

    def walk(self) -> Iterator[Section]:
        for section in [*self.sections, *self.appendix]:
            yield from section.walk()

    def headings(self) -> list[str]:
        return [s.heading for s in self.walk()]

    def section(self, heading: str) -> Section:
        for s in self.walk():
            if s.heading == heading:
                return s
        raise KeyError(heading)

    def tables(self) -> list[Table]:
        return [t for s in self.walk() for t in s.tables]

    def charts(self) -> list[Chart]:
        return [c for s in self.walk() for c in s.charts]

    def to_json(self) -> str:
        return self.model_dump_json(indent=2)

    @classmethod
    def from_json(cls, text: str | bytes) -> PlanDocument:
        return cls.model_validate_json(text)

    def save(self, path: Path | str) -> Path:
        path = Path(path)
        path.write_text(self.to_json(), encoding="utf-8")
        return path

    @classmethod
    def load(cls, path: Path | str) -> PlanDocument:
        return cls.from_json(Path(path).read_text(encoding="utf-8"))


CHINESE_NUMERALS = "一二三四五六七八九十"


def numeral(n: int) -> str:
    """1 -> 一, 12 -> 十二, 20 -> 二十 (headings never go past 99)."""
    if n <= 10:
        return CHINESE_NUMERALS[n - 1]
    tens, ones = divmod(n, 10)
    return ("" if tens == 1 else CHINESE_NUMERALS[tens - 1]) + "十" + (CHINESE_NUMERALS[ones - 1] if ones else "")


def _numbered(sections: list[Section], numbered: bool = True) -> Iterator[tuple[str, Section]]:
    count = 0
    for section in sections:
        prefix = ""
        if numbered and section.numbered:
            count += 1
            prefix = f"{numeral(count)}、" if section.level == 1 else f"（{numeral(count)}）"
            if section.level >= 3:
                prefix = f"{count}. "
        yield prefix + section.heading, section
        yield from _numbered(section.subsections, numbered)


def references_title(document: PlanDocument) -> str:
    """The reference list's heading, numbered as the chapter after the last one: 八、参考依据."""
    chapters = sum(1 for s in document.sections if s.numbered)
    return f"{numeral(chapters + 1)}、{document.references_heading}"


def numbered_headings(document: PlanDocument) -> Iterator[tuple[str, Section | None]]:
    """What both renderers print, in reading order, as (shown heading, section): 一、季度目标 / （一）伙伴分级 …,
    then (八、参考依据, None) when the document cites passages, then the appendix sections, unnumbered."""
    yield from _numbered(document.sections)
    if document.references:
        yield references_title(document), None
    yield from _numbered(document.appendix, numbered=False)
