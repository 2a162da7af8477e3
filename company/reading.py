"""Reading an uploaded CSV/XLSX file into a DuckDB staging table of text cells, whatever its encoding.

The file is checked (size, emptiness, format), its encoding detected (UTF-8 with or without BOM,
GB18030/GBK, Windows-1252), transcoded to UTF-8 on disk when needed, and loaded by DuckDB's CSV
reader as text: "NA" stays "NA", blanks become NULL. The staging database lives in a temporary file
that the import plan owns and removes.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import shutil
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import charset_normalizer
import duckdb
import pandas as pd

from company.errors import DataFileError

TEXT_SUFFIXES = {".csv", ".txt", ".tsv"}
EXCEL_SUFFIXES = {".xlsx", ".xlsm"}
ENCODING_LABELS = {
    "utf_8": "utf-8",
    "utf-8": "utf-8",
    "utf_8_sig": "utf-8-sig",
    "gb18030": "GB18030",
    "gbk": "GB18030",
    "gb2312": "GB18030",
    "cp1252": "cp1252",
    "cp936": "GB18030",
}
CHUNK = 16 * 1024 * 1024
STAGING_MAX_AGE_S = 6 * 3600


def staging_root() -> Path:
    folder = Path(tempfile.gettempdir()) / "canmou-staging"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _clean_staging(folder: Path) -> None:
    """Staging files of imports that were abandoned (a closed browser tab, a killed process)."""
    cutoff = time.time() - STAGING_MAX_AGE_S
    for item in folder.iterdir():
        try:
            if item.stat().st_mtime < cutoff:
                shutil.rmtree(item, ignore_errors=True) if item.is_dir() else item.unlink(missing_ok=True)
        except OSError:
            continue


@dataclass
class RawFile:
    """A file read into table `raw` of a staging database: columns c0..cN (text) and _row (sheet row)."""

    name: str
    kind: str  # csv | xlsx
    encoding: str
    delimiter: str | None
    headers: list[str]
    rows: int
    folder: Path
    con: duckdb.DuckDBPyConnection
    notes: list[str] = field(default_factory=list)

    @property
    def database(self) -> Path:
        return self.folder / "staging.duckdb"

    def column(self, header: str) -> str:
        return f"c{self.headers.index(header)}"

    def frame(self, limit: int | None = None) -> pd.DataFrame:
        """The cells as text (missing = <NA>), with the file's own headers."""
        cols = ", ".join(f'"c{i}"' for i in range(len(self.headers)))
        sql = f"SELECT {cols} FROM raw ORDER BY _row" + (f" LIMIT {int(limit)}" if limit else "")
        frame = self.con.execute(sql).df()
        frame.columns = self.headers
        return frame.astype("string")

    def close(self) -> None:
        try:
            self.con.close()
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)


def _too_big(name: str, size: int, max_mb: float) -> DataFileError:
    return DataFileError(
        f"文件 {name} 大小为 {size / 1024 / 1024:.1f} MB，超过上限 {max_mb:g} MB。"
        "请按月份或区域拆分后分批导入，或在设置中调高 CANMOU_MAX_UPLOAD_MB。"
    )


def read_source(source: Path | str | bytes, filename: str | None = None, max_mb: float = 200.0) -> RawFile:
    """Read a CSV/XLSX file (a path or the uploaded bytes) into a new staging database."""
    if isinstance(source, bytes):
        name = filename or "上传文件"
        if len(source) > max_mb * 1024 * 1024:
            raise _too_big(name, len(source), max_mb)
        path, data = None, source
    else:
        path = Path(source)
        name = filename or path.name
        if not path.exists():
            raise DataFileError(f"找不到文件 {path}，请检查路径。")
        size = path.stat().st_size
        if size > max_mb * 1024 * 1024:
            raise _too_big(name, size, max_mb)
        data = None
    suffix = Path(name).suffix.lower()
    if suffix == ".xls":
        raise DataFileError(f"{name} 是旧版 Excel（.xls）格式，请在 Excel/WPS 中另存为 .xlsx 或 CSV 后再导入。")
    if suffix not in EXCEL_SUFFIXES and suffix not in TEXT_SUFFIXES and suffix:
        raise DataFileError(f"不支持的文件类型 {suffix}：请导入 CSV（.csv/.txt）或 Excel（.xlsx）文件。")
    root = staging_root()
    _clean_staging(root)
    folder = root / f"{datetime.now():%Y%m%d%H%M%S}-{uuid.uuid4().hex[:8]}"
    folder.mkdir()
    try:
        con = duckdb.connect(str(folder / "staging.duckdb"))
        con.execute(f"SET temp_directory = '{folder / 'spill'}'")
        con.execute("SET memory_limit = '400MB'")
        con.execute("SET preserve_insertion_order = true")
        if suffix in EXCEL_SUFFIXES:
            raw = _read_excel(data if data is not None else path.read_bytes(), name, folder, con)
        else:
            raw = _read_csv(path, data, name, folder, con)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return raw


def read_file(
    source: Path | str | bytes, filename: str | None = None, max_mb: float = 200.0
) -> tuple[pd.DataFrame, str]:
    """The file's cells as a frame of text (missing = <NA>) and its encoding; for previews and tests."""
    raw = read_source(source, filename, max_mb)
    try:
        return raw.frame(), raw.encoding
    finally:
        raw.close()


# ---- CSV ------------------------------------------------------------------------------------------
def detect_encoding(data: bytes, *, partial: bool = False) -> str:
    """utf-8 (with or without BOM), GB18030/GBK or cp1252; raises DataFileError if none fits.

    partial: data is the head of a longer file, so a multi-byte character may be cut at its end."""
    if data.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    try:
        codecs.getincrementaldecoder("utf-8")().decode(data, final=not partial)
        return "utf-8"
    except UnicodeDecodeError:
        return legacy_encoding(data)


def legacy_encoding(sample: bytes) -> str:
    """GB18030 or cp1252, by charset detection on a sample holding non-UTF-8 bytes."""
    best = charset_normalizer.from_bytes(sample[: 2 * 1024 * 1024], cp_isolation=["gb18030", "cp1252"]).best()
    if best is None:
        raise DataFileError(
            "无法识别文件编码：文件不是 UTF-8、GBK/GB18030 或 Windows-1252 编码的文本，可能已损坏或不是表格文件。"
            "请用 Excel 或 WPS 打开后「另存为」CSV UTF-8 或 XLSX 再导入。"
        )
    return ENCODING_LABELS.get(best.encoding, best.encoding)


def _first_invalid_utf8(handle) -> int | None:
    """Offset of the first byte that is not UTF-8, or None when the whole stream decodes."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset = 0
    try:
        while chunk := handle.read(CHUNK):
            decoder.decode(chunk)
            offset += len(chunk)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError as exc:
        return offset + max(exc.start, 0)
    return None


def _sniff_delimiter(head: str) -> str:
    sample = "\n".join(head.splitlines()[:20])
    try:
        return csv.Sniffer().sniff(sample, delimiters=",\t;|").delimiter
    except csv.Error:
        return ","


def _read_csv(path: Path | None, data: bytes | None, name: str, folder: Path, con) -> RawFile:
    if data is not None:
        head_bytes = data[: 2 * 1024 * 1024]
        total = len(data)
    else:
        with open(path, "rb") as handle:
            head_bytes = handle.read(2 * 1024 * 1024)
        total = path.stat().st_size
    if not head_bytes.strip():
        raise DataFileError(f"文件 {name} 是空的，没有任何内容。请确认导出时选择了数据范围。")
    encoding = detect_encoding(head_bytes, partial=total > len(head_bytes))
    if encoding in ("utf-8", "utf-8-sig") and total > len(head_bytes):
        stream = io.BytesIO(data) if data is not None else open(path, "rb")
        with stream:
            bad = _first_invalid_utf8(stream)
            if bad is not None:  # UTF-8 at the top, something else further down: detect on that part
                stream.seek(max(bad - 1024 * 1024, 0))
                encoding = legacy_encoding(stream.read(2 * 1024 * 1024))
    utf8 = folder / "source.csv"
    # Old Mac exports end lines in a bare \r (Tableau's Superstore sample, with one \r\n at the very end): DuckDB
    # reads one kind of line ending per file, so such a file is rewritten with \n. Their text, when it is not
    # UTF-8, is Mac Roman: read as Windows-1252, Häberlin came out as HŠberlin and a no-break space as Ê.
    bare_cr = re.search(rb"\r(?!\n)", head_bytes.rstrip(b"\r")) is not None
    if bare_cr and encoding == "cp1252":
        encoding = "mac_roman"
    if bare_cr:
        _transcode(path, data, encoding, utf8, newlines=True)
    elif encoding in ("utf-8", "utf-8-sig"):
        if data is not None:
            utf8.write_bytes(data)
        else:
            utf8 = path  # DuckDB reads the user's file directly; nothing to copy
    else:
        _transcode(path, data, encoding, utf8)
    head_text = head_bytes.decode("utf-8" if encoding.startswith("utf-8") else encoding, errors="replace")
    head_text = head_text.lstrip("\ufeff")
    if not head_text.strip():
        raise DataFileError(f"文件 {name} 是空的，没有任何内容。")
    delimiter = _sniff_delimiter(head_text)
    # newline=None: lines may end in \r\n, \n or a bare \r (old Mac exports, e.g. Tableau's Superstore sample)
    header_line = next(csv.reader(io.StringIO(head_text, newline=None), delimiter=delimiter), [])
    headers = _headers(header_line, name)
    columns = "{" + ", ".join(f"'c{i}': 'VARCHAR'" for i in range(len(headers))) + "}"
    cols = [f"c{i}" for i in range(len(headers))]
    cleaned = ", ".join(f"nullif(trim({c}), '') AS {c}" for c in cols)
    try:
        # Cells are trimmed and blanks become NULL while reading; rows that are entirely blank are dropped.
        con.execute(
            f"CREATE TABLE raw AS SELECT {cleaned} "
            f"FROM read_csv(?, header=true, auto_detect=false, all_varchar=true, delim=?, quote='\"', escape='\"', "
            f"columns={columns}, null_padding=true, strict_mode=true) "
            f"WHERE NOT ({' AND '.join(f'nullif(trim({c}), {chr(39) * 2}) IS NULL' for c in cols)})",
            [str(utf8), delimiter],
        )
        # The sheet row of each line (header = row 1), from the insertion order: cheaper than a window function.
        con.execute("ALTER TABLE raw ADD COLUMN _row BIGINT")
        con.execute("UPDATE raw SET _row = rowid + 2")
    except duckdb.Error as exc:
        match = re.search(r"Line: (\d+)", str(exc))
        line = match.group(1) if match else "?"
        if "Expected Number of Columns" in str(exc):
            raise DataFileError(
                f"{name} 第{line}行的列数多于表头（可能有未加引号的逗号）。请检查该行后重新导出。"
            ) from None
        raise DataFileError(
            f"{name} 第{line}行无法按 CSV 读取（{str(exc).splitlines()[0]}）。请检查该行后重新导出。"
        ) from None
    return _finish(con, name, "csv", encoding, delimiter, headers, folder, cleaned=True)


def _transcode(path: Path | None, data: bytes | None, encoding: str, target: Path, newlines: bool = False) -> None:
    """The file as UTF-8 in target; newlines: every line ending (\r\n, \r) becomes \n."""
    decoder = codecs.getincrementaldecoder("gb18030" if encoding == "GB18030" else encoding)(errors="strict")
    source = io.BytesIO(data) if data is not None else open(path, "rb")
    held = ""  # a \r at the end of a chunk waits for the next one: it may be half of \r\n

    def lines(text: str, final: bool = False) -> str:
        nonlocal held
        if not newlines:
            return text
        text = held + text
        held = "" if final or not text.endswith("\r") else "\r"
        text = text[: len(text) - len(held)]
        return text.replace("\r\n", "\n").replace("\r", "\n")

    try:
        with source, open(target, "w", encoding="utf-8", newline="") as out:
            while chunk := source.read(CHUNK):
                out.write(lines(decoder.decode(chunk)))
            out.write(lines(decoder.decode(b"", final=True), final=True))
    except UnicodeDecodeError as exc:
        raise DataFileError(
            f"文件里有不属于 {encoding} 编码的字节（位置 {exc.start}）。请用 Excel 或 WPS 打开后「另存为」"
            "CSV UTF-8 或 XLSX 再导入。"
        ) from None


def _headers(cells: list[Any], name: str) -> list[str]:
    headers = [str(c).strip().lstrip("\ufeff") if c is not None else "" for c in cells]
    if not headers or all(not h or h.startswith("Unnamed:") for h in headers):
        raise DataFileError(f"文件 {name} 没有表头行：第一行应当是列名（如 伙伴编号、日期、数量）。")
    out, seen = [], {}
    for i, header in enumerate(headers):
        text = header or f"列{i + 1}"
        if text in seen:
            seen[text] += 1
            text = f"{text}.{seen[text]}"
        else:
            seen[text] = 0
        out.append(text)
    return out


def _finish(con, name, kind, encoding, delimiter, headers, folder, cleaned: bool = False) -> RawFile:
    """Trim cells, turn blanks into NULL, drop rows that are entirely blank (unless done while reading)."""
    cols = [f"c{i}" for i in range(len(headers))]
    if not cleaned:
        trimmed = ", ".join(f"nullif(trim({c}), '') AS {c}" for c in cols)
        con.execute(f"CREATE OR REPLACE TABLE raw AS SELECT _row, {trimmed} FROM raw")
        if cols:
            con.execute(f"DELETE FROM raw WHERE {' AND '.join(f'{c} IS NULL' for c in cols)}")
    rows = con.execute("SELECT count(*) FROM raw").fetchone()[0]
    if rows == 0:
        raise DataFileError(f"文件 {name} 只有表头，没有数据行。请确认导出时包含了数据。")
    return RawFile(name, kind, encoding, delimiter, headers, int(rows), folder, con)


# ---- XLSX -------------------------------------------------------------------------------------------
def _read_excel(data: bytes, name: str, folder: Path, con) -> RawFile:
    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for a damaged workbook
        raise DataFileError(f"无法打开 Excel 文件 {name}：{exc}。请确认它是 .xlsx 格式且没有加密。") from None
    try:
        sheet = book.worksheets[0]
        rows = sheet.iter_rows(values_only=True)
        first = next(rows, None)
        if first is None:
            raise DataFileError(f"文件 {name} 是空的，没有任何内容。")
        headers = _headers(list(first), name)
        width = len(headers)
        body = [[_excel_cell_text(v) for v in (list(r) + [None] * width)[:width]] for r in rows]
    finally:
        book.close()
    frame = pd.DataFrame(body, columns=[f"c{i}" for i in range(width)], dtype="string")
    frame.insert(0, "_row", pd.Series(range(2, len(frame) + 2), dtype="int64"))
    con.register("_sheet", frame)
    con.execute("CREATE TABLE raw AS SELECT * FROM _sheet")
    con.unregister("_sheet")
    return _finish(con, name, "xlsx", "xlsx", None, headers, folder)


def _excel_cell_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return (
            value.strftime("%Y-%m-%d")
            if value == value.replace(hour=0, minute=0, second=0, microsecond=0)
            else value.isoformat(sep=" ")
        )
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
