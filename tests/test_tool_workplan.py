"""Quarterly work plan: goals carry the other tools' numbers, phases and review dates fit the quarter."""

from __future__ import annotations

from datetime import date

import pytest

from tests.fixtures import make_store, partner, product, sale
from tools.base import ToolError
from tools.registry import TOOLS


@pytest.fixture
def store(tmp_path):
    partners = [partner("P1"), partner("P2"), partner("P3", region="华南", province="广东", territory="广东")]
    sales = [
        sale("P1", "X", "2026-03-31", 100, 100),
        sale("P2", "X", "2026-03-31", 50, 100),
        sale("P3", "X", "2026-03-31", 80, 100, sold_to_region="华南", sold_to_province="广东"),
        sale("P1", "X", "2025-05-10", 90, 100),
        sale("P2", "X", "2025-05-10", 60, 100),
        sale("P3", "X", "2025-05-10", 50, 100, sold_to_region="华南", sold_to_province="广东"),
    ]
    targets = [
        {"partner_id": p, "quarter": "2026Q1", "target_revenue": t}
        for p, t in (("P1", 9_000), ("P2", 10_000), ("P3", 8_000))
    ]
    costs = [
        {
            "month": "2026-02-01",
            "partner_id": "P1",
            "channel_type": "经销商",
            "region": "华东",
            "cost_type": "物流",
            "amount": 1_150,
        },
        {
            "month": "2026-02-01",
            "partner_id": "P3",
            "channel_type": "经销商",
            "region": "华南",
            "cost_type": "促销",
            "amount": 800,
        },
    ]
    collections = [
        {"partner_id": p, "month": "2026-02-01", "amount_due": d, "amount_collected": c}
        for p, d, c in (("P1", 10_000, 9_000), ("P2", 5_000, 5_000), ("P3", 8_000, 6_000))
    ]
    return make_store(
        tmp_path,
        partners=partners,
        products=[product("X")],
        sales=sales,
        targets=targets,
        costs=costs,
        collections=collections,
    )


def plan(store, **args):
    return TOOLS["quarterly_work_plan"](store, {"quarter": "2026Q2"} | args)


def test_goals_are_computed_from_the_basis_quarter(store):
    result = plan(store)
    goals = result.tables["goals"].set_index("goal")
    # basis 2026Q1 revenue 10,000 + 5,000 + 8,000; plan target = 2025Q2 revenue 20,000 × 1.08
    assert goals.loc["销售额", "baseline"] == 23_000 and goals.loc["销售额", "target"] == pytest.approx(21_600)
    # achievement 111% / 50% / 100% -> 2 of 3 on target
    assert (
        goals.loc["达标伙伴占比", "baseline"] == pytest.approx(66.67) and goals.loc["达标伙伴占比", "target"] == 76.67
    )
    # expense ratio (1,150 + 800) / 23,000 = 8.48% -> minus 0.5 point
    assert goals.loc["费用率", "baseline"] == pytest.approx(8.48) and goals.loc["费用率", "target"] == pytest.approx(
        7.98
    )
    # collections 20,000 / 23,000 = 86.96% -> the 95% target
    assert goals.loc["回款率", "baseline"] == pytest.approx(86.96) and goals.loc["回款率", "target"] == 95.0
    assert result.figures["revenue_target"] == pytest.approx(21_600)


def test_numbers_match_the_tools_they_come_from(store):
    result = plan(store)
    cost = TOOLS["cost_analysis"](store, {"period": "2026Q1"})
    conflicts = TOOLS["detect_conflicts"](store, {"period": "2026Q1"})
    goals = result.tables["goals"].set_index("goal")
    assert goals.loc["费用率", "baseline"] == cost.figures["expense_ratio"]
    assert goals.loc["高严重度渠道冲突", "baseline"] == conflicts.figures["high_severity_findings"]
    high = cost.figures["highest_ratio_group"]
    assert any(m.source == "cost_analysis" and high in m.action for m in result.data.measures)


def test_phases_and_review_dates_fit_the_plan_quarter(store):
    result = plan(store)
    phases = result.data.phases
    assert [p.start for p in phases] == [date(2026, 4, 1), date(2026, 5, 1), date(2026, 6, 1)]
    assert phases[-1].end == date(2026, 6, 30)
    assert result.data.review_dates == [date(2026, 4, 5), date(2026, 5, 5), date(2026, 6, 5), date(2026, 7, 5)]
    assert set(result.data.owners) >= {"渠道总监", "区域经理", "财务部"}
    assert all(k.review_dates == result.data.review_dates for k in result.data.kpis)
    assert result.period == "2026年第2季度（2026-04-01 ~ 2026-06-30）"


def test_region_plan_and_errors(store):
    south = plan(store, region="华南")
    assert south.tables["goals"].set_index("goal").loc["销售额", "baseline"] == 8_000
    assert "华南" in south.title
    with pytest.raises(ToolError, match="没有区域「西域」"):
        plan(store, region="西域")
    with pytest.raises(ToolError, match="没有销售"):
        plan(store, quarter="2031Q1")
    with pytest.raises(ToolError, match="季度"):
        plan(store, quarter="2026-05")


def test_default_quarter_follows_the_data_on_the_sample(loaded_store, small_company):
    result = TOOLS["quarterly_work_plan"](loaded_store, {})
    latest = str(small_company.tables["sales"]["date"].max().date())
    assert result.data.basis_period.endswith(f"~ {latest}）")
    assert {m.area for m in result.data.measures} >= {"伙伴管理", "费用控制"}
    assert len(result.data.phases) == 3 and len(result.tables["kpis"]) == len(result.data.goals)
