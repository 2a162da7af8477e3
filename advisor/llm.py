"""The optional LLM layer: chat-model backends by name, the tool-calling turn, and the grounding post-check.

Without a model the deterministic composer answers. With one, the model gets the same tools and the
retriever by tool calling and writes the prose; numbers still come only from tool results, and
check_grounding() flags any number or citation in its answer that no tool result or passage backs.
langchain_core and langchain_openai are imported only when a model is actually built or run.
"""

from __future__ import annotations

import inspect
import json
import math
import re
import string
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from advisor.settings import Settings, get_settings
from advisor.types import Answer, AnswerTable, Citation, Route, Step
from company.errors import CanmouError

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel
    from langchain_core.messages import AIMessage, BaseMessage

    from company.store import Store
    from retrieval.knowledge_base import KnowledgeBase

PROMPT_FILE = Path(__file__).resolve().parent.parent / "prompts" / "llm_system.md"
NO_EVIDENCE = "知识库中没有找到相关依据"
MAX_TOOL_ROUNDS = 4
TABLE_ROWS = 20  # rows of each table the model sees; the user sees the whole table
SEARCH_K_MAX = 8
SQL_CHARS = 600  # the model needs the query's gist, not every CTE; the user sees the whole SQL
NO_KEY = "not-needed"  # local servers (Ollama, vLLM, llama.cpp) accept any key; the client insists on one
ASK_DATA = "ask_data"
SEARCH_KNOWLEDGE = "search_knowledge"

EventHandler = Callable[[str, Any], None]
"""on_event(kind, payload). Kinds: "step" (Step), "tool" (ToolRun), "token" (str, a piece of the answer),
"retract" (str: text streamed in a round that turned into tool calls; drop it), "done" (LLMTurn)."""


class LLMError(CanmouError):
    """The language model cannot be used: not configured, unreachable, or the service refused the request."""


# ---------------------------------------------------------------------------------------------------------------
# Backends: a factory per name (the OpenAI-compatible client is registered like any other)
# ---------------------------------------------------------------------------------------------------------------


class ChatModelFactory(Protocol):
    def __call__(self, settings: Settings) -> BaseChatModel | None:
        """A chat model ready for bind_tools(), or None when the deterministic composer should answer."""
        ...


def _offline(settings: Settings) -> None:
    return None


def openai_chat_model(settings: Settings, *, streaming: bool = True, max_retries: int = 1, **extra: Any):
    """langchain_openai.ChatOpenAI against the configured OpenAI-compatible endpoint (imported only here)."""
    base_url = (settings.llm_base_url or "").strip()
    if not base_url:
        raise LLMError(
            "还没有设置模型服务地址：在「设置」里填写 OpenAI 兼容接口地址（环境变量 CANMOU_LLM_BASE_URL），"
            "例如 https://api.deepseek.com/v1 或 http://127.0.0.1:11434/v1。"
        )
    if not re.match(r"https?://[^/\s]+", base_url):
        raise LLMError(f"模型服务地址「{base_url}」不是 http:// 或 https:// 开头的网址，请检查 CANMOU_LLM_BASE_URL。")
    if not settings.llm_model.strip():
        raise LLMError("还没有设置模型名称（CANMOU_LLM_MODEL），例如 deepseek-chat、qwen-plus、gpt-4o-mini。")
    from langchain_openai import ChatOpenAI  # about 1 s; never on the app's start-up path

    key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else ""
    return ChatOpenAI(
        base_url=base_url.rstrip("/"),
        api_key=key or NO_KEY,
        model=settings.llm_model.strip(),
        temperature=settings.llm_temperature,
        timeout=settings.llm_timeout_s,
        streaming=streaming,
        max_retries=max_retries,
        use_responses_api=False,  # OpenAI-compatible servers speak /chat/completions only
        **extra,
    )


def _openai(settings: Settings):
    return openai_chat_model(settings)


def _fake(settings: Settings):
    return fake_chat_model()


CHAT_MODELS: dict[str, ChatModelFactory] = {"offline": _offline, "openai": _openai, "fake": _fake}


def register_chat_model(name: str, factory: ChatModelFactory) -> None:
    CHAT_MODELS[name] = factory


def create_chat_model(settings: Settings | None = None) -> BaseChatModel | None:
    """The chat model the settings choose (llm_backend), or None for the offline composer."""
    settings = settings or get_settings()
    factory = CHAT_MODELS.get(settings.llm_backend)
    if factory is None:
        raise LLMError(f"不认识的大模型后端「{settings.llm_backend}」：可选 {'、'.join(CHAT_MODELS)}。")
    return factory(settings)


# ---------------------------------------------------------------------------------------------------------------
# The fake backend: a langchain chat model fed from a queue (like simonw/llm's MockModel.enqueue)
# ---------------------------------------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _fake_model_class():
    """Built on first use so that importing this module does not import langchain_core."""
    from langchain_core.language_models import BaseChatModel
    from langchain_core.messages import AIMessage, AIMessageChunk
    from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
    from pydantic import Field

    class FakeChatModel(BaseChatModel):
        """Replies from a queue: enqueue(text) or enqueue(tool_calls=[(name, args), ...]); records every request."""

        model_name: str = "fake"
        queue: list[dict[str, Any]] = Field(default_factory=list)
        requests: list[dict[str, Any]] = Field(default_factory=list)

        @property
        def _llm_type(self) -> str:
            return "canmou-fake"

        def enqueue(
            self, text: str | Sequence[str] = "", tool_calls: Sequence[tuple[str, dict[str, Any]]] = ()
        ) -> None:
            """Queue one reply: text (a string, or its streamed pieces) and/or tool calls."""
            pieces = [text] if isinstance(text, str) else list(text)
            self.queue.append({"pieces": [p for p in pieces if p], "tool_calls": list(tool_calls)})

        def clear(self) -> None:
            self.queue.clear()
            self.requests.clear()

        def bind_tools(self, tools, *, tool_choice=None, **kwargs):
            return self.bind(tools=list(tools), tool_choice=tool_choice, **kwargs)

        def _next(self, messages, kwargs) -> dict[str, Any]:
            self.requests.append(
                {"messages": list(messages), "tools": kwargs.get("tools"), "tool_choice": kwargs.get("tool_choice")}
            )
            if not self.queue:
                raise LLMError("假模型没有排队的回复：测试要先调用 fake_chat_model().enqueue(...)。")
            return self.queue.pop(0)

        def _generate(self, messages, stop=None, run_manager=None, **kwargs):
            reply = self._next(messages, kwargs)
            calls = [
                {"name": name, "args": args, "id": f"fake_call_{len(self.requests)}_{i}", "type": "tool_call"}
                for i, (name, args) in enumerate(reply["tool_calls"])
            ]
            message = AIMessage(content="".join(reply["pieces"]), tool_calls=calls)
            return ChatResult(generations=[ChatGeneration(message=message)])

        def _stream(self, messages, stop=None, run_manager=None, **kwargs):
            reply = self._next(messages, kwargs)
            for piece in reply["pieces"] if len(reply["pieces"]) > 1 else _pieces("".join(reply["pieces"])):
                chunk = ChatGenerationChunk(message=AIMessageChunk(content=piece))
                if run_manager:
                    run_manager.on_llm_new_token(piece, chunk=chunk)
                yield chunk
            for i, (name, args) in enumerate(reply["tool_calls"]):
                call = {
                    "name": name,
                    "args": json.dumps(args, ensure_ascii=False),
                    "id": f"fake_call_{len(self.requests)}_{i}",
                    "index": i,
                }
                yield ChatGenerationChunk(message=AIMessageChunk(content="", tool_call_chunks=[call]))

    return FakeChatModel


def _pieces(text: str) -> list[str]:
    """Split a reply into token-like pieces: Latin words and numbers whole, CJK one character at a time."""
    return re.findall(r"\s+|[A-Za-z0-9.,%\[\]]+|.", text)


@lru_cache(maxsize=1)
def fake_chat_model():
    """The process-wide fake model that llm_backend="fake" returns; tests enqueue() its replies."""
    return _fake_model_class()()


# ---------------------------------------------------------------------------------------------------------------
# Failures in Chinese, without the key
# ---------------------------------------------------------------------------------------------------------------


def _api_errors() -> tuple[type[BaseException], ...]:
    """Exception types that mean "the endpoint failed" (only when the OpenAI client is loaded)."""
    if "openai" not in sys.modules:
        return ()
    import httpx
    import openai

    return (openai.OpenAIError, httpx.HTTPError)


def redact(text: str, secret: str | None) -> str:
    if secret and secret != NO_KEY and len(secret) >= 4:
        text = text.replace(secret, "***")
    return re.sub(r"(Bearer\s+)\S+", r"\1***", text)


def _endpoint(model: Any) -> tuple[str, str, float | None, str | None]:
    """(base_url, model name, timeout, key) of a ChatOpenAI-like model, for messages and redaction."""
    key = getattr(model, "openai_api_key", None)
    secret = key.get_secret_value() if hasattr(key, "get_secret_value") else None
    timeout = getattr(model, "request_timeout", None)
    return (
        str(getattr(model, "openai_api_base", "") or ""),
        str(getattr(model, "model_name", "") or ""),
        timeout if isinstance(timeout, int | float) else None,
        secret,
    )


def _service_message(exc: BaseException) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and inner.get("message"):
            return str(inner["message"])
        if isinstance(inner, str):
            return inner
    return str(getattr(exc, "message", "") or exc)


def describe_failure(exc: BaseException, base_url: str, model: str, timeout: float | None, secret: str | None) -> str:
    """One Chinese sentence saying what failed and what to fix (URL, key, model name), never the key."""
    import openai

    said = _service_message(exc)
    status = getattr(exc, "status_code", None)
    if isinstance(exc, openai.APITimeoutError):
        seconds = f"{timeout:g} 秒内" if timeout else "规定时间内"
        text = (
            f"连接 {base_url} 超时（{seconds}没有回应）：检查服务地址是否正确、服务是否在运行；"
            "模型较慢时可在设置里调大超时时间（CANMOU_LLM_TIMEOUT_S）。"
        )
    elif isinstance(exc, openai.APIConnectionError):
        cause = exc.__cause__ or exc.__context__
        detail = f"{type(cause).__name__}: {cause}" if cause else said
        text = (
            f"连不上模型服务 {base_url}（{detail}）：检查地址、端口和 /v1 路径是否正确（CANMOU_LLM_BASE_URL），"
            "服务是否已启动，网络或代理是否可达。"
        )
    elif isinstance(exc, openai.AuthenticationError):
        text = f"模型服务拒绝了 API Key（HTTP 401）：检查 CANMOU_LLM_API_KEY 是否填写正确、是否过期。服务返回：{said}"
    elif isinstance(exc, openai.PermissionDeniedError):
        text = f"这个 API Key 无权使用模型「{model}」（HTTP 403）：检查 Key 的权限或账户余额。服务返回：{said}"
    elif isinstance(exc, openai.NotFoundError):
        body = json.dumps(getattr(exc, "body", None) or "", ensure_ascii=False) + said
        if "model" in body.lower() or model in body:
            text = (
                f"服务上找不到模型「{model}」（HTTP 404）：检查模型名称的拼写（CANMOU_LLM_MODEL），"
                f"或在服务的模型列表里确认名称。服务返回：{said}"
            )
        else:
            text = (
                f"地址 {base_url} 上没有 OpenAI 兼容接口（HTTP 404）：检查 CANMOU_LLM_BASE_URL，"
                f"通常以 /v1 结尾，例如 http://127.0.0.1:11434/v1。服务返回：{said}"
            )
    elif isinstance(exc, openai.RateLimitError):
        text = f"请求太频繁或额度已用完（HTTP 429）：稍后再试，或检查账户额度。服务返回：{said}"
    elif isinstance(exc, openai.BadRequestError):
        text = (
            f"模型服务拒绝了请求（HTTP 400）：{said}。可能是模型「{model}」不支持工具调用（function calling），"
            "或上下文太长：换一个支持工具调用的模型，或调小 CANMOU_LLM_CONTEXT_TOKENS。"
        )
    elif isinstance(exc, openai.APIStatusError) and status and status >= 500:
        text = f"模型服务内部出错（HTTP {status}）：{said}。稍后重试，或查看服务端日志。"
    elif isinstance(exc, openai.APIStatusError):
        text = f"模型服务返回 HTTP {status}：{said}。"
    else:
        text = f"模型服务的回复无法使用（{type(exc).__name__}: {exc}）：检查接口是否与 OpenAI 兼容。"
    return redact(text, secret)


def check_connection(settings: Settings | None = None) -> tuple[bool, str]:
    """Send one tiny request to the configured endpoint; (ok, Chinese message naming the model or the fix)."""
    settings = settings or get_settings()
    if settings.llm_backend == "fake":
        return True, "正在使用测试用的假模型（llm_backend=fake），不发送网络请求。"
    secret = settings.llm_api_key.get_secret_value() if settings.llm_api_key else None
    try:
        model = openai_chat_model(settings, streaming=False, max_retries=0, max_tokens=8)
    except LLMError as exc:
        return False, exc.message
    base_url, name, timeout, _ = _endpoint(model)
    from langchain_core.messages import HumanMessage

    started = time.perf_counter()
    try:
        model.invoke([HumanMessage("ping")])
    except _api_errors() as exc:
        return False, describe_failure(exc, base_url, name, timeout, secret)
    ms = (time.perf_counter() - started) * 1000
    return True, f"连接成功：{base_url} 上的模型「{name}」可以使用（{ms:.0f} 毫秒）。"


# ---------------------------------------------------------------------------------------------------------------
# What one turn produces
# ---------------------------------------------------------------------------------------------------------------


@dataclass
class ToolRun:
    """One tool call of the model: its arguments and the typed result, or the error the model was told."""

    name: str
    args: dict[str, Any]
    call_id: str
    result: Any = None  # ToolResult, DataAnswer, Clarification, or list[Citation] for search_knowledge
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

    def to_answer(self, question: str, *, language: str = "zh", backend: str = "openai") -> Answer:
        """The turn as the Answer the UI, CLI and history show: tables, SQL and period from the tool runs."""
        tables: list[AnswerTable] = []
        sql = period = None
        intent = None
        for run in self.tool_runs:
            if not run.ok:
                continue
            intent = intent or TOOL_INTENTS.get(run.name)
            result = run.result
            if hasattr(result, "tables") and isinstance(result.tables, dict):
                tables += [AnswerTable(name=f"{result.title}·{n}", frame=f) for n, f in result.tables.items()]
                period = period or result.period or None
            elif hasattr(result, "frame") and hasattr(result, "sql"):
                tables.append(AnswerTable(name="查询结果", frame=_display_frame(result)))
                sql = sql or result.sql
                period = period or _text(getattr(result, "window", None)) or None
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
            numbers=self.numbers,
            flags=self.flags,
            backend=backend,
        )


TOOL_INTENTS = {
    "partner_scorecard": "scorecard",
    "cost_analysis": "cost",
    "simulate_rebate": "incentive",
    "fit_rebate_budget": "incentive",
    "rebate_sensitivity": "incentive",
    "detect_conflicts": "conflict",
    "quarterly_work_plan": "work_plan",
    ASK_DATA: "data",
    SEARCH_KNOWLEDGE: "guidance",
}


# ---------------------------------------------------------------------------------------------------------------
# Tools offered to the model
# ---------------------------------------------------------------------------------------------------------------

ASK_DATA_DESCRIPTION = """Answer one question about the company's own data (sales, targets, partners, products,
inventory, costs, prices) with a read-only query over the semantic layer: totals, rankings, trends, comparisons,
shares, for a period, region, partner, product or channel. Ask in natural language, one question per call, e.g.
"2026Q3 华东区各省销售额排名" or "上个月库存天数最高的10个经销商". Returns the result table (first 20 rows), a
one-line summary, the time window and the SQL. If the question is ambiguous it returns a clarifying question with
options: pass it to the user instead of guessing. For scorecards/tiering, cost ROI, rebates, channel conflicts and
work plans use the dedicated tools instead."""

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


def _function(name: str, description: str, parameters: dict[str, Any]) -> dict[str, Any]:
    return {"type": "function", "function": {"name": name, "description": description, "parameters": parameters}}


def tool_specs() -> list[dict[str, Any]]:
    """Every registered tool (its argument model's JSON schema and docstring), ask_data and search_knowledge."""
    from tools.registry import TOOLS

    specs = []
    for name, tool in TOOLS.items():
        schema = _compact_schema(tool.args.model_json_schema())
        schema.pop("description", None)  # it is the function description already
        specs.append(_function(name, inspect.cleandoc(tool.description), schema))
    specs.append(
        _function(
            ASK_DATA,
            ASK_DATA_DESCRIPTION,
            {
                "type": "object",
                "properties": {"question": {"type": "string", "description": "数据问题 the data question"}},
                "required": ["question"],
            },
        )
    )
    specs.append(
        _function(
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
    )
    return specs


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


def _tool_payload(result: Any) -> dict[str, Any]:
    return {
        "tool": result.tool,
        "title": result.title,
        "period": result.period,
        "explanation": result.explanation,
        "formula": result.formula,
        "parameters": _jsonable(result.parameters),
        "figures": _jsonable(result.figures),
        "tables": {name: _table(frame) for name, frame in result.tables.items()},
        "warnings": list(result.warnings),
    }


# ---------------------------------------------------------------------------------------------------------------
# The turn
# ---------------------------------------------------------------------------------------------------------------


def load_system_prompt(question: str, *, today: date | None = None, language: str | None = None) -> str:
    template = string.Template(PROMPT_FILE.read_text(encoding="utf-8"))
    lang = language or ("en" if not re.search(r"[\u4e00-\u9fff]", question) else "zh")
    return template.substitute(
        today=(today or date.today()).isoformat(),
        language="English" if lang == "en" else "简体中文",
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
        self.specs = tool_specs()
        self.system = SystemMessage(load_system_prompt(question, language=language))
        self.history = history_messages(history)
        if self.history and self.history[-1].type == "human" and self.history[-1].content.strip() == question.strip():
            self.history.pop()  # the chat page stores the question before asking; do not send it twice
        self.question = HumanMessage(question)
        self.transcript: list[Any] = []  # AIMessage and ToolRun, in order
        self.runs: list[ToolRun] = []
        self.citations: dict[str, Citation] = {}  # chunk_id -> numbered citation
        self.steps: list[Step] = []
        self.flags: list[str] = []
        self.budget = context_tokens
        self.reserve = answer_reserve(context_tokens)
        self.spec_tokens = count_tokens(json.dumps(self.specs, ensure_ascii=False))
        self.dropped_history = 0
        self.over_budget = 0  # tokens still over the budget after trimming (0: fits)
        self._tokens: dict[tuple[str, str, str], int] = {}
        self.base_url, self.model_name, self.timeout, self.secret = _endpoint(model)

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
        except _api_errors() as exc:
            raise LLMError(describe_failure(exc, self.base_url, self.model_name, self.timeout, self.secret)) from exc
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
            if name == SEARCH_KNOWLEDGE:
                self._search(run)
            elif name == ASK_DATA:
                self._ask_data(run)
            else:
                self._registered(run)
        except CanmouError as exc:
            run.error = exc.message
            run.payload = {"error": exc.message}
            self.step(f"工具 {name} 出错", exc.message)
        else:
            run.numbers |= _numbers_in(run.args)
        self.runs.append(run)
        self.emit("tool", run)
        return run

    def _registered(self, run: ToolRun) -> None:
        from tools.registry import TOOLS

        tool = TOOLS.get(run.name)
        if tool is None:
            names = "、".join([*TOOLS, ASK_DATA, SEARCH_KNOWLEDGE])
            raise _ArgumentError(f"没有名为「{run.name}」的工具；可用的工具：{names}。")
        result = tool(self.store, run.args)
        run.result = result
        run.payload = _tool_payload(result)
        run.numbers = result.numbers() | _numbers_in(run.payload)
        self.step(f"运行工具 {run.name}", f"{result.title}｜{result.period}")

    def _ask_data(self, run: ToolRun) -> None:
        question = run.args.get("question")
        if not isinstance(question, str) or not question.strip():
            raise _ArgumentError("ask_data 需要参数 question：用一句话写出要查的数据问题。")
        engine = self.data_engine
        if engine is None:
            from advisor.data_questions import answer_data_question as engine  # written alongside; lazy

        result = engine(self.store, question.strip())
        run.result = result
        if hasattr(result, "options") and not hasattr(result, "frame"):
            run.payload = {
                "clarification": result.question,
                "options": _jsonable(list(result.options or [])),
                "instruction": "问题有歧义：把这个澄清问题和选项转告用户，不要替用户选择。",
            }
            self.step("数据问题需要澄清", str(result.question))
        else:
            sql = str(getattr(result, "sql", "") or "")
            run.payload = {
                "question": question,
                "summary": _jsonable(getattr(result, "summary", "")),
                "window": _text(getattr(result, "window", None)),
                "compare_window": _text(getattr(result, "compare_window", None)) or None,
                "table": _table(_display_frame(result)),
                "sql": sql if len(sql) <= SQL_CHARS else sql[:SQL_CHARS] + "…（完整 SQL 会显示给用户）",
            }
            run.numbers = _numbers_in(run.payload) | _frame_numbers(result.frame)
            self.step("查询数据", f"{question}｜{run.payload['window']}")

    def _search(self, run: ToolRun) -> None:
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
        for call in calls:
            if call in invalid:
                call = {**call, "error": call.get("error") or "无法解析", "args": {}}
            self.transcript.append(self.execute(call))


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
    data_engine: Callable[[Store, str], Any] | None = None,
    language: str | None = None,
) -> LLMTurn:
    """One answer by tool calling: up to max_rounds rounds of tool calls, then the streamed final answer.

    Raises LLMError (Chinese, without the key) when the endpoint fails; tool errors go back to the model.
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
            continue
        if message.tool_calls or message.invalid_tool_calls:
            turn.flags.append(f"模型在 {max_rounds} 轮工具调用后仍要求调用工具，已停止并只保留它写出的文字。")
        text = str(message.text).strip()
        break
    if not text:
        turn.flags.append("模型没有给出回答文字；可以换个问法再问一次，或改用离线模式。")
    citations = sorted(turn.citations.values(), key=lambda c: c.number)
    numbers = sorted(set().union(*(run.numbers for run in turn.runs)) if turn.runs else set())
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
