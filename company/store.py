"""The company database of one dataset: one DuckDB file per version in a folder, swapped atomically.

Every write builds a new file (a copy of the current one, changed inside a transaction), then points
CURRENT at it; a failed write leaves the previous file untouched. Writers are serialised by a file
lock (a second writer waits, then fails with a clear message); the previous version is kept until the
next write so a reader that has just read the pointer never finds its file gone; leftovers of a killed
writer (*.tmp) are removed the next time the folder is opened. Queries use read-only connections and
bound parameters. dataset.json beside the files holds the dataset's name, kind, currency and unit.

A store opened for some regions (Store.scoped) reads a copy of the current version that holds only the partners of
those regions and the rows keyed by them (sales, targets, inventory, costs, collections, surveys, any table with a
partner_id); the copy is built once per version under .scopes/, opened read-only with file access switched off, so no
SQL run on it can reach the other regions. A scoped store refuses every write.
"""

from __future__ import annotations

import copy
import errno
import fcntl
import hashlib
import json
import os
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from company.errors import StoreError
from company.schema import TABLES, Table, create_table_sql
from company.units import DEFAULT_CURRENCY, DEFAULT_QUANTITY_UNIT, currency

POINTER = "CURRENT"
PROFILE = "dataset.json"
META_TABLE = "_meta"
IMPORT_LOG = "_imports"
LOCK_FILE = ".lock"
WRITE_TIMEOUT_S = 120.0

_READERS: dict[Path, duckdb.DuckDBPyConnection] = {}
_READERS_LOCK = threading.Lock()
_CLEANED: set[Path] = set()
# Re-entrant writer lock per folder within this process: (owning thread, depth, open handle).
_HELD: dict[Path, list] = {}
_HELD_LOCK = threading.Lock()


SCOPES = ".scopes"
# A scoped copy's reader may read its own file and nothing else: no ATTACH of the whole version, no read_csv.
SCOPED_CONFIG = {"enable_external_access": False, "lock_configuration": True}
_SCOPE_BUILD_LOCK = threading.Lock()
_STALE_TMP_S = 3600.0


_OPEN: dict[Path, int] = {}  # cursors open on each version's shared connection
_RETIRED: dict[Path, duckdb.DuckDBPyConnection] = {}  # superseded versions' connections still read by a cursor


def _cursor(path: Path) -> duckdb.DuckDBPyConnection:
    """A cursor on the version file's shared read-only connection. A superseded version's connection is retired,
    and closed only when its last cursor is: a reader in another thread is never cut off mid-query by an import."""
    with _READERS_LOCK:
        con = _READERS.get(path)
        if con is None:
            for old in [p for p in _READERS if p.parent == path.parent]:  # superseded versions
                _RETIRED[old] = _READERS.pop(old)
                if not _OPEN.get(old):
                    _RETIRED.pop(old).close()
            config = SCOPED_CONFIG if path.parent.parent.name == SCOPES else {}
            con = _READERS[path] = duckdb.connect(str(path), read_only=True, config=config)
        cursor = con.cursor()
        _OPEN[path] = _OPEN.get(path, 0) + 1
        return cursor


def _release(path: Path, cursor: duckdb.DuckDBPyConnection) -> None:
    cursor.close()
    with _READERS_LOCK:
        _OPEN[path] -= 1
        if not _OPEN[path]:
            del _OPEN[path]
            if path in _RETIRED:
                _RETIRED.pop(path).close()


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


@dataclass
class Profile:
    """What a dataset is, beside its data: shown on every page, answer and document."""

    name: str = "公司数据"
    kind: str = "company"  # sample | company
    currency: str = DEFAULT_CURRENCY
    quantity_unit: str = DEFAULT_QUANTITY_UNIT
    created_at: str = ""
    # Dates after the import day (or before 1990) are kept out of "latest" until the user confirms them.
    dates_confirmed: bool = False
    notes: dict[str, Any] = field(default_factory=dict)

    @property
    def money(self):
        return currency(self.currency)

    @property
    def is_sample(self) -> bool:
        return self.kind == "sample"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def insert_frame(con: duckdb.DuckDBPyConnection, table: Table, frame: pd.DataFrame) -> int:
    """Insert the schema columns of frame into table (missing columns become NULL)."""
    if frame.empty:
        return 0
    view = f"_incoming_{table.name}"
    con.register(view, frame)
    try:
        select = ", ".join(
            f'CAST("{c.name}" AS {c.sql_type}) AS "{c.name}"' for c in table.columns if c.name in frame.columns
        )
        con.execute(f'INSERT INTO "{table.name}" BY NAME SELECT {select} FROM "{view}"')
    finally:
        con.unregister(view)
    return len(frame)


class Store:
    """Company data in DuckDB under `folder`; see module docstring for the write protocol."""

    # The regions this store may read (None: all of them) and whether it may write; see ScopedStore.
    regions: tuple[str, ...] | None = None
    read_only: bool = False

    def __init__(self, folder: Path | str):
        self.folder = Path(folder)
        if self.folder not in _CLEANED and self.folder.exists():
            self._remove_leftovers()

    # ---- scope ----------------------------------------------------------------------------
    def scoped(self, regions: Iterable[str] | None) -> Store:
        """A read-only store of this folder that sees only the partners of `regions` and everything keyed by them;
        regions=None sees every region, still read-only (an executive's view)."""
        return ScopedStore(self.folder, regions)

    def scope_label(self, region: str | None = None) -> str:
        """What a plan or answer covers: the region it names, else everything this store sees (全国)."""
        return region or "全国"

    def unscoped(self) -> Store:
        """The whole dataset (for checks against the company's full region list; never for answers)."""
        return Store(self.folder)

    @staticmethod
    def _pinned(path: Path | None) -> bool:
        """Whether a pinned version can still be read: its file is there, or a connection to it is still open (an
        answer that outlived two imports then reads the current version rather than failing)."""
        return path is not None and (path.exists() or path in _READERS or path in _RETIRED)

    def pinned(self) -> Store:
        """This store fixed at its current version: every query of one answer reads the same data even when an
        import swaps versions meanwhile (an answer is the old data's or the new data's, never half of each)."""
        clone = copy.copy(self)
        clone._pinned_path = self.path()
        return clone

    def region_names(self) -> list[str]:
        """The partners' regions present in this store's data, sorted."""
        if not self.exists():
            return []
        rows = self.query("SELECT DISTINCT region FROM partners WHERE region IS NOT NULL AND trim(region) <> ''")
        return sorted(str(r) for r in rows["region"])

    # ---- locating the current version -------------------------------------------------
    def _pointed(self) -> Path | None:
        pointer = self.folder / POINTER
        try:
            name = pointer.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return None
        return self.folder / name if name else None

    _pinned_path: Path | None = None  # set by pinned(): the version one answer reads

    def path(self) -> Path | None:
        if self._pinned(self._pinned_path):
            return self._pinned_path
        # A writer moves the pointer, then removes versions older than the previous one; re-reading the
        # pointer a few times covers a reader that read it just before a swap.
        for attempt in range(5):
            path = self._pointed()
            if path is None:
                return None
            if path.exists():
                return path
            time.sleep(0.01 * (attempt + 1))
        return None

    def exists(self) -> bool:
        return self.path() is not None

    def version(self) -> str:
        """A token that changes with every write (cache key for derived values)."""
        path = self.path()
        return path.name if path else ""

    def _require(self) -> Path:
        path = self.path()
        if path is None:
            raise StoreError(
                f"还没有公司数据（数据文件夹 {self.folder} 为空）。请先运行 `python -m advisor data sample` "
                "生成示例公司，或在「数据中心」页面导入 CSV/XLSX 文件。"
            )
        return path

    # ---- profile ------------------------------------------------------------------------
    def profile(self) -> Profile:
        path = self.folder / PROFILE
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except (FileNotFoundError, ValueError):
            raw = {}
        known = {k: v for k, v in raw.items() if k in Profile.__dataclass_fields__}
        return Profile(**known)

    def save_profile(self, profile: Profile) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        tmp = self.folder / (PROFILE + ".tmp")
        tmp.write_text(json.dumps(profile.to_dict(), ensure_ascii=False, indent=2), encoding="utf-8")
        os.replace(tmp, self.folder / PROFILE)

    def update_profile(self, **changes: Any) -> Profile:
        profile = self.profile()
        for key, value in changes.items():
            setattr(profile, key, value)
        self.save_profile(profile)
        return profile

    # ---- reading ----------------------------------------------------------------------
    @contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A read-only cursor on the current version, closed on exit.

        Opening a DuckDB file costs ~30 ms, a cursor on an open one under 1 ms, so one read-only
        connection per version file is kept for the process; versions never change once written.
        """
        for attempt in range(3):
            path = self._require()
            try:
                cursor = _cursor(path)
                break
            except duckdb.IOException:
                if attempt == 2:
                    raise
                time.sleep(0.02)
        try:
            yield cursor
        finally:
            _release(path, cursor)

    def query(self, sql: str, params: list | dict | None = None) -> pd.DataFrame:
        """Run parameterised SQL on a read-only connection and return a DataFrame."""
        with self.connect() as con:
            return con.execute(sql, params or []).df()

    def scalar(self, sql: str, params: list | dict | None = None) -> Any:
        with self.connect() as con:
            row = con.execute(sql, params or []).fetchone()
        return None if row is None else row[0]

    def table(self, name: str) -> pd.DataFrame:
        if name not in TABLES:
            raise StoreError(f"没有名为 {name} 的数据表；可用的表：{', '.join(TABLES)}")
        return self.query(f'SELECT * FROM "{name}"')

    def columns(self, name: str) -> list[str]:
        """The columns the table has in this version: schema fields plus imported attributes."""
        with self.connect() as con:
            return [r[0] for r in con.execute(f'DESCRIBE "{name}"').fetchall()]

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
    def lock(self, timeout: float = WRITE_TIMEOUT_S) -> Iterator[None]:
        """Hold the writer lock of this folder (re-entrant within a thread); wait up to timeout seconds."""
        key = self.folder.resolve()
        me = threading.get_ident()
        with _HELD_LOCK:
            held = _HELD.get(key)
            if held is not None and held[0] == me:
                held[1] += 1
                reentered = True
            else:
                reentered = False
        if reentered:
            try:
                yield
            finally:
                with _HELD_LOCK:
                    _HELD[key][1] -= 1
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        handle = open(self.folder / LOCK_FILE, "w")
        deadline = time.monotonic() + timeout
        try:
            while True:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except OSError as exc:
                    if exc.errno not in (errno.EAGAIN, errno.EACCES):
                        raise
                    if time.monotonic() >= deadline:
                        raise StoreError(
                            f"另一个导入或写入正在进行，等待 {timeout:g} 秒后仍未结束。原有数据没有改动；"
                            "请等它完成后再试。"
                        ) from None
                    time.sleep(0.05)
            with _HELD_LOCK:
                _HELD[key] = [me, 1, handle]
            try:
                self._remove_leftovers(locked=True)
                yield
            finally:
                with _HELD_LOCK:
                    _HELD.pop(key, None)
                fcntl.flock(handle, fcntl.LOCK_UN)
        finally:
            handle.close()

    def _remove_leftovers(self, locked: bool = False) -> None:
        """Delete what a killed writer left (*.tmp, their WAL files, unreferenced old versions).

        Only while holding the writer lock, so a running writer's files are never touched."""
        if not locked:
            try:
                handle = open(self.folder / LOCK_FILE, "a")
            except OSError:
                return
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                handle.close()
                return  # a writer is at work; it cleans up itself
            try:
                self._remove_leftovers(locked=True)
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
                handle.close()
            return
        _CLEANED.add(self.folder)
        for leftover in list(self.folder.glob("*.tmp")) + list(self.folder.glob("*.tmp.wal")):
            leftover.unlink(missing_ok=True)
        current = self._pointed()
        versions = sorted(self.folder.glob("company-*.duckdb"))
        keep = {current}
        older = [v for v in versions if current is None or v.name < current.name]
        if older:
            keep.add(older[-1])  # the previous version, for readers that just read the old pointer
        for old in versions:
            if old not in keep:
                old.unlink(missing_ok=True)
                Path(str(old) + ".wal").unlink(missing_ok=True)

    def write(self, change: Callable[[duckdb.DuckDBPyConnection], Any], *, fresh: bool = False) -> Any:
        """Apply change(con) to a new version and swap it in; on any error nothing changes.

        fresh=True starts from empty tables instead of a copy of the current data.
        """
        with self.lock():
            current = self.path()
            stamp = datetime.now().strftime("%Y%m%dT%H%M%S%f")
            new = self.folder / f"company-{stamp}.duckdb"
            tmp = new.with_suffix(".tmp")
            try:
                if current is not None and not fresh:
                    shutil.copyfile(current, tmp)
                con = duckdb.connect(str(tmp))
                try:
                    ensure_tables(con)
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
            self._remove_leftovers(locked=True)  # keeps the new and the previous version
            return result

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


class ScopedStore(Store):
    """A read-only view of a dataset for a user with regions: reads a copy holding only those regions' data.

    The copy of version company-X.duckdb is .scopes/<key>/company-X.<key>.duckdb, built on first use (about 0.2 s
    for the sample company) and replaced when a write makes a new version; caches keyed by path() or version()
    therefore never mix a scoped store's answers with the whole dataset's."""

    read_only = True

    def __init__(self, folder: Path | str, regions: Iterable[str] | None):
        super().__init__(folder)
        self.regions = None if regions is None else tuple(sorted({str(r).strip() for r in regions if str(r).strip()}))

    def scoped(self, regions: Iterable[str] | None) -> Store:
        """Narrower still: the regions of both scopes."""
        if regions is None:
            return self
        wanted = set(regions)
        return ScopedStore(self.folder, wanted if self.regions is None else wanted & set(self.regions))

    @property
    def key(self) -> str:
        return hashlib.sha1("\n".join(self.regions or ()).encode("utf-8")).hexdigest()[:12]

    def scope_label(self, region: str | None = None) -> str:
        """The named region, else the user's own regions (华东、华南): a manager's plan never says 全国."""
        if region or self.regions is None:
            return super().scope_label(region)
        return self.describe_scope()

    def describe_scope(self) -> str:
        """全部区域 or 华东、华南, as the refusal below and the UI say it."""
        return "全部区域" if self.regions is None else "、".join(self.regions) or "（没有区域）"

    def path(self) -> Path | None:
        if self._pinned(self._pinned_path):
            return self._pinned_path
        for attempt in range(3):
            whole = super().path()
            if whole is None or self.regions is None:
                return whole
            target = self.folder / SCOPES / self.key / f"{whole.stem}.{self.key}.duckdb"
            if target.exists():
                return target
            try:
                self._build(whole, target)
                return target
            except (duckdb.IOException, FileNotFoundError):
                if attempt == 2:
                    raise
                # A write swapped versions while the copy was being made: copy the version now current.
        return None

    def _build(self, whole: Path, target: Path) -> None:
        with _SCOPE_BUILD_LOCK:
            if target.exists():
                return
            target.parent.mkdir(parents=True, exist_ok=True)
            (target.parent / "scope.json").write_text(
                json.dumps({"regions": list(self.regions or ())}, ensure_ascii=False), encoding="utf-8"
            )
            tmp = target.with_name(f"{target.name}.{uuid.uuid4().hex[:8]}.tmp")
            con = duckdb.connect(str(tmp))
            try:
                copy_scoped(con, whole, self.regions or ())
            except BaseException:
                con.close()
                tmp.unlink(missing_ok=True)
                Path(str(tmp) + ".wal").unlink(missing_ok=True)
                raise
            con.close()
            os.replace(tmp, target)
            self._remove_stale_copies(target.parent)

    def _remove_stale_copies(self, scope_dir: Path) -> None:
        """Copies of versions the folder no longer holds, and temporary files of copies that died long ago."""
        for scoped_copy in scope_dir.glob("*.duckdb"):
            if not (self.folder / (scoped_copy.name.split(".")[0] + ".duckdb")).exists():
                scoped_copy.unlink(missing_ok=True)
                Path(str(scoped_copy) + ".wal").unlink(missing_ok=True)
        for tmp in scope_dir.glob("*.tmp"):
            try:
                if time.time() - tmp.stat().st_mtime > _STALE_TMP_S:
                    tmp.unlink(missing_ok=True)
            except FileNotFoundError:
                pass

    # ---- writing is refused -----------------------------------------------------------------
    def _refuse(self) -> StoreError:
        return StoreError(
            f"您的账号只能查看{self.describe_scope()}的数据（只读），不能导入、替换或修改公司数据。"
            "需要导入或修改时，请联系管理员操作。"
        )

    def write(self, change: Callable[[duckdb.DuckDBPyConnection], Any], *, fresh: bool = False) -> Any:
        raise self._refuse()

    def replace_all(self, tables: dict[str, pd.DataFrame], meta: dict[str, Any] | None = None) -> None:
        raise self._refuse()

    def save_profile(self, profile: Profile) -> None:
        raise self._refuse()


# The sample's manifest names the planted anomalies of every region; a scoped copy leaves it out.
SCOPED_META_DROPPED = ("manifest",)


def copy_scoped(con: duckdb.DuckDBPyConnection, whole: Path, regions: Iterable[str]) -> None:
    """Fill the empty database `con` with the part of version `whole` that `regions` may see.

    partners: those whose region is one of `regions`; every table with a partner_id column: the rows of those
    partners (costs booked to a region without a partner: the rows of those regions); _meta without the sample's
    manifest; every other table (products, the import log) whole."""
    source = str(whole).replace("'", "''")
    con.execute(f"ATTACH '{source}' AS whole (READ_ONLY)")
    try:
        con.execute("CREATE TEMP TABLE scope_regions (region VARCHAR)")
        con.executemany("INSERT INTO scope_regions VALUES (?)", [[r] for r in regions])
        tables = [
            r[0]
            for r in con.execute(
                "SELECT table_name FROM duckdb_tables() WHERE database_name = 'whole' AND schema_name = 'main' "
                "ORDER BY table_name = 'partners' DESC, table_name"
            ).fetchall()
        ]
        for table in tables:
            columns = {
                r[0]
                for r in con.execute(
                    "SELECT column_name FROM duckdb_columns() WHERE database_name = 'whole' AND table_name = ?",
                    [table],
                ).fetchall()
            }
            if table == "partners":
                where = "region IN (SELECT region FROM scope_regions)"
            elif "partner_id" in columns:
                where = "partner_id IN (SELECT partner_id FROM main.partners)"
                if "region" in columns:
                    where += " OR (partner_id IS NULL AND region IN (SELECT region FROM scope_regions))"
            elif table == META_TABLE:
                where = "key NOT IN (" + ", ".join(f"'{k}'" for k in SCOPED_META_DROPPED) + ")"
            else:
                where = "TRUE"
            con.execute(f'CREATE TABLE main."{table}" AS SELECT * FROM whole.main."{table}" WHERE {where}')
    finally:
        con.execute("DETACH whole")
    con.execute("CHECKPOINT")


def ensure_tables(con: duckdb.DuckDBPyConnection) -> None:
    for table in TABLES.values():
        con.execute(create_table_sql(table))
    con.execute(f'CREATE TABLE IF NOT EXISTS "{META_TABLE}" (key VARCHAR PRIMARY KEY, value VARCHAR)')
    con.execute(
        f'CREATE TABLE IF NOT EXISTS "{IMPORT_LOG}" (imported_at TIMESTAMP, file VARCHAR, "table" VARCHAR, '
        "inserted BIGINT, replaced BIGINT, created_partners BIGINT, skipped BIGINT)"
    )


def set_meta(con: duckdb.DuckDBPyConnection, key: str, value: Any) -> None:
    con.execute(f'INSERT OR REPLACE INTO "{META_TABLE}" VALUES (?, ?)', [key, json.dumps(value, ensure_ascii=False)])


def get_meta(con: duckdb.DuckDBPyConnection, key: str, default: Any = None) -> Any:
    row = con.execute(f'SELECT value FROM "{META_TABLE}" WHERE key = ?', [key]).fetchone()
    return default if row is None else json.loads(row[0])
