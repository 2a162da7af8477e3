"""Period parsing for tools: quarters, months, years, relative words, shifts."""

from __future__ import annotations

from datetime import date

import pytest

from company.periods import PeriodError, parse_period

TODAY = date(2026, 9, 30)
LATEST = TODAY


@pytest.mark.parametrize(
    "text, key, start, end",
    [
        ("2026Q3", "2026Q3", "2026-07-01", "2026-09-30"),
        ("2025年第1季度", "2025Q1", "2025-01-01", "2025-03-31"),
        ("Q4 2025", "2025Q4", "2025-10-01", "2025-12-31"),
        ("2026-02", "2026-02", "2026-02-01", "2026-02-28"),
        ("2024年2月", "2024-02", "2024-02-01", "2024-02-29"),
        ("2025", "2025", "2025-01-01", "2025-12-31"),
        ("latest", "2026Q2", "2026-04-01", "2026-06-30"),
        ("本季度", "2026Q3", "2026-07-01", "2026-09-30"),
        ("上季度", "2026Q2", "2026-04-01", "2026-06-30"),
        ("下季度", "2026Q4", "2026-10-01", "2026-12-31"),
        ("上月", "2026-08", "2026-08-01", "2026-08-31"),
        ("去年", "2025", "2025-01-01", "2025-12-31"),
        (None, "2026Q2", "2026-04-01", "2026-06-30"),
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


# ---- against today and the data --------------------------------------------------------------------------
from company.periods import DataSpan, resolve  # noqa: E402


def test_relative_words_resolve_against_today_and_say_when_the_data_ends():
    span = DataSpan(first=date(2024, 1, 1), last=date(2026, 10, 31), today=date(2026, 11, 30))
    assert resolve("上季度", span).period.key == "2026Q3"
    current = resolve("本季度", span)
    assert current.period.key == "2026Q4"
    assert current.notes == ["数据截至 2026-10-31，2026年第4季度只有部分数据（2026-10-01 ~ 2026-10-31）。"]
    assert resolve("latest", span).period.key == "2026Q3"  # latest complete quarter with data
    assert resolve("latest", span, "month").period.key == "2026-10"
    assert resolve("今年", span).period.key == "2026"


def test_old_data_is_not_moved_to_today_and_the_answer_offers_the_latest_complete_period():
    span = DataSpan(first=date(2003, 1, 6), last=date(2005, 5, 31), today=date(2026, 11, 30))
    assert resolve("latest", span).period.key == "2005Q1"
    assert resolve(None, span).period.key == "2005Q1"
    with pytest.raises(PeriodError) as caught:
        resolve("上季度", span)
    assert caught.value.message == (
        "2026年第3季度没有数据：数据截至 2005-05-31（数据从 2003-01-06 开始）。"
        "最近一个有数据的完整季度是 2005年第1季度（2005Q1）。"
    )


def test_a_quarter_that_has_not_ended_is_not_complete():
    span = DataSpan(first=date(2026, 1, 1), last=date(2026, 9, 30), today=date(2026, 9, 30))
    assert resolve("latest", span).period.key == "2026Q2"
