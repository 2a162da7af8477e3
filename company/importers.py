"""CSV/XLSX import: map columns, convert and check every value in DuckDB, then load atomically.

The file is read as text into a staging database (company.reading). Columns are mapped to schema
fields by their Chinese/English names and synonyms; every other column is kept as an attribute of
the table (text -> dimension, numbers -> measure). Values are converted in SQL: numbers (thousands
separators, currency symbols, %, decimal commas in ';' files), dates (one format per column, see
company.dates), quarters and choices. Every problem is reported with file, row, column and a Chinese
message; nothing is written unless the file validates (or the user asked to skip the bad rows). The
write happens in one swap of the store, under its writer lock: partial files update only their
columns, --replace reports what it deleted, and removing partners or products that other tables
use is refused unless the cascade is asked for.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Literal

import duckdb
import pandas as pd

from company import clock, dates
from company.errors import DataFileError, ImportRejected
from company.reading import RawFile, detect_encoding, read_file, read_source
from company.schema import CHOICE_ALIASES, PARTNER_FK_TABLES, TABLES, Column, Table
from company.store import Store, get_meta, set_meta
from company.units import (
    COUNTRY_CURRENCY,
    DEFAULT_CURRENCY,
    check_code,
    currency,
    detect_in_text,
    detect_quantity_unit,
)

__all__ = [
    "ImportPlan",
    "ImportReport",
    "Problem",
    "commit",
    "detect_encoding",
    "import_file",
    "parse_mapping",
    "plan_import",
    "read_file",
    "read_source",
]

MAX_PROBLEMS_IN_MESSAGE = 5
EXAMPLES_PER_CHECK = 20
KEEP_DIMENSION, KEEP_MEASURE, IGNORE = "@dimension", "@measure", ""
UNASSIGNED_CUSTOMER = "未指定客户"
EARLIEST_PLAUSIBLE = date(1990, 1, 1)
# Values beyond these are typing or export errors, not business figures (per row).
ABSURD_LIMITS = {"元": 1e11, "元/件": 1e8, "件": 1e9, "级": 10, "分": 100, "小时": 1e5}
ABSURD_DEFAULT = 1e12
MISMATCH_TOLERANCE = 0.01  # revenue vs quantity × price: 1 % (and at least 0.01)
SIGNED_SALES = tuple(TABLES["sales"].column(n) for n in ("quantity", "unit_price", "revenue"))
ID_HINTS = re.compile(
    r"(?:^|[\s_\-])(?:id|no|code|number|zip|postal|phone|tel|year|month|qtr|quarter)(?:$|[\s_\-])"
    r"|id$|编号|代码|编码|号码|单号|电话|邮编|年份|月份|季度|^年$|^月$",
    re.IGNORECASE,
)

Progress = Callable[[float, str], None]


# ---- report ---------------------------------------------------------------------------------------
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
class Attribute:
    """A column kept from the file that matched no schema field."""

    table: str
    column: str  # column name in the database (x_...)
    header: str  # the file's header
    kind: Literal["dimension", "measure"]
    zh: str = ""
    en: str = ""

    def __post_init__(self) -> None:
        self.zh = self.zh or self.header
        self.en = self.en or self.header


@dataclass
class ImportReport:
    file: str
    table: str | None = None
    encoding: str | None = None
    delimiter: str | None = None
    decimal_comma: bool = False
    rows_read: int = 0
    rows_valid: int = 0
    rows_skipped: int = 0
    error_rows: int = 0
    mapping: dict[str, str] = field(default_factory=dict)
    attributes: list[dict[str, str]] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    column_problems: list[str] = field(default_factory=list)  # columns whose whole format is wrong
    needs_date_order: dict[str, list[str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    currency: str = DEFAULT_CURRENCY
    currency_source: str = "default"  # flag | header | values | dataset | default
    quantity_unit: str | None = None
    created_partners: list[dict[str, Any]] = field(default_factory=list)  # first 50
    created_partner_count: int = 0
    created_products: list[str] = field(default_factory=list)  # first 50
    created_product_count: int = 0
    inserted: int = 0
    updated: int = 0
    deleted: int = 0  # rows removed by --replace
    cascaded: dict[str, int] = field(default_factory=dict)
    committed: bool = False
    dataset_id: str | None = None
    dataset_name: str | None = None
    dataset_created: bool = False
    date_min: str | None = None
    date_max: str | None = None
    yearly: list[dict[str, Any]] = field(default_factory=list)
    future_dates: int = 0
    early_dates: int = 0

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["table_zh"] = TABLES[self.table].zh if self.table in TABLES else None
        out["summary"] = self.summary()
        return out

    def summary(self) -> str:
        name = TABLES[self.table].zh if self.table in TABLES else "未知"
        if self.committed:
            text = f"已导入 {self.file} → {name}（{self.table}）："
            if self.deleted:
                text += f"删除原有 {self.deleted:,} 行，写入 {self.inserted:,} 行"
            else:
                text += f"新增 {self.inserted:,} 行，更新 {self.updated:,} 行"
            for table, count in self.cascaded.items():
                text += f"，连带删除{TABLES[table].zh} {count:,} 行"
        else:
            text = f"{self.file} → {name}（{self.table}）：读取 {self.rows_read:,} 行，有效 {self.rows_valid:,} 行"
        if self.rows_skipped:
            text += f"，跳过 {self.rows_skipped:,} 行有问题的数据"
        if self.created_partner_count:
            text += f"，{'新建' if self.committed else '将新建'}伙伴 {self.created_partner_count:,} 个"
        if self.created_product_count:
            text += f"，{'新建' if self.committed else '将新建'}产品 {self.created_product_count:,} 个"
        if self.attributes:
            text += f"，保留其它列 {len(self.attributes)} 个"
        return text + "。"

    def overview_lines(self) -> list[str]:
        """Date range, yearly totals, currency, attributes: what a user checks at a glance."""
        lines = []
        if self.dataset_name:
            made = "（新建）" if self.dataset_created else ""
            lines.append(f"数据集：{self.dataset_name}{made}")
        if self.date_min:
            lines.append(f"日期范围：{self.date_min} ~ {self.date_max}")
        money = currency(self.currency)
        source = {
            "flag": "按您的指定",
            "header": "依据列名",
            "values": "依据金额中的符号",
            "dataset": "沿用数据集的设置",
            "default": "文件中未标明，默认人民币；如不是，请在导入时指定币种",
        }.get(self.currency_source, "")
        lines.append(f"币种：{money.name_zh} {money.code}（{source}）")
        for row in self.yearly:
            amount = f"，销售额 {row['revenue']:,.2f} {money.zh}" if row.get("revenue") is not None else ""
            lines.append(f"  {row['year']} 年：{row['rows']:,} 行{amount}")
        if self.attributes:
            kept = "、".join(
                f"{a['header']}（{'维度' if a['kind'] == 'dimension' else '度量'}）" for a in self.attributes
            )
            lines.append(f"保留的其它列：{kept}")
        return lines + self.notes


@dataclass
class ImportPlan:
    """A validated import, not yet written: the staging table `typed` plus the report."""

    report: ImportReport
    raw: RawFile
    fields: list[str]  # schema fields present in typed
    side_fields: dict[str, list[str]]  # products/partners fields a sales file carries: table -> fields
    attributes: list[Attribute]
    replace_table: bool = False
    cascade: bool = False
    known_currency: str | None = None

    def preview(self, rows: int = 20) -> pd.DataFrame:
        spec = TABLES[self.report.table]
        cols = [f'"{f}"' for f in self.fields] + [f'"{a.column}"' for a in self.attributes]
        frame = self.raw.con.execute(f"SELECT {', '.join(cols)} FROM typed ORDER BY _row LIMIT {int(rows)}").df()
        for column in frame.columns:  # dates read as dates, not midnight timestamps
            if pd.api.types.is_datetime64_any_dtype(frame[column]):
                frame[column] = frame[column].dt.date
        labels = {f: spec.column(f).zh for f in self.fields} | {a.column: a.header for a in self.attributes}
        return frame.rename(columns=labels)

    def close(self) -> None:
        self.raw.close()


def _reject(report: ImportReport, headline: str) -> ImportRejected:
    errors = report.errors
    shown = "\n".join(f"- {p}" for p in errors[:MAX_PROBLEMS_IN_MESSAGE])
    more = (
        f"\n- ……另有 {len(errors) - MAX_PROBLEMS_IN_MESSAGE} 条问题，见完整报告。"
        if len(errors) > MAX_PROBLEMS_IN_MESSAGE
        else ""
    )
    # Skipping rows is only offered when a few rows are wrong, never when a whole column's format is.
    if report.needs_date_order or report.column_problems or not report.error_rows:
        advice = "改正后重新导入。"
    else:
        advice = f"改正后重新导入，或选择「跳过有问题的行」（将跳过 {report.error_rows:,} 行，其余照常导入）。"
    tail = f"\n\n没有写入任何数据，原有数据保持不变。{advice}"
    return ImportRejected(f"{headline}\n\n{shown}{more}{tail}", report)


# ---- column mapping -------------------------------------------------------------------------------
def normalise_header(text: str) -> str:
    text = str(text).strip().lower()
    text = re.sub(r"[（(【\[].*?[）)】\]]", "", text)  # units such as 销售额(元)
    return re.sub(r"[\s_\-./:：]+", "", text)


def _header_index(columns: tuple[Column, ...], prefix: str = "") -> dict[str, str]:
    index: dict[str, str] = {}
    for rank in range(3):  # field name beats Chinese name beats synonyms
        for col in columns:
            names = [col.name] if rank == 0 else [col.zh] if rank == 1 else list(col.synonyms)
            for n in names:
                index.setdefault(normalise_header(n), prefix + col.name)
    return index


# Fields of other tables a file may carry: a sales export's product line and list price fill the products
# it creates; a targets/inventory/... file that names partners instead of giving their ids is resolved by name.
SIDE_FIELDS: dict[str, dict[str, tuple[str, ...]]] = {
    "sales": {"products": ("name", "category", "list_price"), "partners": ("type",)},
    **{t: {"partners": ("name",)} for t in PARTNER_FK_TABLES if t != "sales"},
}
SALES_SIDE_FIELDS = SIDE_FIELDS["sales"]


def _side_index(table: str) -> dict[str, str]:
    index: dict[str, str] = {}
    for side_table, names in SIDE_FIELDS.get(table, {}).items():
        cols = tuple(TABLES[side_table].column(n) for n in names)
        for key, target in _header_index(cols, f"{side_table}.").items():
            index.setdefault(key, target)
    return index


def map_columns(
    headers: list[str], table: Table, override: dict[str, str] | None = None
) -> tuple[dict[str, str], list[str]]:
    """({source header: target}, unmatched headers). A target is a field, 'products.x'/'partners.x' (sales
    only), KEEP_DIMENSION or KEEP_MEASURE; override maps a header to any of these or '' (ignore)."""
    override = override or {}
    index = _header_index(table.columns)
    side = _side_index(table.name)
    mapping: dict[str, str] = {}
    taken: set[str] = set()
    for header in headers:
        if header in override:
            target = override[header]
            if target in (None, "", "-", "忽略"):
                continue
            mapping[header] = target
            if not target.startswith("@"):
                taken.add(target)
    for header in headers:
        if header in mapping or header in override:
            continue
        key = normalise_header(header)
        target = index.get(key) or side.get(key)
        if target and target not in taken:
            mapping[header] = target
            taken.add(target)
    for col in table.columns:  # a date column under another name: 购药时间, Invoice Datetime
        if col.kind == "date" and col.required and col.name not in taken:
            guess = next((h for h in headers if h not in mapping and h not in override and _looks_like_date(h)), None)
            if guess:
                mapping[guess] = col.name
                taken.add(col.name)
    unmatched = [h for h in headers if h not in mapping and h not in override]
    return mapping, unmatched


def _looks_like_date(header: str) -> bool:
    text = normalise_header(header)
    return any(w in text for w in ("日期", "时间")) or text.endswith(("date", "datetime", "time"))


def _schema_fields(mapping: dict[str, str]) -> set[str]:
    return {v for v in mapping.values() if "." not in v and not v.startswith("@")}


def _missing_required(table: Table, fields: set[str]) -> list[str]:
    missing = [c.name for c in table.columns if c.required and c.name not in fields]
    for group in table.one_of:
        if table.name == "sales" and group == ("partner_id", "partner_name"):
            continue  # a till export without customers: rows go to UNASSIGNED_CUSTOMER, with a warning
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
        fields = _schema_fields(mapping)
        if len(fields) > closest_score:
            closest, closest_score = table.name, len(fields)
        if _missing_required(table, fields):
            continue
        score = len(fields) + len([c for c in table.columns if c.required]) * 0.5
        if score > complete_score:
            complete, complete_score = table.name, score
    return complete or closest


def _field_label(table: Table, name: str) -> str:
    if "/" in name:
        return " 或 ".join(_field_label(table, n) for n in name.split("/"))
    col = table.column(name)
    return f"「{col.zh}」({col.name})"


def _target_column(target: str) -> Column:
    table, _, name = target.rpartition(".")
    return TABLES[table].column(name)


# ---- value parsing in SQL -------------------------------------------------------------------------
_CURRENCY_WORDS = "元|件|箱|RMB|CNY|USD|EUR|GBP|JPY|HKD|美元|欧元|英镑|日元|港元"
_SYMBOLS = "¥￥$€£₩₹"


def number_sql(col: str, decimal_comma: bool = False) -> str:
    """VARCHAR -> DOUBLE: '1,234.5', '¥2,000', '3 500 元', '85%', '(120)', and '36,5' in decimal-comma files."""
    if decimal_comma:
        cleaned = (
            f"replace(replace(regexp_replace({col}, '[\\s{_SYMBOLS}]|{_CURRENCY_WORDS}|[A-Z]{{1,2}}\\$', '', 'g'), "
            f"'.', ''), ',', '.')"
        )
    else:
        cleaned = f"regexp_replace({col}, '[\\s,，{_SYMBOLS}]|{_CURRENCY_WORDS}|[A-Z]{{1,2}}\\$', '', 'g')"
    body = f"trim({cleaned}, '()%')"
    value = (
        f"CASE WHEN {col} LIKE '%\\%%' ESCAPE '\\' THEN TRY_CAST({body} AS DOUBLE) / 100 "
        f"WHEN {col} LIKE '(%)' THEN -TRY_CAST({body} AS DOUBLE) ELSE TRY_CAST({body} AS DOUBLE) END"
    )
    if decimal_comma:
        return value
    return f"coalesce(TRY_CAST({col} AS DOUBLE), {value})"


_DECIMAL_COMMA = re.compile(r"^-?\d{1,3}(\.\d{3})+,\d+$|^-?\d+,\d{1,2}$|^-?\d+,\d{4,}$")
_DECIMAL_DOT = re.compile(r"^-?\d{1,3}(,\d{3})+\.\d+$|^-?\d+\.\d{1,2}$|^-?\d+\.\d{4,}$")


def _detect_decimal_comma(raw: RawFile, headers: list[str]) -> bool:
    """In ';'/tab separated files, '36,5' is 36.5 when the numbers say so (commas before 1-2 digits...)."""
    if raw.delimiter in (None, ",") or not headers:
        return False
    comma = dot = 0
    for header in headers:
        col = raw.column(header)
        values = [r[0] for r in raw.con.execute(f"SELECT {col} FROM raw WHERE {col} IS NOT NULL LIMIT 5000").fetchall()]
        for value in values:
            text = re.sub(r"[\s" + _SYMBOLS + r"]", "", value)
            comma += bool(_DECIMAL_COMMA.match(text))
            dot += bool(_DECIMAL_DOT.match(text))
    return comma > dot


def parse_quarter(value: str) -> str | None:
    text = str(value).strip()
    match = re.match(r"^(\d{4})\s*[-年/]?\s*(?:q|第)?\s*([1-4])\s*(?:季度|季|q)?$", text, re.IGNORECASE)
    if match:
        return f"{match.group(1)}Q{match.group(2)}"
    match = re.match(r"^q([1-4])\s*[-/ ]?\s*(\d{4})$", text, re.IGNORECASE)
    if match:
        return f"{match.group(2)}Q{match.group(1)}"
    return None


def parse_dates(values: pd.Series, month: bool = False, order: str | None = None) -> pd.Series:
    """Text -> datetime64 (NaT where unparseable) with the column-level inference of the importer."""
    inference = dates.infer(values.dropna().astype(str).unique(), order=order)  # type: ignore[arg-type]
    con = duckdb.connect()
    try:
        con.register("v", pd.DataFrame({"v": values.astype("string")}))
        out = con.execute(f"SELECT {dates.parse_sql('v', inference, month=month)} AS d FROM v").df()["d"]
    finally:
        con.close()
    return pd.to_datetime(out)


# ---- the checks ----------------------------------------------------------------------------------
@dataclass
class _Check:
    """One rule evaluated on every row: a boolean column of `typed`, with a message per offending value."""

    flag: str  # column name in typed
    header: str | None  # the file's column shown in messages
    raw: str | None  # raw column (c7) whose text goes into the message
    message: Callable[[str | None], str]
    severity: Literal["error", "warning"] = "error"
    column_level: bool = False  # wrong for most of the column: a format problem, not bad rows
    summary: str = ""  # one line for warnings that concern many rows (shown instead of each row)


class _Builder:
    """Builds the SELECT that converts raw text into typed values plus one flag column per check."""

    def __init__(self, raw: RawFile, report: ImportReport):
        self.raw, self.report = raw, report
        self.select: list[str] = ["_row"]
        self.outer: list[str] = []
        self.checks: list[_Check] = []
        self.joins: list[str] = []  # value maps (dates, quarters) joined on the raw text
        self.extra_bad: list[str] = []  # SELECTs of _row values that are errors found outside the flags

    def flag(self, condition: str, check: _Check, outer: bool = False) -> None:
        check.flag = f"_f{len(self.checks)}"
        (self.outer if outer else self.select).append(f"({condition}) AS {check.flag}")
        self.checks.append(check)


def _convert_field(b: _Builder, header: str, col: Column, alias: str, date_order: dict, decimal_comma: bool) -> None:
    src = b.raw.column(header)
    if col.kind in ("int", "float"):
        b.select.append(f'{number_sql(src, decimal_comma)} AS "{alias}"')
        b.flag(
            f'{src} IS NOT NULL AND "{alias}" IS NULL',
            _Check("", header, src, lambda v: f"值「{v}」不是数字，请只填阿拉伯数字（如 100000，可带千分位逗号）。"),
        )
        b.flag(
            f'"{alias}" IS NOT NULL AND NOT isfinite("{alias}")',
            _Check("", header, src, lambda v: f"值「{v}」不是有限的数字（inf/nan），请检查导出设置。"),
        )
        limit = ABSURD_LIMITS.get(col.unit, ABSURD_DEFAULT)
        b.flag(
            f'isfinite("{alias}") AND abs("{alias}") > {limit}',
            _Check(
                "",
                header,
                src,
                lambda v, lim=limit: (
                    f"值「{v}」大得不合理（超过 {lim:,.0f}），请检查是否多了位数、用了科学计数法或单位写错。"
                ),
            ),
        )
        # Sales lines may be negative: returns, cancellations and adjustments (counted in a warning).
        if col.non_negative and col not in SIGNED_SALES:
            hint = "；退货请作为单独的退货记录处理" if col.name == "quantity" else ""
            b.flag(
                f'"{alias}" < 0',
                _Check("", header, src, lambda v, h=hint: f"不能为负数（当前值 {v}）{h}。"),
            )
        if col.kind == "int":
            b.flag(
                f'isfinite("{alias}") AND "{alias}" % 1 <> 0',
                _Check("", header, src, lambda v: f"应为整数，当前值「{v}」。"),
            )
        return
    if col.kind in ("date", "month"):
        month = col.kind == "month"
        distinct = [
            r[0] for r in b.raw.con.execute(f"SELECT DISTINCT {src} FROM raw WHERE {src} IS NOT NULL").fetchall()
        ]
        inference = dates.infer(distinct, order=date_order.get(header) or date_order.get("*"))
        if inference.conflicting:
            b.report.column_problems.append(header)
            b.report.problems.append(
                Problem(
                    b.report.file,
                    None,
                    header,
                    "这一列里混有 月/日/年 和 日/月/年 两种写法（如"
                    f"「{inference.examples[0]}」和「{inference.examples[1]}」）。请在导出系统里统一日期格式后再导入。",
                )
            )
        elif inference.needs_order:
            b.report.needs_date_order[header] = inference.examples
        note = inference.describe(header)
        if note:
            b.report.notes.append(note)
        table = f"_dates_{src}"
        b.raw.con.execute(
            f"CREATE OR REPLACE TEMP TABLE {table} AS SELECT v, {dates.parse_sql('v', inference, month=month)} AS d "
            f"FROM (SELECT DISTINCT {src} AS v FROM raw WHERE {src} IS NOT NULL)"
        )
        b.joins.append(f"LEFT JOIN {table} ON {table}.v = raw.{src}")
        b.select.append(f'{table}.d AS "{alias}"')
        example = "2025-03" if month else "2025-03-01"
        if not inference.needs_order:
            b.flag(
                f'{src} IS NOT NULL AND "{alias}" IS NULL',
                _Check("", header, src, lambda v, e=example: f"值「{v}」无法识别为日期，请使用 {e} 这样的格式。"),
            )
        return
    if col.kind == "quarter":
        values = [r[0] for r in b.raw.con.execute(f"SELECT DISTINCT {src} FROM raw WHERE {src} IS NOT NULL").fetchall()]
        mapping = pd.DataFrame({"v": values, "q": [parse_quarter(v) for v in values]}, dtype="string")
        table = f"_quarters_{src}"
        _register(b.raw.con, table, mapping)
        b.joins.append(f"LEFT JOIN {table} ON {table}.v = raw.{src}")
        b.select.append(f'{table}.q AS "{alias}"')
        b.flag(
            f'{src} IS NOT NULL AND "{alias}" IS NULL',
            _Check("", header, src, lambda v: f"值「{v}」无法识别为季度，请使用 2025Q1 这样的格式。"),
        )
        return
    if col.choices:
        aliases = CHOICE_ALIASES.get("partner_type" if col.name in ("type", "channel_type") else col.name, {})
        cases = " ".join(
            f"WHEN lower({src}) = '{k.replace(chr(39), chr(39) * 2)}' THEN '{v}'" for k, v in aliases.items()
        )
        expr = f"CASE {cases} ELSE {src} END" if cases else src
        b.select.append(f'{expr} AS "{alias}"')
        listed = ", ".join(f"'{c}'" for c in col.choices)
        b.flag(
            f'"{alias}" IS NOT NULL AND "{alias}" NOT IN ({listed})',
            _Check("", header, src, lambda v, c=col: f"值「{v}」不在允许范围内，只能是：{'、'.join(c.choices)}。"),
        )
        return
    b.select.append(f'{src} AS "{alias}"')


def _attribute_kind(raw: RawFile, header: str, decimal_comma: bool) -> str:
    if ID_HINTS.search(header.strip()):
        return "dimension"
    col = raw.column(header)
    present, numeric = raw.con.execute(
        f"SELECT count({col}), count({number_sql(col, decimal_comma)}) FROM raw"
    ).fetchone()
    return "measure" if present and numeric >= 0.98 * present else "dimension"


def _attribute_columns(
    existing: list[dict], table: str, headers: list[tuple[str, str]], taken: set[str]
) -> list[Attribute]:
    """Database column names for kept headers: reuse an earlier import's column for the same header."""
    out = []
    known = {(a["table"], a["header"]): a for a in existing}
    used = set(taken) | {a["column"] for a in existing if a["table"] == table}
    for header, kind in headers:
        earlier = known.get((table, header))
        if earlier:
            out.append(
                Attribute(
                    table, earlier["column"], header, earlier["kind"], earlier.get("zh", ""), earlier.get("en", "")
                )
            )
            continue
        base = "x_" + (re.sub(r"[^a-z0-9]+", "_", header.lower()).strip("_")[:40] or "col")
        name, n = base, 1
        while name in used:
            n += 1
            name = f"{base}_{n}"
        used.add(name)
        out.append(Attribute(table, name, header, kind))  # type: ignore[arg-type]
    return out


# ---- planning -------------------------------------------------------------------------------------
def plan_import(
    raw: RawFile,
    filename: str | None = None,
    *,
    store: Store | None = None,
    table: str | None = None,
    mapping: dict[str, str] | None = None,
    skip_bad_rows: bool = False,
    replace_table: bool = False,
    cascade: bool = False,
    date_order: str | dict[str, str] | None = None,
    currency_code: str | None = None,
    today: date | None = None,
) -> ImportPlan:
    """Validate a read file against a table; raises ImportRejected (with the report) if it cannot be loaded.

    date_order: 'mdy'/'dmy' for every ambiguous date column, or {header: order}. currency_code: the
    file's currency when the user says so (else detected from headers and symbols)."""
    filename = filename or raw.name
    report = ImportReport(file=filename, encoding=raw.encoding, delimiter=raw.delimiter, rows_read=raw.rows)
    orders = date_order if isinstance(date_order, dict) else ({"*": date_order} if date_order else {})
    for value in orders.values():
        if value not in dates.ORDER_CHOICES:
            raise DataFileError(f"日期顺序只能是 mdy（月/日/年）或 dmy（日/月/年），收到「{value}」。")
    headers = raw.headers
    field_names = {c for t in TABLES.values() for c in t.names}
    side_targets = {f"{t}.{n}" for sides in SIDE_FIELDS.values() for t, names in sides.items() for n in names}
    if mapping:
        unknown = {
            v
            for v in mapping.values()
            if v and v not in field_names | side_targets | {KEEP_DIMENSION, KEEP_MEASURE, "-", "忽略"}
        }
        if unknown:
            report.problems.append(
                Problem(filename, None, None, f"列映射中的目标字段不存在：{'、'.join(sorted(unknown))}。")
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
    col_map, unmatched = map_columns(headers, spec, mapping)
    bad_targets = {
        s: d
        for s, d in col_map.items()
        if not d.startswith("@")
        and d not in spec.names
        and d not in {f"{t}.{n}" for t, names in SIDE_FIELDS.get(table, {}).items() for n in names}
    }
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
    report.mapping = {h: t for h, t in col_map.items() if not t.startswith("@")}
    report.ignored_columns = [h for h in headers if mapping and h in mapping and mapping[h] in ("", "-", "忽略", None)]
    present = _schema_fields(col_map) | ({"partner_id"} if "partners.name" in col_map.values() else set())
    missing = _missing_required(spec, present)
    # An update file (key + some columns) may leave out required columns: only new rows need them.
    update_only = [m for m in missing if spec.key and set(spec.key) <= present and m not in spec.key and "/" not in m]
    if update_only and store is not None and store.exists() and len(update_only) == len(missing):
        missing = []
    else:
        update_only = []
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
    if table == "sales" and not {"revenue", "unit_price"} & _schema_fields(col_map):
        report.problems.append(Problem(filename, 1, None, "缺少「销售额」和「成交单价」两列，至少需要其中一列。"))
        report.column_problems.append("销售额")
        raise _reject(report, f"{filename} 缺少{spec.zh}的金额列。")

    numeric_headers = [
        h
        for h, t in col_map.items()
        if not t.startswith("@") and _target_column(t if "." in t else f"{table}.{t}").kind in ("int", "float")
    ]
    report.decimal_comma = _detect_decimal_comma(raw, numeric_headers)
    if report.decimal_comma:
        report.notes.append("文件用分号分隔、逗号作小数点（如 36,5 = 36.5），已按此读取数字。")
    _detect_currency(report, raw, col_map, currency_code)

    # Attributes: every unmatched column is kept; the user's mapping can force a kind or drop a column.
    existing_attrs = _stored_attributes(store)
    kept = [(h, _attribute_kind(raw, h, report.decimal_comma)) for h in unmatched]
    kept += [(h, "measure" if t == KEEP_MEASURE else "dimension") for h, t in col_map.items() if t.startswith("@")]
    attributes = _attribute_columns(existing_attrs, table, kept, set(spec.names))
    report.attributes = [asdict(a) for a in attributes]

    b = _Builder(raw, report)
    b.select[0] = "raw._row"
    fields: list[str] = []
    side: dict[str, list[str]] = {}
    for header, target in col_map.items():
        if target.startswith("@"):
            continue
        if "." in target:
            side_table, _, side_field = target.partition(".")
            side.setdefault(side_table, []).append(side_field)
            _convert_field(
                b,
                header,
                TABLES[side_table].column(side_field),
                f"{side_table}_{side_field}",
                orders,
                report.decimal_comma,
            )
            continue
        col = spec.column(target)
        _convert_field(b, header, col, target, orders, report.decimal_comma)
        fields.append(target)
        if col.required:
            src = raw.column(header)
            b.flag(f"{src} IS NULL", _Check("", header, None, lambda _v, c=col: f"「{c.zh}」是必填项，不能为空。"))
    for a in attributes:
        src = raw.column(a.header)
        expr = number_sql(src, report.decimal_comma) if a.kind == "measure" else src
        b.select.append(f'{expr} AS "{a.column}"')
        if a.kind == "measure":
            b.flag(
                f'{src} IS NOT NULL AND "{a.column}" IS NULL',
                _Check("", a.header, src, lambda v: f"值「{v}」不是数字，这一格按空值保存。", "warning"),
            )
    if report.needs_date_order:
        for header, examples in report.needs_date_order.items():
            shown = "、".join(f"「{e}」" for e in examples) or "（没有大于 12 的日或月）"
            report.problems.append(
                Problem(
                    filename,
                    None,
                    header,
                    f"无法判断日期是 月/日/年 还是 日/月/年：所有值的前两段都不超过 12，例如 {shown}。"
                    "请指定日期顺序：命令行加 --date-order mdy（月/日/年，美式）或 --date-order dmy（日/月/年，欧式），"
                    "页面上在「日期顺序」里选择。",
                )
            )
        raise _reject(report, f"{filename} 的日期顺序需要您确认。")

    _rows_rules(b, spec, col_map, fields)
    con = raw.con
    inner = ",\n       ".join(b.select)
    outer = "".join(f",\n       {o}" for o in b.outer)
    joins = " ".join(b.joins)
    con.execute(f"CREATE OR REPLACE TABLE typed AS SELECT *{outer} FROM (SELECT {inner} FROM raw {joins})")
    if table == "sales":
        fields = _complete_sales(b, fields, col_map)
    _evaluate(b)
    if table in PARTNER_FK_TABLES and table != "sales":
        if "name" in side.get("partners", []):
            fields = _partners_by_name(b, store, fields)
        if "partner_id" in fields:
            _check_known_partners(b, store)
    _check_duplicates(b, spec, fields)
    if update_only:
        _check_updates_only(b, spec, store, update_only)
    _preview_created(report, con, store, table, fields, side)
    report.error_rows = con.execute("SELECT count(*) FROM bad").fetchone()[0]
    if report.error_rows and not skip_bad_rows:
        raise _reject(report, f"{filename} 有 {len(report.errors)} 条问题，涉及 {report.error_rows:,} 行。")
    if report.error_rows and (report.column_problems or report.needs_date_order):
        raise _reject(report, f"{filename} 有整列的格式问题，不能靠跳过行来导入。")
    if report.error_rows:
        report.rows_skipped = report.error_rows
        for row in con.execute("SELECT _row FROM bad ORDER BY _row LIMIT 200").fetchall():
            report.problems.append(Problem(filename, int(row[0]), None, "该行有问题，已按要求跳过。", "warning"))
        con.execute("DELETE FROM typed WHERE _row IN (SELECT _row FROM bad)")
    report.rows_valid = con.execute("SELECT count(*) FROM typed").fetchone()[0]
    if report.rows_valid == 0:
        raise _reject(report, f"{filename} 没有可导入的有效行。")
    _date_overview(report, con, spec, fields, today or clock.today())
    return ImportPlan(report, raw, fields, side, attributes, replace_table, cascade, _dataset_currency(store))


def _stored_attributes(store: Store | None) -> list[dict]:
    if store is None or not store.exists():
        return []
    return list(store.meta("attributes", []) or [])


def _dataset_currency(store: Store | None) -> str | None:
    if store is None or not store.exists():
        return None
    return store.profile().currency


def _detect_currency(report: ImportReport, raw: RawFile, col_map: dict[str, str], flag: str | None) -> None:
    if flag:
        report.currency, report.currency_source = check_code(flag), "flag"
        return
    money_headers = [
        h
        for h, t in col_map.items()
        if not t.startswith("@") and _target_column(t if "." in t else f"{report.table}.{t}").unit.startswith("元")
    ]
    code, _ = detect_in_text(money_headers)
    if code:
        report.currency, report.currency_source = code, "header"
    else:
        for header in money_headers:
            col = raw.column(header)
            cells = [
                r[0]
                for r in raw.con.execute(
                    f"SELECT {col} FROM raw WHERE {col} IS NOT NULL "
                    f"AND regexp_matches({col}, '[^0-9.,\\s%()-]') LIMIT 50"
                ).fetchall()
            ]
            code, _ = detect_in_text(cells)
            if code:
                report.currency, report.currency_source = code, "values"
                break
    units = detect_quantity_unit([h for h, t in col_map.items() if t == "quantity"])
    report.quantity_unit = units
    if report.currency_source == "default":
        country = next((h for h, t in col_map.items() if t in ("sold_to_country", "country")), None)
        if country:
            col = raw.column(country)
            top = raw.con.execute(
                f"SELECT {col}, count(*) AS n FROM raw WHERE {col} IS NOT NULL GROUP BY 1 ORDER BY n DESC LIMIT 1"
            ).fetchone()
            hint = COUNTRY_CURRENCY.get(top[0].lower()) if top else None
            if hint and hint != DEFAULT_CURRENCY:
                report.problems.append(
                    Problem(
                        report.file,
                        None,
                        None,
                        f"文件里的金额没有标明币种，已按人民币（CNY）处理；但最多的国家是「{top[0]}」，"
                        f"金额可能是 {currency(hint).name_zh}（{hint}）。"
                        f"如果是，请用 --currency {hint} 重新导入，或在数据中心把数据集币种改为 {hint}。",
                        "warning",
                    )
                )


def _rows_rules(b: _Builder, spec: Table, col_map: dict[str, str], fields: list[str]) -> None:
    """Rules that involve several columns, evaluated after conversion."""
    source_of = {t: h for h, t in col_map.items()}
    for group in spec.one_of:
        cols = [c for c in group if c in fields]
        if cols and not (spec.name == "sales" and group == ("partner_id", "partner_name")):
            labels = " 或 ".join(f"「{spec.column(c).zh}」" for c in cols)
            b.flag(
                " AND ".join(f'"{c}" IS NULL' for c in cols),
                _Check("", source_of.get(cols[0]), None, lambda _v, lab=labels: f"{lab} 至少要填一个。"),
                outer=True,
            )
    if spec.name == "collections" and {"amount_due", "amount_collected"} <= set(fields):
        b.flag(
            "amount_collected > amount_due * 1.5 + 1",
            _Check(
                "",
                source_of.get("amount_collected"),
                None,
                lambda _v: "实收金额远大于应收金额，请确认是否包含了预收款。",
                "warning",
            ),
            outer=True,
        )
    if spec.name == "partners" and {"contract_start", "contract_end"} <= set(fields):
        b.flag(
            "contract_end < contract_start",
            _Check(
                "",
                source_of.get("contract_end"),
                source_of.get("contract_end") and b.raw.column(source_of["contract_end"]),
                lambda v: f"合同结束日期 {v} 早于开始日期，请检查。",
            ),
            outer=True,
        )


def _complete_sales(b: _Builder, fields: list[str], col_map: dict[str, str]) -> list[str]:
    """Revenue from quantity × price (or price from revenue ÷ quantity) where one is missing; line numbers;
    a customer for rows without one; and warnings about returns and inconsistent totals."""
    con, report = b.raw.con, b.report
    given = set(fields)
    source_of = {t: h for h, t in col_map.items()}
    for name, sql_type in (
        ("revenue", "DOUBLE"),
        ("unit_price", "DOUBLE"),
        ("partner_name", "VARCHAR"),
        ("partner_id", "VARCHAR"),
    ):
        if name not in given:
            con.execute(f"ALTER TABLE typed ADD COLUMN {name} {sql_type}")
    order_line = ""
    if "order_id" in given and "line_no" not in given:
        order_line = ", CAST(row_number() OVER (PARTITION BY order_id ORDER BY _row) AS BIGINT) AS line_no"
    both = {"revenue", "unit_price"} <= given
    con.execute(
        f"""CREATE OR REPLACE TABLE typed AS SELECT * REPLACE (
            coalesce(revenue, round(quantity * unit_price, 2)) AS revenue,
            coalesce(unit_price, CASE WHEN quantity <> 0 THEN round(revenue / quantity, 4) END) AS unit_price,
            CASE WHEN partner_id IS NULL AND partner_name IS NULL THEN '{UNASSIGNED_CUSTOMER}' ELSE partner_name
            END AS partner_name
        ){order_line},
        ({"true" if both else "false"} AND revenue IS NOT NULL AND unit_price IS NOT NULL AND quantity IS NOT NULL
         AND abs(revenue - quantity * unit_price) > greatest(0.01, {MISMATCH_TOLERANCE} * abs(revenue))) AS _mismatch
        FROM typed"""
    )
    fields = list(dict.fromkeys([*fields, "revenue", "unit_price", "partner_name", "partner_id"]))
    if order_line:
        fields.append("line_no")
    counts = con.execute(
        "SELECT count(*) FILTER (WHERE revenue IS NULL AND quantity IS NOT NULL), count(*) FILTER (WHERE _mismatch), "
        "count(*) FILTER (WHERE quantity < 0 OR revenue < 0 OR unit_price < 0), "
        f"count(*) FILTER (WHERE partner_name = '{UNASSIGNED_CUSTOMER}' AND partner_id IS NULL) FROM typed"
    ).fetchone()
    no_amount, mismatch, returns, unassigned = (int(c) for c in counts)
    if no_amount:
        b.extra_bad.append("SELECT _row FROM typed WHERE revenue IS NULL AND quantity IS NOT NULL")
        column = source_of.get("revenue") or source_of.get("unit_price")
        for (row,) in con.execute(
            "SELECT _row FROM typed WHERE revenue IS NULL AND quantity IS NOT NULL ORDER BY _row LIMIT 20"
        ).fetchall():
            report.problems.append(
                Problem(report.file, int(row), column, "「销售额」和「成交单价」都为空，至少要填一个。")
            )
    if mismatch:
        examples = con.execute(
            "SELECT _row, revenue, quantity, unit_price FROM typed WHERE _mismatch ORDER BY _row LIMIT 3"
        ).fetchall()
        shown = "；".join(f"第{r}行 {rev:,.2f} ≠ {q:,.4g} × {p:,.4g}" for r, rev, q, p in examples)
        report.problems.append(
            Problem(
                report.file,
                None,
                source_of.get("revenue"),
                f"{mismatch:,} 行的销售额与 数量 × 单价 相差超过 1%（如 {shown}）。已以文件中的销售额为准；"
                "如果单价是折前价、含税价或有折扣，这是正常的，否则请检查导出。",
                "warning",
            )
        )
    if returns:
        report.problems.append(
            Problem(
                report.file,
                None,
                source_of.get("quantity"),
                f"{returns:,} 行的数量、单价或金额为负（退货、冲销或调整），已按负数计入，销售额为净额。",
                "warning",
            )
        )
    if unassigned:
        report.problems.append(
            Problem(
                report.file,
                None,
                None,
                f"{unassigned:,} 行没有客户编号或名称，已计入伙伴「{UNASSIGNED_CUSTOMER}」，合计不受影响。",
                "warning",
            )
        )
    if "order_id" not in given:
        report.problems.append(
            Problem(
                report.file,
                None,
                None,
                "文件没有订单号列：重复导入同一文件会重复计算销售额。需要替换时请用「清空目标表后再导入」（--replace）。",
                "warning",
            )
        )
    return fields


def _evaluate(b: _Builder) -> None:
    """Count every flag in one scan; keep up to EXAMPLES_PER_CHECK examples per rule; collect the bad rows."""
    con, report = b.raw.con, b.report
    counts = (
        con.execute(
            "SELECT " + ", ".join(f"count(*) FILTER (WHERE {c.flag})" for c in b.checks) + " FROM typed"
        ).fetchone()
        if b.checks
        else ()
    )
    error_flags = []
    for check, n in zip(b.checks, counts, strict=True):
        if not n:
            continue
        if check.severity == "error":
            error_flags.append(check.flag)
        raw_col = f"r.{check.raw}" if check.raw else "NULL"
        examples = con.execute(
            f"SELECT t._row, {raw_col} FROM (SELECT _row FROM typed WHERE {check.flag} ORDER BY _row "
            f"LIMIT {EXAMPLES_PER_CHECK}) t LEFT JOIN raw r USING (_row) ORDER BY t._row"
        ).fetchall()
        shown = examples if check.severity == "error" else examples[:3]
        for row, value in shown:
            report.problems.append(Problem(report.file, int(row), check.header, check.message(value), check.severity))
        present = con.execute(f"SELECT count({check.raw}) FROM raw").fetchone()[0] if check.raw else 0
        # Most of a column wrong is a format problem (a date format, a shifted column), not rows to skip.
        whole = check.severity == "error" and bool(check.raw) and n >= 10 and n > 0.5 * present
        if whole and check.header not in report.column_problems:
            report.column_problems.append(check.header)
        if n > len(shown) or whole:
            more = f"这一列共有 {n:,} 行同样的问题" + (
                f"（占 {n / present:.0%}，像是整列的格式问题：请检查导出设置或列映射）" if whole else ""
            )
            report.problems.append(Problem(report.file, None, check.header, more + "。", check.severity))
    sources = [f"SELECT _row FROM typed WHERE {' OR '.join(error_flags)}"] if error_flags else []
    sources += b.extra_bad
    union = " UNION ".join(sources) if sources else "SELECT _row FROM typed WHERE false"
    con.execute(f"CREATE OR REPLACE TABLE bad AS SELECT DISTINCT _row FROM ({union})")


def _check_duplicates(b: _Builder, spec: Table, fields: list[str]) -> None:
    keys = list(spec.key)
    if not keys or not set(keys) <= set(fields):
        return
    con, report = b.raw.con, b.report
    key_cols = ", ".join(f'"{k}"' for k in keys)
    present = " AND ".join(f'"{k}" IS NOT NULL' for k in keys)
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE _dupes AS SELECT * FROM (SELECT _row, {key_cols}, "
        f"min(_row) OVER (PARTITION BY {key_cols}) AS _first, "
        f"row_number() OVER (PARTITION BY {key_cols} ORDER BY _row) AS _n FROM typed WHERE {present}) WHERE _n > 1"
    )
    count = con.execute("SELECT count(*) FROM _dupes").fetchone()[0]
    if not count:
        return
    label = "、".join(spec.column(k).zh for k in keys)
    header = next((h for h, t in report.mapping.items() if t == keys[0]), keys[0])
    for row in con.execute(
        f"SELECT _row, _first, {key_cols} FROM _dupes ORDER BY _row LIMIT {EXAMPLES_PER_CHECK}"
    ).fetchall():
        shown = "/".join(str(v) for v in row[2:])
        report.problems.append(
            Problem(
                report.file,
                int(row[0]),
                header,
                f"与第{row[1]}行重复：{label} = {shown}。同一{label}只能出现一次，请删除或合并重复行。",
            )
        )
    if count > EXAMPLES_PER_CHECK:
        report.problems.append(Problem(report.file, None, header, f"共有 {count:,} 行与前面的行重复。"))
    con.execute("INSERT INTO bad SELECT _row FROM _dupes WHERE _row NOT IN (SELECT _row FROM bad)")


def _register(con: duckdb.DuckDBPyConnection, name: str, frame: pd.DataFrame) -> None:
    con.execute("SELECT 1").fetchall()  # register() refuses to run beside an unfetched INSERT result
    con.register(f"_{name}_frame", frame)
    con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT * FROM _{name}_frame")
    con.unregister(f"_{name}_frame")


def _known(store: Store | None) -> tuple[pd.DataFrame, pd.DataFrame]:
    if store is None or not store.exists():
        return (
            pd.DataFrame({"partner_id": pd.Series(dtype="string"), "name": pd.Series(dtype="string")}),
            pd.DataFrame({"sku": pd.Series(dtype="string")}),
        )
    return store.query("SELECT partner_id, name FROM partners"), store.query("SELECT sku FROM products")


def _partners_by_name(b: _Builder, store: Store | None, fields: list[str]) -> list[str]:
    """Fill partner ids from partner names (a targets file that says 客户名称 instead of 客户编号)."""
    con, report = b.raw.con, b.report
    partners, _ = _known(store)
    _register(con, "_known_partners", partners)
    if "partner_id" not in fields:
        con.execute("ALTER TABLE typed ADD COLUMN partner_id VARCHAR")
    con.execute(
        "UPDATE typed SET partner_id = k.partner_id FROM (SELECT trim(name) AS name, min(partner_id) AS partner_id "
        "FROM _known_partners WHERE name IS NOT NULL GROUP BY 1) k "
        "WHERE typed.partner_id IS NULL AND trim(typed.partners_name) = k.name"
    )
    header = next((h for h, t in report.mapping.items() if t == "partners.name"), "partner_name")
    unknown = con.execute(
        "SELECT _row, partners_name FROM typed WHERE partner_id IS NULL AND partners_name IS NOT NULL ORDER BY _row"
    ).fetchall()
    for row, name in unknown[:EXAMPLES_PER_CHECK]:
        report.problems.append(
            Problem(
                report.file,
                int(row),
                header,
                f"伙伴「{name}」不在当前数据集的伙伴表中。请检查名称是否与伙伴表一致，或先导入伙伴/销售数据。",
            )
        )
    if len(unknown) > EXAMPLES_PER_CHECK:
        report.problems.append(Problem(report.file, None, header, f"共有 {len(unknown):,} 行的伙伴名称找不到。"))
    missing = con.execute("SELECT _row FROM typed WHERE partner_id IS NULL AND partners_name IS NULL").fetchall()
    for (row,) in missing[:EXAMPLES_PER_CHECK]:
        report.problems.append(Problem(report.file, int(row), header, "「伙伴编号」和「伙伴名称」至少要填一个。"))
    con.execute(
        "INSERT INTO bad SELECT _row FROM typed WHERE partner_id IS NULL AND _row NOT IN (SELECT _row FROM bad)"
    )
    return [*fields, "partner_id"] if "partner_id" not in fields else fields


def _check_updates_only(b: _Builder, spec: Table, store: Store, fields: list[str]) -> None:
    """A file without some required columns may only update existing rows; new keys are named as errors."""
    con, report = b.raw.con, b.report
    keys = list(spec.key)
    _register(con, "_existing_keys", store.query(f'SELECT {_sql_list(keys)} FROM "{spec.name}"'))
    match = " AND ".join(f'e."{k}" = t."{k}"' for k in keys)
    rows = con.execute(
        f"SELECT t._row, {_sql_list(keys, 't.')} FROM typed t WHERE NOT EXISTS (SELECT 1 FROM _existing_keys e "
        f"WHERE {match}) ORDER BY t._row"
    ).fetchall()
    needed = "、".join(f"「{spec.column(f).zh}」" for f in fields)
    header = next((h for h, t in report.mapping.items() if t == keys[0]), keys[0])
    for row in rows[:EXAMPLES_PER_CHECK]:
        key = "/".join(str(v) for v in row[1:])
        report.problems.append(
            Problem(
                report.file,
                int(row[0]),
                header,
                f"{key} 在{spec.zh}中还不存在：这个文件没有{needed}列，只能更新已有的记录。"
                f"新增时请在文件里加上{needed}。",
            )
        )
    if rows:
        con.execute(
            f"INSERT INTO bad SELECT t._row FROM typed t WHERE NOT EXISTS (SELECT 1 FROM _existing_keys e "
            f"WHERE {match}) AND t._row NOT IN (SELECT _row FROM bad)"
        )


def _check_known_partners(b: _Builder, store: Store | None) -> None:
    con, report = b.raw.con, b.report
    partners, _ = _known(store)
    _register(con, "_known_partners", partners)
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _unknown AS SELECT _row, partner_id FROM typed "
        "WHERE partner_id IS NOT NULL AND partner_id NOT IN (SELECT partner_id FROM _known_partners)"
    )
    count = con.execute("SELECT count(*) FROM _unknown").fetchone()[0]
    if not count:
        return
    header = next((h for h, t in report.mapping.items() if t == "partner_id"), "partner_id")
    for row, pid in con.execute(
        f"SELECT _row, partner_id FROM _unknown ORDER BY _row LIMIT {EXAMPLES_PER_CHECK}"
    ).fetchall():
        report.problems.append(
            Problem(report.file, int(row), header, f"伙伴编号 {pid} 不在伙伴表中。请先导入伙伴表，或检查编号是否写错。")
        )
    if count > EXAMPLES_PER_CHECK:
        report.problems.append(Problem(report.file, None, header, f"共有 {count:,} 行的伙伴编号不在伙伴表中。"))
    con.execute("INSERT INTO bad SELECT _row FROM _unknown WHERE _row NOT IN (SELECT _row FROM bad)")


def _preview_created(
    report: ImportReport, con, store: Store | None, table: str, fields: list[str], side: dict[str, list[str]]
) -> None:
    """What a sales file will add to partners and products (decided again, under the lock, when written)."""
    if table != "sales":
        return
    partners, products = _known(store)
    _register(con, "_known_partners", partners)
    _register(con, "_known_products", products)
    region = _mode("sold_to_region") if "sold_to_region" in fields else "NULL"
    new = con.execute(
        f"""SELECT coalesce(partner_id, partner_name) AS key, min(coalesce(partner_name, partner_id)) AS name,
                   {region} AS region
            FROM typed
            WHERE (partner_id IS NOT NULL AND partner_id NOT IN (SELECT partner_id FROM _known_partners))
               OR (partner_id IS NULL
                   AND partner_name NOT IN (SELECT trim(name) FROM _known_partners WHERE name IS NOT NULL))
            GROUP BY 1 ORDER BY 2"""
    ).fetchall()
    report.created_partner_count = len(new)
    report.created_partners = [{"partner_id": None, "name": n, "region": r} for _k, n, r in new[:50]]
    skus = [
        r[0]
        for r in con.execute(
            "SELECT DISTINCT sku FROM typed WHERE sku NOT IN (SELECT sku FROM _known_products) ORDER BY 1"
        ).fetchall()
    ]
    report.created_product_count = len(skus)
    report.created_products = skus[:50]
    if new:
        names = "、".join(n for _k, n, _r in new[:3])
        report.problems.append(
            Problem(
                report.file,
                None,
                None,
                f"伙伴表中没有 {len(new):,} 个伙伴（如 {names}），将按文件中的名称和区域新建；"
                "类型、级别和授权区域可以之后导入伙伴表补充。",
                "warning",
            )
        )
    if skus:
        filled = "，品类、名称取自文件" if side.get("products") else ""
        report.problems.append(
            Problem(
                report.file,
                None,
                next((h for h, t in report.mapping.items() if t == "sku"), "sku"),
                f"产品表中没有 {len(skus):,} 个产品编码（如 {'、'.join(skus[:5])}），将按编码新建{filled}；"
                "价格与成本可以之后导入产品表补充。",
                "warning",
            )
        )


def _date_overview(report: ImportReport, con, spec: Table, fields: list[str], today: date) -> None:
    """Date range and yearly totals for the report; warnings about dates after today or before 1990."""
    column = spec.date_column if spec.date_column in fields and spec.name != "partners" else None
    if column:
        lo, hi, future, early = con.execute(
            f'SELECT min("{column}"), max("{column}"), count(*) FILTER (WHERE "{column}" > ?), '
            f'count(*) FILTER (WHERE "{column}" < ?) FROM typed',
            [today, EARLIEST_PLAUSIBLE],
        ).fetchone()
        report.date_min, report.date_max = (str(lo) if lo else None), (str(hi) if hi else None)
        report.future_dates, report.early_dates = int(future), int(early)
        money = "sum(revenue)" if spec.name == "sales" else "NULL"
        rows = con.execute(
            f'SELECT year("{column}") AS y, count(*), {money} FROM typed WHERE "{column}" IS NOT NULL '
            "GROUP BY 1 ORDER BY 1"
        ).fetchall()
        report.yearly = [
            {"year": int(y), "rows": int(n), "revenue": None if r is None else round(float(r), 2)} for y, n, r in rows
        ]
        header = next((h for h, t in report.mapping.items() if t == column), column)
        if future:
            report.problems.append(
                Problem(
                    report.file,
                    None,
                    header,
                    f"{future:,} 行的日期晚于今天（{today.isoformat()}），最晚 {hi}。在您确认之前，这些日期不参与"
                    "「最近一期」「上季度」等的判断；确认无误请在数据中心点「确认日期」或运行 data confirm-dates。",
                    "warning",
                )
            )
        if early:
            report.problems.append(
                Problem(
                    report.file,
                    None,
                    header,
                    f"{early:,} 行的日期早于 1990 年（最早 {lo}），请确认是否正确。",
                    "warning",
                )
            )
    elif "quarter" in fields:
        lo, hi = con.execute("SELECT min(quarter), max(quarter) FROM typed").fetchone()
        report.date_min, report.date_max = lo, hi
        rows = con.execute("SELECT substr(quarter, 1, 4), count(*) FROM typed GROUP BY 1 ORDER BY 1").fetchall()
        report.yearly = [{"year": int(y), "rows": int(n), "revenue": None} for y, n in rows]


# ---- committing -----------------------------------------------------------------------------------
def _sql_list(names: list[str], prefix: str = "") -> str:
    return ", ".join(f'{prefix}"{n}"' for n in names)


def commit(plan: ImportPlan, store: Store) -> ImportReport:
    """Write a validated plan in one atomic swap of the store (under its writer lock)."""
    report = plan.report
    _settle_currency(report, store)
    staging = plan.raw.database
    plan.raw.con.execute("CHECKPOINT")
    plan.raw.con.close()  # the write connection attaches the staging file read-only
    fresh_data = not store.exists()

    def change(con: duckdb.DuckDBPyConnection) -> None:
        con.execute(f"SET temp_directory = '{plan.raw.folder / 'spill-write'}'")
        con.execute("SET memory_limit = '400MB'")  # a 2M-line import stays well under 1 GB: spill, don't grow
        con.execute(f"ATTACH '{staging}' AS stg (READ_ONLY)")
        try:
            _write(con, plan)
        finally:
            con.execute("DETACH stg")

    store.write(change)
    report.committed = True
    if fresh_data:
        changes: dict[str, Any] = {"currency": report.currency}
        if report.quantity_unit:
            changes["quantity_unit"] = report.quantity_unit
        store.update_profile(**changes)
    if report.future_dates:
        store.update_profile(dates_confirmed=False)
    return report


def _settle_currency(report: ImportReport, store: Store) -> None:
    if not store.exists():
        return
    known = store.profile().currency
    if report.currency_source == "default":
        report.currency, report.currency_source = known, "dataset"
        return
    if report.currency != known:
        report.problems.append(
            Problem(
                report.file,
                None,
                None,
                f"文件中的金额是 {currency(report.currency).name_zh}（{report.currency}），而当前数据集的币种是 "
                f"{currency(known).name_zh}（{known}）。同一数据集不能混合币种：请先换算，或导入到一个新的数据集。",
            )
        )
        raise _reject(report, "币种不一致。")


def _write(con: duckdb.DuckDBPyConnection, plan: ImportPlan) -> None:
    report = plan.report
    spec = TABLES[report.table]
    for a in plan.attributes:
        sql_type = "DOUBLE" if a.kind == "measure" else "VARCHAR"
        con.execute(f'ALTER TABLE "{a.table}" ADD COLUMN IF NOT EXISTS "{a.column}" {sql_type}')
    attr_cols = [a.column for a in plan.attributes]
    fields = [f for f in plan.fields if f in spec.names]
    select = _sql_list(fields, "i.") + ("".join(f', i."{c}"' for c in attr_cols))
    source = "stg.typed i"
    if spec.name == "sales":
        # the staged lines as stored: lines written under another product's name moved to it (a view over stg)
        moved = _lines_to_their_named_product(con) if "name" in plan.side_fields.get("products", []) else []
        if not moved:
            con.execute("CREATE OR REPLACE TEMP VIEW _typed AS SELECT * FROM stg.typed")
        _create_partners(con, plan)
        _create_products(con, plan, moved)
        fields_no_pid = [f for f in fields if f != "partner_id"]
        select = (
            _sql_list(fields_no_pid, "i.")
            + ", coalesce(i.partner_id, m.partner_id) AS partner_id"
            + "".join(f', i."{c}"' for c in attr_cols)
        )
        source = "_typed i LEFT JOIN _name_ids m ON i.partner_id IS NULL AND m.name = i.partner_name"
    columns = fields + attr_cols
    if plan.replace_table:
        _replace(con, plan, spec, select, source)
    else:
        report.inserted, report.updated = _upsert(con, spec, select, source, columns)
    con.execute(
        'INSERT INTO "_imports" VALUES (now(), ?, ?, ?, ?, ?, ?)',
        [report.file, report.table, report.inserted, report.updated, report.created_partner_count, report.rows_skipped],
    )
    stored = {(a["table"], a["column"]): a for a in get_meta(con, "attributes", []) or []}
    for a in plan.attributes:
        stored.setdefault((a.table, a.column), asdict(a))
    set_meta(con, "attributes", list(stored.values()))
    # The file's own names for the columns it filled (实收金额 → revenue): users ask in them
    names = get_meta(con, "header_names", {}) or {}
    for header, target in plan.report.mapping.items():
        if target and "." not in target and header.strip():
            known = names.setdefault(f"{plan.report.table}.{target}", [])
            if header.strip() not in known:
                known.append(header.strip())
    set_meta(con, "header_names", names)
    if plan.report.table == "partners":  # a partner master gives each partner its region: the base rule holds
        set_meta(con, "row_geography", [])


def _mode(column: str) -> str:
    """SQL for the most frequent value of a column in a group, ties going to the smallest value: the same partner
    region and product name on every import (DuckDB's mode() and any_value() pick arbitrarily among ties)."""
    counts = f"histogram({column})"  # a MAP from value to count, its keys sorted
    return f"map_keys({counts})[list_position(map_values({counts}), list_max(map_values({counts})))]"


def _create_partners(con: duckdb.DuckDBPyConnection, plan: ImportPlan) -> None:
    """Partners the sales file names but the store lacks, with ids assigned here, under the writer lock."""
    report = plan.report
    has = set(plan.fields)
    attrs = {
        "region": _mode("sold_to_region") if "sold_to_region" in has else "NULL",
        "province": _mode("sold_to_province") if "sold_to_province" in has else "NULL",
        "city": _mode("sold_to_city") if "sold_to_city" in has else "NULL",
        "country": _mode("sold_to_country") if "sold_to_country" in has else "NULL",
        "type": _mode("partners_type") if "type" in plan.side_fields.get("partners", []) else "NULL",
    }
    agg = ", ".join(f"{expr} AS {name}" for name, expr in attrs.items())
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE _by_key AS SELECT partner_id, partner_name, {agg} "
        "FROM _typed GROUP BY partner_id, partner_name"
    )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _existing_names AS "
        "SELECT trim(name) AS name, min(partner_id) AS partner_id FROM partners WHERE name IS NOT NULL GROUP BY 1"
    )
    start = con.execute(
        "SELECT coalesce(max(TRY_CAST(substr(partner_id, 2) AS BIGINT)), 0) + 1 FROM partners "
        "WHERE regexp_full_match(partner_id, 'N[0-9]+')"
    ).fetchone()[0]
    # Ids the file gives that are unknown, then names without an id that are unknown (numbered in name order).
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _new_partners AS
        SELECT partner_id, coalesce(min(partner_name), partner_id) AS name,
               {", ".join(f"min({n}) AS {n}" for n in attrs)}
        FROM _by_key WHERE partner_id IS NOT NULL AND partner_id NOT IN (SELECT partner_id FROM partners)
        GROUP BY partner_id
        UNION ALL
        SELECT 'N' || lpad(CAST({start} + row_number() OVER (ORDER BY partner_name) - 1 AS VARCHAR), 5, '0'),
               partner_name, {", ".join(attrs)}
        FROM (SELECT partner_name, {", ".join(f"min({n}) AS {n}" for n in attrs)} FROM _by_key
              WHERE partner_id IS NULL AND partner_name NOT IN (SELECT name FROM _existing_names)
              GROUP BY partner_name)"""
    )
    con.execute(
        "INSERT INTO partners BY NAME SELECT partner_id, name, type, region, province, city, country, "
        "NULL AS territory FROM _new_partners"
    )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _name_ids AS SELECT name, partner_id FROM _existing_names "
        "UNION ALL SELECT name, partner_id FROM _new_partners WHERE name NOT IN (SELECT name FROM _existing_names)"
    )
    rows = con.execute("SELECT partner_id, name, region FROM _new_partners ORDER BY partner_id").fetchall()
    if rows:  # partners made from the rows: the rows' own geography is what a sale's region means (row_geography)
        fields = [f for f in ("region", "province", "city", "country") if f"sold_to_{f}" in has]
        set_meta(con, "row_geography", sorted(set(fields) | set(get_meta(con, "row_geography", []) or [])))
    report.created_partner_count = len(rows)
    report.created_partners = [{"partner_id": p, "name": n, "region": r} for p, n, r in rows[:50]]


def _create_products(con: duckdb.DuckDBPyConnection, plan: ImportPlan, moved: list[tuple] | None = None) -> None:
    """SKUs the store lacks, with name/category/list price from the sales file where it has them; existing
    products get missing names and categories filled (a product line becomes the category)."""
    report = plan.report
    side = set(plan.side_fields.get("products", []))
    moved = moved or []
    values = {
        "name": _mode("products_name") if "name" in side else "NULL",
        "category": _mode("products_category") if "category" in side else "NULL",
        "list_price": "max(products_list_price)" if "list_price" in side else "NULL",
    }
    agg = ", ".join(f"{expr} AS {name}" for name, expr in values.items())
    con.execute(f"CREATE OR REPLACE TEMP TABLE _file_products AS SELECT sku, {agg} FROM _typed GROUP BY sku")
    new = [
        r[0]
        for r in con.execute(
            "SELECT sku FROM _file_products WHERE sku NOT IN (SELECT sku FROM products) ORDER BY sku"
        ).fetchall()
    ]
    con.execute(
        "INSERT INTO products BY NAME SELECT sku, coalesce(name, sku) AS name, category, list_price "
        "FROM _file_products WHERE sku NOT IN (SELECT sku FROM products)"
    )
    if side & {"name", "category"}:
        con.execute(
            "UPDATE products SET name = coalesce(products.name, f.name), "
            "category = coalesce(products.category, f.category) "
            "FROM _file_products f WHERE products.sku = f.sku AND (products.name IS NULL OR products.category IS NULL)"
        )
    report.created_product_count = len(new)
    report.created_products = new[:50]
    if "name" in side:  # one code under several names in the lines: the product keeps the most frequent one; say so
        for sku, name, owner, lines in moved[:5]:
            report.notes.append(
                f"产品编号 {sku} 有 {lines:,} 行写作「{name}」：按行上的名称计入「{name}」（编号 {owner}），"
                f"不算在 {sku} 名下；如是名称录错，请在源系统更正后重新导入。"
            )
        if len(moved) > 5:
            report.notes.append("还有更多写着其他产品名称的行，均按行上的名称计入该产品。")
        mixed = con.execute(
            "SELECT sku, list(name ORDER BY n DESC, name) FROM ("
            "SELECT sku, products_name AS name, count(*) AS n FROM _typed WHERE products_name IS NOT NULL "
            "GROUP BY ALL) GROUP BY sku HAVING count(*) > 1 ORDER BY sku LIMIT 6"
        ).fetchall()
        for sku, names in mixed[:5]:
            report.notes.append(
                f"产品编号 {sku} 在文件里写作{'、'.join(f'「{n}」' for n in names[:4])}：按出现最多的「{names[0]}」计，"
                "其余名称下的行也算在它名下；如是录入错误，请在源系统更正编号后重新导入。"
            )
        if len(mixed) > 5:
            report.notes.append("还有更多产品编号对应多个名称，均按出现最多的名称计。")


def _lines_to_their_named_product(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str, str, int]]:
    """Lines whose product name is another product's: the line counts for the product of that name.

    A pharmacy export writes code 2367010 (高特灵 on 105 lines) as 开博通 on 19 lines, and 开博通 is what code
    2367011 is called on 602 lines. Whoever asks about 开博通 means the lines that say 开博通, so those 19 lines are
    moved to 2367011 before anything is stored. A name's product is the stored product of that name, else the code
    the file writes it under most often. Returns (code, name, product it moved to, lines), the first six, for the
    report. Only a code's minority names move (its own most frequent name stays); a name no code owns becomes a
    product of its own, coded <code>·<name> (2367010·无名药), so every line counts under the name it was sold as."""
    con.execute(
        """CREATE OR REPLACE TEMP TABLE _line_names AS
        SELECT sku, products_name AS name, count(*) AS n,
               row_number() OVER (PARTITION BY sku ORDER BY count(*) DESC, products_name) AS place
        FROM stg.typed WHERE products_name IS NOT NULL AND sku IS NOT NULL GROUP BY sku, products_name"""
    )
    con.execute(
        """CREATE OR REPLACE TEMP TABLE _name_owner AS
        SELECT name, coalesce((SELECT min(p.sku) FROM products p WHERE p.name = o.name), min(sku)) AS owner
        FROM (SELECT name, sku FROM _line_names WHERE place = 1
              UNION ALL SELECT name, sku FROM products WHERE name IS NOT NULL) o
        GROUP BY name"""
    )
    con.execute(
        """CREATE OR REPLACE TEMP TABLE _moves AS
        SELECT l.sku, l.name, coalesce(o.owner, l.sku || '·' || l.name) AS owner, l.n
        FROM _line_names l LEFT JOIN _name_owner o USING (name)
        WHERE l.place > 1 AND coalesce(o.owner, '') <> l.sku"""
    )
    moves = con.execute("SELECT * FROM _moves ORDER BY n DESC, sku, name LIMIT 6").fetchall()
    con.execute(
        """CREATE OR REPLACE TEMP VIEW _typed AS
        SELECT i.* REPLACE (coalesce(m.owner, i.sku) AS sku)
        FROM stg.typed i LEFT JOIN _moves m ON m.sku = i.sku AND m.name = i.products_name"""
    )
    return moves


def _key_match(keys: list[str], left: str, right: str) -> str:
    return " AND ".join(f'{left}."{k}" = {right}."{k}"' for k in keys)


def _upsert(con, spec: Table, select: str, source: str, columns: list[str]) -> tuple[int, int]:
    """Insert new rows; rows whose key exists get only the file's columns updated (blank cells keep the
    stored value). Tables without a usable key are appended to."""
    keys = [k for k in spec.key if k in columns]
    existing = con.execute(f'SELECT count(*) FROM "{spec.name}"').fetchone()[0]
    if not spec.key or len(keys) < len(spec.key) or existing == 0:
        inserted = con.execute(f'INSERT INTO "{spec.name}" BY NAME SELECT {select} FROM {source}').fetchone()[0]
        return int(inserted), 0
    con.execute(f"CREATE OR REPLACE TEMP TABLE _incoming AS SELECT {select} FROM {source}")
    updates = [c for c in columns if c not in keys]
    updated = 0
    if updates:
        assignments = ", ".join(f'"{c}" = coalesce(i."{c}", t."{c}")' for c in updates)
        updated = con.execute(
            f'UPDATE "{spec.name}" t SET {assignments} FROM _incoming i WHERE {_key_match(keys, "t", "i")}'
        ).fetchone()[0]
    else:
        updated = con.execute(
            f"SELECT count(*) FROM _incoming i WHERE EXISTS "
            f'(SELECT 1 FROM "{spec.name}" t WHERE {_key_match(keys, "t", "i")})'
        ).fetchone()[0]
    null_key = " OR ".join(f'i."{k}" IS NULL' for k in keys)
    inserted = con.execute(
        f'INSERT INTO "{spec.name}" BY NAME SELECT * FROM _incoming i WHERE {null_key} OR NOT EXISTS '
        f'(SELECT 1 FROM "{spec.name}" t WHERE {_key_match(keys, "t", "i")})'
    ).fetchone()[0]
    return int(inserted), int(updated)


REFERENCES = {
    "partners": ("partner_id", ("sales", "targets", "inventory", "costs", "collections", "surveys")),
    "products": ("sku", ("sales", "inventory")),
}


def _replace(con, plan: ImportPlan, spec: Table, select: str, source: str) -> None:
    """Delete the table's rows and insert the file's; refuses to orphan rows of other tables unless cascading."""
    report = plan.report
    con.execute(f"CREATE OR REPLACE TEMP TABLE _incoming AS SELECT {select} FROM {source}")
    if spec.name in REFERENCES:
        key, users = REFERENCES[spec.name]
        con.execute(
            f'CREATE OR REPLACE TEMP TABLE _removed AS SELECT "{key}" FROM "{spec.name}" '
            f'WHERE "{key}" NOT IN (SELECT "{key}" FROM _incoming WHERE "{key}" IS NOT NULL)'
        )
        removed = con.execute("SELECT count(*) FROM _removed").fetchone()[0]
        used = {
            table: con.execute(
                f'SELECT count(*) FROM "{table}" WHERE "{key}" IN (SELECT "{key}" FROM _removed)'
            ).fetchone()[0]
            for table in users
        }
        used = {t: int(n) for t, n in used.items() if n}
        if used and not plan.cascade:
            in_use = con.execute(
                " UNION ".join(
                    f'SELECT "{key}" FROM "{t}" WHERE "{key}" IN (SELECT "{key}" FROM _removed)' for t in used
                )
            ).fetchall()
            listing = "、".join(f"{TABLES[t].zh} {n:,} 行" for t, n in used.items())
            what = "伙伴" if spec.name == "partners" else "产品"
            report.problems.append(
                Problem(
                    report.file,
                    None,
                    None,
                    f"用这个文件替换{spec.zh}会删除 {removed:,} 个{what}，"
                    f"其中 {len(in_use):,} 个还被其它表引用（{listing}）。"
                    f"为避免留下找不到{what}的记录，没有执行替换。要一并删除这些记录，请加 --cascade（页面上勾选"
                    f"「连带删除引用它们的记录」）；只想更新或补充{what}，请去掉 --replace。",
                )
            )
            raise _reject(report, f"替换{spec.zh}会留下无主的数据。")
        for table in used:
            con.execute(f'DELETE FROM "{table}" WHERE "{key}" IN (SELECT "{key}" FROM _removed)')
        report.cascaded = used
    report.deleted = int(con.execute(f'SELECT count(*) FROM "{spec.name}"').fetchone()[0])
    con.execute(f'DELETE FROM "{spec.name}"')
    report.inserted = int(con.execute(f'INSERT INTO "{spec.name}" BY NAME SELECT * FROM _incoming').fetchone()[0])


# ---- one call ---------------------------------------------------------------------------------------
def import_file(
    store: Store,
    source: Path | str | bytes,
    *,
    filename: str | None = None,
    table: str | None = None,
    mapping: dict[str, str] | None = None,
    skip_bad_rows: bool = False,
    replace_table: bool = False,
    cascade: bool = False,
    date_order: str | dict[str, str] | None = None,
    currency_code: str | None = None,
    max_mb: float = 200.0,
    progress: Progress | None = None,
) -> ImportReport:
    """Read, validate and load one file; raises DataFileError/ImportRejected and then changes nothing."""
    notify = progress or (lambda _f, _m: None)
    notify(0.05, "读取文件")
    raw = read_source(source, filename, max_mb)
    try:
        notify(0.35, f"校验 {raw.rows:,} 行数据")
        plan = plan_import(
            raw,
            filename or raw.name,
            store=store,
            table=table,
            mapping=mapping,
            skip_bad_rows=skip_bad_rows,
            replace_table=replace_table,
            cascade=cascade,
            date_order=date_order,
            currency_code=currency_code,
        )
        notify(0.7, "写入数据库")
        report = commit(plan, store)
    finally:
        raw.close()
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
