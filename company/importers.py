"""CSV/XLSX import: read any common encoding, map columns by synonyms, validate, then load atomically.

Reading keeps every cell as text ("NA" stays "NA"); validation turns text into typed values
and lists each problem with file, row, column and a Chinese message; only a clean plan
(or one whose bad rows the user asked to skip) is written, in one swap of the store.
"""

from __future__ import annotations

import csv
import io
import json
import re
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import charset_normalizer
import pandas as pd

from company.errors import DataFileError, ImportRejected
from company.schema import PARTNER_FK_TABLES, TABLES, Column, Table
from company.store import Store, insert_frame, upsert

TEXT_SUFFIXES = {".csv", ".txt", ".tsv"}
EXCEL_SUFFIXES = {".xlsx", ".xlsm"}
ENCODING_LABELS = {
    "utf_8": "utf-8",
    "utf-8": "utf-8",
    "utf_8_sig": "utf-8-sig",
    "gb18030": "GB18030",
    "cp1252": "cp1252",
}
MAX_PROBLEMS_IN_MESSAGE = 5

Progress = Callable[[float, str], None]


# ---- report -------------------------------------------------------------------------------
@dataclass
class Problem:
    file: str
    row: int | None  # the row number a spreadsheet shows: header is row 1, first data row is 2
    column: str | None
    message: str
    severity: Literal["error", "warning"] = "error"

    def __str__(self) -> str:
        where = [self.file]
        if self.row is not None:
            where.append(f"第{self.row}行")
        if self.column:
            where.append(f"列「{self.column}」")
        return f"{' '.join(where)}：{self.message}"


@dataclass
class ImportReport:
    file: str
    table: str | None = None
    encoding: str | None = None
    rows_read: int = 0
    rows_valid: int = 0
    rows_skipped: int = 0
    mapping: dict[str, str] = field(default_factory=dict)
    ignored_columns: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    created_partners: list[dict[str, Any]] = field(default_factory=list)
    created_products: list[str] = field(default_factory=list)
    inserted: int = 0
    replaced: int = 0
    committed: bool = False

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["table_zh"] = TABLES[self.table].zh if self.table in TABLES else None
        return out

    def summary(self) -> str:
        name = TABLES[self.table].zh if self.table in TABLES else "未知"
        if self.committed:
            text = (
                f"已导入 {self.file} → {name}（{self.table}）：新增 {self.inserted - self.replaced} 行，"
                f"更新 {self.replaced} 行"
            )
        else:
            text = f"{self.file} → {name}（{self.table}）：读取 {self.rows_read} 行，有效 {self.rows_valid} 行"
        if self.rows_skipped:
            text += f"，跳过 {self.rows_skipped} 行有问题的数据"
        if self.created_partners:
            text += f"，新建伙伴 {len(self.created_partners)} 个"
        if self.created_products:
            text += f"，新建产品 {len(self.created_products)} 个"
        return text + "。"


@dataclass
class ImportPlan:
    """A validated import, not yet written: typed frames per table plus the report."""

    report: ImportReport
    frames: dict[str, pd.DataFrame]
    replace_table: bool = False


def _reject(report: ImportReport, headline: str) -> ImportRejected:
    errors = report.errors
    shown = "\n".join(f"- {p}" for p in errors[:MAX_PROBLEMS_IN_MESSAGE])
    more = (
        f"\n- ……另有 {len(errors) - MAX_PROBLEMS_IN_MESSAGE} 个问题，见完整报告。"
        if len(errors) > MAX_PROBLEMS_IN_MESSAGE
        else ""
    )
    # Blank lines keep the closing sentence out of the bullet list when shown as Markdown.
    tail = "\n\n没有写入任何数据，原有数据保持不变。改正后重新导入，或选择「跳过有问题的行」。"
    return ImportRejected(f"{headline}\n\n{shown}{more}{tail}", report)


# ---- reading ------------------------------------------------------------------------------
def detect_encoding(data: bytes) -> str:
    """utf-8 (with or without BOM), GB18030/GBK or cp1252; raises DataFileError if none fits."""
    if data.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    try:
        data.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        pass
    best = charset_normalizer.from_bytes(data, cp_isolation=["gb18030", "cp1252"]).best()
    if best is None:
        raise DataFileError(
            "无法识别文件编码：文件不是 UTF-8、GBK/GB18030 或 Windows-1252 编码的文本，可能已损坏或不是表格文件。"
            "请用 Excel 或 WPS 打开后「另存为」CSV UTF-8 或 XLSX 再导入。"
        )
    return ENCODING_LABELS.get(best.encoding, best.encoding)


def _sniff_delimiter(text: str) -> str:
    head = "\n".join(text.splitlines()[:20])
    try:
        return csv.Sniffer().sniff(head, delimiters=",\t;|").delimiter
    except csv.Error:
        return ","


def read_file(
    source: Path | str | bytes, filename: str | None = None, max_mb: float = 200.0
) -> tuple[pd.DataFrame, str]:
    """Read a CSV/XLSX file into a frame of text cells (missing = <NA>); returns (frame, encoding)."""
    if isinstance(source, bytes):
        data = source
        name = filename or "上传文件"
    else:
        path = Path(source)
        name = filename or path.name
        if not path.exists():
            raise DataFileError(f"找不到文件 {path}，请检查路径。")
        size = path.stat().st_size
        if size > max_mb * 1024 * 1024:
            raise DataFileError(
                f"文件 {name} 大小为 {size / 1024 / 1024:.1f} MB，超过上限 {max_mb:g} MB。"
                "请按月份或区域拆分后分批导入，或在设置中调高 CANMOU_MAX_UPLOAD_MB。"
            )
        data = path.read_bytes()
    if len(data) > max_mb * 1024 * 1024:
        raise DataFileError(
            f"文件 {name} 大小为 {len(data) / 1024 / 1024:.1f} MB，超过上限 {max_mb:g} MB。"
            "请按月份或区域拆分后分批导入，或在设置中调高 CANMOU_MAX_UPLOAD_MB。"
        )
    suffix = Path(name).suffix.lower()
    if not data.strip():
        raise DataFileError(f"文件 {name} 是空的，没有任何内容。请确认导出时选择了数据范围。")
    if suffix in EXCEL_SUFFIXES:
        frame, encoding = _read_excel(data, name), "xlsx"
    elif suffix in TEXT_SUFFIXES or not suffix:
        encoding = detect_encoding(data)
        text = data.decode(encoding)
        frame = _read_csv_text(text, name)
    elif suffix == ".xls":
        raise DataFileError(f"{name} 是旧版 Excel（.xls）格式，请在 Excel/WPS 中另存为 .xlsx 或 CSV 后再导入。")
    else:
        raise DataFileError(f"不支持的文件类型 {suffix}：请导入 CSV（.csv/.txt）或 Excel（.xlsx）文件。")
    frame.columns = [str(c).strip() for c in frame.columns]
    if frame.empty:
        raise DataFileError(f"文件 {name} 只有表头，没有数据行。请确认导出时包含了数据。")
    return frame, encoding


def _clean_cells(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.astype("string")
    for col in frame.columns:
        frame[col] = frame[col].str.strip().replace("", pd.NA)
    return frame.dropna(how="all").reset_index(drop=True) if len(frame) else frame


def _read_csv_text(text: str, name: str) -> pd.DataFrame:
    if not text.strip():
        raise DataFileError(f"文件 {name} 是空的，没有任何内容。")
    sep = _sniff_delimiter(text)
    try:
        with warnings.catch_warnings():
            # index_col=False makes pandas warn (not fail) when the first data row is too long.
            warnings.simplefilter("error", pd.errors.ParserWarning)
            frame = pd.read_csv(
                io.StringIO(text),
                sep=sep,
                dtype=str,
                keep_default_na=False,
                na_values=[],
                skip_blank_lines=True,
                index_col=False,
            )
    except (pd.errors.ParserError, pd.errors.ParserWarning) as exc:
        match = re.search(r"line (\d+)", str(exc))
        line = int(match.group(1)) if match else _first_long_line(text, sep)
        raise DataFileError(f"{name} 第{line}行的列数多于表头（可能有未加引号的逗号）。请检查该行后重新导出。") from exc
    except pd.errors.EmptyDataError as exc:
        raise DataFileError(f"文件 {name} 是空的，没有任何内容。") from exc
    _check_header(frame, name)
    return _clean_cells(frame)


def _first_long_line(text: str, sep: str) -> int:
    rows = csv.reader(io.StringIO(text), delimiter=sep)
    width = len(next(rows))
    for number, row in enumerate(rows, start=2):
        if len(row) > width:
            return number
    return 2


def _read_excel(data: bytes, name: str) -> pd.DataFrame:
    try:
        frame = pd.read_excel(
            io.BytesIO(data), sheet_name=0, dtype=object, keep_default_na=False, na_values=[], engine="openpyxl"
        )
    except Exception as exc:  # openpyxl raises many types for a damaged workbook
        raise DataFileError(f"无法打开 Excel 文件 {name}：{exc}。请确认它是 .xlsx 格式且没有加密。") from exc
    _check_header(frame, name)
    for col in frame.columns:
        frame[col] = frame[col].map(_excel_cell_text)
    return _clean_cells(frame)


def _excel_cell_text(value: Any) -> str:
    if isinstance(value, datetime):
        return (
            value.strftime("%Y-%m-%d")
            if value == value.replace(hour=0, minute=0, second=0, microsecond=0)
            else value.isoformat(sep=" ")
        )
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return "" if value is None else str(value)


def _check_header(frame: pd.DataFrame, name: str) -> None:
    unnamed = [c for c in frame.columns if str(c).startswith("Unnamed:") or not str(c).strip()]
    if len(unnamed) == len(frame.columns):
        raise DataFileError(f"文件 {name} 没有表头行：第一行应当是列名（如 伙伴编号、日期、数量）。")


# ---- column mapping -------------------------------------------------------------------------
def normalise_header(text: str) -> str:
    text = str(text).strip().lower()
    text = re.sub(r"[（(【\[].*?[）)】\]]", "", text)  # units such as 销售额(元)
    return re.sub(r"[\s_\-./:：]+", "", text)


def _header_index(table: Table) -> dict[str, str]:
    index: dict[str, str] = {}
    for rank in range(3):  # field name beats Chinese name beats synonyms
        for col in table.columns:
            names = [col.name] if rank == 0 else [col.zh] if rank == 1 else list(col.synonyms)
            for n in names:
                index.setdefault(normalise_header(n), col.name)
    return index


def map_columns(
    headers: list[str], table: Table, override: dict[str, str] | None = None
) -> tuple[dict[str, str], list[str]]:
    """Return ({source header: field}, ignored headers). Override maps source header -> field name."""
    override = override or {}
    index = _header_index(table)
    mapping: dict[str, str] = {}
    taken: set[str] = set()
    for header in headers:
        if header in override:
            target = override[header]
            if target in (None, "", "-", "忽略"):
                continue
            mapping[header] = target
            taken.add(target)
    for header in headers:
        if header in mapping or header in override:
            continue
        target = index.get(normalise_header(header))
        if target and target not in taken:
            mapping[header] = target
            taken.add(target)
    ignored = [h for h in headers if h not in mapping]
    return mapping, ignored


def _missing_required(table: Table, fields: set[str]) -> list[str]:
    missing = [c.name for c in table.columns if c.required and c.name not in fields]
    for group in table.one_of:
        if not fields.intersection(group):
            missing.append("/".join(group))
    return missing


def guess_table(headers: list[str], override: dict[str, str] | None = None) -> str | None:
    """The table whose required columns are all present and that recognises most headers.

    When no table is complete, the one recognising at least two headers (most wins) is
    returned, so that the report can name the required columns that are missing.
    """
    complete, complete_score, closest, closest_score = None, 0.0, None, 1
    for table in TABLES.values():
        mapping, _ = map_columns(headers, table, override)
        if len(mapping) > closest_score:
            closest, closest_score = table.name, len(mapping)
        if _missing_required(table, set(mapping.values())):
            continue
        score = len(mapping) + len([c for c in table.columns if c.required]) * 0.5
        if score > complete_score:
            complete, complete_score = table.name, score
    return complete or closest


def _field_label(table: Table, name: str) -> str:
    if "/" in name:
        return " 或 ".join(_field_label(table, n) for n in name.split("/"))
    col = table.column(name)
    return f"「{col.zh}」({col.name})"


# ---- value parsing --------------------------------------------------------------------------
DATE_FORMATS = (
    "%Y-%m-%d",
    "%Y/%m/%d",
    "%Y-%m-%d %H:%M:%S",
    "%Y/%m/%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y/%m/%d %H:%M",
    "%Y-%m-%dT%H:%M:%S",
    "%m/%d/%Y %H:%M",
    "%m/%d/%Y %H:%M:%S",
    "%m/%d/%Y",
    "%d/%m/%Y",
    "%d/%m/%Y %H:%M",
    "%Y年%m月%d日",
    "%Y.%m.%d",
    "%Y%m%d",
)
MONTH_FORMATS = ("%Y-%m", "%Y/%m", "%Y年%m月", "%Y%m", "%Y.%m")
QUARTER_RE = re.compile(r"^(\d{4})\s*[-年/]?\s*(?:q|第)?\s*([1-4])\s*(?:季度|季|q)?$", re.IGNORECASE)
QUARTER_RE_REV = re.compile(r"^q([1-4])\s*[-/ ]?\s*(\d{4})$", re.IGNORECASE)
EXCEL_SERIAL_RE = re.compile(r"^\d{4,5}(\.\d+)?$")


def parse_dates(values: pd.Series, month: bool = False) -> pd.Series:
    """Text -> datetime64 (NaT where unparseable); Excel serial numbers included."""
    out = pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns]")
    text = values.astype("string")
    formats = (MONTH_FORMATS + DATE_FORMATS) if month else DATE_FORMATS
    for fmt in formats:
        todo = out.isna() & text.notna()
        if not todo.any():
            break
        parsed = pd.to_datetime(text[todo], format=fmt, errors="coerce")
        out.loc[todo] = parsed
    todo = out.isna() & text.notna() & text.str.fullmatch(EXCEL_SERIAL_RE.pattern).fillna(False)
    if todo.any():
        serial = pd.to_numeric(text[todo], errors="coerce")
        ok = serial.between(20000, 80000)  # 1954 .. 2119: anything else is not a date
        out.loc[serial[ok].index] = pd.to_datetime(serial[ok], unit="D", origin="1899-12-30")
    out = out.dt.normalize()
    if month:
        out = out.dt.to_period("M").dt.to_timestamp()
    return out


def parse_quarter(value: str) -> str | None:
    text = str(value).strip()
    match = QUARTER_RE.match(text)
    if match:
        return f"{match.group(1)}Q{match.group(2)}"
    match = QUARTER_RE_REV.match(text)
    if match:
        return f"{match.group(2)}Q{match.group(1)}"
    return None


def parse_numbers(values: pd.Series) -> pd.Series:
    """'1,234.5', '¥2,000', '3 500 元', '85%' -> floats (NaN where not a number)."""
    text = values.astype("string").str.replace(r"[,，¥￥$€\s]|元|件|箱", "", regex=True)
    percent = text.str.endswith("%").fillna(False)
    text = text.str.rstrip("%")
    numbers = pd.to_numeric(text, errors="coerce").astype("float64")
    numbers[percent] = numbers[percent] / 100
    return numbers


# ---- validation -----------------------------------------------------------------------------
class _Checker:
    """Collects problems and the set of bad row positions while columns are converted."""

    def __init__(self, report: ImportReport, table: Table, source_of: dict[str, str]):
        self.report, self.table, self.source_of = report, table, source_of
        self.bad: set[int] = set()

    def flag(self, mask: pd.Series, field_name: str, message: Callable[[Any], str], raw: pd.Series) -> None:
        for pos in mask[mask].index:
            self.bad.add(int(pos))
            self.report.problems.append(
                Problem(
                    self.report.file, int(pos) + 2, self.source_of.get(field_name, field_name), message(raw.loc[pos])
                )
            )


def _convert(frame: pd.DataFrame, table: Table, checker: _Checker) -> pd.DataFrame:
    out = pd.DataFrame(index=frame.index)
    for col in table.columns:
        if col.name not in frame.columns:
            continue
        raw = frame[col.name]
        present = raw.notna()
        if col.required:
            checker.flag(~present, col.name, lambda _v, c=col: f"「{c.zh}」是必填项，不能为空。", raw)
        out[col.name] = _convert_column(raw, present, col, checker)
    return out


def _convert_column(raw: pd.Series, present: pd.Series, col: Column, checker: _Checker) -> pd.Series:
    if col.kind in ("int", "float"):
        values = parse_numbers(raw)
        checker.flag(
            present & values.isna(),
            col.name,
            lambda v, c=col: f"值「{v}」不是数字，请只填阿拉伯数字（如 100000，可带千分位逗号）。",
            raw,
        )
        if col.non_negative:
            negative = values < 0
            hint = "；退货请作为单独的退货记录处理" if col.name == "quantity" else ""
            checker.flag(
                negative.fillna(False),
                col.name,
                lambda v, c=col, h=hint: f"不能为负数（当前值 {v}）{h}。",
                raw,
            )
        if col.kind == "int":
            fractional = values.notna() & (values % 1 != 0)
            checker.flag(fractional, col.name, lambda v, c=col: f"应为整数，当前值「{v}」。", raw)
            return values.round().astype("Int64")
        return values
    if col.kind in ("date", "month"):
        values = parse_dates(raw, month=col.kind == "month")
        example = "2025-03" if col.kind == "month" else "2025-03-01"
        checker.flag(
            present & values.isna(),
            col.name,
            lambda v, c=col, e=example: f"值「{v}」无法识别为日期，请使用 {e} 这样的格式。",
            raw,
        )
        return values
    if col.kind == "quarter":
        values = raw.map(lambda v: parse_quarter(v) if pd.notna(v) else pd.NA).astype("string")
        checker.flag(
            present & values.isna(),
            col.name,
            lambda v, c=col: f"值「{v}」无法识别为季度，请使用 2025Q1 这样的格式。",
            raw,
        )
        return values
    values = raw.astype("string")
    if col.choices:
        wrong = present & ~values.isin(col.choices)
        checker.flag(
            wrong.fillna(False),
            col.name,
            lambda v, c=col: f"值「{v}」不在允许范围内，只能是：{'、'.join(c.choices)}。",
            raw,
        )
    return values


def _check_duplicates(typed: pd.DataFrame, table: Table, checker: _Checker) -> None:
    keys = list(table.key)
    if not keys or not set(keys).issubset(typed.columns):
        return
    if table.name == "sales" and typed["order_id"].isna().all():
        return
    subset = typed[keys]
    dup = subset.duplicated(keep="first") & subset.notna().all(axis=1)
    if not dup.any():
        return
    first_row = {}
    for pos, key in subset.iterrows():
        first_row.setdefault(tuple(key), pos)
    label = "、".join(table.column(k).zh for k in keys)
    for pos in dup[dup].index:
        key = tuple(subset.loc[pos])
        checker.bad.add(int(pos))
        shown = "/".join(str(k) for k in key)
        checker.report.problems.append(
            Problem(
                checker.report.file,
                int(pos) + 2,
                checker.source_of.get(keys[0], keys[0]),
                f"与第{first_row[key] + 2}行重复：{label} = {shown}。同一{label}只能出现一次，请删除或合并重复行。",
            )
        )


# ---- planning ---------------------------------------------------------------------------------
def plan_import(
    raw: pd.DataFrame,
    filename: str,
    *,
    store: Store | None = None,
    table: str | None = None,
    mapping: dict[str, str] | None = None,
    skip_bad_rows: bool = False,
    encoding: str | None = None,
    replace_table: bool = False,
) -> ImportPlan:
    """Validate a read file against a table; raises ImportRejected (with the report) if it cannot be loaded."""
    report = ImportReport(file=filename, encoding=encoding, rows_read=len(raw))
    headers = list(raw.columns)
    if mapping:
        unknown_targets = set(mapping.values()) - {""} - {c for t in TABLES.values() for c in t.names}
        if unknown_targets:
            report.problems.append(
                Problem(filename, None, None, f"列映射中的目标字段不存在：{'、'.join(sorted(unknown_targets))}。")
            )
            raise _reject(report, "列映射有误。")
    if table is None:
        table = guess_table(headers, mapping)
        if table is None:
            report.problems.append(
                Problem(
                    filename,
                    1,
                    None,
                    f"无法判断这是哪类数据：文件的列（{'、'.join(headers[:12])}）与任何数据表都对不上。"
                    "请在导入时指定数据表（--table 或页面上的下拉框），并用列映射（--mapping）把列名对应到字段。",
                )
            )
            raise _reject(report, f"{filename} 的列无法识别。")
    if table not in TABLES:
        raise DataFileError(
            f"没有名为 {table} 的数据表；可选：{'、'.join(f'{t.name}（{t.zh}）' for t in TABLES.values())}。"
        )
    spec = TABLES[table]
    report.table = table
    col_map, ignored = map_columns(headers, spec, mapping)
    bad_targets = {src: dst for src, dst in col_map.items() if dst not in spec.names}
    if bad_targets:
        report.problems.append(
            Problem(
                filename,
                None,
                None,
                "列映射指向了不属于该表的字段："
                + "、".join(f"{s}→{d}" for s, d in bad_targets.items())
                + f"。{spec.zh}的字段有：{'、'.join(spec.names)}。",
            )
        )
        raise _reject(report, "列映射有误。")
    report.mapping, report.ignored_columns = col_map, ignored
    missing = _missing_required(spec, set(col_map.values()))
    if missing:
        for name in missing:
            options = "、".join([spec.column(n).zh for n in name.split("/")])
            report.problems.append(
                Problem(
                    filename,
                    1,
                    None,
                    f"缺少必填列{_field_label(spec, name)}。请在表头中加入该列（可用列名如：{options}），"
                    "或用列映射指定哪一列对应它。",
                )
            )
        raise _reject(report, f"{filename} 缺少{spec.zh}的必填列。")
    if ignored:
        report.problems.append(
            Problem(
                filename,
                1,
                None,
                f"以下列未识别，将被忽略：{'、'.join(ignored)}。如需导入，请用列映射指定对应字段。",
                "warning",
            )
        )

    renamed = raw[list(col_map)].rename(columns=col_map)
    checker = _Checker(report, spec, {v: k for k, v in col_map.items()})
    typed = _convert(renamed, spec, checker)
    _check_rows(typed, spec, checker)
    _check_duplicates(typed, spec, checker)

    frames: dict[str, pd.DataFrame] = {}
    known = _known_keys(store)
    if table == "sales":
        typed = _complete_sales(typed, checker)
    if table == "sales" or (table in PARTNER_FK_TABLES and "partner_id" in typed.columns):
        typed, created = _resolve_partners(typed, spec, checker, known)
        if not created.empty:
            frames["partners"] = created
            report.created_partners = (
                created[["partner_id", "name", "region"]]
                .astype(object)
                .where(created[["partner_id", "name", "region"]].notna(), None)
                .to_dict("records")
            )
    if table == "sales":
        new_skus = sorted(set(typed["sku"].dropna()) - known["products"])
        if new_skus:
            frames["products"] = pd.DataFrame({"sku": new_skus, "name": new_skus})
            report.created_products = new_skus
            report.problems.append(
                Problem(
                    filename,
                    None,
                    "sku",
                    f"产品表中没有这些编码，已按编码新建产品（价格与成本待补充）："
                    f"{'、'.join(new_skus[:10])}{' 等' if len(new_skus) > 10 else ''}。",
                    "warning",
                )
            )

    bad = sorted(checker.bad)
    if bad and not skip_bad_rows:
        raise _reject(report, f"{filename} 有 {len(report.errors)} 个问题，涉及 {len(bad)} 行。")
    if bad:
        report.rows_skipped = len(bad)
        for pos in bad:
            report.problems.append(Problem(filename, pos + 2, None, "该行有问题，已按要求跳过。", "warning"))
        typed = typed.drop(index=bad)
        if "partners" in frames:  # do not create partners that only skipped rows named
            used = set(typed["partner_id"].dropna())
            frames["partners"] = frames["partners"][frames["partners"]["partner_id"].isin(used)]
            report.created_partners = [p for p in report.created_partners if p["partner_id"] in used]
    if typed.empty:
        raise _reject(report, f"{filename} 没有可导入的有效行。")
    report.rows_valid = len(typed)
    frames[table] = typed.reset_index(drop=True)
    return ImportPlan(report, frames, replace_table)


def _check_rows(typed: pd.DataFrame, spec: Table, checker: _Checker) -> None:
    """Row-level rules that involve several columns."""
    for group in spec.one_of:
        cols = [c for c in group if c in typed.columns]
        if cols:
            empty = typed[cols].isna().all(axis=1)
            labels = " 或 ".join(f"「{spec.column(c).zh}」" for c in cols)
            checker.flag(empty, cols[0], lambda _v, lab=labels: f"{lab} 至少要填一个。", typed[cols[0]])
    if spec.name == "collections" and {"amount_due", "amount_collected"} <= set(typed.columns):
        over = (typed["amount_collected"] > typed["amount_due"] * 1.5 + 1).fillna(False)
        for pos in over[over].index:
            checker.report.problems.append(
                Problem(
                    checker.report.file,
                    int(pos) + 2,
                    checker.source_of.get("amount_collected"),
                    "实收金额远大于应收金额，请确认是否包含了预收款。",
                    "warning",
                )
            )
    if spec.name == "partners" and {"contract_start", "contract_end"} <= set(typed.columns):
        wrong = (typed["contract_end"] < typed["contract_start"]).fillna(False)
        checker.flag(
            wrong,
            "contract_end",
            lambda v: f"合同结束日期 {v} 早于开始日期，请检查。",
            typed["contract_end"].astype("string"),
        )


def _complete_sales(typed: pd.DataFrame, checker: _Checker) -> pd.DataFrame:
    """Fill revenue from quantity × price (or price from revenue ÷ quantity) where one is missing."""
    if "revenue" not in typed.columns and "unit_price" not in typed.columns:
        checker.report.problems.append(
            Problem(checker.report.file, 1, None, "缺少「销售额」和「成交单价」两列，至少需要其中一列。")
        )
        checker.bad.update(int(i) for i in typed.index)
        return typed
    for name in ("revenue", "unit_price"):
        if name not in typed.columns:
            typed[name] = pd.Series(float("nan"), index=typed.index, dtype="float64")
    revenue_missing = typed["revenue"].isna()
    typed.loc[revenue_missing, "revenue"] = (typed["quantity"] * typed["unit_price"]).round(2)
    price_missing = typed["unit_price"].isna() & (typed["quantity"] > 0)
    typed.loc[price_missing, "unit_price"] = (typed["revenue"] / typed["quantity"]).round(4)
    neither = typed["revenue"].isna()
    checker.flag(
        neither,
        "revenue",
        lambda _v: "「销售额」和「成交单价」都为空，至少要填一个。",
        typed["revenue"].astype("string"),
    )
    if "order_id" in typed.columns and "line_no" not in typed.columns:
        typed["line_no"] = typed.groupby("order_id", dropna=False).cumcount().add(1).astype("Int64")
    elif "order_id" not in typed.columns:
        checker.report.problems.append(
            Problem(
                checker.report.file,
                None,
                None,
                "文件没有订单号列：重复导入同一文件会重复计算销售额。需要替换时请先清空销售明细再导入。",
                "warning",
            )
        )
    return typed


def _known_keys(store: Store | None) -> dict[str, Any]:
    empty = {"partners": set(), "names": {}, "products": set(), "ids": []}
    if store is None or not store.exists():
        return empty
    partners = store.query("SELECT partner_id, name FROM partners")
    return {
        "partners": set(partners["partner_id"]),
        "names": dict(zip(partners["name"].str.strip(), partners["partner_id"], strict=False)),
        "products": set(store.query("SELECT sku FROM products")["sku"]),
        "ids": list(partners["partner_id"]),
    }


def _resolve_partners(
    typed: pd.DataFrame, spec: Table, checker: _Checker, known: dict[str, Any]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Attach partner ids; for sales, create partners the file names but the store does not know."""
    if "partner_id" not in typed.columns:
        typed["partner_id"] = pd.Series(pd.NA, index=typed.index, dtype="string")
    if spec.name != "sales":
        unknown = typed["partner_id"].notna() & ~typed["partner_id"].isin(known["partners"])
        checker.flag(
            unknown,
            "partner_id",
            lambda v: f"伙伴编号 {v} 不在伙伴表中。请先导入伙伴表，或检查编号是否写错。",
            typed["partner_id"],
        )
        return typed, pd.DataFrame()
    names = typed["partner_name"] if "partner_name" in typed.columns else pd.Series(pd.NA, index=typed.index)
    by_name = names.str.strip().map(known["names"]) if names.notna().any() else pd.Series(pd.NA, index=typed.index)
    typed["partner_id"] = typed["partner_id"].fillna(by_name.astype("string"))
    needs_new = typed["partner_id"].isna() & names.notna()
    unknown_ids = typed["partner_id"].notna() & ~typed["partner_id"].isin(known["partners"])
    new_names = sorted(set(names[needs_new].str.strip()))
    next_no = _next_partner_number(known["ids"])
    new_ids = {name: f"N{next_no + i:05d}" for i, name in enumerate(new_names)}
    typed.loc[needs_new, "partner_id"] = names[needs_new].str.strip().map(new_ids)
    created_rows = typed[needs_new | unknown_ids].copy()
    if created_rows.empty:
        return typed, pd.DataFrame()
    created_rows["name"] = names[needs_new | unknown_ids].str.strip().fillna(created_rows["partner_id"])

    def mode(series: pd.Series):
        series = series.dropna()
        return series.mode().iloc[0] if len(series) else pd.NA

    agg = {"name": ("name", "first")}
    for target, source in (
        ("region", "sold_to_region"),
        ("province", "sold_to_province"),
        ("city", "sold_to_city"),
        ("country", "sold_to_country"),
    ):
        if source in created_rows.columns:
            agg[target] = (source, mode)
    created = created_rows.groupby("partner_id", sort=True).agg(**agg).reset_index()
    if "province" in created.columns:
        created["territory"] = created["province"].fillna(created.get("region"))
    elif "region" in created.columns:
        created["territory"] = created["region"]
    for col in ("region", "province", "city", "country", "territory"):
        if col not in created.columns:
            created[col] = pd.Series(pd.NA, index=created.index, dtype="string")
    created = created.astype({c: "string" for c in created.columns})
    checker.report.problems.append(
        Problem(
            checker.report.file,
            None,
            None,
            f"伙伴表中没有 {len(created)} 个伙伴（如 {'、'.join(created['name'].head(3))}），"
            "已按文件中的名称和区域新建；"
            "类型、级别和授权区域请在伙伴表中补充。",
            "warning",
        )
    )
    return typed, created


def _next_partner_number(ids: list[str]) -> int:
    numbers = [int(m.group(1)) for i in ids if (m := re.fullmatch(r"N(\d+)", str(i)))]
    return max(numbers, default=0) + 1


# ---- committing -------------------------------------------------------------------------------
def commit(plan: ImportPlan, store: Store) -> ImportReport:
    """Write a validated plan in one atomic swap of the store."""
    report = plan.report

    def change(con) -> tuple[int, int]:
        inserted = replaced = 0
        for name in ("partners", "products"):  # referenced tables first
            if name in plan.frames and name != report.table:
                insert_frame(con, TABLES[name], plan.frames[name])
        frame = plan.frames[report.table]
        if plan.replace_table:
            replaced = con.execute(f'SELECT count(*) FROM "{report.table}"').fetchone()[0]
            con.execute(f'DELETE FROM "{report.table}"')
            inserted = insert_frame(con, TABLES[report.table], frame)
        else:
            inserted, replaced = upsert(con, TABLES[report.table], frame)
        con.execute(
            'INSERT INTO "_imports" VALUES (now(), ?, ?, ?, ?, ?, ?)',
            [report.file, report.table, inserted, replaced, len(report.created_partners), report.rows_skipped],
        )
        return inserted, replaced

    report.inserted, report.replaced = store.write(change)
    report.committed = True
    return report


def import_file(
    store: Store,
    source: Path | str | bytes,
    *,
    filename: str | None = None,
    table: str | None = None,
    mapping: dict[str, str] | None = None,
    skip_bad_rows: bool = False,
    replace_table: bool = False,
    max_mb: float = 200.0,
    progress: Progress | None = None,
) -> ImportReport:
    """Read, validate and load one file; raises DataFileError/ImportRejected and then changes nothing."""
    notify = progress or (lambda _f, _m: None)
    notify(0.05, "读取文件")
    raw, encoding = read_file(source, filename, max_mb)
    notify(0.35, f"校验 {len(raw)} 行数据")
    name = filename or (Path(source).name if not isinstance(source, bytes) else "上传文件")
    plan = plan_import(
        raw,
        name,
        store=store,
        table=table,
        mapping=mapping,
        skip_bad_rows=skip_bad_rows,
        encoding=encoding,
        replace_table=replace_table,
    )
    notify(0.7, "写入数据库")
    report = commit(plan, store)
    notify(1.0, "导入完成")
    return report


def parse_mapping(text: str | None) -> dict[str, str] | None:
    """--mapping accepts a JSON object {"源列名": "字段名"} or a path to such a file."""
    if not text:
        return None
    path = Path(text)
    raw = path.read_text(encoding="utf-8") if path.suffix == ".json" and path.exists() else text
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise DataFileError(
            f'列映射不是有效的 JSON：{exc.msg}（第{exc.lineno}行）。示例：{{"客户全称": "name"}}'
        ) from exc
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise DataFileError('列映射应为 {"源列名": "字段名"} 形式的 JSON 对象。')
    return value
