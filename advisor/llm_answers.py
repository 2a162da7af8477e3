"""The LLM path of the pipeline: the model picks tools and writes prose; numbers and citations are checked."""

from __future__ import annotations

from collections.abc import Callable

from advisor.llm import LLMError, create_chat_model, run_llm_turn
from advisor.types import Answer, Route, Step, notify


def answer_with_llm(
    question: str, routed: Route, ctx, steps: list[Step], on_event, offline: Callable[..., Answer]
) -> Answer:
    """Run one LLM turn; if the endpoint fails, say so and answer with `offline` (the pipeline's handler)."""
    try:
        model = create_chat_model(ctx.settings)
        turn = run_llm_turn(
            model,
            question,
            ctx.history,
            ctx.store,
            ctx.kb,
            on_event,
            context_tokens=ctx.settings.llm_context_tokens,
            language=routed.language,
        )
    except LLMError as exc:
        notify(on_event, Step(label="大模型不可用，改用离线撰写", detail=exc.message), steps)
        reply = offline(question, routed, ctx, steps, on_event)
        reply.flags.append(f"大模型调用失败，本回答由离线模板生成：{exc.message}")
        return reply
    reply = turn.to_answer(question, language=routed.language, backend=ctx.settings.llm_backend)
    reply.steps = [*steps, *reply.steps]
    if reply.route.intent is None:
        reply.route = routed
    return reply
