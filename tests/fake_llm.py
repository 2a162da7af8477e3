"""A scripted chat model and the backend that serves it, for tests only (like simonw/llm's MockModel.enqueue).

backend = FakeBackend()
register_backend("fake", backend)                 # the `fake_backend` fixture in conftest does this
backend.model.enqueue(tool_calls=[("partner_scorecard", {})])
backend.model.enqueue("好的。")
... Settings(llm_backend="fake") ... backend.model.requests   # what each model call was sent
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import Field

from advisor.llm_backends import LLMError


def _pieces(text: str) -> list[str]:
    """Split a reply into token-like pieces: Latin words and numbers whole, CJK one character at a time."""
    return re.findall(r"\s+|[A-Za-z0-9.,%\[\]]+|.", text)


class FakeChatModel(BaseChatModel):
    """Replies from a queue: enqueue(text) or enqueue(tool_calls=[(name, args), ...]); records every request."""

    model_name: str = "fake"
    queue: list[dict[str, Any]] = Field(default_factory=list)
    requests: list[dict[str, Any]] = Field(default_factory=list)

    @property
    def _llm_type(self) -> str:
        return "canmou-fake"

    def enqueue(self, text: str | Sequence[str] = "", tool_calls: Sequence[tuple[str, dict[str, Any]]] = ()) -> None:
        """Queue one reply: text (a string, or its streamed pieces) and/or tool calls."""
        pieces = [text] if isinstance(text, str) else list(text)
        self.queue.append({"pieces": [p for p in pieces if p], "tool_calls": list(tool_calls)})

    def bind_tools(self, tools, *, tool_choice=None, **kwargs):
        return self.bind(tools=list(tools), tool_choice=tool_choice, **kwargs)

    def _next(self, messages, kwargs) -> dict[str, Any]:
        self.requests.append(
            {"messages": list(messages), "tools": kwargs.get("tools"), "tool_choice": kwargs.get("tool_choice")}
        )
        if not self.queue:
            raise LLMError("假模型没有排队的回复：测试要先调用 enqueue(...)。")
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


class FakeBackend:
    """Serves one FakeChatModel; no network, so the connection test always passes and no failure is its own."""

    label = "测试用假模型"

    def __init__(self, model: FakeChatModel | None = None):
        self.model = model or FakeChatModel()

    def create(self, settings) -> FakeChatModel:
        return self.model

    def check(self, settings) -> tuple[bool, str]:
        return True, "正在使用测试用的假模型，不发送网络请求。"

    def explain(self, exc: BaseException) -> None:
        return None
