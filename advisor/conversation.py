"""A conversation turn, the one the chat page and `ask` share: store the question, answer it with the
conversation's context (earlier turns, the last data spec, the current draft), save the reply.

The API key never reaches the history or the screen: any 8+ character piece of it is masked (llm_backends.redact)
in the question, the streamed text, the reply and an error's message. Who asked what, and which tools ran with
which arguments, goes into the audit log."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import SecretStr

from advisor.audit import LOCAL, AuditLog
from advisor.history import History, UnknownConversation, dump_answer, load_answer
from advisor.llm_backends import StreamRedactor, guard_logs, redact
from advisor.pipeline import Context, Event, answer
from advisor.settings import Settings
from advisor.types import Answer, Step
from company.errors import CanmouError
from company.store import Store

if TYPE_CHECKING:
    from advisor.accounts import User
    from retrieval.knowledge_base import KnowledgeBase

__all__ = ["Conversation", "Deps", "UnknownConversation"]


@dataclass(frozen=True)
class Deps:
    """What a conversation answers with and where it is kept; the caller opens them (no global lookups here)."""

    store: Store
    kb: KnowledgeBase | None
    settings: Settings
    history: History
    user: User | None = None  # the signed-in user; None: the local operator (audit log user "local")

    @property
    def user_name(self) -> str:
        return self.user.name if self.user is not None else LOCAL


class Conversation:
    """One conversation in the history; ask() runs a turn and returns the Answer."""

    def __init__(self, deps: Deps, conversation_id: str):
        self.deps = deps
        self.id = conversation_id

    @classmethod
    def start(cls, deps: Deps, title: str) -> Conversation:
        """A new conversation titled by its first question."""
        return cls(deps, deps.history.start(title))

    @classmethod
    def resume(cls, deps: Deps, conversation_id: str) -> Conversation:
        if not deps.history.exists(conversation_id):
            raise deps.history.unknown(conversation_id)  # names the conversations there are
        return cls(deps, conversation_id)

    @classmethod
    def open(cls, deps: Deps, conversation_id: str | None, question: str) -> Conversation:
        """Continue conversation_id, or start a new conversation when there is none."""
        return cls.resume(deps, conversation_id) if conversation_id else cls.start(deps, question)

    def context(self) -> Context:
        """The pipeline's view of this conversation: its recent turns (with data specs) and its current draft."""
        history = self.deps.history
        return Context(
            store=self.deps.store,
            kb=self.deps.kb,
            settings=self.deps.settings,
            draft=history.current_draft(self.id),
            history=history.turns(self.id),
            user=self.deps.user,
        )

    def ask(self, question: str, on_event: Event | None = None) -> Answer:
        """Store the question, answer it, save the reply (with its tables, citations and draft) and return it.

        A CanmouError is saved as the reply's text, then raised for the caller to show. The key is masked in all of
        them before they are stored or shown; the question and the tools run are recorded in the audit log.
        """
        key = self.deps.settings.llm_api_key
        guard_logs(key)
        history = self.deps.history
        asked = redact(question, key)
        history.add(self.id, "user", asked)
        listener = _Listener(on_event, key)
        try:
            reply = answer(question, self.context(), listener)
        except CanmouError as exc:
            exc.message = redact(exc.message, key)
            exc.args = (exc.message,)
            history.add(self.id, "assistant", exc.message)
            self._audit(asked, listener.runs, error=exc.message)
            raise
        finally:
            listener.flush()
        reply = masked(reply, key)
        history.add(self.id, "assistant", reply.markdown, reply)
        self._audit(asked, _tool_runs(reply, listener.runs), reply=reply)
        return reply

    def _audit(self, question: str, runs: list[dict[str, Any]], reply: Answer | None = None, error: str = "") -> None:
        """One row for the question (who, which conversation, what became of it), one per tool run."""
        log, user = AuditLog(self.deps.settings.data_dir), self.deps.user_name
        outcome = {"error": error} if error else {"intent": reply.route.intent, "backend": reply.backend}
        log.record("question", user, conversation=self.id, question=question, **outcome)
        for run in runs:
            log.record("tool", user, conversation=self.id, **run)


class _Listener:
    """The pipeline's on_event, passed on to the caller's: streamed text and steps with the key masked (text that
    could still turn into the key is held back until the next piece shows it is not), tool runs kept for the audit."""

    def __init__(self, on_event: Event | None, key: SecretStr | None):
        self.on_event = on_event
        self.key = key
        self.stream = StreamRedactor(key)
        self.runs: list[dict[str, Any]] = []

    def __call__(self, kind: str, value: Any) -> None:
        if kind == "tool":  # a ToolRun of the LLM path
            run = {"tool": value.name, "args": _masked_data(value.args, self.key)}
            self.runs.append(run | ({"error": redact(value.error, self.key)} if value.error else {}))
        elif kind == "token":
            value = self.stream.feed(value)
            if not value:
                return
        elif kind == "retract":
            self.stream.drop()
            value = redact(value, self.key)
        elif kind == "done":
            self.flush()
        elif kind == "step" and isinstance(value, Step):
            value = Step(label=redact(value.label, self.key), detail=redact(value.detail, self.key))
        if self.on_event is not None:
            self.on_event(kind, value)

    def flush(self) -> None:
        tail = self.stream.flush()
        if tail and self.on_event is not None:
            self.on_event("token", tail)


def _masked_data(node: Any, key: SecretStr | None) -> Any:
    """Every string inside JSON-like data with the key masked."""
    if isinstance(node, str):
        return redact(node, key)
    if isinstance(node, list):
        return [_masked_data(v, key) for v in node]
    if isinstance(node, dict):
        return {k: _masked_data(v, key) for k, v in node.items()}
    return node


def masked(reply: Answer, key: SecretStr | None) -> Answer:
    """The reply with the key masked in every text it carries (answer, flags, steps, SQL, citations, cells); the
    same object when there is nothing to mask."""
    if key is None or len(key.get_secret_value()) < 4:
        return reply
    data = dump_answer(reply)
    clean = _masked_data(data, key)
    return reply if clean == data else load_answer(clean)


def _tool_runs(reply: Answer, runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The tools a turn ran, for the audit log: the model's calls (name and arguments) when an LLM answered;
    otherwise what the offline answer shows: the data query (its spec), the draft (its arguments), and each tool
    step (with the router's slots, from which the tool's arguments were made)."""
    if runs:
        return runs
    out: list[dict[str, Any]] = []
    if reply.spec:
        out.append({"tool": "query_data", "args": reply.spec})
    if reply.draft is not None:
        out.append({"tool": f"plan:{reply.draft.kind}", "args": reply.draft.args})
    for step in reply.steps:
        if step.label.startswith("运行工具 "):
            out.append({"tool": step.label.removeprefix("运行工具 "), "slots": reply.route.slots})
    return out
