"""What every channel tool shares: the typed result, its display labels, errors, the registry, period resolution.

A tool is a pure function (store, args) -> ToolResult. Its argument model's docstring is the
description an LLM sees when the tool is offered by tool calling, so it is written for a model.
Results carry canonical snake_case table, column and headline-figure names; each tool declares their Chinese and
English labels once (a Labels map), and only renderers (chat answer, plan documents, CLI, the LLM's view) apply them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, Generic, TypeVar

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from company.capabilities import Missing
from company.errors import CanmouError
from company.periods import DataSpan, Period, PeriodError, data_span, resolve
from company.store import Store


class ToolError(CanmouError):
    """Bad arguments or data a tool cannot work with; the message says what to change."""


@dataclass(frozen=True)
class Label:
    """What a user reads for one canonical name; a unit (元, %, 万元) is part of the label, never of the name."""

    zh: str
    en: str

    def text(self, language: str = "zh") -> str:
        return self.en if language == "en" else self.zh


class Labels:
    """Chinese and English labels of canonical table and column names, declared once per tool.

    A key "table.column" labels that column in that table only (本期毛利(元) in the ROI table, 毛利(元)
    elsewhere); a key "figures.name" labels a headline figure only (伙伴数 as a figure, 伙伴数(家) as a column);
    a plain key labels the name everywhere. `a | b` is a with b's labels added or replacing.
    """

    def __init__(self, entries: Mapping[str, Label | tuple[str, str]] | None = None):
        self._entries: dict[str, Label] = {
            key: value if isinstance(value, Label) else Label(*value) for key, value in (entries or {}).items()
        }

    def __or__(self, other: Labels) -> Labels:
        return Labels({**self._entries, **other._entries})

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __repr__(self) -> str:
        return f"Labels({len(self._entries)} names)"

    def get(self, name: str, table: str | None = None) -> Label | None:
        return (self._entries.get(f"{table}.{name}") if table else None) or self._entries.get(name)

    def text(self, name: str, language: str = "zh", table: str | None = None) -> str:
        """The label of a name (a column of `table` when given); an unlabelled name shows as itself."""
        label = self.get(name, table)
        return label.text(language) if label is not None else name

    def frame(self, frame: pd.DataFrame, language: str = "zh", table: str | None = None) -> pd.DataFrame:
        """A copy of a canonical frame with its headers labelled (values untouched)."""
        return frame.rename(columns={c: self.text(str(c), language, table) for c in frame.columns})

    def unlabelled(self, tables: Mapping[str, pd.DataFrame]) -> list[str]:
        """Table and column names (as table or table.column) that have no label."""
        out = [name for name in tables if self.get(name) is None]
        out += [
            f"{name}.{c}" for name, frame in tables.items() for c in frame.columns if self.get(str(c), name) is None
        ]
        return out

    def relabelled(self, zh: Callable[[str], str], en: Callable[[str], str]) -> Labels:
        """These labels with every label rewritten (e.g. 完成率 -> 同比达成率 when the tiers measure growth)."""
        return Labels({key: Label(zh(label.zh), en(label.en)) for key, label in self._entries.items()})


# The scope of the labels of headline figures: "figures.partners" labels the figure `partners`, not the column.
FIGURES = "figures"

# Columns several tools show under the same label.
COMMON_LABELS = Labels(
    {
        "partner_id": ("伙伴编号", "Partner ID"),
        "name": ("伙伴名称", "Partner"),
        "region": ("区域", "Region"),
        "revenue": ("销售额(元)", "Revenue (CNY)"),
    }
)


class ToolResult(BaseModel):
    """Tables, a short explanation, the formula and parameters used, and the period, for one tool run.

    `tables` are keyed by canonical snake_case names and have canonical column names, and `figures` (the headline
    numbers) by canonical snake_case names too; `labels` says how a renderer shows them in Chinese or English
    (labelled(), labelled_figures()).
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    tool: str
    title: str
    period: str = ""
    explanation: str = ""
    formula: str = ""
    parameters: dict[str, Any] = Field(default_factory=dict)
    tables: dict[str, pd.DataFrame] = Field(default_factory=dict)
    labels: Labels = Field(default_factory=Labels)
    figures: dict[str, float | int | str | None] = Field(default_factory=dict)
    warnings: list[str] = Field(default_factory=list)
    # Inputs the data lacks: each names what was computed instead and which file adds it (capability model).
    missing: list[Missing] = Field(default_factory=list)
    data: Any = None  # a structured value (e.g. a work plan) when the result is more than tables

    def missing_lines(self) -> list[str]:
        return [m.message() for m in self.missing]

    def table(self, name: str) -> pd.DataFrame:
        return self.tables[name]

    def label(self, name: str, language: str = "zh", table: str | None = None) -> str:
        """The label of a table name, or of a column of `table`."""
        return self.labels.text(name, language, table)

    def labelled(self, language: str = "zh", names: Iterable[str] | None = None) -> dict[str, pd.DataFrame]:
        """The tables as a user reads them, in the answer's language: {table label: frame with labelled headers}."""
        chosen = [n for n in (list(self.tables) if names is None else names) if n in self.tables]
        return {self.label(n, language): self.labels.frame(self.tables[n], language, n) for n in chosen}

    def figure_label(self, name: str, language: str = "zh") -> str:
        """The label of a headline figure (a "figures.name" label first, else the name's plain label)."""
        return self.labels.text(name, language, FIGURES)

    def figure_labels(self, language: str = "zh") -> dict[str, str]:
        """{figure name: its label} in the answer's language."""
        return {name: self.figure_label(name, language) for name in self.figures}

    def labelled_figures(self, language: str = "zh") -> dict[str, float | int | str | None]:
        """The headline figures as a user reads them, in the answer's language: {label: value}."""
        return {self.figure_label(name, language): value for name, value in self.figures.items()}

    def unlabelled_figures(self) -> list[str]:
        """Figure names that have no label."""
        return [name for name in self.figures if self.labels.get(name, FIGURES) is None]

    def numbers(self) -> set[float]:
        """Every number this result shows (headline figures and table cells), for answer checks."""
        out: set[float] = set()
        for value in self.figures.values():
            if isinstance(value, int | float) and not isinstance(value, bool) and pd.notna(value):
                out.add(float(value))
        for frame in self.tables.values():
            for column in frame.select_dtypes("number").columns:
                out.update(float(v) for v in frame[column].dropna().unique())
        return out


Args = TypeVar("Args", bound=BaseModel)


@dataclass(frozen=True)
class Tool(Generic[Args]):
    name: str
    args: type[Args]
    run: Callable[[Store, Args], ToolResult]

    @property
    def description(self) -> str:
        return (self.args.__doc__ or "").strip()

    def __call__(self, store: Store, args: Args | dict[str, Any] | None = None) -> ToolResult:
        if not isinstance(args, self.args):
            try:
                args = self.args.model_validate(args or {})
            except ValidationError as exc:
                raise ToolError(argument_message(exc)) from exc
        return self.run(store, args)


def argument_message(exc: ValidationError) -> str:
    """Pydantic's errors as one Chinese sentence per argument (our validators already speak Chinese)."""
    parts = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error["loc"]) or "参数"
        ctx = error.get("ctx") or {}
        template = PYDANTIC_MESSAGES.get(error["type"])
        message = template.format(**ctx) if template else str(error["msg"])
        message = message.removeprefix("Value error, ").removeprefix("Assertion failed, ").rstrip("。")
        parts.append(f"参数 {where}：{message}")
    return "；".join(parts) + "。"


PYDANTIC_MESSAGES = {
    "greater_than_equal": "应不小于 {ge}",
    "greater_than": "应大于 {gt}",
    "less_than_equal": "应不大于 {le}",
    "less_than": "应小于 {lt}",
    "literal_error": "只能是 {expected}",
    "missing": "缺少这个参数",
    "int_parsing": "应为整数",
    "int_type": "应为整数",
    "float_parsing": "应为数字",
    "float_type": "应为数字",
    "string_type": "应为文字",
    "list_type": "应为列表",
    "dict_type": "应为键值对",
    "bool_type": "应为是/否",
    "extra_forbidden": "不认识这个参数",
    "too_short": "至少需要 {min_length} 项",
    "too_long": "最多 {max_length} 项",
}


TOOLS: dict[str, Tool] = {}


def register(name: str, args: type[Args]) -> Callable[[Callable[[Store, Args], ToolResult]], Callable]:
    """Decorator: make a tool function callable by name through TOOLS."""

    def wrap(fn: Callable[[Store, Args], ToolResult]) -> Callable[[Store, Args], ToolResult]:
        TOOLS[name] = Tool(name, args, fn)
        return fn

    return wrap


def span_of(store: Store) -> DataSpan:
    span = data_span(store)
    if span is None:
        raise ToolError("还没有销售明细，无法计算。请先在「数据中心」导入销售数据或生成示例公司。")
    return span


def latest_date(store: Store) -> date:
    """The last sales date of the data (dates after today count once confirmed)."""
    return span_of(store).last


def resolve_period(store: Store, text: str | None, grain: str | None = None, notes: list[str] | None = None) -> Period:
    """The period a tool computes: relative words against today, 'latest' = latest complete period with data.

    A period without data raises ToolError naming the latest complete one; a partial period adds a note
    (数据截至 …) to `notes` when given."""
    try:
        resolved = resolve(text, span_of(store), grain)  # type: ignore[arg-type]
    except PeriodError as exc:
        raise ToolError(exc.message) from None
    if notes is not None:
        notes.extend(resolved.notes)
    return resolved.period
