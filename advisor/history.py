"""Conversations and drafts in SQLite: list, reopen, continue and delete; tables, charts and citations restored.

A History opened with an owner (the chat page's browser session) lists and deletes only that owner's conversations.
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

from advisor.types import Answer, AnswerTable, Draft

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
# Added after the first release: conversations started by a browser session carry its key; older rows have none.
OWNER_COLUMN = "ALTER TABLE conversations ADD COLUMN owner TEXT"


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

    With `owner` (a browser session's key) new conversations are stamped with it, and conversations() and delete()
    see only that owner's; without it (the command line) every conversation is visible.
    """

    def __init__(self, path: Path | str, owner: str | None = None):
        self.path = Path(path)
        self.owner = owner
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._db() as db:
            db.executescript(SCHEMA)
            columns = {row[1] for row in db.execute("PRAGMA table_info(conversations)")}
            if "owner" not in columns:
                try:
                    db.execute(OWNER_COLUMN)
                except sqlite3.OperationalError as exc:  # another process added it a moment ago
                    if "duplicate column" not in str(exc):
                        raise

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
                [conversation_id, title[:40] or "新对话", now, now, self.owner],
            )
        return conversation_id

    def exists(self, conversation_id: str) -> bool:
        with self._db() as db:
            return db.execute("SELECT 1 FROM conversations WHERE id = ?", [conversation_id]).fetchone() is not None

    def add(self, conversation_id: str, role: str, content: str, answer: Answer | None = None) -> None:
        now = datetime.now().isoformat(timespec="seconds")
        payload = json.dumps(dump_answer(answer), ensure_ascii=False) if answer else None
        with self._db() as db:
            db.execute(
                "INSERT INTO messages (conversation_id, role, content, payload, created_at) VALUES (?, ?, ?, ?, ?)",
                [conversation_id, role, content, payload, now],
            )
            db.execute("UPDATE conversations SET updated_at = ? WHERE id = ?", [now, conversation_id])

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
        with self._db() as db:
            rows = db.execute(
                "SELECT role, content, payload FROM messages WHERE conversation_id = ? ORDER BY id", [conversation_id]
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
        """Delete a conversation and its messages; False when it is not there or belongs to another owner."""
        mine, params = self._mine("AND")
        with self._db() as db:
            deleted = db.execute(f"DELETE FROM conversations WHERE id = ? {mine}", [conversation_id, *params])
            return deleted.rowcount > 0

    def _mine(self, keyword: str = "WHERE") -> tuple[str, list[str]]:
        return (f"{keyword} owner = ?", [self.owner]) if self.owner else ("", [])
