"""The optional LLM layer: the chosen backend's chat model, the tool-calling turn, and the grounding post-check.

Without a model the deterministic composer answers. With one, the model gets the same tools and the
retriever by tool calling and writes the prose; numbers still come only from tool results, and
check_grounding() flags any number or citation in its answer that no tool result or passage backs.
Data questions go through query_data: the model fills a QuerySpec whose schema comes from the semantic layer and
the dataset's live catalog; an invalid spec goes back to the model once, never to the rule parser as text.
Backends (offline, openai, or one a plugin registers) live in advisor.llm_backends. langchain_core and
langchain_openai are imported only when a model is actually built or run.
"""

from __future__ import annotations

import inspect
import json
import math
import re
import string
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ValidationError, model_validator

from advisor.llm_backends import LLMError, explain_failure, get_backend
from advisor.settings import KeyNeeded, Settings, get_settings, probe_settings
from advisor.types import Answer, AnswerTable, Citation, Route, Step
from company.errors import CanmouError, StoreError
from company.language import language_of
from company.periods import DataSpan, PeriodError, parse_period, resolve
from company.semantic import (
    COMPARISONS,
    DIMENSION_OPS,
    DIMENSIONS,
    MAX_LIMIT,
    METRIC_OPS,
    METRICS,
    Filter,
    Language,
    QuerySpec,
    QuerySpecError,
    TimeWindow,
    build_spec,
    catalog_scope,
    range_label,
    spec_error_message,
)

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel
    from langchain_core.messages import AIMessage, BaseMessage

    from advisor.data_questions import Clarification, DataContext
    from company.store import Store
    from retrieval.knowledge_base import KnowledgeBase

PROMPT_FILE = Path(__file__).resolve().parent.parent / "prompts" / "llm_system.md"
NO_EVIDENCE = "知识库中没有找到相关依据"
MAX_TOOL_ROUNDS = 4
TABLE_ROWS = 20  # rows of each table the model sees; the user sees the whole table
SEARCH_K_MAX = 8
SQL_CHARS = 600  # the model needs the query's gist, not every CTE; the user sees the whole SQL
QUERY_DATA = "query_data"
SEARCH_KNOWLEDGE = "search_knowledge"

DataEngine = Callable[["Store", QuerySpec, Language, list[str]], Any]
"""Runs a validated QuerySpec: (store, spec, language, notes) -> DataAnswer (advisor.data_questions.answer_spec)."""

EventHandler = Callable[[str, Any], None]
"""on_event(kind, payload). Kinds: "step" (Step), "tool" (ToolRun), "token" (str, a piece of the answer),
"retract" (str: text streamed in a round that turned into tool calls; drop it), "done" (LLMTurn)."""


# ---------------------------------------------------------------------------------------------------------------
# Backends: chosen by name from the registry in advisor.llm_backends
# ---------------------------------------------------------------------------------------------------------------


def create_chat_model(settings: Settings | None = None) -> BaseChatModel | None:
    """The chat model the settings choose (llm_backend), or None for the offline composer."""
    settings = settings or get_settings()
    return get_backend(settings.llm_backend).create(settings)


def check_connection(settings: Settings | None = None) -> tuple[bool, str]:
    """The chosen backend's connection test: (ok, Chinese message naming the model or the fix)."""
    settings = settings or get_settings()
    return get_backend(settings.llm_backend).check(settings)


def check_typed_connection(saved: Settings, values: dict[str, Any], typed_key: str | None = None) -> tuple[bool, str]:
    """The settings page's 测试连接 with what is typed on the page, before saving (see probe_settings): the saved key
    is sent only to the saved address; a new address without a typed key is refused in Chinese, nothing sent."""
    try:
        probe = probe_settings(saved, values, typed_key)
    except KeyNeeded as exc:
        return False, exc.message
    return check_connection(probe)


# ---------------------------------------------------------------------------------------------------------------
# What one turn produces
# ---------------------------------------------------------------------------------------------------------------


@dataclass
class ToolRun:
    """One tool call of the model: its arguments and the typed result, or the error the model was told."""

    name: str
    args: dict[str, Any]
    call_id: str
    result: Any = None  # ToolResult, DataAnswer or Clarification (query_data), list[Citation] (search_knowledge)
    error: str | None = None
    payload: dict[str, Any] = field(default_factory=dict)  # what the model was sent (before trimming)
    numbers: set[float] = field(default_factory=set)
    row_limit: int = TABLE_ROWS
    char_limit: int | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def content(self) -> str:
        """The compact JSON the model reads, with this run's current trimming applied."""
        text = json.dumps(_limit_rows(self.payload, self.row_limit), ensure_ascii=False, separators=(",", ":"))
        if self.char_limit is not None and len(text) > self.char_limit:
            text = text[: self.char_limit] + "…（已截断）"
        return text


@dataclass
class LLMTurn:
    """The model's answer with everything needed to show and check it."""

    text: str
    tool_runs: list[ToolRun] = field(default_factory=list)
    citations: list[Citation] = field(default_factory=list)  # every passage given to the model, by number
    numbers: list[float] = field(default_factory=list)  # every number in the tool results (and tool arguments)
    steps: list[Step] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)  # post-check warnings for the UI
    trimmed: list[str] = field(default_factory=list)  # what the context budget left out
    rounds: int = 0  # tool rounds used
    # Why the data question could not be turned into a valid query (twice); then `text` says so, without numbers.
    unanswered: str | None = None

    def to_answer(self, question: str, *, language: str = "zh", backend: str = "openai") -> Answer:
        """The turn as the Answer the UI, CLI and history show: tables, SQL and period from the tool runs."""
        tables: list[AnswerTable] = []
        sql = period = spec = None
        intent = "data" if self.unanswered else None
        for run in self.tool_runs:
            if not run.ok:
                continue
            intent = intent or (ASSISTANT_TOOLS[run.name].intent if run.name in ASSISTANT_TOOLS else None)
            result = run.result
            if hasattr(result, "labelled"):  # a channel tool's ToolResult
                labelled = result.labelled(language).items()  # headers in the answer's language
                tables += [AnswerTable(name=f"{result.title}·{n}", frame=f) for n, f in labelled]
                period = period or result.period or None
            elif hasattr(result, "frame") and hasattr(result, "sql"):
                tables.append(AnswerTable(name="查询结果", frame=_display_frame(result)))
                sql = sql or result.sql
                period = period or _text(getattr(result, "window", None)) or None
                if spec is None and isinstance(getattr(result, "spec", None), QuerySpec):
                    spec = result.spec.model_dump(mode="json")  # the frame a follow-up question keeps
        if intent is None and self.citations:
            intent = "guidance"
        route = Route(intent=intent, confidence=1.0 if intent else 0.0, language="en" if language == "en" else "zh")
        return Answer(
            question=question,
            route=route,
            markdown=self.text,
            tables=tables,
            citations=self.citations,
            steps=self.steps,
            sql=sql,
            period=period,
            spec=spec,
            numbers=self.numbers,
            flags=self.flags,
            backend=backend,
        )


# What answering with a channel tool means (the route shown); query_data and search_knowledge say it when registered.
CHANNEL_TOOL_INTENTS = {
    "partner_scorecard": "scorecard",
    "cost_analysis": "cost",
    "simulate_rebate": "incentive",
    "fit_rebate_budget": "incentive",
    "rebate_sensitivity": "incentive",
    "detect_conflicts": "conflict",
    "quarterly_work_plan": "work_plan",
}


# ---------------------------------------------------------------------------------------------------------------
# Tools offered to the model
# ---------------------------------------------------------------------------------------------------------------

SEARCH_DESCRIPTION = """Search the channel-management knowledge base (the authored playbook and the user's
uploaded documents) for guidance: methods, policies, clauses, checklists, templates, how to handle a situation.
Returns numbered passages [n] with title, heading and source; cite each piece of advice with its [n] exactly as
numbered. Numbering continues across calls within this answer. Only passages that pass the evidence check are
returned; when nothing relevant is found it says 知识库中没有找到相关依据, and then say so instead of giving
uncited advice. Short Chinese keyword queries work best (English is translated)."""


def _compact_schema(node: Any, in_properties: bool = False) -> Any:
    """Pydantic's schema without what costs tokens and tells the model nothing: generated titles,
    `"default": null`, and `anyOf [X, null]` for optional arguments (an omitted argument is null anyway)."""
    if isinstance(node, list):
        return [_compact_schema(v) for v in node]
    if not isinstance(node, dict):
        return node
    if in_properties:
        return {k: _compact_schema(v) for k, v in node.items()}
    out: dict[str, Any] = {}
    for key, value in node.items():
        if (key == "title" and isinstance(value, str)) or (key == "default" and value is None):
            continue
        if key == "anyOf" and isinstance(value, list):
            kept = [v for v in value if v != {"type": "null"}]
            if len(kept) == 1 and isinstance(kept[0], dict):
                out.update(_compact_schema(kept[0]))
                continue
            value = kept
        out[key] = _compact_schema(value, key == "properties" or key == "$defs")
    return out


def _inline_refs(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema with each "$ref" replaced by its definition: small local models follow flat schemas better."""
    defs = schema.pop("$defs", {})

    def walk(node: Any) -> Any:
        if isinstance(node, list):
            return [walk(v) for v in node]
        if not isinstance(node, dict):
            return node
        if isinstance(node.get("$ref"), str):
            target = walk(dict(defs[node["$ref"].rsplit("/", 1)[-1]]))
            return {**target, **{k: walk(v) for k, v in node.items() if k != "$ref"}}
        return {k: walk(v) for k, v in node.items()}

    return walk(schema)


def _function(name: str, description: str, parameters: dict[str, Any]) -> dict[str, Any]:
    return {"type": "function", "function": {"name": name, "description": description, "parameters": parameters}}


@dataclass(frozen=True)
class AssistantTool:
    """A function the model may call, registered like every other: its spec for the model (built from the live
    catalog), the route an answer built on it takes, and how a turn runs it."""

    name: str
    intent: str
    spec: Callable[[QueryCatalog], dict[str, Any]]
    run: Callable[[_Turn, ToolRun], None]


ASSISTANT_TOOLS: dict[str, AssistantTool] = {}


def register_assistant_tool(tool: AssistantTool) -> AssistantTool:
    ASSISTANT_TOOLS[tool.name] = tool
    return tool


def _channel_spec(name: str) -> Callable[[QueryCatalog], dict[str, Any]]:
    def spec(_catalog: QueryCatalog) -> dict[str, Any]:  # the argument model's JSON schema and its docstring
        from tools.registry import TOOLS

        tool = TOOLS[name]
        schema = _compact_schema(tool.args.model_json_schema())
        schema.pop("description", None)  # it is the function description already
        return _function(name, inspect.cleandoc(tool.description), schema)

    return spec


def _search_spec(_catalog: QueryCatalog) -> dict[str, Any]:
    return _function(
        SEARCH_KNOWLEDGE,
        SEARCH_DESCRIPTION,
        {
            "type": "object",
            "properties": {
                "query": {"type": "string", "description": "检索词 search query"},
                "k": {"type": "integer", "default": 5, "minimum": 1, "maximum": SEARCH_K_MAX},
            },
            "required": ["query"],
        },
    )


def _register_builtin_tools() -> None:
    """Every channel tool of tools.registry, query_data (its schema from the semantic layer and the dataset's
    live catalog) and search_knowledge: one registry, one dispatch."""
    from tools.registry import TOOLS

    for name in TOOLS:
        intent = CHANNEL_TOOL_INTENTS.get(name)
        if intent is None:
            raise CanmouError(f"工具「{name}」没有登记回答类型（CHANNEL_TOOL_INTENTS），大模型无法使用它。")
        register_assistant_tool(AssistantTool(name, intent, _channel_spec(name), _Turn.registered))
    register_assistant_tool(AssistantTool(QUERY_DATA, "data", query_tool, _Turn.query_data))
    register_assistant_tool(AssistantTool(SEARCH_KNOWLEDGE, "guidance", _search_spec, _Turn.search))


def tool_specs(store: Store | None = None, *, catalog: QueryCatalog | None = None) -> list[dict[str, Any]]:
    """The functions offered to the model: every registered assistant tool's spec."""
    catalog = catalog or query_catalog(store)
    return [tool.spec(catalog) for tool in ASSISTANT_TOOLS.values()]


# ---------------------------------------------------------------------------------------------------------------
# query_data: the model fills a QuerySpec; its schema comes from the semantic layer and the dataset's live catalog
# ---------------------------------------------------------------------------------------------------------------

PERIOD_WORDS = {"last_complete_quarter": "quarter", "last_complete_month": "month", "last_complete_year": "year"}
ALL_DATA = "all"
VALUES_SHOWN = 12  # a dimension with at most this many values lists them in the schema (regions, tiers, types)
SPEC_RETRIES = 1  # rounds in which an invalid spec goes back to the model; the next invalid one ends the turn

QUERY_DATA_DESCRIPTION = string.Template(
    """Query the company's own data (sales, targets, partners, products, inventory, costs, collections) through
the semantic layer by filling a query spec: metrics, optional dimensions to group by, filters, a time window,
comparison (yoy / previous), sort and limit for rankings, share of total. Read-only. Returns the spec that ran, the
result table (first 20 rows), a one-line summary, the window with its dates, notes and the SQL. One question per
call; use only the metric and dimension keys listed in the parameters. For scorecards/tiering, cost ROI, rebates,
channel conflicts and work plans use the dedicated tools instead.
$data
If the arguments are invalid the result is an error saying what to change: correct them and call once more (one
retry). If the result is `cannot_answer` (the data lacks that input or that period), tell the user why; do not
answer with another period or metric instead.
Examples: 2026Q3 华东各省销售额排名 -> {"metrics":["revenue"],"dimensions":["province"],"filters":[{"field":"region",
"op":"eq","value":"华东"}],"window":{"period":"2026Q3"},"sort":{"metric":"revenue","direction":"desc"}};
上季度完成率低于90%的经销商 -> {"metrics":["achievement"],"dimensions":["partner"],"filters":[{"field":
"partner_type","op":"eq","value":"经销商"},{"field":"achievement","op":"lt","value":0.9}],"window":{"period":
"last_complete_quarter"}}."""
)


class WindowArgs(BaseModel):
    """The time window as the model writes it: a named period, or the first and last day (both included)."""

    period: str | None = None
    start: date | None = None
    end: date | None = None

    @model_validator(mode="before")
    @classmethod
    def _shape(cls, value: Any) -> Any:
        if isinstance(value, str):  # "2026Q3" for {"period": "2026Q3"}
            return {"period": value}
        if isinstance(value, dict) and (unknown := sorted(set(value) - set(cls.model_fields))):
            raise ValueError(f"window 没有「{'、'.join(unknown)}」：写 period，或 start 与 end")
        return value

    @model_validator(mode="after")
    def _one_form(self) -> WindowArgs:
        period = (self.period or "").strip()
        if period and (self.start or self.end):
            raise ValueError("window 只能二选一：period，或 start 与 end")
        if not period:
            if self.start is None or self.end is None:
                raise ValueError(
                    "window 需要 period（如 2026Q3、2026-05、2026、last_complete_quarter、all），"
                    "或同时给出 start 和 end（YYYY-MM-DD）"
                )
            if self.start > self.end:
                raise ValueError(f"window 的 start {self.start} 晚于 end {self.end}")
        elif period.lower() not in PERIOD_WORDS and period.lower() != ALL_DATA:
            try:
                parse_period(period)
            except PeriodError as exc:
                raise ValueError(f"window.period：{exc.message}") from None
        self.period = period or None
        return self


class QueryArgs(QuerySpec):
    """query_data's arguments: a QuerySpec whose window is a period or two dates, resolved against the data."""

    window: WindowArgs  # type: ignore[assignment]


@dataclass(frozen=True)
class QueryCatalog:
    """What query_data offers for one dataset: the metrics and dimensions its data can answer (imported
    attributes included), the ones it cannot with the input they lack, a few values per dimension, its span."""

    metrics: dict[str, Any]  # key -> company.semantic.Metric
    dimensions: dict[str, Any]  # key -> company.semantic.Dimension
    lacking: dict[str, str] = field(default_factory=dict)  # key -> "目标（缺少「季度目标」）"
    values: dict[str, list[str]] = field(default_factory=dict)
    span: DataSpan | None = None
    context: DataContext | None = None  # advisor.data_questions' lookups: names, values, attribute definitions

    def scope(self):
        """The dataset's attribute dimensions and measures as part of the semantic layer, for a block."""
        if self.context is None:
            return catalog_scope({}, {})
        return catalog_scope(self.context.extra_dimensions, self.context.extra_metrics)


def query_catalog(store: Store | None) -> QueryCatalog:
    """The live catalog of the store's dataset; the built-in definitions when there is no sales data yet."""
    from advisor.data_questions import DIMENSION_INPUTS, METRIC_INPUTS, context_for
    from company.capabilities import INPUTS, availability

    context = None
    if store is not None and store.exists():
        try:
            context = context_for(store)
        except StoreError:
            context = None  # no sales yet: query_data says so when it is called
    empty = QueryCatalog({}, {}, context=context)
    with empty.scope():
        metrics, dimensions = dict(METRICS), dict(DIMENSIONS)
    if context is None:
        return QueryCatalog(metrics, dimensions)
    available = availability(store)
    lacking: dict[str, str] = {}
    for needs, offered in ((METRIC_INPUTS, metrics), (DIMENSION_INPUTS, dimensions)):
        for key, inputs in needs.items():
            missing = "、".join(f"「{INPUTS[k].zh}」" for k in inputs if not available.has(k))
            if missing and key in offered:
                lacking[key] = f"{offered.pop(key).zh}（缺少{missing}）"
    found: dict[str, set[str]] = {k: set(v) for k, v in context.values.items()}
    for dim, value in context.entity_aliases.values():
        if dim in context.extra_dimensions:
            found.setdefault(dim, set()).add(str(value))
    values = {k: sorted(v) for k, v in found.items() if k in dimensions and 0 < len(v) <= VALUES_SHOWN}
    return QueryCatalog(metrics, dimensions, lacking, values, context.span, context)


def _keys(items: dict[str, Any]) -> str:
    return "、".join(f"{key}={item.zh}" for key, item in items.items())


def query_schema(catalog: QueryCatalog) -> dict[str, Any]:
    """query_data's parameters: QueryArgs' JSON schema (the semantic layer's QuerySpec), with the catalog's metric
    and dimension keys as enums, its filter operators and comparisons, and the values the data holds."""
    schema = _inline_refs(_compact_schema(QueryArgs.model_json_schema()))
    schema.pop("description", None)
    props = schema["properties"]
    time_keys = [k for k, d in catalog.dimensions.items() if d.is_time]
    metrics, dimensions = props["metrics"], props["dimensions"]
    metrics["items"]["enum"] = list(catalog.metrics)
    metrics["description"] = f"要算的指标 key（1-8 个）：{_keys(catalog.metrics)}"
    dimensions["items"]["enum"] = list(catalog.dimensions)
    dimensions["description"] = (
        f"分组维度 key（0-3 个，其中时间维度 {'/'.join(time_keys)} 最多一个；不分组则只给合计）："
        f"{_keys(catalog.dimensions)}"
    )
    shown = "；".join(f"{k}: {'、'.join(v)}" for k, v in catalog.values.items())
    item = props["filters"]["items"]
    item.pop("description", None)
    item["properties"]["field"]["description"] = (
        "维度 key（按取值筛选行，op 用 eq/ne/in/not_in；时间用 window，不用筛选），或指标 key（按结果阈值筛选分组，"
        "op 用 lt/le/gt/ge/eq/ne）；有 comparison 时也可用 <指标>_change（变化率）"
    )
    item["properties"]["op"]["enum"] = list(dict.fromkeys([*DIMENSION_OPS, *METRIC_OPS]))
    item["properties"]["value"]["description"] = (
        "维度取值写数据中的原名（in/not_in 时为列表）"
        + (f"，已知取值 {shown}" if shown else "")
        + "；partner 写伙伴编号或全称，product 写产品编码或名称。指标阈值写数字：比率写小数（0.9 表示 90%），金额以元计"
    )
    props["filters"]["description"] = "筛选条件，全部同时满足"
    span = f"：{catalog.span.window}" if catalog.span else ""
    window = props["window"]
    window["description"] = (
        '期间（必填），二选一：{"period": …}，或 {"start": "YYYY-MM-DD", "end": "YYYY-MM-DD"}（含首尾两天）'
    )
    window["properties"]["period"]["description"] = (
        "2026Q3（季度）、2026-05（月份）、2026（全年）、last_complete_quarter / last_complete_month / "
        f"last_complete_year（数据中最近一个完整期间）、all（全部数据{span}）"
    )
    props["comparison"] |= {
        "enum": list(COMPARISONS),
        "description": "对比：yoy 同比（去年同期），previous 环比（紧挨着的上一个等长期间）；"
        "结果多出 <指标>_compare（对比期）和 <指标>_change（变化率）",
    }
    sort = props["sort"]
    sort["description"] = "排名：按哪个指标（或 <指标>_change）排序"
    sort["properties"]["direction"] |= {"enum": ["desc", "asc"], "description": "desc 从高到低，asc 从低到高"}
    props["limit"] |= {"minimum": 1, "maximum": MAX_LIMIT, "description": "只要前 N 行（排名的前 N 名）"}
    props["share"]["description"] = (
        "占比：each 每行占总体的比例，top 排名前 N 行合计占总体的比例；不分组时为筛选出的部分占全部的比例"
    )
    props["streak"]["description"] = "连续 N 个期间都满足指标阈值筛选（如 连续两个季度完成率低于 90%）"
    props["streak_grain"]["description"] = "streak 的期间：quarter 季度或 month 月份"
    return schema


def query_tool(catalog: QueryCatalog) -> dict[str, Any]:
    """The query_data function offered to the model, its description naming the data's span (数据截至)."""
    if catalog.span is None:
        data = "There is no sales data yet: calling returns an error; ask the user to import data first."
    else:
        span = catalog.span
        quarter, month = span.latest_complete("quarter"), span.latest_complete("month")
        data = (
            f"Data: {span.window}（{span.until}）; today is {span.today.isoformat()}. Latest complete quarter: "
            f"{quarter.key if quarter else 'none'}; latest complete month: {month.key if month else 'none'}. "
            "Without a period in the question: totals and rankings use all, period KPIs (achievement, inventory, "
            "collection rate) and comparisons use last_complete_quarter; relative words (上季度, 本月) are periods "
            "counted from today."
        )
    if catalog.lacking:
        data += f"\nThis dataset cannot answer (input missing): {'、'.join(catalog.lacking.values())}."
    return _function(QUERY_DATA, QUERY_DATA_DESCRIPTION.substitute(data=data), query_schema(catalog))


def _norm(value: Any) -> str:
    return re.sub(r"\s+", " ", unicodedata.normalize("NFKC", str(value))).strip().lower()


def _choices(dim: str, context: DataContext) -> tuple[dict[str, str], list[str]] | None:
    """(spelling -> the value the data holds, values to suggest) for a dimension the data's values are known of."""
    if dim in ("partner", "product"):
        entries = context.partners if dim == "partner" else context.products
        lookup = {e.norm: e.key for e in entries} | {e.key.lower(): e.key for e in entries}
        return lookup, [f"{e.name}（{e.key}）" for e in entries]
    known = context.values.get(dim)
    if not known:
        return None  # an imported attribute, or a column with no values: nothing to check against
    lookup = {_norm(v): v for v in known}
    lookup |= {alias: v for alias, (d, v) in context.entity_aliases.items() if d == dim}  # 华东区, 德国 -> Germany
    return lookup, sorted(known)


def _check_values(filters: list[Filter], context: DataContext | None) -> list[str]:
    """Dimension filter values as the data spells them (华东区 -> 华东, a partner's name -> its ID); a value the
    data does not hold is a problem the model can fix, never a silent empty answer."""
    from rapidfuzz import fuzz, process

    problems: list[str] = []
    for f in filters:
        if context is None or f.is_threshold:
            continue
        found = _choices(f.field, context)
        if found is None:
            continue
        lookup, shown = found
        values = f.value if isinstance(f.value, list) else [f.value]
        fixed = [lookup.get(_norm(v)) for v in values]
        unknown = [str(v) for v, hit in zip(values, fixed, strict=True) if hit is None]
        if not unknown:
            f.value = fixed if isinstance(f.value, list) else fixed[0]
            continue
        if len(shown) <= VALUES_SHOWN:
            hint = f"可选：{'、'.join(shown)}"
        else:
            close = [c for c, _score, _i in process.extract(unknown[0], shown, scorer=fuzz.WRatio, limit=5)]
            hint = f"最接近的：{'、'.join(close)}"
        problems.append(f"{DIMENSIONS[f.field].zh}没有「{'、'.join(unknown)}」（{hint}）")
    return problems


def _no_data(label: str, span: DataSpan, language: Language) -> Clarification:
    from advisor.data_questions import Clarification

    latest = span.latest_complete("quarter")
    offer = f"最近一个有数据的完整季度是 {latest.label}（{latest.key}）。" if latest else ""
    return Clarification(
        question=f"{label}没有数据：{span.until}（数据从 {span.first.isoformat()} 开始）。{offer}",
        reason="no_data",
        language=language,
    )


def query_window(
    window: WindowArgs, span: DataSpan | None, language: Language = "zh", notes: list[str] | None = None
) -> TimeWindow | Clarification:
    """The TimeWindow a period or two dates stand for in this data (company.periods owns the periods), or a
    Clarification when the data has nothing in it; a partial period adds a note (数据截至 …)."""
    notes = notes if notes is not None else []
    period = window.period
    kind: Literal["month", "quarter", "year", "custom"] = "custom"
    if period is None:
        start, end = window.start, window.end
        label = range_label(start, end, language)
    elif period.lower() == ALL_DATA:
        if span is None:
            raise QuerySpecError("还没有销售数据，无法确定「全部数据」的范围：请给出 start 和 end。")
        start, end = span.first, span.last
        label = "全部数据" if language == "zh" else "all data"
    else:
        grain = PERIOD_WORDS.get(period.lower())
        if span is None:
            found = parse_period("latest" if grain else period)
        else:
            try:
                resolved = resolve("latest" if grain else period, span, grain)  # type: ignore[arg-type]
            except PeriodError as exc:
                from advisor.data_questions import Clarification

                return Clarification(question=exc.message, reason="no_data", language=language)
            notes += resolved.notes
            found = resolved.period
        start, end, kind = found.start, found.end, found.grain
        label = found.label if language == "zh" else range_label(start, end, "en")
    if span is not None and period is None:
        if start > span.last or end < span.first:
            return _no_data(label, span, language)
        if end > span.last or start < span.first:
            notes.append(f"{span.until}，{label}只有部分数据。")
    try:
        return TimeWindow(start=start, end=end, label=label, kind=kind)
    except ValidationError as exc:
        raise QuerySpecError(spec_error_message(exc)) from None


def build_query(
    args: dict[str, Any], catalog: QueryCatalog, language: Language = "zh"
) -> tuple[QuerySpec | Clarification, list[str]]:
    """The model's query_data arguments as a QuerySpec for this dataset and the notes its answer must carry, or a
    Clarification when the data has nothing for the window. Raises QuerySpecError, in Chinese, listing every
    problem. Call inside catalog.scope()."""
    problems: list[str] = []
    unknown = sorted(set(args) - set(QueryArgs.model_fields))
    if unknown:
        problems.append(f"没有参数「{'、'.join(unknown)}」；可用参数：{'、'.join(QueryArgs.model_fields)}")
    try:
        parsed = QueryArgs.model_validate({k: v for k, v in args.items() if k in QueryArgs.model_fields})
    except ValidationError as exc:
        problems.append(spec_error_message(exc).removeprefix("查询条件有误："))
        parsed = None
    if parsed is not None:
        problems += _check_values(parsed.filters, catalog.context)
    if problems or parsed is None:
        raise QuerySpecError("查询条件有误：" + "；".join(problems))
    notes: list[str] = []
    window = query_window(parsed.window, catalog.span, language, notes)
    if not isinstance(window, TimeWindow):
        return window, notes
    return build_spec(**{**parsed.model_dump(exclude={"window"}), "window": window}), notes


def could_not_query(reason: str, language: Language = "zh") -> str:
    """What the user reads when the model's query failed validation twice: no numbers, what to try instead."""
    parts = [part.split("。")[0] for part in reason.removeprefix("查询条件有误：").split("；")]
    reason = "；".join(p for p in parts if p and not p.startswith("可用"))  # the key lists are for the model
    if language == "en":
        return (
            f"I could not turn this question into a data query (the query was rejected twice: {reason}), so no "
            "figures are given. Please rephrase it with the metric, the grouping and the period, for example "
            '"revenue by region last quarter".'
        )
    return (
        f"没能把这个问题转换成数据查询（查询条件两次都没有通过校验：{reason}），所以这里不给出任何数字。"
        "请换个说法再问，写明要看的指标、分组和期间，例如「上季度各区域的销售额」。"
    )


# ---------------------------------------------------------------------------------------------------------------
# Payloads: compact JSON the model reads, and the numbers each result shows
# ---------------------------------------------------------------------------------------------------------------


class _ArgumentError(CanmouError):
    """The model called a tool with arguments it cannot run with."""


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, bool | str | int):
        return value
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else round(value, 4)
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(v) for v in value]
    if hasattr(value, "item") and callable(value.item):  # numpy scalars
        try:
            return _jsonable(value.item())
        except (TypeError, ValueError):
            pass
    if hasattr(value, "model_dump"):
        return _jsonable(value.model_dump(mode="json"))
    text = str(value)
    return None if text in {"NaT", "nan", "<NA>"} else text


def _table(frame: Any) -> dict[str, Any]:
    rows = [_jsonable(list(row)) for row in frame.itertuples(index=False, name=None)]
    return {"columns": [str(c) for c in frame.columns], "rows": rows, "total_rows": len(rows)}


def _limit_rows(node: Any, limit: int) -> Any:
    """Cut every table in a payload to `limit` rows, saying how many were left out."""
    if isinstance(node, dict):
        if "rows" in node and "columns" in node and isinstance(node["rows"], list):
            out = dict(node)
            if len(node["rows"]) > limit:
                out["rows"] = node["rows"][:limit]
                out["note"] = f"只列出前 {limit} 行（共 {node['total_rows']} 行）；完整表格会显示给用户。"
            return out
        return {k: _limit_rows(v, limit) for k, v in node.items()}
    if isinstance(node, list):
        return [_limit_rows(v, limit) for v in node]
    return node


def _text(value: Any) -> str:
    if value is None:
        return ""
    for attr in ("label", "span"):
        if isinstance(getattr(value, attr, None), str):
            return getattr(value, attr)
    return str(value)


def _numbers_in(node: Any) -> set[float]:
    """Every number in a payload: numeric values and the numbers written inside its strings."""
    out: set[float] = set()
    if isinstance(node, bool) or node is None:
        return out
    if isinstance(node, int | float):
        if math.isfinite(node):
            out.add(float(node))
    elif isinstance(node, str):
        for number in _scan_numbers(node):
            out.update(number.meanings())
    elif isinstance(node, dict):
        for v in node.values():
            out |= _numbers_in(v)
    elif isinstance(node, list | tuple):
        for v in node:
            out |= _numbers_in(v)
    return out


def _tool_payload(result: Any, language: str = "zh") -> dict[str, Any]:
    """What the model reads of a tool result; figures and tables under the labels the user sees (in the answer's
    language)."""
    return {
        "tool": result.tool,
        "title": result.title,
        "period": result.period,
        "explanation": result.explanation,
        "formula": result.formula,
        "parameters": _jsonable(result.parameters),
        "figures": _jsonable(result.labelled_figures(language)),
        "tables": {name: _table(frame) for name, frame in result.labelled(language).items()},
        "warnings": list(result.warnings),
    }


# ---------------------------------------------------------------------------------------------------------------
# The turn
# ---------------------------------------------------------------------------------------------------------------


def _language(question: str, language: str | None) -> Language:
    """The language the router settled on, or the one detector's reading of the question (company.language)."""
    if language in ("zh", "en"):
        return language  # type: ignore[return-value]
    return language_of(question)


def load_system_prompt(question: str, *, today: date | None = None, language: str | None = None) -> str:
    from company import clock

    template = string.Template(PROMPT_FILE.read_text(encoding="utf-8"))
    return template.substitute(
        today=(today or clock.today()).isoformat(),
        language="English" if _language(question, language) == "en" else "简体中文",
        not_found=NO_EVIDENCE,
        max_rounds=MAX_TOOL_ROUNDS,
    )


HistoryItem = Any  # {"role": "user"|"assistant", "content": str}, (role, content), or an Answer


def history_messages(history: Iterable[HistoryItem] | None) -> list[BaseMessage]:
    """Earlier turns as chat messages, oldest first. Old [n] markers are removed: they numbered other passages."""
    from langchain_core.messages import AIMessage, HumanMessage

    out: list[BaseMessage] = []
    for item in history or ():
        if isinstance(item, Answer):
            pairs = [("user", item.question), ("assistant", item.markdown)]
        elif isinstance(item, dict):
            pairs = [(item.get("role", "user"), item.get("content", ""))]
        else:
            role, content = item
            pairs = [(role, content)]
        for role, content in pairs:
            if not content:
                continue
            if role in {"assistant", "ai"}:
                out.append(AIMessage(CITATION_RE.sub("", str(content))))
            else:
                out.append(HumanMessage(str(content)))
    return out


def answer_reserve(context_tokens: int) -> int:
    """Tokens of the budget kept free for the model's answer."""
    return min(1500, context_tokens // 6)


def _message_tokens(message: BaseMessage) -> int:
    from retrieval.tokens import count_tokens

    tokens = 4 + count_tokens(str(message.text))
    for call in getattr(message, "tool_calls", None) or ():
        tokens += 8 + count_tokens(call["name"] + json.dumps(call.get("args") or {}, ensure_ascii=False))
    return tokens


class _Turn:
    """State of one agent turn: messages so far, tool runs, numbered passages, the context budget."""

    def __init__(self, model, question, history, store, kb, on_event, context_tokens, data_engine, language):
        from langchain_core.messages import HumanMessage, SystemMessage

        from retrieval.tokens import count_tokens

        self.model = model
        self.store = store
        self.kb = kb
        self.emit: EventHandler = on_event or (lambda _kind, _payload: None)
        self.data_engine = data_engine
        self.language = _language(question, language)
        self.catalog = query_catalog(store)
        self.specs = tool_specs(catalog=self.catalog)
        self.system = SystemMessage(load_system_prompt(question, language=self.language))
        self.history = history_messages(history)
        if self.history and self.history[-1].type == "human" and self.history[-1].content.strip() == question.strip():
            self.history.pop()  # the chat page stores the question before asking; do not send it twice
        self.question = HumanMessage(question)
        self.transcript: list[Any] = []  # AIMessage and ToolRun, in order
        self.runs: list[ToolRun] = []
        self.citations: dict[str, Citation] = {}  # chunk_id -> numbered citation
        self.steps: list[Step] = []
        self.flags: list[str] = []
        self.query_failures: list[str] = []  # query_data arguments that failed validation, in order
        self.failed_rounds = 0  # model replies with at least one invalid query_data call
        self.unanswered: str | None = None  # set when a query failed once more after its retry: the turn ends
        self.budget = context_tokens
        self.reserve = answer_reserve(context_tokens)
        self.spec_tokens = count_tokens(json.dumps(self.specs, ensure_ascii=False))
        self.dropped_history = 0
        self.over_budget = 0  # tokens still over the budget after trimming (0: fits)
        self._tokens: dict[tuple[str, str, str], int] = {}
        self.model_name = str(getattr(model, "model_name", "") or "")

    # ---- events ----------------------------------------------------------------------------------
    def step(self, label: str, detail: str = "") -> None:
        step = Step(label=label, detail=detail)
        self.steps.append(step)
        self.emit("step", step)

    # ---- messages and budget ---------------------------------------------------------------------
    def messages(self) -> list[BaseMessage]:
        from langchain_core.messages import ToolMessage

        out = [self.system, *self.history, self.question]
        for item in self.transcript:
            if isinstance(item, ToolRun):
                out.append(ToolMessage(item.content(), tool_call_id=item.call_id))
            else:
                out.append(item)
        return out

    def _total(self) -> int:
        total = self.spec_tokens
        for message in self.messages():
            key = (message.type, str(message.text), json.dumps(getattr(message, "tool_calls", None), default=str))
            if key not in self._tokens:
                self._tokens[key] = _message_tokens(message)
            total += self._tokens[key]
        return total

    def fit(self) -> list[BaseMessage]:
        """Trim to the budget: the oldest history first, then table rows, then whole tool payloads."""
        limit = self.budget - self.reserve
        total = self._total()
        dropped = 0
        while total > limit and self.history:
            # Drop a user message together with the reply that follows it.
            count = 2 if len(self.history) > 1 and self.history[1].type == "ai" else 1
            del self.history[:count]
            dropped += count
            total = self._total()
        if dropped:
            self.dropped_history += dropped
            self.step("压缩上下文", f"省略最早的 {dropped} 条对话记录")
        for rows in (10, 5, 2, 0):
            if total <= limit:
                break
            for run in self.runs:
                if run.row_limit > rows and _has_long_table(run.payload, rows):
                    run.row_limit = rows
                    self.step("压缩上下文", f"工具「{run.name}」的表格只给模型看前 {rows} 行")
            total = self._total()
        for chars in (2000, 800, 300):
            if total <= limit:
                break
            for run in self.runs:
                if len(run.content()) > chars:
                    run.char_limit = chars
                    self.step("压缩上下文", f"工具「{run.name}」的结果只给模型看前 {chars} 个字符")
            total = self._total()
        if total > limit and total > self.over_budget:
            self.over_budget = total
            self.step("压缩上下文", f"压缩后仍约 {total} tokens，超过预算 {limit}")
        return self.messages()

    def trim_report(self) -> list[str]:
        """What the budget left out of the model's view, in the end (the user still sees everything)."""
        notes = []
        if self.dropped_history:
            notes.append(f"为控制上下文（{self.budget} tokens），省略了最早的 {self.dropped_history} 条对话记录。")
        for run in self.runs:
            if run.char_limit is not None:
                notes.append(
                    f"工具「{run.name}」的结果只给模型看了前 {run.char_limit} 个字符（完整结果仍显示给用户）。"
                )
            elif run.row_limit < TABLE_ROWS:
                notes.append(f"工具「{run.name}」的表格只给模型看了前 {run.row_limit} 行（完整表格仍显示给用户）。")
        if self.over_budget:
            notes.append(
                f"压缩后上下文仍约 {self.over_budget} tokens，超过预算（CANMOU_LLM_CONTEXT_TOKENS={self.budget}，"
                f"其中工具说明约 {self.spec_tokens}、留给回答 {self.reserve}）；请调大预算。"
            )
        return list(dict.fromkeys(notes))

    # ---- model calls -----------------------------------------------------------------------------
    def call(self, runnable, label: str) -> tuple[AIMessage, str]:
        """Stream one model call: text pieces go out as "token" events; returns the message and its text."""
        from langchain_core.messages import message_chunk_to_message

        self.step("调用模型", f"{self.model_name or '模型'}：{label}")
        messages = self.fit()
        merged = None
        streamed: list[str] = []
        try:
            for chunk in runnable.stream(messages):
                merged = chunk if merged is None else merged + chunk
                piece = str(chunk.text)
                if piece:
                    streamed.append(piece)
                    self.emit("token", piece)
        except LLMError:
            raise
        except Exception as exc:  # the backend's own failure types: explain_failure() knows them; others are bugs
            error = explain_failure(exc)
            if error is None:
                raise
            raise error from exc
        if merged is None:
            from langchain_core.messages import AIMessage

            return AIMessage(content=""), ""
        return message_chunk_to_message(merged), "".join(streamed)

    # ---- tools -----------------------------------------------------------------------------------
    def execute(self, call: dict[str, Any]) -> ToolRun:
        name = call.get("name") or ""
        args = call.get("args") if isinstance(call.get("args"), dict) else {}
        run = ToolRun(name=name, args=dict(args), call_id=call["id"])
        try:
            if call.get("error"):
                said = str(call["error"])[:200]
                raise _ArgumentError(f"工具「{name}」的参数不是合法的 JSON（{said}），请改正后重新调用。")
            tool = ASSISTANT_TOOLS.get(name)
            if tool is None:
                raise _ArgumentError(f"没有名为「{name}」的工具；可用的工具：{'、'.join(ASSISTANT_TOOLS)}。")
            tool.run(self, run)
        except QuerySpecError as exc:
            self.query_failures.append(exc.message)
            run.error = exc.message
            run.payload = {
                "error": exc.message,
                "retry": "按错误提示改正参数后再调用一次 query_data（只有这一次机会）；仍问用户的原问题。",
            }
            self.step("查询条件有误", exc.message)
        except CanmouError as exc:
            run.error = exc.message
            run.payload = {"error": exc.message}
            self.step(f"工具 {name} 出错", exc.message)
        else:
            run.numbers |= _numbers_in(run.args)
        self.runs.append(run)
        self.emit("tool", run)
        return run

    def registered(self, run: ToolRun) -> None:
        from tools.registry import TOOLS

        result = TOOLS[run.name](self.store, run.args)
        run.result = result
        run.payload = _tool_payload(result, self.language)
        run.numbers = result.numbers() | _numbers_in(run.payload)
        self.step(f"运行工具 {run.name}", f"{result.title}｜{result.period}")

    def query_data(self, run: ToolRun) -> None:
        """Check the model's spec against the live catalog and run it with the data engine; no text is parsed."""
        from advisor.data_questions import answer_spec, context_for, lacking_inputs

        if self.catalog.context is None:
            context_for(self.store)  # raises the StoreError that says how to load data
            raise StoreError("还没有可以查询的销售数据：请先在「数据中心」导入销售明细或生成示例公司。")
        engine = self.data_engine or answer_spec
        with self.catalog.scope():
            spec, notes = build_query(run.args, self.catalog, self.language)
            refusal = lacking_inputs(self.store, spec, self.language) if isinstance(spec, QuerySpec) else spec
            if refusal is not None:
                run.result = refusal
                run.payload = {
                    "cannot_answer": refusal.question,
                    "instruction": "把原因告诉用户；不要换成别的期间或指标作答，也不要给出数字。",
                }
                self.step("数据回答不了", refusal.question)
                return
            result = engine(self.store, spec, self.language, notes)
            asked = "、".join(METRICS[m].zh for m in spec.metrics)
            if spec.dimensions:
                asked += "，按" + "、".join(DIMENSIONS[d].zh for d in spec.dimensions)
        run.result = result
        sql = str(getattr(result, "sql", "") or "")
        payload = {
            "spec": spec.model_dump(mode="json", exclude_defaults=True),
            "summary": _jsonable(getattr(result, "summary", "")),
            "window": _text(getattr(result, "window", None)),
            "compare_window": _text(getattr(result, "compare_window", None)) or None,
            "notes": list(getattr(result, "notes", None) or []) or None,
            "table": _table(_display_frame(result)),
            "sql": sql if len(sql) <= SQL_CHARS else sql[:SQL_CHARS] + "…（完整 SQL 会显示给用户）",
        }
        run.payload = {k: v for k, v in payload.items() if v is not None}
        run.numbers = _numbers_in(run.payload) | _frame_numbers(result.frame)
        self.step("查询数据", f"{asked}｜{run.payload['window']}")

    def search(self, run: ToolRun) -> None:
        query = run.args.get("query")
        if not isinstance(query, str) or not query.strip():
            raise _ArgumentError("search_knowledge 需要参数 query：写出要检索的关键词。")
        try:
            k = max(1, min(SEARCH_K_MAX, int(run.args.get("k") or 5)))
        except (TypeError, ValueError):
            k = 5
        if self.kb is None:
            raise _ArgumentError("知识库还没有准备好，无法检索；请先在「知识库」页面建立索引。")
        found = self.kb.search(query.strip(), k=k)
        given: list[Citation] = []
        for evidence in (p for p in found.passages if p.relevant):
            chunk = evidence.chunk
            citation = self.citations.get(chunk.chunk_id)
            if citation is None:
                citation = Citation.from_chunk(len(self.citations) + 1, chunk)
                self.citations[chunk.chunk_id] = citation
            given.append(citation)
        run.result = given
        if not given:
            run.payload = {"query": query, "message": NO_EVIDENCE}
            self.step("检索知识库", f"「{query}」：{NO_EVIDENCE}")
            return
        run.payload = {
            "query": query,
            "passages": [
                {
                    "n": c.number,
                    "cite_as": f"[{c.number}]",
                    "title": c.title,
                    "heading": " > ".join(c.heading_path),
                    "source": c.source,
                    "location": c.location,
                    "text": c.text,
                }
                for c in given
            ],
        }
        numbers = "、".join(f"[{c.number}]" for c in given)
        self.step("检索知识库", f"「{query}」：{len(given)} 段依据 {numbers}")

    def respond(self, message: AIMessage, round_no: int) -> None:
        """Run every tool call of one model reply and queue the results for the next call."""
        from langchain_core.messages import AIMessage

        calls = []
        for i, call in enumerate([*message.tool_calls, *message.invalid_tool_calls]):
            call = dict(call)
            call["id"] = call.get("id") or f"call_{round_no}_{i}"  # some servers omit ids; replies must match
            calls.append(call)
        valid = [c for c in calls if not c.get("error") and c.get("type") != "invalid_tool_call"]
        invalid = [c for c in calls if c not in valid]
        self.transcript.append(
            AIMessage(
                content=message.content,
                tool_calls=[{"name": c["name"], "args": c.get("args") or {}, "id": c["id"]} for c in valid],
                invalid_tool_calls=[
                    {"name": c.get("name"), "args": c.get("args"), "id": c["id"], "error": c.get("error")}
                    for c in invalid
                ],
            )
        )
        failures = len(self.query_failures)
        for call in calls:
            if call in invalid:
                call = {**call, "error": call.get("error") or "无法解析", "args": {}}
            self.transcript.append(self.execute(call))
        if len(self.query_failures) > failures:
            self.failed_rounds += 1
            if self.failed_rounds > SPEC_RETRIES:  # it had its retry: say so rather than let the model guess
                self.unanswered = self.query_failures[-1]


def _has_long_table(node: Any, rows: int) -> bool:
    if isinstance(node, dict):
        if "rows" in node and isinstance(node["rows"], list) and len(node["rows"]) > rows:
            return True
        return any(_has_long_table(v, rows) for v in node.values())
    return False


def _display_frame(result: Any):
    """The data engine's display copy (headers in the user's language, values with units) when it has one."""
    table = getattr(result, "table", None)
    return table if hasattr(table, "itertuples") else result.frame


def _frame_numbers(frame: Any) -> set[float]:
    out: set[float] = set()
    for column in frame.select_dtypes("number").columns:
        out.update(float(v) for v in frame[column].dropna().unique() if math.isfinite(float(v)))
    return out


def run_llm_turn(
    model: BaseChatModel,
    question: str,
    history: Iterable[HistoryItem] | None,
    store: Store,
    kb: KnowledgeBase | None,
    on_event: EventHandler | None = None,
    *,
    context_tokens: int | None = None,
    max_rounds: int = MAX_TOOL_ROUNDS,
    data_engine: DataEngine | None = None,
    language: str | None = None,
) -> LLMTurn:
    """One answer by tool calling: up to max_rounds rounds of tool calls, then the streamed final answer.

    Raises LLMError (Chinese, without the key) when the endpoint fails; tool errors go back to the model. A
    query_data spec that fails validation goes back once; if it fails again the turn ends with could_not_query().
    data_engine runs a validated QuerySpec (default: advisor.data_questions.answer_spec).
    """
    if model is None:
        raise LLMError("当前是离线模式（llm_backend=offline），没有可调用的模型：请由离线作答流程回答。")
    budget = context_tokens or get_settings().llm_context_tokens
    turn = _Turn(model, question, history, store, kb, on_event, budget, data_engine, language)
    with_tools = model.bind_tools(turn.specs)
    answer_now = model.bind_tools(turn.specs, tool_choice="none")  # the last call must write the answer
    text = ""
    rounds = 0
    while True:
        final = rounds >= max_rounds
        label = "写出回答（工具轮次已用完）" if final else f"第 {rounds + 1} 次"
        message, streamed = turn.call(answer_now if final else with_tools, label)
        if (message.tool_calls or message.invalid_tool_calls) and not final:
            if streamed:
                turn.emit("retract", streamed)
            rounds += 1
            turn.respond(message, rounds)
            if turn.unanswered is not None:
                break
            continue
        if message.tool_calls or message.invalid_tool_calls:
            turn.flags.append(f"模型在 {max_rounds} 轮工具调用后仍要求调用工具，已停止并只保留它写出的文字。")
        text = str(message.text).strip()
        break
    citations = sorted(turn.citations.values(), key=lambda c: c.number)
    numbers = sorted(set().union(*(run.numbers for run in turn.runs)) if turn.runs else set())
    if turn.unanswered is not None:  # our own words, not the model's: nothing to check
        text = could_not_query(turn.unanswered, turn.language)
        turn.step("无法转换为数据查询", turn.unanswered)
        flags = list(turn.flags)
    else:
        if not text:
            turn.flags.append("模型没有给出回答文字；可以换个问法再问一次，或改用离线模式。")
        flags = [*turn.flags, *check_grounding(text, numbers, citations, question=question)]
    result = LLMTurn(
        text=text,
        tool_runs=turn.runs,
        citations=citations,
        numbers=numbers,
        steps=turn.steps,
        flags=flags,
        trimmed=turn.trim_report(),
        rounds=rounds,
        unanswered=turn.unanswered,
    )
    if flags:
        turn.step("回答核对", "；".join(flags))
    turn.emit("done", result)
    return result


# ---------------------------------------------------------------------------------------------------------------
# The grounding post-check
# ---------------------------------------------------------------------------------------------------------------
#
# Which numbers in an answer are checked, and how a number counts as backed by a tool result:
#  * Not checked (removed before scanning): citation markers [n]; identifiers that start with a Latin letter
#    (P0009, SKU-1001, Q3, H1); periods and dates (2026Q3, 2026年第3季度, 2026-07, 2026年7月, 3月, 15日,
#    第3季度); bare years 1990-2099 with no unit after them; ordinals (第3, 第 2 步, Step 2); numbered-list
#    markers at the start of a line ("1. ", "2、"); ranking windows (前 10, Top 5); and small counts 1-10
#    followed by a counting word (3 个步骤, 4 项措施, 2 条建议, 3 个月, 2 周; 3 steps). Counts of data
#    entities are checked (5 家伙伴窜货, 8 个伙伴, 3 名, 2 次): they are claims about the data.
#    Chinese numerals (三个) are not checked.
#  * Backed when some tool-result number t (or a number in the user's question, or, within a sentence
#    that cites [n], a number printed in passage [n]) matches the shown value v, compared in absolute value:
#    thousands separators are ignored; 万/亿/千/k/M/million/billion scale v; "85.3%" matches t = 0.853
#    or t = 85.3 (likewise ‰ and 个百分点); a bare v also matches a fraction or percentage (0.85 <-> 85);
#    and t matches when rounding it to v's shown decimals gives v, or when cutting it there does.
#  * Citations: every [n] (also [1,3], [2-4], [1][2]) must be the number of a passage given this turn.

CITATION_RE = re.compile(r"\[\s*(\d{1,3}(?:\s*[,，、\-–~]\s*\d{1,3})*)\s*\](?!\()")
_SKIP_PATTERNS = [
    re.compile(r"(?<![A-Za-z0-9])[A-Za-z][A-Za-z_]*[-_]?\d[A-Za-z0-9_\-]*"),  # identifiers, Q3, H1
    re.compile(r"\d{4}\s*[Qq]\s*[1-4]"),
    re.compile(r"\d{4}\s*年(?:\s*第?\s*[1-4一二三四]\s*季度|\s*\d{1,2}\s*月(?:份)?(?:\s*\d{1,2}\s*[日号])?)?"),
    re.compile(r"\d{4}[-/.]\d{1,2}(?:[-/.]\d{1,2})?(?![\d%])"),
    re.compile(r"第\s*\d+"),
    re.compile(r"\d{1,2}\s*(?:季度|月份|月|日|号)"),
    re.compile(r"(?i)(?:前|后|top|step|phase|round|tier|level)\s*\d+"),
    re.compile(r"(?m)^\s*(?:[-*+]\s+)?(?:#+\s*)?\d{1,2}\s*[.)、．](?!\d)"),
    re.compile(
        r"(?<![\d.,])(?:10|[1-9])\s*(?:个(?:步骤|方面|阶段|环节|要点|建议|问题|原则|维度|方向|层面|重点|月|季度|星期|小时)"
        r"|项|条|步|点|类|种|方面|部分|阶段|轮|招|层|级|档|大|周|年)"
    ),
    re.compile(
        r"(?i)(?<![\d.,])(?:10|[1-9])\s+(?:steps?|points?|ways?|tips?|actions?|areas?|levels?|tiers?|phases?"
        r"|things?|options?|measures?|weeks?|years?|months?|quarters?)\b"
    ),
    re.compile(
        r"(?<![\d.,])(?:199\d|20\d\d)(?![\d.,%％‰万亿千])(?!\s*(?:元|件|箱|瓶|个|家|人|次|分|天|小时|名|位|单|笔))"
    ),
]
_NUMBER_RE = re.compile(
    r"(?<![\d.])(?P<int>\d{1,3}(?:,\d{3})+|\d+)(?P<dec>\.\d+)?\s*"
    r"(?P<unit>%|％|‰|个百分点|百分点|pp\b|万亿|亿|万|千|[kK](?![A-Za-z])|M(?![A-Za-z])|million\b|billion\b|bn\b)?"
)
_SCALES = {"万亿": 1e12, "亿": 1e8, "万": 1e4, "千": 1e3, "k": 1e3, "K": 1e3, "M": 1e6, "million": 1e6}
_SCALES |= {"billion": 1e9, "bn": 1e9}
_SENTENCE_RE = re.compile(r".*?(?:[。！？!?]+|\.(?=\s|$)|\n|$)(?:[ \t]*\[[\d\s,，、\-–~]+\])*")


@dataclass(frozen=True)
class _Shown:
    """A number as written in text: its value, decimals shown, and unit."""

    raw: str
    value: float
    decimals: int
    unit: str

    def meanings(self) -> set[float]:
        """Values this text could stand for (used for numbers inside tool payload strings)."""
        scale = _SCALES.get(self.unit)
        if scale:
            return {self.value * scale, self.value}
        if self.unit in {"%", "％", "个百分点", "百分点", "pp"}:
            return {self.value, self.value / 100}
        if self.unit == "‰":
            return {self.value, self.value / 1000}
        return {self.value}

    def factors(self) -> list[float]:
        """Multipliers that bring a tool number t into this number's unit (t * factor vs value)."""
        scale = _SCALES.get(self.unit)
        if scale:
            return [1 / scale]
        if self.unit in {"%", "％", "个百分点", "百分点", "pp"}:
            return [100.0, 1.0]
        if self.unit == "‰":
            return [1000.0, 1.0]
        return [1.0, 100.0, 0.01]

    def matches(self, t: float) -> bool:
        step = 10.0**-self.decimals
        v = abs(self.value)
        for factor in self.factors():
            x = abs(t) * factor
            if abs(x - v) <= step / 2 * (1 + 1e-9) + 1e-12 or v <= x < v + step * (1 - 1e-12):
                return True
        return False


def _blank(text: str, patterns: Iterable[re.Pattern]) -> str:
    for pattern in patterns:
        text = pattern.sub(lambda m: " " * len(m.group(0)), text)
    return text


def _scan_numbers(text: str) -> list[_Shown]:
    out = []
    for m in _NUMBER_RE.finditer(text):
        whole = m.group("int").replace(",", "")
        dec = m.group("dec") or ""
        out.append(_Shown(m.group(0).strip(), float(whole + dec), max(len(dec) - 1, 0), m.group("unit") or ""))
    return out


def _cited(text: str) -> list[int]:
    numbers: list[int] = []
    for m in CITATION_RE.finditer(text):
        for part in re.split(r"\s*[,，、]\s*", m.group(1)):
            bounds = [int(x) for x in re.split(r"\s*[\-–~]\s*", part) if x]
            if len(bounds) == 2 and 0 < bounds[1] - bounds[0] <= 20:
                numbers += list(range(bounds[0], bounds[1] + 1))
            else:
                numbers += bounds
    return numbers


def answer_numbers(text: str) -> list[_Shown]:
    """The numbers of an answer that the post-check looks at (see the rules above)."""
    return _scan_numbers(_blank(CITATION_RE.sub(lambda m: " " * len(m.group(0)), text), _SKIP_PATTERNS))


def check_grounding(
    text: str, numbers: Iterable[float], citations: Sequence[Citation], *, question: str = ""
) -> list[str]:
    """Chinese flags for numbers in `text` that no tool result shows and for citations [n] that point nowhere."""
    known = [float(n) for n in numbers if n is not None and math.isfinite(float(n))]
    known += [v for shown in _scan_numbers(question) for v in shown.meanings()]
    by_number = {c.number: c for c in citations}
    passage_numbers = {c.number: [v for s in _scan_numbers(c.text) for v in s.meanings()] for c in by_number.values()}
    flags: list[str] = []
    missing: list[int] = []
    for n in _cited(text):
        if n not in by_number and n not in missing:
            missing.append(n)
    if missing:
        refs = "、".join(f"[{n}]" for n in missing)
        flags.append(f"引用 {refs} 不对应本轮检索到的任何段落（本轮共 {len(by_number)} 段），这句话的依据无法核对。")
    elif citations and not _cited(text):
        flags.append(f"回答没有标注引用：本轮检索到 {len(citations)} 段依据，但正文没有用 [n] 指出建议出自哪一段。")
    unbacked: list[str] = []
    for sentence in _SENTENCE_RE.findall(text):
        if not sentence.strip():
            continue
        extra = [v for n in _cited(sentence) for v in passage_numbers.get(n, [])]
        for shown in answer_numbers(sentence):
            if any(shown.matches(t) for t in known) or any(shown.matches(t) for t in extra):
                continue
            if shown.raw not in unbacked:
                unbacked.append(shown.raw)
    if unbacked:
        shown = "、".join(f"「{raw}」" for raw in unbacked[:8]) + (" 等" if len(unbacked) > 8 else "")
        flags.append(f"数字 {shown} 在本轮的工具结果中找不到，可能是模型编造或自行推算的；请以表格中的数据为准。")
    return flags


_register_builtin_tools()
