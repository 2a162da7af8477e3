"""A conversation turn, the one the chat page and `ask` share: store the question, answer it with the
conversation's context (earlier turns, the last data spec, the current draft), save the reply."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from advisor.history import History
from advisor.pipeline import Context, Event, answer
from advisor.settings import Settings
from advisor.types import Answer
from company.errors import CanmouError
from company.store import Store

if TYPE_CHECKING:
    from retrieval.knowledge_base import KnowledgeBase


class UnknownConversation(CanmouError):
    """A conversation number the history does not hold (mistyped, or the conversation was deleted)."""


@dataclass(frozen=True)
class Deps:
    """What a conversation answers with and where it is kept; the caller opens them (no global lookups here)."""

    store: Store
    kb: KnowledgeBase | None
    settings: Settings
    history: History


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
            raise UnknownConversation(
                f"没有编号为「{conversation_id}」的对话（编号写错了，或对话已被删除）。不指定对话编号即可开始新对话。"
            )
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
        )

    def ask(self, question: str, on_event: Event | None = None) -> Answer:
        """Store the question, answer it, save the reply (with its tables, citations and draft) and return it.

        A CanmouError is saved as the reply's text, then raised for the caller to show.
        """
        history = self.deps.history
        history.add(self.id, "user", question)
        try:
            reply = answer(question, self.context(), on_event)
        except CanmouError as exc:
            history.add(self.id, "assistant", exc.message)
            raise
        history.add(self.id, "assistant", reply.markdown, reply)
        return reply
