"""detect_conflicts: 窜货, 乱价, 压货 and 持续下滑 on hand-made companies (numbers worked out here), a clean company
that raises nothing, every anomaly planted in the default sample company, and clear errors for bad arguments.
"""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from company.errors import CanmouError
from company.sample import generate
from company.store import Store
from tests.fixtures import make_store, partner, product, sale
from tools import TOOLS, ToolError
from tools.conflict import ConflictArgs, Finding, detect_conflicts


def run(store: Store, **args) -> tuple[list[Finding], object]:
    result = detect_conflicts(store, ConflictArgs(**args))
    return result.data, result


def by_partner(findings: list[Finding]) -> dict[str, Finding]:
    return {f.partner_id: f for f in findings}


# ---------------------------------------------------------------------------------------------------------------
# 窜货 cross_region
# ---------------------------------------------------------------------------------------------------------------


def _line(pid: str, day: str, qty: float, province: str | None, region: str | None, n: int) -> dict:
    return sale(pid, "X", day, qty, 90.0, order_id=f"O-{pid}-{n}", sold_to_province=province, sold_to_region=region)


@pytest.fixture
def cross_store(tmp_path) -> Store:
    partners = [
        partner("A1", territory="江苏"),
        partner("A2", territory="全国", type="电商平台", region="华南", province="广东"),
        partner("A3", territory="江苏、上海;浙江"),
        partner("A4", territory="华南", region="华南", province="广东"),
        partner("A5", territory=None),
        partner("A6", territory="广西", region="华南", province="广西"),
        partner("A7", territory="江苏省"),
        partner("A8", territory="江苏"),  # no sales at all
    ]
    sales = [
        # A1: 20 of 100 units went to 浙江 -> share 20% -> 高
        _line("A1", "2025-01-10", 80, "江苏", "华东", 1),
        _line("A1", "2025-01-20", 20, "浙江", "华东", 2),
        # A2: nationwide, anything goes
        _line("A2", "2025-02-01", 30, "黑龙江", "东北", 1),
        # A3: 江苏/上海/浙江 fine, 50 units with no sold-to place are not judged, 10 of 200 to 安徽 -> 5% -> 中
        _line("A3", "2025-01-05", 100, "江苏", "华东", 1),
        _line("A3", "2025-01-06", 20, "上海市", "华东", 2),
        _line("A3", "2025-01-07", 20, "浙江", "华东", 3),
        _line("A3", "2025-01-08", 50, None, None, 4),
        _line("A3", "2025-02-09", 10, "安徽", "华东", 5),
        # A4: territory is a region; 广西 with no region is placed in 华南 through A6's master data;
        # 15 of 120 units to 湖南 in 3 months -> 12.5% (中) raised to 高 for repetition
        _line("A4", "2025-01-05", 95, "广东", "华南", 1),
        _line("A4", "2025-01-06", 10, "广西壮族自治区", None, 2),
        _line("A4", "2025-01-15", 5, "湖南", "华中", 3),
        _line("A4", "2025-02-15", 5, "湖南", "华中", 4),
        _line("A4", "2025-03-15", 5, "湖南", "华中", 5),
        # A5: no territory on file -> not judged, warned
        _line("A5", "2025-01-05", 10, "北京", "华北", 1),
        # A6: home sales only
        _line("A6", "2025-01-05", 40, "广西", "华南", 1),
        # A7: '江苏省' = 江苏; region-only 华东 contains 江苏 -> fine; region-only 西北 -> 10 of 80 outside -> 中
        _line("A7", "2025-03-01", 50, "江苏", "华东", 1),
        _line("A7", "2025-03-02", 20, None, "华东", 2),
        _line("A7", "2025-03-03", 10, None, "西北", 3),
    ]
    return make_store(tmp_path, partners=partners, products=[product("X")], sales=sales)


def test_cross_region_shares_severities_and_territory_rules(cross_store):
    findings, result = run(cross_store, period="2025Q1", lookback_quarters=1, checks=["cross_region"])
    found = by_partner(findings)
    assert sorted(found) == ["A1", "A3", "A4", "A7"]  # 全国, region territory, NULL sold-to, no sales: clean

    a1 = found["A1"]
    assert (a1.kind, a1.kind_zh, a1.severity) == ("cross_region", "窜货", "高")
    assert a1.metrics["units"] == 20 and a1.metrics["total_units"] == 100
    assert a1.metrics["share"] == pytest.approx(20 / 100, abs=1e-4)
    assert a1.metrics["amount"] == pytest.approx(20 * 90.0)
    assert a1.metrics["sold_to"] == ["浙江"]
    assert "20.0%" in a1.summary and "浙江" in a1.summary

    a3 = found["A3"]
    assert a3.metrics["total_units"] == 100 + 20 + 20 + 50 + 10
    assert a3.metrics["share"] == pytest.approx(10 / 200, abs=1e-4)
    assert a3.severity == "中"  # exactly 5% is 中
    assert a3.metrics["sold_to"] == ["安徽"]

    a4 = found["A4"]
    assert a4.metrics["units"] == 15 and a4.metrics["total_units"] == 95 + 10 + 15
    assert a4.metrics["share"] == pytest.approx(15 / 120, abs=1e-4)
    assert a4.metrics["months"] == ["2025-01", "2025-02", "2025-03"]
    assert a4.severity == "高"  # 12.5% alone is 中, three months of diverting raise it

    a7 = found["A7"]
    assert a7.metrics["share"] == pytest.approx(10 / 80, abs=1e-4) and a7.severity == "中"
    assert a7.metrics["sold_to"] == ["西北"]

    assert any("A5" in w and "授权区域" in w for w in result.warnings)


def test_cross_region_evidence_rows_and_next_step(cross_store):
    findings, _ = run(cross_store, period="2025Q1", lookback_quarters=1, checks=["cross_region"])
    a4 = by_partner(findings)["A4"]
    evidence = a4.evidence
    assert list(evidence["order_id"]) == ["O-A4-3", "O-A4-4", "O-A4-5"]
    assert list(evidence["date"]) == ["2025-01-15", "2025-02-15", "2025-03-15"]
    assert list(evidence["quantity"]) == [5, 5, 5]
    assert set(evidence["sold_to_province"]) == {"湖南"}
    assert set(evidence["territory"]) == {"华南"}
    assert {"line_no", "sku", "price", "revenue", "sold_to_region"} <= set(evidence.columns)
    assert a4.guide_topic == "conflict" and a4.guide_source == "24-cross-region-selling-and-price-chaos.md"
    for step in ("批号", "书面通知", "返利", "暂停供货"):
        assert step in a4.suggested_action


def test_summary_table_counts_sorting_and_explanation(cross_store):
    _, result = run(cross_store, period="2025Q1", lookback_quarters=1, checks=["cross_region"])
    table = result.tables["findings"]
    assert list(table.columns) == [
        "kind",
        "partner_id",
        "partner_name",
        "region",
        "severity",
        "units",
        "amount",
        "summary",
    ]
    # 高 before 中; within a level the larger amount first (A1 1800 元 > A4 1350 元), ties by partner id
    assert list(table["partner_id"]) == ["A1", "A4", "A3", "A7"]
    assert list(table["amount"]) == [1800.0, 1350.0, 900.0, 900.0]
    counts = result.tables["counts"].set_index("kind")
    assert counts.loc["窜货", ["high", "medium", "low", "total"]].tolist() == [2, 2, 0, 4]
    assert result.figures["findings_total"] == 4 and result.figures["high_severity_findings"] == 2
    assert "窜货 4 项" in result.explanation and "伙伴A1" in result.explanation
    assert result.figures["scan_start"] == "2025-01-01" and result.figures["scan_end"] == "2025-03-31"


def test_min_severity_and_region_filter(cross_store):
    findings, result = run(cross_store, period="2025Q1", lookback_quarters=1, min_severity="高")
    assert sorted(f.partner_id for f in findings) == ["A1", "A4"]
    assert "另有 2 项" in result.explanation

    findings, _ = run(cross_store, period="2025Q1", lookback_quarters=1, region="华南")
    assert [f.partner_id for f in findings] == ["A4"]

    with pytest.raises(ToolError, match="火星"):
        run(cross_store, period="2025Q1", region="火星")


def test_period_without_data_says_so(cross_store):
    with pytest.raises(ToolError) as caught:
        run(cross_store, period="2023", checks=["cross_region", "below_floor"])
    assert caught.value.message == "2023年没有数据：数据截至 2025-03-15（数据从 2025-01-05 开始）。"


def test_lookback_window_limits_what_is_scanned(cross_store):
    # period 2025-02, one quarter back: 2024-12-01 .. 2025-02-28; A7's March lines and A4's March line drop out.
    findings, result = run(cross_store, period="2025-02", lookback_quarters=1, checks=["cross_region"])
    found = by_partner(findings)
    assert sorted(found) == ["A1", "A3", "A4"]
    assert found["A4"].metrics["share"] == pytest.approx(10 / (95 + 10 + 10), abs=1e-4)
    assert found["A4"].severity == "中"  # two months of diverting: no step up
    assert result.parameters["scan_start"] == "2024-12-01"


# ---------------------------------------------------------------------------------------------------------------
# 乱价 below_floor
# ---------------------------------------------------------------------------------------------------------------


@pytest.fixture
def floor_store(tmp_path) -> Store:
    products = [
        product("X", floor_price=85.0, list_price=100.0),
        product("Y", floor_price=50.0, list_price=60.0),
        product("Z", floor_price=None),
    ]
    sales = [
        sale("B1", "X", "2025-02-01", 10, 85.0),  # exactly at the floor: fine
        sale("B1", "X", "2025-02-10", 10, 80.0),  # 5 / 85 = 5.88% below
        sale("B1", "X", "2025-03-01", 4, 76.5),  # 8.5 / 85 = 10% below -> 高
        sale("B1", "X", "2025-03-15", 10, 0.0, unit_price=None, revenue=800.0),  # price from revenue: 80
        sale("B2", "X", "2025-03-02", 20, 82.0),  # 3 / 85 = 3.53% -> 中
        sale("B2", "Y", "2025-03-05", 100, 49.0),  # 1 / 50 = 2% -> 低
        sale("B2", "Y", "2025-03-06", 100, 50.0),  # at the floor
        sale("B3", "Z", "2025-03-07", 5, 1.0),  # no floor on file: warned, not judged
    ]
    partners = [partner("B1"), partner("B2"), partner("B3")]
    return make_store(tmp_path, partners=partners, products=products, sales=sales)


def test_below_floor_depths_and_severities(floor_store):
    findings, result = run(floor_store, period="2025Q1", checks=["below_floor"])
    found = {(f.partner_id, f.metrics["sku"]): f for f in findings}
    assert sorted(found) == [("B1", "X"), ("B2", "X"), ("B2", "Y")]

    b1 = found[("B1", "X")]
    assert (b1.kind_zh, b1.severity) == ("乱价", "高")
    assert b1.metrics["lines"] == 3 and b1.metrics["units"] == 10 + 4 + 10
    assert b1.metrics["amount"] == pytest.approx(800 + 306 + 800)
    assert b1.metrics["min_price"] == 76.5 and b1.metrics["floor_price"] == 85.0
    assert b1.metrics["max_depth"] == pytest.approx(0.10, abs=1e-4)
    assert b1.metrics["price_gap"] == pytest.approx(5 * 10 + 8.5 * 4 + 5 * 10)
    assert b1.metrics["months"] == ["2025-02", "2025-03"]
    assert list(b1.evidence["price"]) == [80.0, 76.5, 80.0]  # the 85.00 line is not evidence
    assert list(b1.evidence["below_floor"]) == [round(5 / 85 * 100, 2), 10.0, round(5 / 85 * 100, 2)]
    assert "10.0%" in b1.summary and "76.50" in b1.summary

    assert found[("B2", "X")].severity == "中"
    assert found[("B2", "X")].metrics["max_depth"] == pytest.approx(3 / 85, abs=1e-4)
    assert found[("B2", "Y")].severity == "低"
    assert found[("B2", "Y")].metrics["max_depth"] == pytest.approx(1 / 50, abs=1e-4)
    assert found[("B2", "Y")].metrics["lines"] == 1

    assert b1.guide_source == "24-cross-region-selling-and-price-chaos.md"
    assert "最低限价 85.00 元" in b1.suggested_action and "书面通知" in b1.suggested_action
    assert any("Z" in w and "最低限价" in w for w in result.warnings)


# ---------------------------------------------------------------------------------------------------------------
# 压货 stock_buildup
# ---------------------------------------------------------------------------------------------------------------


def _stock(pid: str, totals: list[float]) -> list[dict]:
    """Month-end snapshots for 2025-01..2025-09, split over two SKUs (the check sums them)."""
    ends = ["01-31", "02-28", "03-31", "04-30", "05-31", "06-30", "07-31", "08-31", "09-30"]
    rows = []
    for end, total in zip(ends, totals, strict=True):
        rows.append({"date": f"2025-{end}", "partner_id": pid, "sku": "X", "on_hand": total - 40})
        rows.append({"date": f"2025-{end}", "partner_id": pid, "sku": "Y", "on_hand": 40})
    return rows


def _sell(pid: str, units: list[float | None]) -> list[dict]:
    return [sale(pid, "X", f"2025-{m:02d}-10", q, 90.0) for m, q in enumerate(units, start=1) if q is not None]


@pytest.fixture
def stock_store(tmp_path) -> Store:
    inventory = [
        # C1: median 100; June 300 = 3.0x with sell-in 100 vs median 50 of Mar-May = 2.0x -> 高
        *_stock("C1", [100, 100, 100, 100, 110, 300, 100, 100, 90]),
        # an earlier mid-June count is superseded by the month-end one
        {"date": "2025-06-15", "partner_id": "C1", "sku": "X", "on_hand": 900},
        # C2: June 2.5x but sell-in 70 vs 50 = 1.4x -> not stuffing
        *_stock("C2", [100, 100, 100, 100, 100, 250, 100, 100, 100]),
        # C3: May 4x is not a quarter end; September 2.4x with sell-in 80 vs median(50, 0, 50) = 1.6x -> 低
        *_stock("C3", [100, 100, 100, 100, 400, 100, 100, 100, 240]),
    ]
    sales = [
        *_sell("C1", [50, 50, 50, 50, 50, 100, 50, 50, 50]),
        *_sell("C2", [50, 50, 50, 50, 50, 70, 50, 50, 50]),
        *_sell("C3", [50, 50, 50, 50, 200, 50, None, 50, 80]),
        *_sell("C4", [50, 50, 50, 50, 50, 500, 50, 50, 50]),  # no inventory reported
    ]
    partners = [partner(p) for p in ("C1", "C2", "C3", "C4")]
    return make_store(
        tmp_path, partners=partners, products=[product("X"), product("Y")], sales=sales, inventory=inventory
    )


def test_stock_buildup_ratios_and_severities(stock_store):
    findings, result = run(stock_store, period="2025Q3", checks=["stock_buildup"])
    found = by_partner(findings)
    assert sorted(found) == ["C1", "C3"]

    c1 = found["C1"]
    assert (c1.kind_zh, c1.severity) == ("压货", "高")
    assert c1.metrics["months"] == ["2025-06"]
    assert c1.metrics["median_stock"] == 100
    assert c1.metrics["stock"] == [300] and c1.metrics["stock_ratio"] == [3.0]
    assert c1.metrics["sell_in"] == [100] and c1.metrics["prior_median"] == [50]
    assert c1.metrics["sell_in_ratio"] == [2.0]
    assert c1.metrics["excess_units"] == 300 - 100
    assert list(c1.evidence["month"]) == ["2025-03", "2025-04", "2025-05", "2025-06", "2025-07"]
    assert list(c1.evidence["stock"]) == [100, 100, 110, 300, 100]
    assert list(c1.evidence["sell_in"]) == [50, 50, 50, 100, 50]
    assert list(c1.evidence["abnormal"]) == ["", "", "", "是", ""]
    assert "3.00 倍" in c1.summary and "2.00 倍" in c1.summary

    c3 = found["C3"]
    assert c3.severity == "低"
    assert c3.metrics["months"] == ["2025-09"]
    assert c3.metrics["stock_ratio"] == [2.4] and c3.metrics["sell_in_ratio"] == pytest.approx([80 / 50], abs=1e-4)

    assert c1.guide_source == "24-cross-region-selling-and-price-chaos.md"
    assert "动销" in c1.suggested_action and "返利" in c1.suggested_action
    assert any("C4" in w and "库存" in w for w in result.warnings)
    assert list(result.tables["findings"]["partner_id"]) == ["C1", "C3"]


# ---------------------------------------------------------------------------------------------------------------
# 持续下滑 declining
# ---------------------------------------------------------------------------------------------------------------


def _quarters(pid: str, revenue: dict[str, float | None]) -> list[dict]:
    """One line per quarter, in its middle month: {'2024Q1': 1000, ...}."""
    rows = []
    for key, amount in revenue.items():
        if amount is not None:
            year, q = key.split("Q")
            rows.append(sale(pid, "X", f"{year}-{int(q) * 3 - 1:02d}-15", 1, amount))
    return rows


def _two_years(y2024: list[float | None], y2025: list[float | None]) -> dict[str, float | None]:
    keys = [f"{y}Q{q}" for y in (2024, 2025) for q in range(1, 5)]
    return dict(zip(keys, [*y2024, *y2025], strict=True))


@pytest.fixture
def decline_store(tmp_path) -> Store:
    base = [1000.0] * 4
    sales = [
        # D0 is steady and spans the data range: 2024-01-05 .. 2026-01-05 (2026Q1 is incomplete)
        sale("D0", "X", "2024-01-05", 1, 1000.0),
        *_quarters("D0", {"2024Q2": 1000, "2024Q3": 1000, "2024Q4": 1000, "2025Q1": 1100, "2025Q2": 1100}),
        *_quarters("D0", {"2025Q3": 1100}),
        sale("D0", "X", "2025-12-20", 1, 1100.0),
        sale("D0", "X", "2026-01-05", 1, 300.0),
        *_quarters("D1", _two_years(base, [850, 800, 700, 550])),  # -15 -20 -30 -45 -> avg -27.5% 高
        *_quarters("D2", _two_years(base, [1100, 900, 900, 800])),  # up, then -10 -10 -20 -> 3 quarters, 低
        *_quarters("D3", _two_years(base, [900, 900, 1000, 800])),  # flat Q3 breaks the streak
        *_quarters("D4", _two_years(base, [800, 800, None, None])),  # stopped selling -> -20 -20 -100 -100
        *_quarters("D6", _two_years([None] * 4, [1000.0] * 4)),  # new partner: no year-ago quarter
    ]
    partners = [partner(p) for p in ("D0", "D1", "D2", "D3", "D4", "D5", "D6")]
    return make_store(tmp_path, partners=partners, products=[product("X")], sales=sales)


def test_declining_streaks_yoy_and_severities(decline_store):
    findings, result = run(decline_store, period="2025", checks=["declining"])
    found = by_partner(findings)
    assert sorted(found) == ["D1", "D2", "D4"]

    d1 = found["D1"]
    assert (d1.kind_zh, d1.severity) == ("持续下滑", "高")
    assert d1.metrics["quarters"] == ["2025Q1", "2025Q2", "2025Q3", "2025Q4"]
    assert d1.metrics["yoy"] == pytest.approx([-0.15, -0.20, -0.30, -0.45])
    assert d1.metrics["avg_yoy"] == pytest.approx(-0.275)
    assert d1.metrics["revenue_gap"] == pytest.approx(150 + 200 + 300 + 450)
    assert list(d1.evidence["revenue"]) == [850, 800, 700, 550]
    assert list(d1.evidence["revenue_year_ago"]) == [1000] * 4
    assert list(d1.evidence["yoy"]) == [-15.0, -20.0, -30.0, -45.0]

    d2 = found["D2"]
    assert d2.metrics["quarters"] == ["2025Q2", "2025Q3", "2025Q4"]
    assert d2.metrics["avg_yoy"] == pytest.approx((-0.1 - 0.1 - 0.2) / 3, abs=1e-4)
    assert d2.severity == "低"

    d4 = found["D4"]
    assert d4.metrics["yoy"] == pytest.approx([-0.2, -0.2, -1.0, -1.0]) and d4.severity == "高"

    assert d1.guide_source == "25-vertical-horizontal-channel-conflict.md" and d1.guide_topic == "conflict"
    assert "目标" in d1.suggested_action
    assert list(result.tables["findings"]["partner_id"]) == ["D4", "D1", "D2"]  # 高 by revenue gap, then 低
    assert result.figures["decline_through"] == "2025Q4"


def test_declining_anchor_follows_period_and_skips_incomplete_quarter(decline_store):
    findings, _ = run(decline_store, period="2025", checks=["declining"], decline_quarters=4)
    assert sorted(f.partner_id for f in findings) == ["D1", "D4"]

    findings, _ = run(decline_store, period="2025Q3", checks=["declining"])
    found = by_partner(findings)
    assert sorted(found) == ["D1", "D4"]  # D2's streak is only Q2-Q3 here
    assert found["D1"].metrics["avg_yoy"] == pytest.approx((-0.15 - 0.20 - 0.30) / 3, abs=1e-4)
    assert found["D1"].severity == "中"

    # "latest" is the last complete quarter, 2025Q4 (2026Q1 holds only 5 January days).
    findings, result = run(decline_store, checks=["declining"])
    assert sorted(f.partner_id for f in findings) == ["D1", "D2", "D4"]
    assert result.period.startswith("2025年第4季度")
    # Asked for by name, the incomplete quarter is skipped by the decline check, which says so.
    _, result = run(decline_store, period="2026Q1", checks=["declining"])
    assert any("2026Q1" in w and "不完整" in w for w in result.warnings)


# ---------------------------------------------------------------------------------------------------------------
# A clean company raises nothing
# ---------------------------------------------------------------------------------------------------------------


@pytest.fixture
def clean_store(tmp_path) -> Store:
    partners = [
        partner("E1", territory="江苏、上海"),
        partner("E2", territory="全国", type="电商平台"),
        partner("E3", territory="华东"),
    ]
    sales, inventory = [], []
    for i, month in enumerate(f"{y}-{m:02d}" for y in (2024, 2025) for m in range(1, 13)):
        for pid, province in (("E1", "上海"), ("E2", "新疆"), ("E3", "浙江")):
            region = "西北" if province == "新疆" else "华东"
            sales.append(
                sale(pid, "X", f"{month}-12", 100 + 2 * i, 92.0, sold_to_province=province, sold_to_region=region)
            )
            inventory.append({"date": f"{month}-28", "partner_id": pid, "sku": "X", "on_hand": 120 + i})
    return make_store(tmp_path, partners=partners, products=[product("X")], sales=sales, inventory=inventory)


def test_clean_company_produces_zero_findings(clean_store):
    for args in ({}, {"period": "2025", "lookback_quarters": 8}):
        findings, result = run(clean_store, **args)
        assert findings == []
        assert "未发现" in result.explanation
        assert result.tables["findings"].empty
        assert result.tables["counts"]["total"].tolist() == [0, 0, 0, 0]
        assert result.figures["findings_total"] == 0
        assert result.warnings == []


# ---------------------------------------------------------------------------------------------------------------
# The sample company: every planted anomaly is found, nothing else
# ---------------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    company = generate()
    store = Store(tmp_path_factory.mktemp("conflict") / "company")
    store.replace_all(company.tables, meta={"source": "sample"})
    return store, company.manifest


def test_every_planted_anomaly_in_the_sample_company_is_found(sample):
    store, manifest = sample
    planted = manifest["anomalies"]
    # period latest (2026Q3) with 8 quarters of lookback covers all 24 months, 2024-10 .. 2026-09
    findings, result = run(store, lookback_quarters=8)
    assert result.parameters["scan_start"] == manifest["date_range"]["start"]

    def of(kind: str) -> list[Finding]:
        return [f for f in findings if f.kind == kind]

    cross = by_partner(of("cross_region"))
    assert sorted(cross) == sorted(e["partner_id"] for e in planted["cross_region"])
    for entry in planted["cross_region"]:
        f = cross[entry["partner_id"]]
        assert f.kind_zh == "窜货"
        assert set(zip(f.evidence["order_id"], f.evidence["line_no"], strict=True)) == {
            tuple(x) for x in entry["lines"]
        }
        assert f.metrics["units"] == entry["quantity"] and f.metrics["months"] == entry["months"]

    floor = {(f.partner_id, f.metrics["sku"]): f for f in of("below_floor")}
    assert sorted(floor) == sorted((e["partner_id"], e["sku"]) for e in planted["below_floor"])
    for entry in planted["below_floor"]:
        f = floor[(entry["partner_id"], entry["sku"])]
        assert f.kind_zh == "乱价" and f.metrics["min_price"] == entry["min_price"]
        assert set(zip(f.evidence["order_id"], f.evidence["line_no"], strict=True)) == {
            tuple(x) for x in entry["lines"]
        }

    stock = by_partner(of("stock_buildup"))
    assert sorted(stock) == sorted(e["partner_id"] for e in planted["stock_buildup"])
    for entry in planted["stock_buildup"]:
        assert stock[entry["partner_id"]].metrics["months"] == entry["months"]
        assert stock[entry["partner_id"]].kind_zh == "压货"

    declining = by_partner(of("declining"))
    assert sorted(declining) == sorted(e["partner_id"] for e in planted["declining"])
    for entry in planted["declining"]:
        assert declining[entry["partner_id"]].metrics["quarters"] == entry["quarters"]
        assert declining[entry["partner_id"]].metrics["yoy"] == pytest.approx(entry["yoy"], abs=1e-4)

    counts = result.tables["counts"].set_index("kind")["total"]
    assert counts.to_dict() == {"窜货": 4, "乱价": 5, "压货": 3, "持续下滑": 3}
    assert result.warnings == []


def test_default_arguments_scan_the_latest_four_quarters_of_the_sample(sample):
    store, manifest = sample
    findings, result = run(store)
    assert result.parameters["scan_start"] == "2025-10-01" and result.parameters["scan_end"] == "2026-09-30"
    for f in findings:
        if f.kind in ("cross_region", "below_floor"):
            assert all(day >= "2025-10-01" for day in f.evidence["date"])
    planted_cross = {e["partner_id"] for e in manifest["anomalies"]["cross_region"]}
    assert {f.partner_id for f in findings if f.kind == "cross_region"} < planted_cross


def test_consecutive_quarter_end_spikes_are_both_found(loaded_store, small_company):
    # The small company's stuffing partner stuffs two quarter ends in a row: the first spike must not hide the
    # second behind an inflated run rate.
    findings, _ = run(loaded_store, checks=["stock_buildup"])
    found = by_partner(findings)
    for entry in small_company.manifest["anomalies"]["stock_buildup"]:
        assert found[entry["partner_id"]].metrics["months"] == entry["months"]


# ---------------------------------------------------------------------------------------------------------------
# Arguments
# ---------------------------------------------------------------------------------------------------------------


def test_bad_arguments_give_clear_errors(cross_store):
    with pytest.raises(ValidationError, match="未知的检查项「串货」"):
        ConflictArgs(checks=["窜货", "串货"])
    with pytest.raises(ValidationError, match="不能为空"):
        ConflictArgs(checks=[])
    with pytest.raises(ValidationError, match="低、中 或 高"):
        ConflictArgs(min_severity="严重")
    with pytest.raises(ValidationError, match="lookback_quarters 须在 1 到 20"):
        ConflictArgs(lookback_quarters=0)
    with pytest.raises(ValidationError, match="decline_quarters 须在 2 到 12"):
        ConflictArgs(decline_quarters=1)
    with pytest.raises(CanmouError, match="无法识别期间"):
        run(cross_store, period="下周")


def test_registered_tool_accepts_chinese_names(cross_store):
    result = TOOLS["detect_conflicts"](
        cross_store, {"period": "2025Q1", "checks": "窜货、乱价", "min_severity": "high", "lookback_quarters": 1}
    )
    assert result.parameters["checks"] == ["cross_region", "below_floor"]
    assert result.parameters["min_severity"] == "高"
    assert {f.partner_id for f in result.data} == {"A1", "A4"}
    assert list(result.tables["counts"]["kind"]) == ["窜货", "乱价"]
