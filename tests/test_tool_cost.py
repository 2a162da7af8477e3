"""Channel cost analysis: hand-worked expense ratios, cost-to-serve, margins, ROI, concentration, channel length,
shared-cost allocation, edge cases, argument errors, and consistency on the sample company."""

from __future__ import annotations

import math

import pytest

import tools.cost  # noqa: F401  (registers cost_analysis)
from tests.fixtures import make_store, partner, product, sale
from tools.base import TOOLS, ToolError
from tools.cost import hhi_verdict

# Product A: price 100, unit cost 60 (40% margin); product B: price 50, unit cost 20 (60% margin).
PARTNERS = [
    partner("P1", type="经销商", region="华东", channel_level=2),
    partner("P2", type="经销商", region="华南", channel_level=2),
    partner("P3", type="零售商", region="华东", channel_level=1),
    partner("P4", type="直营", region="华东", channel_level=0),
    partner("P5", type="零售商", region="华南", channel_level=1),
]
PRODUCTS = [
    product("A", list_price=100.0, floor_price=80.0, unit_cost=60.0),
    product("B", list_price=50.0, floor_price=40.0, unit_cost=20.0),
]
SALES_2026Q1 = [
    sale("P1", "A", "2026-01-15", 100, 100),  # 10000, GP 4000
    sale("P1", "B", "2026-02-10", 200, 50),  # 10000, GP 6000
    sale("P2", "A", "2026-02-01", 50, 100),  # 5000, GP 2000
    sale("P3", "B", "2026-03-05", 100, 50),  # 5000, GP 3000
    sale("P4", "A", "2026-01-20", 25, 100),  # 2500, GP 1000
    sale("P5", "B", "2026-03-20", 150, 50),  # 7500, GP 4500
]
SALES_2025Q1 = [
    sale("P1", "A", "2025-01-15", 80, 100),  # 8000, GP 3200
    sale("P2", "A", "2025-02-01", 40, 100),  # 4000, GP 1600
    sale("P3", "B", "2025-03-05", 80, 50),  # 4000, GP 2400
    sale("P4", "A", "2025-01-20", 20, 100),  # 2000, GP 800
    sale("P5", "B", "2025-03-20", 100, 50),  # 5000, GP 3000
]


def cost(month, cost_type, amount, partner_id=None, channel_type=None, region=None):
    return {
        "month": month,
        "partner_id": partner_id,
        "channel_type": channel_type,
        "region": region,
        "cost_type": cost_type,
        "amount": amount,
    }


COSTS = [
    # Booked to partners. P1's row carries a wrong type/region: the partner's master data must win.
    cost("2026-01-01", "物流", 600, "P1", channel_type="直营", region="华南"),
    cost("2026-03-01", "返利", 1000, "P1"),
    cost("2026-02-01", "促销", 400, "P2"),
    cost("2026-03-01", "人员", 300, "P3"),
    cost("2026-01-01", "人员", 400, "P4"),
    cost("2026-02-01", "人员", 400, "P4"),
    cost("2026-03-01", "人员", 400, "P4"),
    cost("2026-01-01", "物流", 300, "P4"),
    # Shared: 经销商 in every region -> P1:P2 by revenue 20000:5000; 零售商 only 华东 -> P3 (not P5).
    cost("2026-02-01", "市场推广", 1000, channel_type="经销商"),
    cost("2026-03-01", "促销", 500, channel_type="零售商", region="华东"),
    cost("2026-01-01", "其他", 200, channel_type="直营", region="华东"),
    # A channel type without partners: a zero-revenue group, cannot be allocated.
    cost("2026-02-01", "市场推广", 300, channel_type="代理商", region="华北"),
    # Outside 2026Q1: must not count.
    cost("2025-12-01", "物流", 999, "P1"),
    cost("2025-01-01", "返利", 500, "P1"),
]


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    # The tool only reads, so one hand-made company serves every test in this module.
    return make_store(
        tmp_path_factory.mktemp("cost"),
        partners=PARTNERS,
        products=PRODUCTS,
        sales=SALES_2026Q1 + SALES_2025Q1,
        costs=COSTS,
    )


def run(store, **args):
    # The fixture's sales run to 2026-03-20: ask for that quarter by name ("latest" is the last complete one).
    return TOOLS["cost_analysis"](store, {"period": "2026Q1", **args})


def row(frame, column, value):
    rows = frame[frame[column] == value]
    assert len(rows) == 1, f"{value} not found once in {column}"
    return rows.iloc[0]


def test_expense_ratio_margin_and_contribution_by_channel_type(store):
    result = run(store)  # latest = 2026Q1, the quarter of the last sale
    assert result.period.startswith("2026年第1季度")
    table = result.tables["by_channel_type"]
    assert next(iter(result.tables)) == "by_channel_type"
    expected = {
        # type: partners, revenue, cost, ratio%, GP, margin%, contribution, contribution%
        "经销商": (2, 25_000, 600 + 1000 + 400 + 1000, 12.00, 12_000, 48.00, 9_000, 36.00),
        "零售商": (2, 12_500, 300 + 500, 6.40, 7_500, 60.00, 6_700, 53.60),
        "直营": (1, 2_500, 1200 + 300 + 200, 68.00, 1_000, 40.00, -700, -28.00),
    }
    for name, (n, revenue, spent, ratio, gp, margin, contrib, contrib_pct) in expected.items():
        r = row(table, "channel_type", name)
        assert r["partners"] == n
        assert r["revenue"] == pytest.approx(revenue)
        assert r["cost"] == pytest.approx(spent)
        assert r["expense_ratio"] == pytest.approx(ratio)
        assert r["gross_profit"] == pytest.approx(gp)
        assert r["gross_margin"] == pytest.approx(margin)
        assert r["contribution"] == pytest.approx(contrib)
        assert r["contribution_margin"] == pytest.approx(contrib_pct)

    f = result.figures
    assert f["revenue"] == pytest.approx(40_000)
    assert f["cost"] == pytest.approx(3_800 + 2_000)
    assert f["expense_ratio"] == pytest.approx(14.50)  # 5800 / 40000
    assert f["gross_profit"] == pytest.approx(20_500)
    assert f["gross_margin"] == pytest.approx(51.25)
    assert f["contribution"] == pytest.approx(14_700)
    assert (f["highest_ratio_group"], f["highest_expense_ratio"]) == ("直营", 68.00)
    assert (f["lowest_ratio_group"], f["lowest_expense_ratio"]) == ("零售商", 6.40)
    assert "直营" in result.explanation and "零售商" in result.explanation
    assert "61.60 个百分点" in result.explanation  # 68.00 - 6.40
    assert "按本期销售额占比" in result.formula


def test_zero_revenue_group_shows_cost_but_no_ratio(store):
    result = run(store)
    agent = row(result.tables["by_channel_type"], "channel_type", "代理商")
    assert agent["partners"] == 0
    assert agent["revenue"] == 0
    assert agent["cost"] == pytest.approx(300)
    assert math.isnan(agent["expense_ratio"])
    north = row(result.tables["by_region"], "region", "华北")
    assert north["cost"] == pytest.approx(300) and math.isnan(north["expense_ratio"])
    assert result.figures["unallocated_cost"] == pytest.approx(300)
    assert any("代理商/华北" in w and "300.00" in w for w in result.warnings)


def test_region_table_includes_allocated_shared_costs(store):
    result = run(store, group_by="region")
    table = result.tables["by_region"]
    assert next(iter(result.tables)) == "by_region"
    east = row(table, "region", "华东")  # P1 1600+800, P3 300+500, P4 1500+200
    assert east["revenue"] == pytest.approx(27_500)
    assert east["cost"] == pytest.approx(4_900)
    assert east["expense_ratio"] == pytest.approx(17.82)  # 4900 / 27500 = 17.818%
    assert east["gross_margin"] == pytest.approx(50.91)  # 14000 / 27500
    south = row(table, "region", "华南")  # P2 400+200, P5 nothing
    assert south["cost"] == pytest.approx(600)
    assert south["expense_ratio"] == pytest.approx(4.80)
    assert table["cost"].sum() == pytest.approx(5_800)
    assert (result.figures["highest_ratio_group"], result.figures["lowest_ratio_group"]) == ("华东", "华南")
    assert "13.02 个百分点" in result.explanation  # 17.82 - 4.80


def test_cost_to_serve_per_partner_with_allocation(store):
    result = run(store, group_by="partner")
    table = result.tables["by_partner"]
    assert next(iter(result.tables)) == "by_partner"
    expected = {
        # partner: direct, allocated, cost-to-serve, per 万元 revenue, ratio %
        "P1": (600 + 1000, 800, 2_400, 1_200.00, 12.00),  # 1000 × 20000/25000
        "P2": (400, 200, 600, 1_200.00, 12.00),  # 1000 × 5000/25000
        "P3": (300, 500, 800, 1_600.00, 16.00),  # the whole 零售商/华东 pool
        "P4": (1_500, 200, 1_700, 6_800.00, 68.00),
        "P5": (0, 0, 0, 0.00, 0.00),  # 华南 零售商: no direct cost and outside the 华东 pool
    }
    for pid, (direct, allocated, total, per_10k, ratio) in expected.items():
        r = row(table, "partner_id", pid)
        assert r["direct_cost"] == pytest.approx(direct)
        assert r["allocated_cost"] == pytest.approx(allocated)
        assert r["cost_to_serve"] == pytest.approx(total)
        assert r["cost_per_10k_revenue"] == pytest.approx(per_10k)
        assert r["expense_ratio"] == pytest.approx(ratio)
    assert row(table, "partner_id", "P1")["channel_type"] == "经销商"  # not the 直营 written on its cost row
    assert (result.figures["highest_ratio_group"], result.figures["lowest_ratio_group"]) == ("伙伴P4", "伙伴P5")
    # Allocated partner costs plus the unallocated pool give back every cost of the quarter.
    assert table["cost_to_serve"].sum() + result.figures["unallocated_cost"] == pytest.approx(5_800)


def test_cost_breakdown_by_cost_type(store):
    breakdown = run(store).tables["cost_breakdown"]
    dealer = row(breakdown, "channel_type", "经销商")
    assert (dealer["cost_logistics"], dealer["cost_promotion"], dealer["cost_rebate"], dealer["cost_marketing"]) == (
        600,
        400,
        1000,
        1000,
    )
    assert dealer["cost_personnel"] == 0 and dealer["cost_total"] == 3_000
    direct = row(breakdown, "channel_type", "直营")
    assert (direct["cost_personnel"], direct["cost_logistics"], direct["cost_other"], direct["cost_total"]) == (
        1200,
        300,
        200,
        1700,
    )
    by_partner = run(store, group_by="partner").tables["cost_breakdown"]
    p1 = row(by_partner, "partner_id", "P1")
    assert (p1["name"], p1["cost_logistics"], p1["cost_rebate"], p1["cost_marketing"]) == ("伙伴P1", 600, 1000, 800)
    assert row(by_partner, "partner_id", "P5")["cost_total"] == 0


def test_incentive_roi_against_year_ago(store):
    result = run(store)
    roi = result.tables["incentive_roi"]
    dealer = row(roi, "channel_type", "经销商")
    assert dealer["gross_profit"] == pytest.approx(12_000)
    assert dealer["gross_profit_year_ago"] == pytest.approx(3_200 + 1_600)
    assert dealer["incremental_gross_profit"] == pytest.approx(7_200)
    assert dealer["incentive_spend"] == pytest.approx(1_000 + 400)  # 返利 P1 + 促销 P2
    assert dealer["roi"] == pytest.approx(5.1429)  # 7200 / 1400
    retail = row(roi, "channel_type", "零售商")
    assert retail["incremental_gross_profit"] == pytest.approx(7_500 - 5_400)
    assert retail["roi"] == pytest.approx(4.2)  # 2100 / 500 shared 促销
    direct = row(roi, "channel_type", "直营")
    assert direct["incentive_spend"] == 0 and math.isnan(direct["roi"])
    assert any("直营" in w and "没有激励费用" in w for w in result.warnings)
    assert result.figures["roi"] == pytest.approx(5.0)  # (7200 + 2100 + 200) / 1900

    only_rebate = run(store, incentive_cost_types=["返利"]).tables["incentive_roi"]
    assert row(only_rebate, "channel_type", "经销商")["roi"] == pytest.approx(7.2)  # 7200 / 1000


def test_concentration_top_share_and_hhi(store):
    result = run(store, top_n=3)
    # shares 0.5, 0.1875, 0.125, 0.125, 0.0625 -> HHI = 0.3203125 × 10000
    assert result.figures["hhi"] == pytest.approx(3203.125, abs=0.01)
    assert result.figures["concentration_verdict"] == "高度集中"
    assert result.figures["top_n_share"] == pytest.approx(81.25)  # (20000 + 7500 + 5000) / 40000
    top = result.tables["concentration"]
    assert top["partner_id"].tolist() == ["P1", "P5", "P2"]
    assert top["cumulative_share"].tolist() == [50.00, 68.75, 81.25]
    assert "高度集中" in result.explanation
    assert run(store).figures["top_n_share"] == pytest.approx(100.0)


@pytest.mark.parametrize(
    "hhi, verdict", [(1499.9, "分散"), (1500, "中等集中"), (2500, "中等集中"), (2500.1, "高度集中")]
)
def test_hhi_verdict_thresholds(hhi, verdict):
    assert hhi_verdict(hhi) == verdict


def test_channel_length_comparison(store):
    table = run(store).tables["channel_length"]
    assert table["level_name"].tolist() == ["直营/直销", "一级", "二级"]
    assert table["partners"].tolist() == [1, 2, 2]
    assert table["revenue"].tolist() == [2_500, 12_500, 25_000]
    assert table["gross_margin"].tolist() == [40.00, 60.00, 48.00]
    assert table["expense_ratio"].tolist() == [68.00, 6.40, 12.00]
    assert table["contribution_margin"].tolist() == [-28.00, 53.60, 36.00]


def test_region_filter_keeps_allocated_share_of_nationwide_pool(store):
    result = run(store, region="华东")
    assert "区域=华东" in result.title
    assert result.figures["revenue"] == pytest.approx(27_500)
    assert result.figures["cost"] == pytest.approx(4_900)  # P1 gets 800 of the 经销商 pool, P2's 200 is out
    assert set(result.tables["by_partner"]["partner_id"]) == {"P1", "P3", "P4"}
    # (20000² + 5000² + 2500²) / 27500² × 10000
    assert result.figures["hhi"] == pytest.approx(5702.48, abs=0.01)


def test_partner_type_filter(store):
    result = run(store, partner_type="零售商")
    assert result.figures["revenue"] == pytest.approx(12_500)
    assert result.figures["cost"] == pytest.approx(800)
    assert result.tables["by_channel_type"]["channel_type"].tolist() == ["零售商"]
    assert result.explanation.startswith("范围内只有零售商一组有销售")


def test_month_grain_allocates_within_the_month(store):
    result = run(store, period="2026-02", group_by="partner")
    f = result.figures
    assert f["revenue"] == pytest.approx(15_000)  # P1 10000 (B), P2 5000
    assert f["cost"] == pytest.approx(400 + 400 + 1000 + 300)
    assert f["expense_ratio"] == pytest.approx(14.00)
    table = result.tables["by_partner"]
    assert row(table, "partner_id", "P1")["allocated_cost"] == pytest.approx(666.67)  # 1000 × 10000/15000
    p4 = row(table, "partner_id", "P4")  # staff cost but no sales this month
    assert p4["cost_to_serve"] == pytest.approx(400) and math.isnan(p4["cost_per_10k_revenue"])
    roi = result.tables["incentive_roi"]
    assert row(roi, "channel_type", "经销商")["roi"] == pytest.approx(16.0)  # (8000 - 1600) / 400


def test_no_year_ago_sales_leaves_roi_missing_with_warning(tmp_path):
    store = make_store(tmp_path, partners=PARTNERS, products=PRODUCTS, sales=SALES_2026Q1, costs=COSTS)
    result = run(store)
    roi = result.tables["incentive_roi"]
    assert roi["roi"].isna().all()
    assert roi["gross_profit_year_ago"].isna().all()
    assert result.figures["roi"] is None
    assert any("去年同期（2025年第1季度）没有销售数据" in w for w in result.warnings)


def test_partly_covered_year_ago_is_not_a_baseline(tmp_path):
    # Data starts in February 2025, so 2025Q1 lacks January: comparing with it would inflate the ROI.
    sales = [*SALES_2026Q1, sale("P2", "A", "2025-02-01", 40, 100), sale("P3", "B", "2025-03-05", 80, 50)]
    store = make_store(tmp_path, partners=PARTNERS, products=PRODUCTS, sales=sales, costs=COSTS)
    result = run(store)
    assert result.tables["incentive_roi"]["roi"].isna().all()
    assert any("2025-02-01 开始" in w and "只有部分月份" in w for w in result.warnings)


def test_incomplete_current_period_is_warned(tmp_path):
    sales = [s for s in SALES_2026Q1 + SALES_2025Q1 if s["date"] < "2026-03-01"]
    store = make_store(tmp_path, partners=PARTNERS, products=PRODUCTS, sales=sales, costs=COSTS)
    result = run(store, period="2026Q1")
    assert any("本期销售数据只到 2026-02-10" in w for w in result.warnings)
    assert not any("本期销售数据只到" in w for w in run(store, period="2026-02").warnings)


def test_no_costs_at_all_are_named_not_counted_as_zero(tmp_path):
    store = make_store(tmp_path, partners=PARTNERS, products=PRODUCTS, sales=SALES_2026Q1)
    result = run(store, group_by="partner")
    assert result.figures["cost"] is None and result.figures["expense_ratio"] is None  # never "0 %"
    assert result.tables["by_partner"]["cost_to_serve"].isna().all()
    assert [m.key for m in result.missing] == ["costs"]
    assert "缺少「渠道费用」" in result.missing_lines()[0] and "导入渠道费用表" in result.missing_lines()[0]
    assert result.figures["revenue"] > 0 and result.figures["gross_margin"] is not None


def test_missing_unit_cost_is_warned(tmp_path):
    store = make_store(
        tmp_path,
        partners=PARTNERS,
        products=[product("A", unit_cost=None), product("B")],
        sales=[sale("P1", "A", "2026-01-15", 10, 100), sale("P1", "B", "2026-01-15", 1, 100)],
    )
    result = run(store)
    assert any("缺少单位成本" in w and "1,000.00" in w for w in result.warnings)


def test_no_unit_cost_at_all_leaves_margin_uncomputed(tmp_path):
    store = make_store(
        tmp_path,
        partners=PARTNERS,
        products=[product("A", unit_cost=None)],
        sales=[sale("P1", "A", "2026-01-15", 10, 100)],
    )
    result = run(store)
    assert result.figures["gross_margin"] is None and result.tables["by_channel_type"]["gross_profit"].isna().all()
    assert "unit_costs" in [m.key for m in result.missing]


@pytest.mark.parametrize(
    "args, message",
    [
        ({"region": "火星"}, "可选区域：华东、华北、华南"),
        ({"partner_type": "代购"}, "可选类型："),
        ({"period": "2024Q1"}, "2024年第1季度"),
        ({"period": "2024Q1"}, "数据截至 2026-03-20（数据从 2025-01-15 开始）"),
        ({"region": "华北"}, "没有销售额"),
    ],
)
def test_bad_arguments_are_explained(store, args, message):
    with pytest.raises(ToolError) as error:
        run(store, **args)
    assert message in error.value.message


@pytest.mark.parametrize(
    "args, message",
    [
        ({"group_by": "product"}, "group_by 只能是"),
        ({"incentive_cost_types": ["广告"]}, "未知的费用类型：广告"),
        ({"incentive_cost_types": []}, "不能为空"),
        ({"top_n": 0}, "top_n"),
    ],
)
def test_invalid_argument_values_are_rejected(store, args, message):
    with pytest.raises(ToolError) as error:
        run(store, **args)
    assert message in str(error.value)


def test_chinese_group_by_alias(store):
    result = run(store, group_by="区域")
    assert result.parameters["group_by"] == "region"
    assert next(iter(result.tables)) == "by_region"


def test_sample_company_is_consistent(loaded_store):
    result = run(loaded_store)
    span = result.period
    start, end = span[span.index("（") + 1 : span.index("）")].split(" ~ ")
    total = loaded_store.query("SELECT sum(amount) AS t FROM costs WHERE month BETWEEN ? AND ?", [start, end])["t"][0]
    revenue = loaded_store.query("SELECT sum(revenue) AS r FROM sales WHERE date BETWEEN ? AND ?", [start, end])["r"][0]
    assert result.figures["cost"] == pytest.approx(total, abs=0.05)
    assert result.figures["revenue"] == pytest.approx(revenue, abs=0.05)
    for name in ("by_channel_type", "by_region"):
        assert result.tables[name]["cost"].sum() == pytest.approx(total, abs=0.5)
        ratios = result.tables[name]["expense_ratio"].dropna()
        assert ((ratios > 0) & (ratios < 100)).all()
    partners = result.tables["by_partner"]
    assert partners["cost_to_serve"].sum() + result.figures["unallocated_cost"] == pytest.approx(total, abs=0.5)
    assert (partners["cost_to_serve"] >= 0).all() and partners["cost_to_serve"].notna().all()
    by_type = result.tables["by_channel_type"].set_index("channel_type")["expense_ratio"]
    assert by_type.idxmax() == "直营" == result.figures["highest_ratio_group"]
    length = result.tables["channel_length"].set_index("channel_level")["expense_ratio"]
    assert length[0] > length[2]  # direct stores carry their own staff
    assert 0 < result.figures["hhi"] <= 10_000
    # The small sample spans 12 months: the latest quarter has no year-ago quarter.
    assert any("去年同期（" in w and "没有销售数据" in w for w in result.warnings)
