"""Date columns in imported files: one format inferred per column from all of its values.

A column is read as one of a few orders (year first, month first, day first, Excel serial numbers,
or a year-month for monthly tables). Month-first against day-first is decided by values whose
first or second part is over 12; a column where no value decides it stays ambiguous and the user
is asked (`--date-order mdy|dmy`, a select in the UI). Separators (- / .), a time part and
two-digit years are handled by normalising the text before DuckDB's strptime reads it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

Order = Literal["ymd", "mdy", "dmy"]
ORDER_LABELS = {"ymd": "年/月/日", "mdy": "月/日/年", "dmy": "日/月/年"}
ORDER_CHOICES = ("mdy", "dmy")

# Text normalisation done in SQL before parsing: time part dropped, separators unified to '-'.
TIME_PART = r"(?:[T ]+\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:\s*[AaPp][Mm])?(?:Z|[+-]\d{2}:?\d{2})?)$"
_TIME_RE = re.compile(TIME_PART)
_YEAR_FIRST = re.compile(r"^(\d{4})-(\d{1,2})(?:-(\d{1,2}))?$")
_YEAR_LAST = re.compile(r"^(\d{1,2})-(\d{1,2})-(\d{2}|\d{4})$")
_COMPACT = re.compile(r"^(\d{4})(\d{2})(\d{2})?$")
_CHINESE = re.compile(r"^(\d{4})年(\d{1,2})月(?:(\d{1,2})日)?$")
_SERIAL = re.compile(r"^\d{4,5}(?:\.\d+)?$")
_MONTH_NAME = re.compile(
    r"^(?:\d{1,2}-[A-Za-z]{3,9}-\d{2,4}|[A-Za-z]{3,9}-\d{1,2},?-\d{4}|\d{1,2}-[A-Za-z]{3,9}-\d{4})$"
)

SERIAL_MIN, SERIAL_MAX = 20000, 80000  # 1954 .. 2119: other numbers are not dates


WEEKDAY = r"\s*(?:星期|周|礼拜)[一二三四五六日天]|\s*\(?(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)[a-z]*\.?\)?"
_WEEKDAY_RE = re.compile(WEEKDAY)


def normalise(text: str) -> str:
    """The Python twin of normalise_sql: strip, drop a weekday and a time part, unify separators."""
    value = _TIME_RE.sub("", _WEEKDAY_RE.sub("", text.strip()).strip())
    value = re.sub(r"\s*[/.]\s*|\s+-\s+", "-", value)
    return re.sub(r"\s+", "-", value)


def normalise_sql(column: str) -> str:
    """SQL expression giving the normalised text of a VARCHAR column (NULL stays NULL)."""
    no_weekday = f"trim(regexp_replace({column}, '{WEEKDAY}', '', 'g'))"
    stripped = f"regexp_replace({no_weekday}, '{TIME_PART}', '')"
    unified = f"regexp_replace({stripped}, '\\s*[/.]\\s*|\\s+-\\s+', '-', 'g')"
    return f"regexp_replace({unified}, '\\s+', '-', 'g')"


@dataclass
class DateInference:
    """What a column's values say about their format."""

    order: Order | None  # None: ambiguous between mdy and dmy, or no value of the year-last form
    ambiguous: bool = False
    conflicting: bool = False  # both a first part > 12 and a second part > 12: two orders mixed
    forms: set[str] = field(default_factory=set)  # ymd, yearlast, compact, chinese, serial, monthname, month
    evidence: str = ""  # a value that decided mdy/dmy
    examples: list[str] = field(default_factory=list)  # ambiguous examples shown to the user
    unknown: list[str] = field(default_factory=list)  # values of no known form
    two_digit_year: bool = False

    @property
    def needs_order(self) -> bool:
        return "yearlast" in self.forms and self.order is None

    def describe(self, column: str) -> str:
        """One sentence for the report: how this column was read and why."""
        if "yearlast" in self.forms and self.order in ("mdy", "dmy"):
            why = f"依据：出现了「{self.evidence}」这样的值" if self.evidence else "按您的选择"
            return f"日期列「{column}」按 {ORDER_LABELS[self.order]} 解析（{why}）。"
        if "serial" in self.forms and len(self.forms) == 1:
            return f"日期列「{column}」是 Excel 日期序列号，已换算为日期。"
        return ""


def infer(values: Iterable[str], *, order: Order | None = None) -> DateInference:
    """Look at every distinct normalised value of a column; `order` is the user's choice, if any."""
    result = DateInference(order=order)
    first_over, second_over = "", ""
    small_examples: list[str] = []
    for raw in values:
        if raw is None:
            continue
        text = normalise(str(raw))
        if not text:
            continue
        if _YEAR_FIRST.match(text):
            result.forms.add("ymd")
        elif m := _YEAR_LAST.match(text):
            result.forms.add("yearlast")
            a, b = int(m.group(1)), int(m.group(2))
            if len(m.group(3)) == 2:
                result.two_digit_year = True
            if a > 12 and not first_over:
                first_over = str(raw).strip()
            if b > 12 and not second_over:
                second_over = str(raw).strip()
            if a <= 12 and b <= 12 and a != b and len(small_examples) < 3:
                small_examples.append(str(raw).strip())
        elif _CHINESE.match(text):
            result.forms.add("chinese")
        elif _COMPACT.match(text) and not _SERIAL.match(text):
            result.forms.add("compact")
        elif _SERIAL.match(text):
            result.forms.add("serial")
        elif _MONTH_NAME.match(text):
            result.forms.add("monthname")
        elif len(result.unknown) < 5:
            result.unknown.append(str(raw).strip())
    if "yearlast" in result.forms and order is None:
        if first_over and second_over:
            result.conflicting = True
            result.examples = [first_over, second_over]
        elif first_over:
            result.order, result.evidence = "dmy", first_over
        elif second_over:
            result.order, result.evidence = "mdy", second_over
        else:
            result.ambiguous = True
            result.examples = small_examples
    return result


def formats(inference: DateInference, *, month: bool = False) -> list[str]:
    """strptime formats (over normalised text) for the forms this column has."""
    out: list[str] = []
    if "ymd" in inference.forms or not inference.forms:
        out += ["%Y-%m-%d", "%Y-%m"] if month else ["%Y-%m-%d"]
    if "chinese" in inference.forms:
        out += ["%Y年%m月%d日", "%Y年%m月"] if month else ["%Y年%m月%d日"]
    if "compact" in inference.forms:
        out += ["%Y%m%d", "%Y%m"] if month else ["%Y%m%d"]
    if "yearlast" in inference.forms and inference.order in ("mdy", "dmy"):
        first, second = ("%m", "%d") if inference.order == "mdy" else ("%d", "%m")
        # %y first: %Y would read '11' in 2/20/11 as the year 11; %y fails on four digits, so %Y follows.
        out += [f"{first}-{second}-%y", f"{first}-{second}-%Y"]
    if "monthname" in inference.forms:
        out += ["%d-%b-%Y", "%d-%b-%y", "%b-%d-%Y", "%b-%d,-%Y", "%d-%B-%Y", "%B-%d-%Y", "%B-%d,-%Y"]
    return out


def parse_sql(column: str, inference: DateInference, *, month: bool = False) -> str:
    """A DuckDB expression turning the VARCHAR column into a DATE (NULL where it does not parse)."""
    parts = []
    fmts = formats(inference, month=month)
    if fmts:
        listed = ", ".join("'" + f.replace("'", "''") + "'" for f in fmts)
        parts.append(f"CAST(try_strptime({normalise_sql(column)}, [{listed}]) AS DATE)")
    if "serial" in inference.forms:
        parts.append(
            f"CASE WHEN regexp_full_match(trim({column}), '\\d{{4,5}}(\\.\\d+)?') "
            f"AND TRY_CAST(trim({column}) AS DOUBLE) BETWEEN {SERIAL_MIN} AND {SERIAL_MAX} "
            f"THEN DATE '1899-12-30' + CAST(floor(TRY_CAST(trim({column}) AS DOUBLE)) AS INTEGER) END"
        )
    expr = f"coalesce({', '.join(parts)})" if len(parts) > 1 else (parts[0] if parts else "CAST(NULL AS DATE)")
    if month:
        expr = f"CAST(date_trunc('month', {expr}) AS DATE)"
    return expr
