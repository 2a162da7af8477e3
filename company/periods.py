"""Reporting periods, the one owner of time: quarters, months and years, relative words, the data's span.

Relative words (本季度, 上季度, 今年, 上个月, 下季度) resolve against today (company.clock). "latest" is
the latest complete period that has data: a period is complete when the data runs to its last day
and that day is before today. When the data ends earlier than the period asked for, the answer
says "数据截至 YYYY-MM-DD" and offers the latest complete period instead of answering another one.
Dates after today are not part of the data's span until the user confirms them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import TYPE_CHECKING, Literal

from company import clock
from company.errors import CanmouError

if TYPE_CHECKING:
    from company.store import Store

Grain = Literal["quarter", "month", "year"]


class PeriodError(CanmouError):
    """A period text that cannot be understood; the message shows accepted forms."""


@dataclass(frozen=True)
class Period:
    grain: Grain
    start: date
    end: date  # inclusive

    @property
    def key(self) -> str:
        if self.grain == "quarter":
            return f"{self.start.year}Q{(self.start.month - 1) // 3 + 1}"
        if self.grain == "month":
            return f"{self.start.year}-{self.start.month:02d}"
        return str(self.start.year)

    @property
    def label(self) -> str:
        if self.grain == "quarter":
            return f"{self.start.year}年第{(self.start.month - 1) // 3 + 1}季度"
        if self.grain == "month":
            return f"{self.start.year}年{self.start.month}月"
        return f"{self.start.year}年"

    @property
    def span(self) -> str:
        return f"{self.label}（{self.start.isoformat()} ~ {self.end.isoformat()}）"

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def shift(self, steps: int) -> Period:
        """The period `steps` grains later (negative: earlier)."""
        months = {"quarter": 3, "month": 1, "year": 12}[self.grain] * steps
        return _make(self.grain, _add_months(self.start, months))

    @property
    def previous(self) -> Period:
        return self.shift(-1)

    @property
    def year_ago(self) -> Period:
        return _make(self.grain, _add_months(self.start, -12))

    def months(self) -> list[str]:
        out, current = [], self.start
        while current <= self.end:
            out.append(f"{current.year}-{current.month:02d}")
            current = _add_months(current, 1)
        return out


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def _make(grain: Grain, start: date) -> Period:
    if grain == "quarter":
        start = date(start.year, (start.month - 1) // 3 * 3 + 1, 1)
        return Period(grain, start, _add_months(start, 3) - timedelta(days=1))
    if grain == "month":
        start = date(start.year, start.month, 1)
        return Period(grain, start, _add_months(start, 1) - timedelta(days=1))
    start = date(start.year, 1, 1)
    return Period(grain, start, date(start.year, 12, 31))


def period_of(grain: Grain, day: date) -> Period:
    """The quarter, month or year that contains day."""
    return _make(grain, day)


RELATIVE = {
    "本季度": ("quarter", 0),
    "本季": ("quarter", 0),
    "这个季度": ("quarter", 0),
    "this quarter": ("quarter", 0),
    "上季度": ("quarter", -1),
    "上季": ("quarter", -1),
    "上个季度": ("quarter", -1),
    "last quarter": ("quarter", -1),
    "previous quarter": ("quarter", -1),
    "下季度": ("quarter", 1),
    "下个季度": ("quarter", 1),
    "next quarter": ("quarter", 1),
    "本月": ("month", 0),
    "this month": ("month", 0),
    "上月": ("month", -1),
    "上个月": ("month", -1),
    "last month": ("month", -1),
    "下个月": ("month", 1),
    "下月": ("month", 1),
    "next month": ("month", 1),
    "今年": ("year", 0),
    "this year": ("year", 0),
    "去年": ("year", -1),
    "last year": ("year", -1),
    "明年": ("year", 1),
    "next year": ("year", 1),
}
LATEST_WORDS = {"latest", "最近", "最近一期", "最新", "最近一个季度", "最近季度"}


def parse_period(text: str | None, today: date | None = None) -> Period:
    """'2026Q3', '2026-Q3', '2026年第3季度', '2026-07', '2026年7月', '2026', or a relative word.

    Relative words count from the quarter/month/year that holds `today` (the clock's date by default).
    "latest" needs the data and is resolved by resolve(); here it means the quarter before today's.
    """
    raw = (text or "latest").strip()
    lowered = raw.lower()
    day = today or clock.today()
    if lowered in LATEST_WORDS:
        return _make("quarter", day).previous
    if lowered in RELATIVE:
        grain, steps = RELATIVE[lowered]
        return _make(grain, day).shift(steps)
    if match := re.fullmatch(r"(\d{4})\s*[-年/ ]?\s*(?:q|第)\s*([1-4])\s*(?:季度|季)?", lowered):
        return _make("quarter", date(int(match.group(1)), int(match.group(2)) * 3 - 2, 1))
    if match := re.fullmatch(r"q([1-4])\s*[-/ ]?\s*(\d{4})", lowered):
        return _make("quarter", date(int(match.group(2)), int(match.group(1)) * 3 - 2, 1))
    if match := re.fullmatch(r"(\d{4})\s*[-年/.]\s*(\d{1,2})\s*月?", lowered):
        month = int(match.group(2))
        if 1 <= month <= 12:
            return _make("month", date(int(match.group(1)), month, 1))
    if match := re.fullmatch(r"(\d{4})\s*年?", lowered):
        return _make("year", date(int(match.group(1)), 1, 1))
    raise PeriodError(
        f"无法识别期间「{raw}」。请写成 2026Q3（季度）、2026-07（月份）、2026（全年），"
        "或 本季度/上季度/本月/上月/今年/去年/latest（最近一个完整季度）。"
    )


@dataclass(frozen=True)
class DataSpan:
    """The dates the company's sales cover, and today."""

    first: date
    last: date
    today: date
    # Sales dated after today (not yet confirmed by the user) are left out of `last`.
    unconfirmed: int = 0

    def latest_complete(self, grain: Grain = "quarter") -> Period | None:
        """The last period of this grain that the data covers to its last day and that ended before today."""
        period = _make(grain, self.last)
        if period.end > self.last or period.end >= self.today:
            period = period.previous
        while period.end >= self.today:
            period = period.previous
        return period if period.end >= self.first else None

    def coverage(self, period: Period) -> Literal["full", "partial", "none"]:
        if period.start > self.last or period.end < self.first:
            return "none"
        if period.end > self.last or period.start < self.first:
            return "partial"
        return "full"

    @property
    def window(self) -> str:
        return f"{self.first.isoformat()} ~ {self.last.isoformat()}"

    @property
    def until(self) -> str:
        return f"数据截至 {self.last.isoformat()}"


@dataclass
class Resolved:
    """A period resolved from a user's words, with what the answer must say about it."""

    period: Period
    notes: list[str] = field(default_factory=list)


def data_span(store: Store) -> DataSpan | None:
    """First and last sales date (dates after today count only once the dataset's dates are confirmed)."""
    today = clock.today()
    confirmed = store.profile().dates_confirmed
    row = store.query(
        "SELECT min(date) AS lo, max(date) AS hi, max(date) FILTER (WHERE date <= ?) AS hi_today, "
        "count(*) FILTER (WHERE date > ?) AS future FROM sales",
        [today, today],
    ).iloc[0]
    if row["lo"] is None or row["lo"] != row["lo"]:
        return None
    last = row["hi"] if confirmed else row["hi_today"]
    if last is None or last != last:  # every date is in the future and unconfirmed
        return None
    as_date = [_as_date(v) for v in (row["lo"], last)]
    return DataSpan(as_date[0], as_date[1], today, 0 if confirmed else int(row["future"]))


def _as_date(value) -> date:
    if isinstance(value, date) and not hasattr(value, "hour"):
        return value
    return value.date() if hasattr(value, "date") else date.fromisoformat(str(value)[:10])


def resolve(text: str | None, span: DataSpan, grain: Grain | None = None) -> Resolved:
    """A period from the user's words against today and the data: 'latest' is the latest complete period
    with data; a period the data does not reach raises PeriodError naming the latest complete one."""
    raw = (text or "latest").strip()
    if raw.lower() in LATEST_WORDS:
        period = span.latest_complete(grain or "quarter")
        if period is None:
            raise PeriodError(
                f"数据（{span.window}）还不满一个完整的{_GRAIN_ZH[grain or 'quarter']}，请指定期间，例如 "
                f"{_make(grain or 'quarter', span.last).key}。"
            )
        resolved = Resolved(period)
    else:
        resolved = Resolved(parse_period(raw, span.today))
    period = resolved.period
    if grain and period.grain != grain:
        names = {"quarter": "季度（如 2026Q3）", "month": "月份（如 2026-07）", "year": "年份（如 2026）"}
        raise PeriodError(f"这里需要按{names[grain]}计算，收到的是「{text}」。")
    coverage = span.coverage(period)
    if coverage == "none":
        latest = span.latest_complete(period.grain) or span.latest_complete("quarter")
        offer = f"最近一个有数据的完整{_GRAIN_ZH[latest.grain]}是 {latest.label}（{latest.key}）。" if latest else ""
        raise PeriodError(f"{period.label}没有数据：{span.until}（数据从 {span.first.isoformat()} 开始）。{offer}")
    if coverage == "partial":
        resolved.notes.append(f"{span.until}，{period.label}只有部分数据（{_overlap(period, span)}）。")
    if span.unconfirmed:
        resolved.notes.append(f"有 {span.unconfirmed:,} 行销售的日期晚于今天，未经确认，不计入「最近」的判断。")
    return resolved


_GRAIN_ZH = {"quarter": "季度", "month": "月份", "year": "年度"}


def _overlap(period: Period, span: DataSpan) -> str:
    start, end = max(period.start, span.first), min(period.end, span.last)
    return f"{start.isoformat()} ~ {end.isoformat()}"
