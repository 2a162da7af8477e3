"""The audit log of a shared deployment: who asked what, which tools ran with which arguments, every import, export,
settings change and deletion. Append-only: rows are added and read, never changed or removed.

One SQLite file in the data folder (audit.sqlite, readable by its owner only, like settings.json and the history);
the database itself refuses UPDATE and DELETE on its rows, and this module offers neither.

    AuditLog(settings.data_dir).record("export", user, title="…", files=["…"])
    audit.read(Filters(user="li", event="question", since="2026-11-01"))   # a DataFrame: at, user, event, details
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from company.errors import CanmouError

AUDIT_FILE = "audit.sqlite"
LOCAL = "local"  # who acts without sign-in (the command line, a single-user app); = advisor.accounts.LOCAL
Event = Literal["question", "tool", "import", "export", "settings", "delete"]
EVENTS: dict[str, tuple[str, str]] = {  # event -> (中文, English)
    "question": ("提问", "question"),
    "tool": ("运行工具", "tool run"),
    "import": ("导入", "import"),
    "export": ("导出", "export"),
    "settings": ("修改设置", "settings change"),
    "delete": ("删除", "deletion"),
}
COLUMNS = ("at", "user", "event", "details")
HEADERS = {"zh": ("时间", "用户", "事件", "详情"), "en": ("Time", "User", "Event", "Details")}

SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL, user TEXT NOT NULL, event TEXT NOT NULL, details TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_at ON events(at);
CREATE TRIGGER IF NOT EXISTS events_append_only_update BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, '审计日志只能追加，不能修改'); END;
CREATE TRIGGER IF NOT EXISTS events_append_only_delete BEFORE DELETE ON events
BEGIN SELECT RAISE(ABORT, '审计日志只能追加，不能删除'); END;
"""


class AuditError(CanmouError):
    """A filter of the audit log that cannot be used (an unknown event, a date that is not a date)."""


def private_file(path: Path | str) -> Path:
    """Make `path` exist readable and writable by its owner only (mode 600) from the moment it is created; an
    existing file that others can read is narrowed to 600. For files holding secrets or what users did."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        if path.stat().st_mode & 0o077:
            os.chmod(path, 0o600)
    return path


def data_folder() -> Path:
    """The data folder as the environment names it (CANMOU_DATA_DIR, else ./data), before any settings are read:
    settings.json lives there (advisor.settings reads it from here), and so does the audit log by default."""
    return Path(os.environ.get("CANMOU_DATA_DIR") or "data")


def _day(value: date | datetime | str, name: str) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise AuditError(f"{name}「{value}」不是日期：请写成 YYYY-MM-DD，例如 2026-11-30。") from None


@dataclass(frozen=True)
class Filters:
    """Which rows to read: one user, one event, and a range of days (both ends included). None: any."""

    user: str | None = None
    event: str | None = None
    since: date | datetime | str | None = None
    until: date | datetime | str | None = None

    def where(self) -> tuple[str, list[str]]:
        clauses, params = [], []
        if self.user:
            clauses.append("user = ?")
            params.append(self.user)
        if self.event:
            if self.event not in EVENTS:
                known = "、".join(f"{k}（{zh}）" for k, (zh, _en) in EVENTS.items())
                raise AuditError(f"审计日志里没有「{self.event}」这种事件；可选：{known}。")
            clauses.append("event = ?")
            params.append(self.event)
        if self.since is not None:
            clauses.append("at >= ?")
            params.append(_day(self.since, "起始日期").isoformat())
        if self.until is not None:
            clauses.append("at < ?")
            params.append((_day(self.until, "截止日期") + timedelta(days=1)).isoformat())
        return (" WHERE " + " AND ".join(clauses) if clauses else ""), params


class AuditLog:
    """The audit log in `folder` (the data folder): record() appends one row; read() and export_csv() read them."""

    def __init__(self, folder: Path | str):
        self.path = Path(folder) / AUDIT_FILE

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        private_file(self.path)  # sqlite's journal files take the database file's mode
        db = sqlite3.connect(self.path, timeout=30)
        try:
            db.executescript(SCHEMA)
            with db:
                yield db
        finally:
            db.close()

    def record(self, event: Event, user: str | None = LOCAL, **details: Any) -> None:
        """Append one row: when (local time with its UTC offset), who, what happened and its details as JSON.
        Callers pass names of settings, never the API key's value."""
        if event not in EVENTS:
            raise ValueError(f"unknown audit event {event!r}; one of {', '.join(EVENTS)}")
        at = datetime.now().astimezone().isoformat(timespec="seconds")
        text = json.dumps(details, ensure_ascii=False, default=str)
        with self._db() as db:
            db.execute(
                "INSERT INTO events (at, user, event, details) VALUES (?, ?, ?, ?)",
                [at, user or LOCAL, event, text],
            )

    def read(self, filters: Filters | None = None) -> pd.DataFrame:
        """The rows that pass `filters`, oldest first: at, user, event (its id, e.g. "question"), details (JSON)."""
        where, params = (filters or Filters()).where()
        if not self.path.exists():
            return pd.DataFrame(columns=list(COLUMNS))
        with self._db() as db:
            rows = db.execute(f"SELECT at, user, event, details FROM events{where} ORDER BY id", params).fetchall()
        return pd.DataFrame(rows, columns=list(COLUMNS))

    def csv(self, filters: Filters | None = None, language: Literal["zh", "en"] = "zh") -> bytes:
        """The rows that pass `filters` as CSV bytes (UTF-8 with BOM, so Excel shows Chinese), headers and event
        names in `language` (what a download button serves)."""
        frame = self.read(filters)
        index = 0 if language == "zh" else 1
        frame["event"] = frame["event"].map(lambda e: EVENTS[e][index] if e in EVENTS else e)
        frame.columns = list(HEADERS[language])
        return frame.to_csv(index=False).encode("utf-8-sig")

    def export_csv(
        self, path: Path | str, filters: Filters | None = None, language: Literal["zh", "en"] = "zh"
    ) -> Path:
        """Write csv() to `path`, a file readable by its owner only. Returns the path."""
        path = private_file(path)
        path.write_bytes(self.csv(filters, language))
        return path


def record(event: Event, user: str | None = LOCAL, *, folder: Path | str | None = None, **details: Any) -> None:
    """Append one row to the audit log in `folder` (default: data_folder())."""
    AuditLog(folder or data_folder()).record(event, user, **details)


def read(filters: Filters | None = None, *, folder: Path | str | None = None) -> pd.DataFrame:
    """The audit rows that pass `filters`, oldest first (columns at, user, event, details)."""
    return AuditLog(folder or data_folder()).read(filters)


def export_csv(
    path: Path | str,
    filters: Filters | None = None,
    *,
    folder: Path | str | None = None,
    language: Literal["zh", "en"] = "zh",
) -> Path:
    """Write the audit rows that pass `filters` to a CSV file readable by its owner only."""
    return AuditLog(folder or data_folder()).export_csv(path, filters, language)
