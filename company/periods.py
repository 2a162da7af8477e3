"""Reporting periods: quarters, months and years resolved against the data's latest date.

Tools take a period text ("2026Q3", "2026-07", "2026", "latest"/"本季度", "上季度") and get a
Period with its first and last day, a label, and the previous and year-ago periods.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

from company.errors import CanmouError

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
    "latest": ("quarter", 0),
    "本季度": ("quarter", 0),
    "本季": ("quarter", 0),
    "this quarter": ("quarter", 0),
    "上季度": ("quarter", -1),
    "上季": ("quarter", -1),
    "last quarter": ("quarter", -1),
    "previous quarter": ("quarter", -1),
    "本月": ("month", 0),
    "this month": ("month", 0),
    "上月": ("month", -1),
    "上个月": ("month", -1),
    "last month": ("month", -1),
    "今年": ("year", 0),
    "this year": ("year", 0),
    "去年": ("year", -1),
    "last year": ("year", -1),
}


def parse_period(text: str | None, latest: date) -> Period:
    """'2026Q3', '2026-Q3', '2026年第3季度', '2026-07', '2026年7月', '2026', or a relative word.

    Relative words count from the quarter/month/year that holds `latest` (the data's last date).
    """
    raw = (text or "latest").strip()
    lowered = raw.lower()
    if lowered in RELATIVE:
        grain, steps = RELATIVE[lowered]
        return _make(grain, latest).shift(steps)
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
        "或 本季度/上季度/本月/上月/今年/去年。"
    )
