"""Period parsing for tools: quarters, months, years, relative words, shifts."""

from __future__ import annotations

from datetime import date

import pytest

from company.periods import PeriodError, parse_period

LATEST = date(2026, 9, 30)


@pytest.mark.parametrize(
    "text, key, start, end",
    [
        ("2026Q3", "2026Q3", "2026-07-01", "2026-09-30"),
        ("2025年第1季度", "2025Q1", "2025-01-01", "2025-03-31"),
        ("Q4 2025", "2025Q4", "2025-10-01", "2025-12-31"),
        ("2026-02", "2026-02", "2026-02-01", "2026-02-28"),
        ("2024年2月", "2024-02", "2024-02-01", "2024-02-29"),
        ("2025", "2025", "2025-01-01", "2025-12-31"),
        ("latest", "2026Q3", "2026-07-01", "2026-09-30"),
        ("上季度", "2026Q2", "2026-04-01", "2026-06-30"),
        ("上月", "2026-08", "2026-08-01", "2026-08-31"),
        ("去年", "2025", "2025-01-01", "2025-12-31"),
        (None, "2026Q3", "2026-07-01", "2026-09-30"),
    ],
)
def test_period_forms(text, key, start, end):
    period = parse_period(text, LATEST)
    assert (period.key, str(period.start), str(period.end)) == (key, start, end)


def test_shifts_and_labels():
    q = parse_period("2026Q1", LATEST)
    assert q.previous.key == "2025Q4" and q.year_ago.key == "2025Q1" and q.shift(2).key == "2026Q3"
    assert q.label == "2026年第1季度" and q.days == 90 and q.months() == ["2026-01", "2026-02", "2026-03"]
    assert parse_period("2026-01", LATEST).previous.key == "2025-12"


def test_bad_period_is_explained():
    with pytest.raises(PeriodError, match="2026Q3"):
        parse_period("下下个财年", LATEST)
