"""Partner scorecard: hand-worked scores, tiers, gaps, levers, movement, filters, and argument errors."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from company.errors import CanmouError
from tests.fixtures import make_store, partner, product, sale
from tools.base import TOOLS
from tools.scorecard import default_cutoffs, default_weights, normalise

TWO_KPIS = {"achievement": 0.5, "collection_rate": 0.5}
CUTS = {"A": 80, "B": 65, "C": 50}


@pytest.fixture
def store(tmp_path):
    sales = [
        sale("P1", "X", "2026-02-10", 100, 100),
        sale("P2", "X", "2026-02-10", 80, 100),
        sale("P3", "X", "2026-02-10", 50, 90),
        sale("P1", "X", "2025-11-10", 50, 100),
        sale("P2", "X", "2025-11-10", 100, 100),
        sale("P3", "X", "2025-11-10", 50, 100),
    ]
    targets = [
        {"partner_id": p, "quarter": q, "target_revenue": t}
        for p, q, t in (
            ("P1", "2026Q1", 10_000),
            ("P2", "2026Q1", 10_000),
            ("P3", "2026Q1", 5_000),
            ("P1", "2025Q4", 10_000),
            ("P2", "2025Q4", 10_000),
            ("P3", "2025Q4", 5_000),
        )
    ]
    collections = [
        {"partner_id": p, "month": m, "amount_due": d, "amount_collected": c}
        for p, m, d, c in (
            ("P1", "2026-02-01", 10_000, 10_000),
            ("P2", "2026-02-01", 8_000, 6_000),
            ("P3", "2026-02-01", 4_500, 4_050),
            ("P1", "2025-11-01", 5_000, 5_000),
            ("P2", "2025-11-01", 10_000, 10_000),
            ("P3", "2025-11-01", 5_000, 4_000),
        )
    ]
    return make_store(
        tmp_path,
        partners=[partner("P1"), partner("P2", region="华南", type="批发商"), partner("P3"), partner("P4")],
        products=[product("X")],
        sales=sales,
        targets=targets,
        collections=collections,
    )


def run(store, **args):
    return TOOLS["partner_scorecard"](
        store, {"weights": TWO_KPIS, "cutoffs": CUTS, "normalisation": "minmax", "period": "2026Q1"} | args
    )


def test_scores_tiers_gaps_and_levers_worked_by_hand(store):
    result = run(store)
    card = result.tables["scorecard"].set_index("partner_id")
    # achievement 1.0 / 0.8 / 0.9 -> minmax 1, 0, 0.5; collection 1.0 / 0.75 / 0.9 -> 1, 0, 0.6
    assert card.loc["P1", "score"] == 100.0 and card.loc["P1", "tier"] == "A"
    assert card.loc["P2", "score"] == 0.0 and card.loc["P2", "tier"] == "D"
    assert card.loc["P3", "score"] == pytest.approx(55.0) and card.loc["P3", "tier"] == "C"
    assert card.loc["P3", "gap_to_next"] == pytest.approx(10.0)  # B line 65 - 55
    assert card.loc["P3", "lever"] == "完成率" and card.loc["P3", "lever_points"] == pytest.approx(25.0)
    assert card.loc["P3", "achievement"] == pytest.approx(90.0) and card.loc["P2", "collection_rate"] == pytest.approx(
        75.0
    )
    assert math.isnan(card.loc["P4", "score"]), "a partner with no data cannot be scored"
    assert result.figures["tier_a_partners"] == 1 and result.figures["tier_d_partners"] == 2
    assert "P4" not in card.index[card["achievement"].notna()]
    assert result.warnings == [
        "数据截至 2026-02-10，2026年第1季度只有部分数据（2026-01-01 ~ 2026-02-10）。",
        "1 个伙伴在2026年第1季度没有目标，完成率不参与其评分。",
    ]
    assert result.period == "2026年第1季度（2026-01-01 ~ 2026-03-31）"


def test_movement_against_previous_quarter(store):
    card = run(store).tables["scorecard"].set_index("partner_id")
    # 2025Q4: achievement 0.5 / 1.0 / 1.0 -> 0, 1, 1; collection 1 / 1 / 0.8 -> 1, 1, 0 => 50 C, 100 A, 50 C
    assert card.loc["P1", ["previous_tier", "movement"]].tolist() == ["C", "升级"]
    assert card.loc["P2", ["previous_tier", "movement"]].tolist() == ["A", "降级"]
    assert card.loc["P3", ["previous_tier", "movement"]].tolist() == ["C", "持平"]
    assert sorted(run(store).tables["tier_changes"]["partner_id"]) == ["P1", "P2"]


def test_missing_kpi_reweights_the_rest(store):
    card = run(store, weights={"achievement": 0.5, "satisfaction": 0.5}).tables["scorecard"].set_index("partner_id")
    assert card.loc["P3", "score"] == pytest.approx(50.0)  # no survey data: achievement alone counts


def test_filters_narrow_rows_but_not_scores(store):
    all_rows = run(store).tables["scorecard"].set_index("partner_id")
    south = run(store, region="华南").tables["scorecard"]
    assert south["partner_id"].tolist() == ["P2"] and south["score"].iloc[0] == all_rows.loc["P2", "score"]
    assert run(store, partner_type="批发商").tables["scorecard"]["partner_id"].tolist() == ["P2"]
    assert run(store, tiers=["A", "C"]).tables["scorecard"]["partner_id"].tolist() == ["P1", "P3"]
    assert len(run(store, top=1).tables["scorecard"]) == 1


def test_percentile_normalisation_gives_ties_the_better_rank():
    got = normalise(pd.Series([1.0, 1.0, 0.5, None]), "higher", "percentile")
    assert got.tolist()[:3] == [1.0, 1.0, pytest.approx(1 / 3)] and math.isnan(got[3])
    days = normalise(pd.Series([30.0, 60.0]), "lower", "percentile")
    assert days.tolist() == [1.0, 0.5]


@pytest.mark.parametrize(
    "args, message",
    [
        ({"weights": {"achievement": 0.5, "collection_rate": 0.45}}, "权重之和为 0.95，必须等于 1"),
        ({"weights": {"achievement": 0.5, "profit": 0.5}}, "未知的指标：profit"),
        ({"cutoffs": {"A": 60, "B": 65, "C": 50}}, "100 ≥ A > B > C ≥ 0"),
        ({"cutoffs": {"A": 80, "B": 65}}, "A、B、C 三档"),
        ({"region": "火星"}, "没有区域「火星」"),
        ({"period": "2030Q1"}, "2030年第1季度没有数据：数据截至 2026-02-10"),
        ({"period": "下辈子"}, "无法识别期间"),
    ],
)
def test_bad_arguments_are_explained(store, args, message):
    with pytest.raises(Exception) as caught:
        run(store, **args)
    assert message in getattr(caught.value, "message", str(caught.value))
    assert isinstance(caught.value, CanmouError | ValueError)


def test_default_weights_file_is_valid_and_sample_scores_are_consistent(loaded_store):
    assert sum(default_weights().values()) == pytest.approx(1.0)
    assert default_cutoffs()["A"] > default_cutoffs()["B"] > default_cutoffs()["C"]
    result = TOOLS["partner_scorecard"](loaded_store, {})
    card = result.tables["scorecard"]
    scored = card["score"].dropna()
    assert len(scored) == len(card) == 40 and scored.between(0, 100).all()
    cuts = default_cutoffs()
    expected = ["A" if s >= cuts["A"] else "B" if s >= cuts["B"] else "C" if s >= cuts["C"] else "D" for s in scored]
    assert card["tier"].tolist() == expected
    assert result.tables["tier_distribution"]["partners"].sum() == 40
    assert card["score"].is_monotonic_decreasing
