"""The company database: one DuckDB file per version in a data folder, swapped atomically.

Every write builds a new file (a copy of the current one, changed inside a transaction),
then points CURRENT at it; a failed write leaves the previous file untouched. Queries use
short-lived read-only connections, always bound parameters.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from company.errors import StoreError
from company.schema import TABLES, Table, create_table_sql

POINTER = "CURRENT"
META_TABLE = "_meta"
IMPORT_LOG = "_imports"


_READERS: dict[Path, duckdb.DuckDBPyConnection] = {}
_READERS_LOCK = threading.Lock()


def _reader(path: Path) -> duckdb.DuckDBPyConnection:
    with _READERS_LOCK:
        con = _READERS.get(path)
        if con is None:
            for old in [p for p in _READERS if p.parent == path.parent]:  # superseded versions
                _READERS.pop(old).close()
            con = _READERS[path] = duckdb.connect(str(path), read_only=True)
        return con


@dataclass(frozen=True)
class TableStatus:
    table: str
    zh: str
    rows: int
    date_min: str | None
    date_max: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "zh": self.zh,
            "rows": self.rows,
            "date_min": self.date_min,
            "date_max": self.date_max,
        }


def insert_frame(con: duckdb.DuckDBPyConnection, table: Table, frame: pd.DataFrame) -> int:
    """Insert the schema columns of frame into table (missing columns become NULL)."""
    if frame.empty:
        return 0
    view = f"_incoming_{table.name}"
    con.register(view, frame)
    try:
        select = ", ".join(
            f'CAST("{c.name}" AS {c.sql_type})' if c.name in frame.columns else f"CAST(NULL AS {c.sql_type})"
            for c in table.columns
        )
        con.execute(f'INSERT INTO "{table.name}" SELECT {select} FROM "{view}"')
    finally:
        con.unregister(view)
    return len(frame)


class Store:
    """Company data in DuckDB under `folder`; see module docstring for the write protocol."""

    def __init__(self, folder: Path | str):
        self.folder = Path(folder)

    # ---- locating the current version -------------------------------------------------
    def path(self) -> Path | None:
        pointer = self.folder / POINTER
        if not pointer.exists():
            return None
        path = self.folder / pointer.read_text(encoding="utf-8").strip()
        return path if path.exists() else None

    def exists(self) -> bool:
        return self.path() is not None

    def _require(self) -> Path:
        path = self.path()
        if path is None:
            raise StoreError(
                f"还没有公司数据（数据文件夹 {self.folder} 为空）。请先运行 `python -m advisor data sample` "
                "生成示例公司，或在「数据中心」页面导入 CSV/XLSX 文件。"
            )
        return path

    # ---- reading ----------------------------------------------------------------------
    @contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A read-only cursor on the current version, closed on exit.

        Opening a DuckDB file costs ~30 ms, a cursor on an open one under 1 ms, so one read-only
        connection per version file is kept for the process; versions never change once written.
        """
        cursor = _reader(self._require()).cursor()
        try:
            yield cursor
        finally:
            cursor.close()

    def query(self, sql: str, params: list | dict | None = None) -> pd.DataFrame:
        """Run parameterised SQL on a read-only connection and return a DataFrame."""
        with self.connect() as con:
            return con.execute(sql, params or []).df()

    def table(self, name: str) -> pd.DataFrame:
        if name not in TABLES:
            raise StoreError(f"没有名为 {name} 的数据表；可用的表：{', '.join(TABLES)}")
        return self.query(f'SELECT * FROM "{name}"')

    def status(self) -> list[TableStatus]:
        with self.connect() as con:
            out = []
            for table in TABLES.values():
                rows = con.execute(f'SELECT count(*) FROM "{table.name}"').fetchone()[0]
                lo = hi = None
                if table.date_column and rows:
                    lo, hi = con.execute(
                        f'SELECT min("{table.date_column}"), max("{table.date_column}") FROM "{table.name}"'
                    ).fetchone()
                elif "quarter" in table.names and rows:
                    lo, hi = con.execute(f'SELECT min(quarter), max(quarter) FROM "{table.name}"').fetchone()
                out.append(
                    TableStatus(
                        table.name,
                        table.zh,
                        int(rows),
                        None if lo is None else str(lo),
                        None if hi is None else str(hi),
                    )
                )
            return out

    def meta(self, key: str, default: Any = None) -> Any:
        if not self.exists():
            return default
        row = self.query(f'SELECT value FROM "{META_TABLE}" WHERE key = ?', [key])
        return default if row.empty else json.loads(row["value"].iloc[0])

    def import_log(self) -> pd.DataFrame:
        return self.query(f'SELECT * FROM "{IMPORT_LOG}" ORDER BY imported_at DESC')

    # ---- writing ----------------------------------------------------------------------
    @contextmanager
    def _lock(self) -> Iterator[None]:
        self.folder.mkdir(parents=True, exist_ok=True)
        with open(self.folder / ".lock", "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def write(self, change: Callable[[duckdb.DuckDBPyConnection], Any], *, fresh: bool = False) -> Any:
        """Apply change(con) to a new version and swap it in; on any error nothing changes.

        fresh=True starts from empty tables instead of a copy of the current data.
        """
        with self._lock():
            current = self.path()
            stamp = datetime.now().strftime("%Y%m%dT%H%M%S%f")
            new = self.folder / f"company-{stamp}.duckdb"
            tmp = new.with_suffix(".tmp")
            try:
                if current is not None and not fresh:
                    shutil.copyfile(current, tmp)
                con = duckdb.connect(str(tmp))
                try:
                    self._ensure_tables(con)
                    con.execute("BEGIN TRANSACTION")
                    result = change(con)
                    con.execute("COMMIT")
                    con.execute("CHECKPOINT")
                finally:
                    con.close()
                os.replace(tmp, new)
                pointer_tmp = self.folder / (POINTER + ".tmp")
                pointer_tmp.write_text(new.name, encoding="utf-8")
                os.replace(pointer_tmp, self.folder / POINTER)
            except BaseException:
                for leftover in (tmp, Path(str(tmp) + ".wal"), new):
                    if leftover.exists() and leftover != current:
                        leftover.unlink()
                raise
            # Old versions go once the pointer has moved; open readers keep their file handle.
            for old in self.folder.glob("company-*.duckdb"):
                if old != new:
                    old.unlink(missing_ok=True)
            return result

    @staticmethod
    def _ensure_tables(con: duckdb.DuckDBPyConnection) -> None:
        for table in TABLES.values():
            con.execute(create_table_sql(table))
        con.execute(f'CREATE TABLE IF NOT EXISTS "{META_TABLE}" (key VARCHAR PRIMARY KEY, value VARCHAR)')
        con.execute(
            f'CREATE TABLE IF NOT EXISTS "{IMPORT_LOG}" (imported_at TIMESTAMP, file VARCHAR, "table" VARCHAR, '
            "inserted BIGINT, replaced BIGINT, created_partners BIGINT, skipped BIGINT)"
        )

    def replace_all(self, tables: dict[str, pd.DataFrame], meta: dict[str, Any] | None = None) -> None:
        """Replace every table with the given frames (e.g. a freshly generated sample company)."""
        unknown = set(tables) - set(TABLES)
        if unknown:
            raise StoreError(f"未知的数据表：{', '.join(sorted(unknown))}")

        def change(con: duckdb.DuckDBPyConnection) -> None:
            for name, frame in tables.items():
                insert_frame(con, TABLES[name], frame)
            for key, value in (meta or {}).items():
                set_meta(con, key, value)

        self.write(change, fresh=True)


def set_meta(con: duckdb.DuckDBPyConnection, key: str, value: Any) -> None:
    con.execute(f'INSERT OR REPLACE INTO "{META_TABLE}" VALUES (?, ?)', [key, json.dumps(value, ensure_ascii=False)])


def upsert(con: duckdb.DuckDBPyConnection, table: Table, frame: pd.DataFrame) -> tuple[int, int]:
    """Insert frame into table, first deleting rows with the same key; returns (inserted, replaced)."""
    replaced = 0
    keys = [k for k in table.key if k in frame.columns and frame[k].notna().all()]
    if frame.empty:
        return 0, 0
    if table.key and len(keys) == len(table.key):
        view = "_incoming_keys"
        con.register(view, frame[keys].drop_duplicates())
        try:
            cond = " AND ".join(f't."{k}" = CAST(k."{k}" AS {table.column(k).sql_type})' for k in keys)
            replaced = con.execute(f'SELECT count(*) FROM "{table.name}" t, "{view}" k WHERE {cond}').fetchone()[0]
            con.execute(f'DELETE FROM "{table.name}" t USING "{view}" k WHERE {cond}')
        finally:
            con.unregister(view)
    inserted = insert_frame(con, table, frame)
    return inserted, int(replaced)
