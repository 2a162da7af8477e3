"""A small OpenAI-compatible server on 127.0.0.1 for tests: scripted replies, SSE streaming, tool calls, errors.

    with StubOpenAI(api_key="sk-test") as stub:          # a thread on a random free port
        stub.enqueue_tool_calls(("partner_scorecard", {"period": "2026Q3"}))
        stub.enqueue_text("答案……", pieces=["答", "案", "……"])
        ... ChatOpenAI(base_url=stub.base_url, api_key="sk-test", model=stub.model) ...
        stub.requests[1].tool_messages()                  # what the client sent back

Replies are served in order; with the queue empty the server answers "ok". Requests are recorded without
their Authorization header. It follows what langchain-openai 1.7 expects: tool-call arguments are a JSON
string; in a stream every tool-call fragment carries `index`, only the first carries `id` and the name;
the stream ends with `data: [DONE]`.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    text: str = ""
    pieces: list[str] | None = None  # how the text is streamed; default: one character at a time
    tool_calls: list[tuple[str, dict[str, Any] | str]] = field(default_factory=list)
    status: int = 200
    error: dict[str, Any] | None = None
    delay_s: float = 0.0


@dataclass
class Request:
    method: str
    path: str
    body: dict[str, Any]
    authorized: bool

    @property
    def messages(self) -> list[dict[str, Any]]:
        return self.body.get("messages", [])

    @property
    def tool_names(self) -> list[str]:
        return [t["function"]["name"] for t in self.body.get("tools", [])]

    def tool_messages(self) -> list[dict[str, Any]]:
        return [m for m in self.messages if m.get("role") == "tool"]


class StubOpenAI:
    """Start with start() or `with`; base_url ends in /v1."""

    def __init__(self, api_key: str | None = None, models: tuple[str, ...] = ("stub-model",)):
        self.api_key = api_key
        self.models = list(models)
        self.replies: deque[Reply] = deque()
        self.requests: list[Request] = []
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    # ---- lifecycle ---------------------------------------------------------------------------------
    def start(self) -> StubOpenAI:
        stub = self

        class Handler(_Handler):
            owner = stub

        self._server = _Server(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="stub-openai", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(timeout=5)
            self._server = None

    def __enter__(self) -> StubOpenAI:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._server is not None, "start() the stub first"
        return self._server.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def model(self) -> str:
        return self.models[0]

    # ---- scripting ---------------------------------------------------------------------------------
    def enqueue_text(self, text: str, pieces: list[str] | None = None) -> None:
        if pieces is not None:
            assert "".join(pieces) == text, "pieces must spell the text"
        self.replies.append(Reply(text=text, pieces=pieces))

    def enqueue_tool_calls(self, *calls: tuple[str, dict[str, Any] | str], text: str = "") -> None:
        """Ask the client to call tools; a str argument is sent as is (to script malformed JSON)."""
        self.replies.append(Reply(text=text, tool_calls=list(calls)))

    def enqueue_error(self, status: int, message: str, code: str | None = None) -> None:
        error = {"message": message, "type": "invalid_request_error", "param": None, "code": code}
        self.replies.append(Reply(status=status, error=error))

    def enqueue_delay(self, seconds: float, text: str = "ok") -> None:
        self.replies.append(Reply(text=text, delay_s=seconds))

    def chat_requests(self) -> list[Request]:
        return [r for r in self.requests if r.path.endswith("/chat/completions")]

    def _record(self, request: Request) -> None:
        with self._lock:
            self.requests.append(request)

    def _next(self) -> Reply:
        with self._lock:
            return self.replies.popleft() if self.replies else Reply(text="ok")


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        # A client that gave up (the timeout test) closes the socket mid-reply; that is expected here.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def _error(message: str, kind: str, code: str | None) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


class _Handler(BaseHTTPRequestHandler):
    owner: StubOpenAI
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
        pass

    # ---- plumbing ----------------------------------------------------------------------------------
    def _authorized(self) -> bool:
        if self.owner.api_key is None:
            return True
        return self.headers.get("Authorization", "") == f"Bearer {self.owner.api_key}"

    def _json(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body, ensure_ascii=False).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _read_body(self) -> dict[str, Any]:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        return json.loads(raw) if raw else {}

    def _unauthorized(self) -> None:
        # Like OpenAI, echo the key that was sent (tests check that it never reaches the user).
        sent = self.headers.get("Authorization", "").removeprefix("Bearer ")
        self._json(401, _error(f"Incorrect API key provided: {sent}.", "invalid_request_error", "invalid_api_key"))

    # ---- routes ------------------------------------------------------------------------------------
    def do_GET(self) -> None:
        authorized = self._authorized()
        self.owner._record(Request("GET", self.path, {}, authorized))
        if self.path.rstrip("/") != "/v1/models":
            self._json(404, _error(f"Unknown path {self.path}", "invalid_request_error", "not_found"))
        elif not authorized:
            self._unauthorized()
        else:
            data = [{"id": m, "object": "model", "created": 0, "owned_by": "stub"} for m in self.owner.models]
            self._json(200, {"object": "list", "data": data})

    def do_POST(self) -> None:
        body = self._read_body()
        authorized = self._authorized()
        self.owner._record(Request("POST", self.path, body, authorized))
        if self.path.rstrip("/") != "/v1/chat/completions":
            self._json(404, _error(f"Unknown path {self.path}", "invalid_request_error", "not_found"))
            return
        if not authorized:
            self._unauthorized()
            return
        model = body.get("model")
        if model not in self.owner.models:
            message = f"The model `{model}` does not exist or you do not have access to it."
            self._json(404, _error(message, "invalid_request_error", "model_not_found"))
            return
        reply = self.owner._next()
        if reply.delay_s:
            time.sleep(reply.delay_s)
        if reply.error is not None:
            self._json(reply.status, {"error": reply.error})
        elif body.get("stream"):
            self._stream(reply, model, bool((body.get("stream_options") or {}).get("include_usage")))
        else:
            self._json(200, self._completion(reply, model))

    # ---- replies -----------------------------------------------------------------------------------
    @staticmethod
    def _arguments(args: dict[str, Any] | str) -> str:
        return args if isinstance(args, str) else json.dumps(args, ensure_ascii=False)

    def _completion(self, reply: Reply, model: str) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": reply.text or None}
        if reply.tool_calls:
            message["tool_calls"] = [
                {"id": f"call_{i}", "type": "function", "function": {"name": name, "arguments": self._arguments(a)}}
                for i, (name, a) in enumerate(reply.tool_calls)
            ]
        return {
            "id": "chatcmpl-stub",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": [
                {"index": 0, "message": message, "finish_reason": "tool_calls" if reply.tool_calls else "stop"}
            ],
            "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
        }

    def _stream(self, reply: Reply, model: str, usage: bool) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True

        def send(delta: dict[str, Any] | None, finish: str | None = None, extra: dict[str, Any] | None = None) -> None:
            chunk: dict[str, Any] = {
                "id": "chatcmpl-stub",
                "object": "chat.completion.chunk",
                "created": int(time.time()),
                "model": model,
                "choices": [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish}],
            }
            chunk.update(extra or {})
            self.wfile.write(f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n".encode())
            self.wfile.flush()

        send({"role": "assistant", "content": ""})
        pieces = reply.pieces if reply.pieces is not None else list(reply.text)
        for piece in pieces:
            send({"content": piece})
        for i, (name, args) in enumerate(reply.tool_calls):
            arguments = self._arguments(args)
            first = {"index": i, "id": f"call_{i}", "type": "function", "function": {"name": name, "arguments": ""}}
            send({"tool_calls": [first]})
            for start in range(0, len(arguments), 7):  # fragments: index only, no id, no name
                send({"tool_calls": [{"index": i, "function": {"arguments": arguments[start : start + 7]}}]})
        send({}, "tool_calls" if reply.tool_calls else "stop")
        if usage:  # only when the client asked for it (stream_usage=True)
            send(None, extra={"usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}})
        self.wfile.write(b"data: [DONE]\n\n")
        self.wfile.flush()
