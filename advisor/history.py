"""Conversations and drafts in SQLite: list, reopen, continue and delete; tables, charts and citations restored.

A History opened with an owner (a signed-in user's name) lists, reads, continues and deletes only that owner's
conversations; conversations from before accounts belong to "local", the operator of a deployment without sign-in.
"""

from __future__ import annotations

import io
import json
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pandas as pd

from advisor.accounts import LOCAL
from advisor.audit import AuditLog, private_file
from advisor.types import Answer, AnswerTable, Draft
from company.errors import CanmouError

SCHEMA = """
CREATE TABLE IF NOT EXISTS conversations (
    id TEXT PRIMARY KEY, title TEXT NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    role TEXT NOT NULL, content TEXT NOT NULL, payload TEXT, created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS messages_conversation ON messages(conversation_id, id);
"""
# Added after the first release: conversations carry their owner; older rows (none, or NULL) are the local operator's.
OWNER_COLUMN = "ALTER TABLE conversations ADD COLUMN owner TEXT"
OWNERLESS_TO_LOCAL = "UPDATE conversations SET owner = ? WHERE owner IS NULL"


class UnknownConversation(CanmouError):
    """A conversation number the history does not hold (mistyped, deleted, or another user's)."""


@dataclass
class Conversation:
    id: str
    title: str
    created_at: str
    updated_at: str


@dataclass
class Message:
    role: str  # "user" | "assistant"
    content: str
    answer: Answer | None = None


def dump_answer(answer: Answer) -> dict:
    """The answer as plain JSON data: what the history stores and `ask --json` prints.

    A table is {"name", "columns", "rows"}: column order survives, even for an empty table.
    """
    data = answer.model_dump(mode="json", exclude={"tables"})
    data["tables"] = [{"name": t.name, **_dump_frame(t.frame)} for t in answer.tables]
    return data


def load_answer(data: dict) -> Answer:
    """The Answer back from dump_answer's data (or from a history row written before tables had columns and rows)."""
    data = dict(data)
    tables = [AnswerTable(name=t["name"], frame=_load_frame(t)) for t in data.pop("tables", [])]
    return Answer.model_validate({**data, "tables": tables})


def _dump_frame(frame: pd.DataFrame) -> dict:
    split = json.loads(
        frame.to_json(orient="split", index=False, force_ascii=False, date_format="iso", double_precision=15)
    )
    return {"columns": split["columns"], "rows": split["data"]}


def _load_frame(table: dict) -> pd.DataFrame:
    if "frame" in table:  # written by an earlier version: the frame as a pandas split-JSON string
        return pd.read_json(io.StringIO(table["frame"]), orient="split")
    return pd.DataFrame(table["rows"], columns=table["columns"])


class History:
    """History in `path` (data/history.sqlite by default).

    With `owner` (a user's name) new conversations are stamped with it, and every method sees only that owner's
    conversations (another owner's is as if it did not exist); without it (the command line on the server) every
    conversation is visible and new ones belong to "local".
    """

    def __init__(self, path: Path | str, owner: str | None = None):
        self.path = Path(path)
        self.owner = owner
        private_file(self.path)  # readable by its owner only from the start; sqlite's journals take this mode
        with self._db() as db:
            db.executescript(SCHEMA)
            columns = {row[1] for row in db.execute("PRAGMA table_info(conversations)")}
            if "owner" not in columns:
                try:
                    db.execute(OWNER_COLUMN)
                except sqlite3.OperationalError as exc:  # another process added it a moment ago
                    if "duplicate column" not in str(exc):
                        raise
            if db.execute("SELECT 1 FROM conversations WHERE owner IS NULL LIMIT 1").fetchone():
                db.execute(OWNERLESS_TO_LOCAL, [LOCAL])

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=30)
        db.execute("PRAGMA foreign_keys = ON")
        try:
            with db:
                yield db
        finally:
            db.close()

    def start(self, title: str) -> str:
        now = datetime.now().isoformat(timespec="seconds")
        conversation_id = uuid.uuid4().hex[:12]
        with self._db() as db:
            db.execute(
                "INSERT INTO conversations (id, title, created_at, updated_at, owner) VALUES (?, ?, ?, ?, ?)",
                [conversation_id, title[:40] or "新对话", now, now, self.owner or LOCAL],
            )
        return conversation_id

    def exists(self, conversation_id: str) -> bool:
        mine, params = self._mine("AND")
        with self._db() as db:
            row = db.execute(f"SELECT 1 FROM conversations WHERE id = ? {mine}", [conversation_id, *params])
            return row.fetchone() is not None

    def add(self, conversation_id: str, role: str, content: str, answer: Answer | None = None) -> None:
        now = datetime.now().isoformat(timespec="seconds")
        payload = json.dumps(dump_answer(answer), ensure_ascii=False) if answer else None
        if not self.exists(conversation_id):
            raise self.unknown(conversation_id)
        try:
            with self._db() as db:
                db.execute(
                    "INSERT INTO messages (conversation_id, role, content, payload, created_at) VALUES (?, ?, ?, ?, ?)",
                    [conversation_id, role, content, payload, now],
                )
                db.execute("UPDATE conversations SET updated_at = ? WHERE id = ?", [now, conversation_id])
        except sqlite3.IntegrityError:  # deleted (in another window) since the check above
            raise self.unknown(conversation_id) from None

    def unknown(self, conversation_id: str) -> UnknownConversation:
        """The error for a conversation that is not there: which conversations there are, and how to start one."""
        recent = self.conversations(limit=5)
        if recent:
            listed = "、".join(f"{c.id}（{c.title}）" for c in recent)
            there = f"现有的对话（最近 {len(recent)} 个）：{listed}；继续其中一个请用它的编号。"
        else:
            there = "现在还没有任何对话。"
        return UnknownConversation(
            f"没有编号为「{conversation_id}」的对话（编号写错了，或对话已被删除）。{there}不指定对话编号即可开始新对话。"
        )

    def conversations(self, limit: int = 50) -> list[Conversation]:
        mine, params = self._mine()
        with self._db() as db:
            rows = db.execute(
                f"SELECT id, title, created_at, updated_at FROM conversations {mine} ORDER BY updated_at DESC, "
                "rowid DESC LIMIT ?",
                [*params, limit],
            ).fetchall()
        return [Conversation(*row) for row in rows]

    def messages(self, conversation_id: str) -> list[Message]:
        """The conversation's messages; none when it belongs to another owner."""
        mine, params = self._mine("AND", "c.owner")
        with self._db() as db:
            rows = db.execute(
                "SELECT m.role, m.content, m.payload FROM messages m JOIN conversations c ON c.id = m.conversation_id "
                f"WHERE m.conversation_id = ? {mine} ORDER BY m.id",
                [conversation_id, *params],
            ).fetchall()
        return [
            Message(role, content, load_answer(json.loads(payload)) if payload else None)
            for role, content, payload in rows
        ]

    def turns(self, conversation_id: str, limit: int = 8) -> list[dict]:
        """The last messages as the pipeline takes them: role, content, and a data answer's spec."""
        out = []
        for m in self.messages(conversation_id)[-limit:]:
            turn = {"role": m.role, "content": m.content}
            if m.answer is not None and m.answer.spec:
                turn["spec"] = m.answer.spec
            out.append(turn)
        return out

    def current_draft(self, conversation_id: str) -> Draft | None:
        for message in reversed(self.messages(conversation_id)):
            if message.answer is not None and message.answer.draft is not None:
                return message.answer.draft
        return None

    def delete(self, conversation_id: str) -> bool:
        """Delete a conversation and its messages; False when it is not there or belongs to another owner.
        A deletion is recorded in the audit log beside the history, as the owner's (or "local")."""
        mine, params = self._mine("AND")
        with self._db() as db:
            title = db.execute(f"SELECT title FROM conversations WHERE id = ? {mine}", [conversation_id, *params])
            title = (title.fetchone() or [""])[0]
            deleted = db.execute(f"DELETE FROM conversations WHERE id = ? {mine}", [conversation_id, *params])
        if deleted.rowcount > 0:
            AuditLog(self.path.parent).record(
                "delete", self.owner or LOCAL, target="conversation", id=conversation_id, title=title
            )
        return deleted.rowcount > 0

    def _mine(self, keyword: str = "WHERE", column: str = "owner") -> tuple[str, list[str]]:
        return (f"{keyword} {column} = ?", [self.owner]) if self.owner else ("", [])
