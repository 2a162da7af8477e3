"""Chat-model backends by name: the Backend protocol, its registry, and the two built-in backends (offline, openai).

A new provider is one register_backend() call before settings are read; Settings.llm_backend is checked against
this registry. This module imports nothing from advisor (advisor.settings imports it), and the OpenAI client only
when a model is built. It also owns the one rule that keeps the API key out of answers, errors and logs (redact).
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from collections.abc import Callable
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import SecretStr

from company.errors import CanmouError

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

NO_KEY = "not-needed"  # local servers (Ollama, vLLM, llama.cpp) accept any key; the client insists on one


class LLMError(CanmouError):
    """The language model cannot be used: not configured, unreachable, or the service refused the request."""


class LLMSettings(Protocol):
    """What backends read of advisor.settings.Settings (not imported here: Settings validates against BACKENDS)."""

    llm_backend: str
    llm_base_url: str | None
    llm_api_key: SecretStr | None
    llm_model: str
    llm_temperature: float
    llm_timeout_s: float


class Backend(Protocol):
    """One way to get a chat model. `label` is what the settings page shows."""

    label: str

    def create(self, settings: LLMSettings) -> BaseChatModel | None:
        """A chat model ready for bind_tools(), or None when the deterministic composer should answer."""
        ...

    def check(self, settings: LLMSettings) -> tuple[bool, str]:
        """The settings page's 测试连接: (ok, a Chinese sentence naming the model or what to fix)."""
        ...

    def explain(self, exc: BaseException) -> LLMError | None:
        """This backend's failure as a Chinese LLMError saying what to fix (never the key); None: not its failure."""
        ...


BACKENDS: dict[str, Backend] = {}


def register_backend(name: str, backend: Backend) -> None:
    """Make `name` a valid llm_backend setting (register before the settings are read)."""
    BACKENDS[name] = backend


def backend_names() -> list[str]:
    return list(BACKENDS)


def unknown_backend(name: str) -> str:
    return f"不认识的大模型后端「{name}」：可选 {'、'.join(BACKENDS)}。"


def get_backend(name: str) -> Backend:
    backend = BACKENDS.get(name)
    if backend is None:
        raise LLMError(unknown_backend(name))
    return backend


def explain_failure(exc: BaseException) -> LLMError | None:
    """The first registered backend that recognises exc says what to fix; None: no backend's failure (a bug)."""
    for backend in BACKENDS.values():
        error = backend.explain(exc)
        if error is not None:
            return error
    return None


# ---------------------------------------------------------------------------------------------------------------
# offline: no model; the deterministic composer answers
# ---------------------------------------------------------------------------------------------------------------


class Offline:
    label = "离线（不用大模型）"

    def create(self, settings: LLMSettings) -> None:
        return None

    def check(self, settings: LLMSettings) -> tuple[bool, str]:
        return True, "当前是离线模式：不使用大模型，不需要连接。"

    def explain(self, exc: BaseException) -> None:
        return None


# ---------------------------------------------------------------------------------------------------------------
# openai: any OpenAI-compatible /chat/completions endpoint through langchain_openai.ChatOpenAI
# ---------------------------------------------------------------------------------------------------------------


def openai_chat_model(settings: LLMSettings, *, streaming: bool = True, max_retries: int = 1, **extra: Any):
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
    guard_logs(key)
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


def _api_errors() -> tuple[type[BaseException], ...]:
    """Exception types that mean "the endpoint failed" (only when the OpenAI client is loaded)."""
    if "openai" not in sys.modules:
        return ()
    import httpx
    import openai

    return (openai.OpenAIError, httpx.HTTPError)


# ---------------------------------------------------------------------------------------------------------------
# Keeping the key secret: one masking rule for answers, error messages, the history and every log line
# ---------------------------------------------------------------------------------------------------------------

MASK = "***"
# Any piece of the key this long is masked wherever it appears: an endpoint that echoed 26 of a key's 30
# characters got them into the history when only the whole key was masked.
SECRET_RUN = 8
_BEARER = re.compile(r"(Bearer\s+)\S+")


def _key_text(secret: str | SecretStr | None) -> str:
    value = secret.get_secret_value() if isinstance(secret, SecretStr) else (secret or "")
    return "" if value == NO_KEY else value


def _run(text: str, start: int, key: str) -> int:
    """Length of the longest piece of the key that text[start:] begins with."""
    length = 0
    while start + length < len(text) and text[start : start + length + 1] in key:
        length += 1
    return length


@lru_cache(maxsize=8)
def _pieces(key: str) -> tuple[str, ...]:
    need = min(SECRET_RUN, len(key))
    return tuple({key[i : i + need] for i in range(len(key) - need + 1)})


def _mask(text: str, key: str, final: bool = True) -> tuple[str, int]:
    """Mask, from the left, every run of at least SECRET_RUN characters (the whole key, if shorter) that is a piece
    of the key. Returns the masked text up to `stop`, and stop: with final=False (a stream) it stops where a piece
    of the key reaches the end of the text, since the next piece of the stream may make it long enough."""
    if final and not any(piece in text for piece in _pieces(key)):  # the usual case, found at C speed
        return text, len(text)
    need = min(SECRET_RUN, len(key))
    out: list[str] = []
    i = plain = 0
    while i < len(text):
        length = _run(text, i, key)
        if not final and length and i + length == len(text):
            break
        if length >= need:
            out += [text[plain:i], MASK]
            i += length
            plain = i
        else:
            i += 1
    out.append(text[plain:i])
    return "".join(out), i


def redact(text: str, secret: str | SecretStr | None) -> str:
    """text with the API key masked as ***: the whole key, every piece of it SECRET_RUN (8) or more characters long
    (an endpoint that echoes the key partly), and any Bearer token. Keys shorter than 4 characters are not masked."""
    key = _key_text(secret)
    if len(key) >= 4:
        text = _mask(text, key)[0]
    return _BEARER.sub(rf"\1{MASK}", text)


class StreamRedactor:
    """redact() for an answer that arrives in pieces: feed() returns what can be shown now and holds back only the
    tail that could still turn out to be part of the key; flush() returns the rest at the end."""

    def __init__(self, secret: str | SecretStr | None):
        self.key = _key_text(secret)
        self.pending = ""

    def feed(self, piece: str) -> str:
        if len(self.key) < 4:
            return piece
        self.pending += piece
        shown, stop = _mask(self.pending, self.key, final=False)
        self.pending = self.pending[stop:]
        return shown

    def flush(self) -> str:
        shown, self.pending = redact(self.pending, self.key) if self.pending else "", ""
        return shown

    def drop(self) -> None:
        """Forget the held-back tail (the streamed text was withdrawn)."""
        self.pending = ""


_GUARDED_KEYS: set[str] = set()


def guard_logs(secret: str | SecretStr | None) -> None:
    """From now on, mask this key (as redact() does) in every log record of the process, any library's, at any
    level, before a handler writes it. Called wherever a key is handed to a client."""
    key = _key_text(secret)
    if len(key) < 4 or key in _GUARDED_KEYS:
        return
    if not _GUARDED_KEYS:
        logging.setLogRecordFactory(_masking_factory(logging.getLogRecordFactory()))
    _GUARDED_KEYS.add(key)


def _masking_factory(make_record: Callable[..., logging.LogRecord]) -> Callable[..., logging.LogRecord]:
    def make(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = make_record(*args, **kwargs)
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # a malformed logging call: the handler reports it as it always does
            return record
        masked = message
        for key in _GUARDED_KEYS:
            masked = redact(masked, key)
        if masked != message:
            record.msg, record.args = masked, ()
        if record.exc_info and not record.exc_text:
            trace = masked_trace = logging.Formatter().formatException(record.exc_info)
            for key in _GUARDED_KEYS:
                masked_trace = redact(masked_trace, key)
            if masked_trace != trace:  # handlers print exc_text instead of formatting the exception again
                record.exc_text = masked_trace
        return record

    return make


def _request(exc: BaseException) -> Any:
    """The httpx.Request that failed, when the exception carries one (httpx raises RuntimeError when it has none)."""
    try:
        return getattr(exc, "request", None)
    except RuntimeError:
        return None


def endpoint(exc: BaseException) -> tuple[str, str, float | None, str | None]:
    """(base_url, model name, timeout, key) of the failed request, for messages and redaction."""
    request = _request(exc)
    if request is None:
        return "", "", None, None
    url = str(request.url)
    base_url = url.split("/chat/completions", 1)[0] if "/chat/completions" in url else url.rsplit("/", 1)[0]
    try:
        model = str(json.loads(request.content or b"{}").get("model") or "")
    except (ValueError, AttributeError):
        model = ""
    timeout = (request.extensions.get("timeout") or {}).get("read")
    auth = request.headers.get("authorization", "")
    secret = auth.split(None, 1)[1] if auth.lower().startswith("bearer ") else None
    return base_url, model, timeout if isinstance(timeout, int | float) else None, secret


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


class OpenAICompatible:
    label = "OpenAI 兼容接口"

    def create(self, settings: LLMSettings) -> BaseChatModel:
        return openai_chat_model(settings)

    def check(self, settings: LLMSettings) -> tuple[bool, str]:
        """Send one tiny request to the configured endpoint."""
        try:
            model = openai_chat_model(settings, streaming=False, max_retries=0, max_tokens=8)
        except LLMError as exc:
            return False, exc.message
        from langchain_core.messages import HumanMessage

        started = time.perf_counter()
        try:
            model.invoke([HumanMessage("ping")])
        except _api_errors() as exc:
            return False, self.explain(exc).message
        ms = (time.perf_counter() - started) * 1000
        base_url = str(model.openai_api_base or "")
        return True, f"连接成功：{base_url} 上的模型「{model.model_name}」可以使用（{ms:.0f} 毫秒）。"

    def explain(self, exc: BaseException) -> LLMError | None:
        if not isinstance(exc, _api_errors()):
            return None
        return LLMError(describe_failure(exc, *endpoint(exc)))


register_backend("offline", Offline())
register_backend("openai", OpenAICompatible())
