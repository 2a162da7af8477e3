"""What every channel tool shares: the typed result, errors, the registry, and period resolution.

A tool is a pure function (store, args) -> ToolResult. Its argument model's docstring is the
description an LLM sees when the tool is offered by tool calling, so it is written for a model.
"""

from __future__ import annotations

from collections.abc import Callable
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


class ToolResult(BaseModel):
    """Tables, a short explanation, the formula and parameters used, and the period, for one tool run."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    tool: str
    title: str
    period: str = ""
    explanation: str = ""
    formula: str = ""
    parameters: dict[str, Any] = Field(default_factory=dict)
    tables: dict[str, pd.DataFrame] = Field(default_factory=dict)
    figures: dict[str, float | int | str | None] = Field(default_factory=dict)
    warnings: list[str] = Field(default_factory=list)
    # Inputs the data lacks: each names what was computed instead and which file adds it (capability model).
    missing: list[Missing] = Field(default_factory=list)
    data: Any = None  # a structured value (e.g. a work plan) when the result is more than tables

    def missing_lines(self) -> list[str]:
        return [m.message() for m in self.missing]

    def table(self, name: str) -> pd.DataFrame:
        return self.tables[name]

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
