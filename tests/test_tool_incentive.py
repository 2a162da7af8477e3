"""Rebate tools: payouts worked out by hand for 全额/分段累进, bonuses, caps, preconditions, budget fit, what-ifs."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from tests.fixtures import make_store, partner, product, sale
from tools.base import TOOLS, ToolError
from tools.incentive import (
    DEFAULT_SCHEDULE,
    FitBudgetArgs,
    RebateArgs,
    RebateSchedule,
    SensitivityArgs,
    fit_rebate_budget,
    rebate_sensitivity,
    simulate_rebate,
)

Q = "2026Q3"
DAY = "2026-08-15"


def company(tmp_path, specs: list[dict], extra_sales: list[dict] = (), collections: bool = True):
    """One product at 100 元 (floor 85); each spec: pid, revenue, target, collected share, last_year revenue."""
    partners, sales, targets, paid = [], list(extra_sales), [], []
    for spec in specs:
        pid = spec["pid"]
        partners.append(partner(pid, **spec.get("partner", {})))
        if spec.get("revenue"):
            sales.append(sale(pid, "S1", DAY, spec["revenue"] / 100, 100.0))
        if spec.get("last_year"):
            sales.append(sale(pid, "S1", "2025-08-15", spec["last_year"] / 100, 100.0))
        if spec.get("target") is not None:
            targets.append({"partner_id": pid, "quarter": Q, "target_revenue": spec["target"]})
        if collections and spec.get("collected", 1.0) is not None:
            paid.append(
                {
                    "partner_id": pid,
                    "month": "2026-08-01",
                    "amount_due": 100_000.0,
                    "amount_collected": 100_000.0 * spec.get("collected", 1.0),
                }
            )
    return make_store(
        tmp_path, partners=partners, products=[product("S1")], sales=sales, targets=targets, collections=paid
    )


# A: 1,000,000 / 950,000 = 105.26% -> 100%档; B: 92% -> 90%档; C: 115% -> 110%档; D: 85% -> none;
# E: 140% -> 110%档 but the default schedule stops counting revenue above 130% of target.
FIVE = [
    {"pid": "A", "revenue": 1_000_000, "target": 950_000},
    {"pid": "B", "revenue": 920_000, "target": 1_000_000},
    {"pid": "C", "revenue": 1_150_000, "target": 1_000_000},
    {"pid": "D", "revenue": 850_000, "target": 1_000_000},
    {"pid": "E", "revenue": 1_400_000, "target": 1_000_000},
]


@pytest.fixture
def five(tmp_path):
    return company(tmp_path, FIVE)


def rows(result, table="rebate_detail"):
    return result.tables[table].set_index("partner_id")


def simulate(store, schedule=None, **kwargs):
    args = {"period": Q, **kwargs}
    if schedule is not None:
        args["schedule"] = schedule
    return simulate_rebate(store, RebateArgs.model_validate(args))


def schedule(**kwargs) -> dict:
    return DEFAULT_SCHEDULE.model_dump() | kwargs


def test_full_mode_pays_whole_revenue_at_highest_tier_reached(five):
    result = simulate(five)
    table = rows(result)
    assert table.loc["A", "achievement"] == pytest.approx(105.26)
    assert table.loc["A", "tier_reached"] == "100%档"
    assert table.loc["A", "rebate_amount"] == pytest.approx(1_000_000 * 0.03)  # 30,000
    assert table.loc["B", "rebate_amount"] == pytest.approx(920_000 * 0.015)  # 13,800
    assert table.loc["C", "rebate_amount"] == pytest.approx(1_150_000 * 0.04)  # 46,000
    assert table.loc["D", "tier_reached"] == "未达门槛"
    assert table.loc["D", "rebate_amount"] == 0
    assert table.loc["E", "rebate_amount"] == pytest.approx(1_000_000 * 1.3 * 0.04)  # 52,000: base capped at 130%
    assert result.figures["rebate_total"] == pytest.approx(30_000 + 13_800 + 46_000 + 52_000)

    tiers = result.tables["by_tier"].set_index("tier")
    assert tiers.loc["110%档", "partners"] == 2
    assert tiers.loc["110%档", "rebate_amount"] == pytest.approx(98_000)
    assert tiers.loc["未达门槛", "partner_share"] == pytest.approx(20.0)
    assert "4 家获得返利，合计 14.18 万元" in result.explanation


def test_marginal_mode_pays_each_slice_at_its_tier_rate(five):
    marginal = schedule(
        mode="marginal",
        max_achievement=None,
        tiers=[{"threshold": 0.9, "rate": 0.015}, {"threshold": 1.0, "rate": 0.03}, {"threshold": 1.1, "rate": 0.045}],
    )
    table = rows(simulate(five, marginal))
    # A: 90%..100% of 950,000 = 95,000 at 1.5% + the 50,000 above target at 3%
    assert table.loc["A", "rebate_amount"] == pytest.approx(95_000 * 0.015 + 50_000 * 0.03)  # 2,925
    # C: 100,000 at 1.5% + 100,000 at 3% + 50,000 at 4.5%
    assert table.loc["C", "rebate_amount"] == pytest.approx(1_500 + 3_000 + 2_250)
    assert table.loc["B", "rebate_amount"] == pytest.approx(20_000 * 0.015)  # 300
    assert table.loc["D", "rebate_amount"] == 0
    assert table.loc["C", "effective_rate"] == pytest.approx(6_750 / 1_150_000 * 100, abs=0.01)


def test_marginal_mode_matches_the_guide_example(tmp_path):
    # Guide 09, 丙: target 300 万, 回款 336 万, slices 270×1% + 30×3% + 30×5% + 6×6% = 5.46 万
    store = company(tmp_path, [{"pid": "丙", "revenue": 3_360_000, "target": 3_000_000}])
    guide = schedule(mode="分段累进", max_achievement=None, tiers=[[0, 0.01], [0.9, 0.03], [1.0, 0.05], [1.1, 0.06]])
    assert rows(simulate(store, guide)).loc["丙", "rebate_amount"] == pytest.approx(54_600)


def test_growth_bonus_only_when_yoy_growth_reaches_threshold(tmp_path):
    store = company(
        tmp_path,
        [
            {"pid": "G", "revenue": 1_000_000, "target": 1_000_000, "last_year": 800_000},  # +25%
            {"pid": "H", "revenue": 1_000_000, "target": 1_000_000, "last_year": 950_000},  # +5.26%
            {"pid": "I", "revenue": 1_000_000, "target": 1_000_000},  # no year-ago sales
        ],
    )
    result = simulate(store, schedule(growth_bonus_rate=0.005, growth_bonus_threshold=0.1))
    table = rows(result)
    assert table.loc["G", "growth_bonus"] == pytest.approx(5_000)
    assert table.loc["G", "rebate_amount"] == pytest.approx(30_000 + 5_000)
    assert table.loc["H", "growth_bonus"] == 0
    assert table.loc["I", "rebate_amount"] == pytest.approx(30_000)
    assert any("1 家伙伴没有去年同期销售" in w for w in result.warnings)


def test_rate_cap_and_amount_cap(five):
    table = rows(simulate(five, schedule(cap_rate=0.02)))
    assert table.loc["C", "rebate_before_cap"] == pytest.approx(46_000)
    assert table.loc["C", "rebate_amount"] == pytest.approx(1_150_000 * 0.02)  # 23,000
    assert table.loc["C", "cap_cut"] == pytest.approx(23_000)
    assert table.loc["B", "rebate_amount"] == pytest.approx(13_800)  # 1.5% < 2%: untouched

    result = simulate(five, schedule(cap_amount=25_000))
    table = rows(result)
    assert table.loc[["A", "C", "E"], "rebate_amount"].tolist() == [25_000, 25_000, 25_000]
    assert table.loc["B", "rebate_amount"] == pytest.approx(13_800)
    assert result.figures["cap_cut"] == pytest.approx(5_000 + 21_000 + 27_000)


def test_each_precondition_excludes_with_its_reason(tmp_path):
    base = {"revenue": 1_000_000, "target": 1_000_000}
    specs = [
        {"pid": "P1", **base, "collected": 0.82},
        {"pid": "P2", "revenue": 990_000, "target": 1_000_000},
        {"pid": "P3", "revenue": 992_000, "target": 1_000_000},
        {"pid": "P4", **base, "partner": {"type": "直营"}},
        {"pid": "P5", "revenue": 1_000_000},
        {"pid": "P6", "target": 1_000_000},
        {"pid": "P7", **base},
        {"pid": "P8", **base, "collected": None},
    ]
    extra = [
        sale("P2", "S1", "2026-08-20", 120, 100.0, sold_to_province="浙江"),  # out of territory
        sale("P3", "S1", "2026-08-20", 100, 80.0),  # 8,000 元 below the 85 元 floor
    ]
    store = company(tmp_path, specs, extra_sales=extra)
    result = simulate(store, schedule(partner_types=["经销商", "代理商"]))
    table = rows(result)
    assert table.loc["P1", "ineligible_reason"] == "回款率 82% 低于 90%"
    assert table.loc["P2", "ineligible_reason"] == "存在跨区销售 120 件"
    assert table.loc["P3", "ineligible_reason"] == "存在低于限价销售 8,000.00 元"
    assert "直营" in table.loc["P4", "ineligible_reason"]
    assert table.loc["P5", "ineligible_reason"] == "无目标"
    assert table.loc["P5", "tier_reached"] == "无目标"
    assert table.loc["P6", "ineligible_reason"] == "本期无销售"
    assert table.loc["P8", "ineligible_reason"] == "无回款记录，回款率无法核实"
    assert table.loc["P1", "rebate_due"] == pytest.approx(30_000)  # earned, then withheld
    for pid in ["P1", "P2", "P3", "P4", "P5", "P6", "P8"]:
        assert table.loc[pid, "eligible"] == "否"
        assert table.loc[pid, "rebate_amount"] == 0
    assert table.loc["P7", "rebate_amount"] == pytest.approx(30_000)
    assert result.figures["paid_partners"] == 1

    relaxed = schedule(min_collection_rate=0.8, require_territory_compliance=False, require_price_compliance=False)
    table = rows(simulate(store, relaxed))
    assert table.loc["P1", "rebate_amount"] == pytest.approx(30_000)
    assert table.loc["P2", "rebate_amount"] == pytest.approx(1_002_000 * 0.03)
    assert table.loc["P3", "rebate_amount"] == pytest.approx(1_000_000 * 0.03)
    assert table.loc["P4", "rebate_amount"] == pytest.approx(30_000)  # no partner_types restriction


def test_missing_collections_table_skips_the_check_with_a_warning(tmp_path):
    store = company(tmp_path, FIVE, collections=False)
    result = simulate(store)
    assert result.figures["rebate_total"] == pytest.approx(141_800)
    assert [m.instead for m in result.missing if m.key == "collections"] == ["「回款率」前置条件没有核查"]


def test_period_without_sales_is_refused_naming_the_data_span(five):
    with pytest.raises(ToolError) as caught:
        simulate_rebate(five, RebateArgs(period="2026Q1"))
    assert caught.value.message == "2026年第1季度没有数据：数据截至 2026-08-15（数据从 2026-08-15 开始）。"


def test_budget_comparison(five):
    result = simulate(five, budget=120_000)
    assert result.figures["budget_gap"] == pytest.approx(141_800 - 120_000)
    assert result.tables["budget_comparison"].iloc[0]["budget_use"] == pytest.approx(118.17)
    assert "超出 2.18 万元" in result.explanation
    assert "结余 8,200.00 元" in simulate(five, budget=150_000).explanation


def test_partners_near_next_tier_with_extra_payout(five):
    near = rows(simulate(five), "near_next_tier")
    assert set(near.index) == {"A", "D"}  # B is 8 points short; C and E are in the top tier
    # A: reach 110% of 950,000 = 1,045,000 -> 4% = 41,800, i.e. 11,800 more for 45,000 more sales
    assert near.loc["A", "revenue_needed"] == pytest.approx(45_000)
    assert near.loc["A", "rebate_increase"] == pytest.approx(41_800 - 30_000)
    # D: exactly 5 points short (boundary included): 900,000 × 1.5% = 13,500, all of it new
    assert near.loc["D", "gap_points"] == pytest.approx(5.0)
    assert near.loc["D", "rebate_increase"] == pytest.approx(13_500)
    assert near.loc["D", "marginal_rate"] == pytest.approx(27.0)  # 13,500 / 50,000: the cliff


def test_fit_budget_by_scaling_rates(five):
    result = fit_rebate_budget(five, FitBudgetArgs(period=Q, budget=100_000))
    factor = result.figures["scale_factor"]
    assert factor == pytest.approx(100_000 / 141_800, abs=1e-5)
    assert result.figures["rebate_total_new"] <= 100_000
    # published rates floored to 0.01 point: 1.05%, 2.11%, 2.82%
    compare = result.tables["schedule_comparison"]
    assert compare["rate_new"].tolist() == [1.05, 2.11, 2.82]
    assert result.figures["rebate_total_new"] == pytest.approx(
        1_000_000 * 0.0211 + 920_000 * 0.0105 + 1_150_000 * 0.0282 + 1_300_000 * 0.0282
    )

    def total(k):
        tiers = [{"threshold": t.threshold, "rate": t.rate * k} for t in DEFAULT_SCHEDULE.tiers]
        return simulate(five, schedule(tiers=tiers)).figures["rebate_total"]

    assert total(factor) <= 100_000 < total(factor * 1.001)


def test_fit_budget_scaling_is_not_proportional_under_caps(five):
    capped = schedule(cap_amount=25_000)  # A 30,000, C 46,000, E 52,000 capped -> total 88,800
    result = fit_rebate_budget(five, FitBudgetArgs(period=Q, budget=80_000, schedule=capped))
    # C and E stay capped at 25,000 each; A and B scale: 50,000 + (30,000 + 13,800) k = 80,000
    assert result.figures["scale_factor"] == pytest.approx(30_000 / 43_800, abs=1e-5)
    assert result.figures["scale_factor"] != pytest.approx(80_000 / 88_800, abs=0.01)
    assert result.figures["rebate_total_new"] <= 80_000

    # Under budget: the schedule is kept, and the headroom factor is 75,000 + 13,800 k = 95,000
    kept = fit_rebate_budget(five, FitBudgetArgs(period=Q, budget=95_000, schedule=capped))
    assert kept.tables["schedule_comparison"]["rate_new"].tolist() == [1.5, 3.0, 4.0]
    assert kept.figures["max_scale_factor"] == pytest.approx(20_000 / 13_800, abs=1e-5)
    raised = fit_rebate_budget(five, FitBudgetArgs(period=Q, budget=95_000, schedule=capped, allow_increase=True))
    assert raised.figures["scale_factor"] == pytest.approx(20_000 / 13_800, abs=1e-5)
    assert 94_000 < raised.figures["rebate_total_new"] <= 95_000
    # Every partner capped at 25,000 means at most 100,000 can ever be paid: a larger budget cannot be used up
    ceiling = fit_rebate_budget(five, FitBudgetArgs(period=Q, budget=150_000, schedule=capped, allow_increase=True))
    assert "仍用不完预算" in ceiling.explanation
    assert ceiling.figures["scale_factor"] == pytest.approx(25_000 / 13_800, abs=1e-5)  # where B hits the cap
    assert 99_900 < ceiling.figures["rebate_total_new"] <= 100_000


def test_fit_budget_by_raising_entry_threshold(five):
    result = fit_rebate_budget(five, FitBudgetArgs(period=Q, budget=130_000, method="raise_entry_threshold"))
    assert result.figures["entry_threshold_new"] == pytest.approx(92.5)  # first 0.5-point step above B's 92%
    assert result.figures["rebate_total_new"] == pytest.approx(141_800 - 13_800)
    assert result.tables["partners_losing_rebate"]["partner_id"].tolist() == ["B"]
    assert result.figures["budget_met"] == "是"


def test_impossible_budget_is_reported(five):
    # Even with the entry threshold at 99.5% the 100% and 110% tiers pay 128,000 > 120,000.
    result = fit_rebate_budget(five, FitBudgetArgs(period=Q, budget=120_000, method="raise_entry_threshold"))
    assert result.figures["budget_met"] == "否"
    assert result.figures["rebate_total_new"] is None
    assert "无法满足预算" in result.explanation
    assert "99.5%" in result.explanation
    assert result.figures["rebate_total_at_highest_threshold"] == pytest.approx(128_000)

    with pytest.raises(ValidationError, match="预算必须大于 0"):
        FitBudgetArgs(budget=0)
    with pytest.raises(ToolError, match="预算必须大于 0"):
        TOOLS["fit_rebate_budget"](five, {"budget": -5})


def test_sensitivity_grid_for_two_partners(tmp_path):
    store = company(
        tmp_path,
        [
            {"pid": "X", "revenue": 1_000_000, "target": 1_000_000},  # 100%
            {"pid": "Y", "revenue": 920_000, "target": 1_000_000},  # 92%
        ],
    )
    result = rebate_sensitivity(store, SensitivityArgs(period=Q))
    grid = result.tables["scenarios"].set_index(["threshold_step", "rate_step"])
    expected = {
        (0.0, 0.0): (30_000 + 13_800, 2),
        (0.0, 0.5): (35_000 + 920_000 * 0.02, 2),
        (0.0, -0.5): (25_000 + 920_000 * 0.01, 2),
        (5.0, 0.0): (1_000_000 * 0.015, 1),  # thresholds 95/105/115: X in the first tier, Y out
        (5.0, 0.5): (1_000_000 * 0.02, 1),
        (-5.0, 0.0): (30_000 + 13_800, 2),  # 85/95/105: X still at 3%, Y now 1.5%
    }
    for key, (total, paid) in expected.items():
        assert grid.loc[key, "rebate_total"] == pytest.approx(total), key
        assert grid.loc[key, "paid_partners"] == paid, key
    matrix = result.tables["rebate_total_grid"].set_index("threshold_change")
    assert matrix.loc["门槛+5个百分点", "rate_up_0_5pt"] == pytest.approx(20_000)
    assert result.tables["paid_partners_grid"].shape == (3, 4)

    floored = rebate_sensitivity(store, SensitivityArgs(period=Q, threshold_steps=[0], rate_steps=[-0.02]))
    # rates 1.5/3/4 minus 2 points -> 0/1/2: X 1% = 10,000, Y nothing
    assert floored.tables["scenarios"].iloc[0]["rebate_total"] == pytest.approx(10_000)
    assert any("低于 0" in w for w in floored.warnings)


@pytest.mark.parametrize(
    ("tiers", "message"),
    [
        ([], "至少需要一个返利档位"),
        ([{"threshold": 1.0, "rate": 0.03}, {"threshold": 0.9, "rate": 0.04}], "第2档门槛 90% 不高于第1档门槛 100%"),
        ([{"threshold": 0.9, "rate": -0.01}], "第1档：返点 -1% 不能为负数"),
        ([{"threshold": 0.9, "rate": 0.03}, {"threshold": 1.0, "rate": 0.02}], "第2档返点 2% 低于第1档返点 3%"),
        ([{"threshold": 90, "rate": 0.03}], "请写成小数"),
        ([{"threshold": 0.9, "rate": 3}], "3% 写 0.03"),
    ],
)
def test_bad_schedules_are_rejected_with_clear_messages(tiers, message):
    with pytest.raises(ValidationError, match=message):
        RebateSchedule(tiers=tiers)


def test_bad_options_are_rejected(five):
    with pytest.raises(ValidationError, match="累进方式"):
        RebateSchedule(tiers=[[0.9, 0.01]], mode="progressive")
    with pytest.raises(ValidationError, match="封顶完成率 100% 须高于最高档门槛 110%"):
        RebateSchedule(tiers=[[0.9, 0.01], [1.1, 0.02]], max_achievement=1.0)
    with pytest.raises(ValidationError, match="回款率门槛"):
        RebateSchedule(tiers=[[0.9, 0.01]], min_collection_rate=90)
    with pytest.raises(ValidationError, match="门槛调整 5 超出范围"):
        SensitivityArgs(threshold_steps=[5])
    with pytest.raises(ToolError, match="可选区域：华东"):
        simulate(five, region="火星")


def test_region_filter_and_registry_call(tmp_path):
    store = company(
        tmp_path,
        [
            {"pid": "N", "revenue": 1_000_000, "target": 1_000_000, "partner": {"region": "华北"}},
            {"pid": "S", "revenue": 1_000_000, "target": 1_000_000},
        ],
    )
    result = TOOLS["simulate_rebate"](store, {"period": Q, "region": "华北"})
    assert result.tables["rebate_detail"]["partner_id"].tolist() == ["N"]
    assert result.figures["rebate_total"] == pytest.approx(30_000)
    assert result.parameters["schedule"]["tiers"][0] == {"threshold": 0.9, "rate": 0.015}


def test_sample_company_tables_agree(loaded_store):
    result = TOOLS["simulate_rebate"](loaded_store, {"budget": 400_000})
    detail = result.tables["rebate_detail"]
    total = result.figures["rebate_total"]
    assert total > 0
    assert detail["rebate_amount"].sum() == pytest.approx(total)
    assert result.tables["by_tier"]["rebate_amount"].sum() == pytest.approx(total)
    assert result.tables["by_region"]["rebate_amount"].sum() == pytest.approx(total)
    assert result.tables["by_tier"]["partner_share"].sum() == pytest.approx(100)
    assert result.tables["by_tier"]["partners"].sum() == len(detail)
    assert (detail.loc[detail["eligible"] == "否", "rebate_amount"] == 0).all()
    assert (detail.loc[detail["eligible"] == "否", "ineligible_reason"] != "").all()
    assert (detail.loc[detail["target"].isna(), "ineligible_reason"].str.contains("无目标")).all()
    assert result.figures["budget_gap"] == pytest.approx(total - 400_000)

    fitted = TOOLS["fit_rebate_budget"](loaded_store, {"budget": round(total * 0.8, 2)})
    assert fitted.figures["rebate_total_new"] <= total * 0.8
    assert fitted.figures["rebate_total_new"] > total * 0.79

    grid = TOOLS["rebate_sensitivity"](loaded_store, {}).tables["rebate_total_grid"].set_index("threshold_change")
    assert grid.loc["门槛不变", "rate_unchanged"] == pytest.approx(total)
    assert (grid.diff(axis=1).iloc[:, 1:] >= 0).all().all()  # higher rates never pay less
    assert (grid.diff(axis=0).iloc[1:] <= 0).all().all()  # higher thresholds never pay more
