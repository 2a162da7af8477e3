"""The scorecard's per-partner metrics and the data questions' answers agree for the same partner and period: the
tools and the semantic layer must never give two numbers for one fact."""

from __future__ import annotations

import ast
import math
import re
from collections import Counter
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from advisor.data_questions import DataAnswer, answer_data_question, answer_spec
from company.periods import parse_period
from company.semantic import METRICS, TOOL_METRICS, Filter, QuerySpec, TimeWindow, compile_per_partner
from tests.fixtures import make_store, partner, product, sale
from tools.base import resolve_period
from tools.conflict import ConflictArgs, detect_conflicts
from tools.metrics import PARTNER_COLUMNS, SEMANTIC_COLUMNS, partner_metrics
from tools.registry import TOOLS

ROOT = Path(__file__).resolve().parent.parent

SHARED = ["revenue", "achievement", "collection_rate", "inventory_days", "satisfaction", "training_hours"]


@pytest.mark.parametrize("quarter", ["2026Q1", "2026Q2"])
def test_scorecard_metrics_equal_data_answers_for_every_partner(loaded_store, quarter):
    period = resolve_period(loaded_store, quarter)
    scored = partner_metrics(loaded_store, period).set_index("partner_id")
    window = TimeWindow(start=period.start, end=period.end, label=quarter)
    answered = answer_spec(loaded_store, QuerySpec(metrics=SHARED, dimensions=["partner"], window=window))
    assert isinstance(answered, DataAnswer)
    frame = answered.frame.set_index("partner_id")
    compared = 0
    for partner_id, row in frame.iterrows():
        for key in SHARED:
            mine, theirs = row[key], scored.loc[partner_id, key]
            if mine is None or theirs is None or (math.isnan(mine) and math.isnan(theirs)):
                continue
            assert mine == pytest.approx(theirs, rel=1e-9), (partner_id, key, mine, theirs)
            compared += 1
    assert compared > 6 * 10  # every shared metric, for many partners


# Every KPI that both a tool (partner_metrics) and a data question compute; the compliances are not offered to data
# questions yet (company.semantic.TOOL_METRICS), so they are compared with the conflict scan below instead.
SHARED_KPIS = [
    "revenue", "quantity", "gross_profit", "target", "achievement",
    "collection_rate", "inventory_days", "turnover", "satisfaction", "training_hours",
]  # fmt: skip
GROWTH = {"previous": ("revenue_prev", "growth_qoq"), "yoy": ("revenue_year_ago", "growth_yoy")}
PERIODS = ["2026Q3", "2026-08", "2026"]  # a quarter, a month and a year of the small sample (Oct 2025 – Sep 2026)


@pytest.fixture
def edged_store(loaded_store):
    """The small sample plus the cases where the tools' own formulas and the semantic layer used to part: a product
    without a unit cost (gross profit), survey rows without training hours, partners without a target."""

    def change(con):
        con.execute("UPDATE products SET unit_cost = NULL WHERE sku = (SELECT min(sku) FROM products)")
        con.execute(
            "UPDATE surveys SET training_hours = NULL "
            "WHERE partner_id IN (SELECT min(partner_id) FROM partners GROUP BY region)"
        )
        con.execute(
            "DELETE FROM targets WHERE quarter = '2026Q3' "
            "AND partner_id IN (SELECT max(partner_id) FROM partners GROUP BY region)"
        )

    loaded_store.write(change)
    return loaded_store


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA


def _one_number(mine, theirs) -> bool:
    """Both missing, or the same number."""
    if _missing(mine) or _missing(theirs):
        return _missing(mine) and _missing(theirs)
    return float(mine) == pytest.approx(float(theirs), rel=1e-9, abs=1e-9)


def _per_partner(store, spec: QuerySpec) -> pd.DataFrame:
    answer = answer_spec(store, spec)
    assert isinstance(answer, DataAnswer), answer
    return answer.frame.set_index("partner_id")


@pytest.mark.parametrize("region", [None, "华东"])
@pytest.mark.parametrize("text", PERIODS)
def test_every_shared_kpi_is_one_number_per_partner(edged_store, text, region):
    """For a quarter, a month and a year, with and without a region filter, each partner's scorecard figures (growth
    included) equal the data questions' answers for that partner."""
    period = parse_period(text)
    scored = partner_metrics(edged_store, period, {"区域": region} if region else None).set_index("partner_id")
    window = TimeWindow(start=period.start, end=period.end, label=text)
    filters = [Filter(field="region", value=region)] if region else []
    compared: Counter[str] = Counter()
    for part in (SHARED_KPIS[:5], SHARED_KPIS[5:]):
        spec = QuerySpec(metrics=part, dimensions=["partner"], filters=filters, window=window)
        answered = _per_partner(edged_store, spec)
        assert set(answered.index) <= set(scored.index)  # the same partners: a region filter narrows both alike
        for partner_id, row in answered.iterrows():
            for key in part:
                mine = scored.loc[partner_id, key]
                assert _one_number(mine, row[key]), (partner_id, key, mine, row[key])
                compared[key] += not _missing(row[key])
    for comparison, (base, change) in GROWTH.items():
        spec = QuerySpec(
            metrics=["revenue"], dimensions=["partner"], filters=filters, window=window, comparison=comparison
        )
        answered = _per_partner(edged_store, spec)
        for partner_id, row in answered.iterrows():
            assert _one_number(scored.loc[partner_id, change], row["revenue_change"]), (partner_id, change)
            # The scorecard leaves the base empty when the partner sold nothing then; the answer shows 0.
            before = scored.loc[partner_id, base]
            assert _one_number(0.0 if _missing(before) else before, row["revenue_compare"]), (partner_id, base)
            compared[change] += not _missing(row["revenue_change"])
    assert all(compared[key] >= 3 for key in SHARED_KPIS), compared  # every KPI, for several partners
    assert compared["growth_qoq"] >= 3
    if text == "2026":  # the only window whose year-ago period has sales in this sample
        assert compared["growth_yoy"] >= 3


def test_the_plans_region_achievement_is_the_data_questions(edged_store):
    """The work plan's weakest region and its 完成率 are those of 「2026年第3季度各区域完成率」 (revenue of partners
    without a target used to count toward it)."""
    plan = TOOLS["quarterly_work_plan"](edged_store, {"quarter": "2026Q4"})
    network = [m for m in plan.data.measures if m.area == "网络建设"]
    assert len(network) == 1
    answer = answer_data_question(edged_store, "2026年第3季度各区域完成率")
    assert isinstance(answer, DataAnswer), answer
    weakest = answer.frame.sort_values("achievement").iloc[0]
    assert network[0].action == f"在完成率最低的{weakest['region']}区优化网点"
    assert f"完成率 {weakest['achievement']:.1%}" in network[0].detail


@pytest.mark.parametrize(("table", "dimension"), [("by_channel_type", "partner_type"), ("by_region", "region")])
def test_the_cost_tables_are_the_data_questions(edged_store, table, dimension):
    """销售额, 毛利, 毛利率 and 费用率 per channel type and per region in the cost analysis equal 「各渠道/各区域的…」;
    a product without a unit cost used to count its whole revenue as gross profit in the tool only."""
    result = TOOLS["cost_analysis"](edged_store, {"period": "2026Q3"})
    shown = result.tables[table].set_index(result.tables[table].columns[0])
    window = TimeWindow(start=date(2026, 7, 1), end=date(2026, 9, 30))
    metrics = ["revenue", "gross_profit", "gross_margin", "expense_ratio"]
    answered = _per_group(edged_store, QuerySpec(metrics=metrics, dimensions=[dimension], window=window), dimension)
    assert set(answered.index) == set(shown.index)
    for group, row in answered.iterrows():
        assert shown.loc[group, "revenue"] == pytest.approx(round(row["revenue"], 2), abs=0.005), group
        assert shown.loc[group, "gross_profit"] == pytest.approx(round(row["gross_profit"], 2), abs=0.005), group
        assert shown.loc[group, "gross_margin"] == pytest.approx(round(row["gross_margin"] * 100, 2), abs=0.005), group
        assert shown.loc[group, "expense_ratio"] == pytest.approx(round(row["expense_ratio"] * 100, 2), abs=0.005), (
            group
        )


def _per_group(store, spec: QuerySpec, dimension: str) -> pd.DataFrame:
    answer = answer_spec(store, spec)
    assert isinstance(answer, DataAnswer), answer
    return answer.frame.set_index(dimension)


def test_price_compliance_and_the_below_floor_scan_judge_a_line_alike(tmp_path):
    """One rule for 乱价: the rebate precondition, price compliance and the conflict scan flag the same lines — not a
    price a float's noise under the floor, and not a product whose floor is 0 (no floor: never measured)."""
    store = make_store(
        tmp_path,
        partners=[partner("A"), partner("B"), partner("C")],
        products=[product("X", floor_price=80.0), product("Z", floor_price=0.0)],
        sales=[
            sale("A", "X", "2026-01-10", 10, 80.0 - 1e-7),
            sale("B", "X", "2026-01-12", 10, 70.0),
            sale("B", "X", "2026-02-12", 5, 90.0),
            sale("C", "Z", "2026-01-14", 10, 1.0),
        ],
    )
    metrics = partner_metrics(store, parse_period("2026Q1")).set_index("partner_id")
    scan = detect_conflicts(store, ConflictArgs(period="2026Q1", lookback_quarters=1, checks=["below_floor"]))
    flagged = {f.partner_id: f.metrics["amount"] for f in scan.data}
    assert flagged == {"B": 700.0}
    assert metrics["below_floor_revenue"].to_dict() == {"A": 0.0, "B": 700.0, "C": 0.0}
    assert metrics.loc["A", "price_compliance"] == 1.0
    assert metrics.loc["B", "price_compliance"] == pytest.approx(1 - 700 / 1150)
    assert pd.isna(metrics.loc["C", "price_compliance"])  # never 100 % for a price that was never checked


def test_every_partner_kpi_comes_from_the_semantic_layer(loaded_store):
    """partner_metrics has no KPI of its own: each column is a partner master column or a semantic field (the
    documented exceptions are none)."""
    frame = partner_metrics(loaded_store, parse_period("2026Q3"))
    assert [c for c in frame.columns if c not in PARTNER_COLUMNS] == list(SEMANTIC_COLUMNS)
    bases, compared = [], {}
    for column, field in SEMANTIC_COLUMNS.items():
        found = re.fullmatch(r"(\w+?)_(previous|yoy)(_change)?", field)
        base = found[1] if found else field
        assert base in METRICS or base in TOOL_METRICS, column
        if found:
            compared.setdefault(found[2], []).append(base)
        else:
            bases.append(base)
    window = TimeWindow(start=date(2026, 7, 1), end=date(2026, 9, 30))
    assert set(SEMANTIC_COLUMNS.values()) <= set(compile_per_partner(bases, window, compared=compared).columns)


# How each KPI formula of the semantic layer looks when a tool writes it again (in SQL or in pandas).
KPI_FORMULAS = {
    "完成率": r"revenue\W[^/\n]*/[^/\n]*\btarget",
    "回款率": r"collected\W[^/\n]*/[^/\n]*due\b",
    "同比/环比": r"revenue\W[^/\n]*/[^/\n]*(?:\bago\b|_ago\b|year_ago|\bprev\b|\.revenue\s*-\s*1)",
    "库存天数": r"on_hand\W[^/\n]*/",
    "库存周转": r"\b365(?:\.0)?\b",
}


def _code_texts(path: Path) -> list[str]:
    """The divisions and the SQL strings of a module (docstrings, comments and prose left out)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef) and ast.get_docstring(node) is not None
    }
    texts = []
    for node in ast.walk(tree):
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
            texts.append(ast.unparse(node))
        elif isinstance(node, ast.JoinedStr):
            text = "".join(v.value if isinstance(v, ast.Constant) else "{…}" for v in node.values)
            texts += [text] if "SELECT" in text else []
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            texts += [node.value] if "SELECT" in node.value else []
    return texts


def test_no_tool_writes_a_kpi_formula_of_its_own():
    """The grep of the brief as a test: no tool divides revenue by a target, collections by dues, revenue by an
    earlier period's, stock by sales, or annualises by 365 itself; tools.metrics holds no aggregate SQL at all."""
    found = [
        f"{path.name}: {kpi} ← {text[:120]}"
        for path in sorted((ROOT / "tools").glob("*.py"))
        for text in _code_texts(path)
        for kpi, pattern in KPI_FORMULAS.items()
        if re.search(pattern, text)
    ]
    assert not found, "\n".join(found)
    metrics_source = (ROOT / "tools" / "metrics.py").read_text(encoding="utf-8")
    assert not re.search(r"\b(?:sum|avg|count|nullif)\s*\(", metrics_source)


def test_a_survey_only_question_is_answered(loaded_store):
    """满意度 / 培训时长 on their own used to fail with a DuckDB parameter error (the surveys read no end date)."""
    answer = answer_data_question(loaded_store, "各区域的满意度")
    assert isinstance(answer, DataAnswer), answer
    assert answer.frame["satisfaction"].notna().all()
