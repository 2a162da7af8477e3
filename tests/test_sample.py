"""The sample company looks like a real channel business and every planted anomaly shows in the raw tables."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest

from company import schema
from company.sample import SampleCompany, generate
from company.territory import INSIDE, OUTSIDE, judge

# ---------------------------------------------------------------------------------------------------------------
# Fixtures and recomputation helpers: everything is measured from the frames, the way a user's tool would.
# ---------------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def company() -> SampleCompany:
    return generate()


@pytest.fixture(scope="module")
def odd_window() -> SampleCompany:
    """A window that neither starts nor ends on a quarter boundary."""
    return generate(partners=300, months=18, seed=3, end_month="2026-08")


def _line_keys(sales: pd.DataFrame, mask: pd.Series) -> set[tuple[str, int]]:
    rows = sales.loc[mask, ["order_id", "line_no"]]
    return set(zip(rows["order_id"], rows["line_no"].astype(int), strict=True))


def _manifest_lines(entries: list[dict]) -> set[tuple[str, int]]:
    return {(order, int(line)) for entry in entries for order, line in entry["lines"]}


def _outside_territory(tables: dict[str, pd.DataFrame]) -> pd.Series:
    """Lines outside their partner's territory by company.territory's rule, the one the tools apply."""
    territory = tables["partners"].set_index("partner_id")["territory"]
    sales = tables["sales"]
    return judge(sales.assign(territory=sales["partner_id"].map(territory))) == OUTSIDE


def _quarter_revenue(tables: dict[str, pd.DataFrame], manifest: dict) -> pd.DataFrame:
    sales = tables["sales"]
    quarter = sales["date"].dt.year.astype(str) + "Q" + sales["date"].dt.quarter.astype(str)
    table = sales.groupby([sales["partner_id"], quarter])["revenue"].sum().unstack()
    return table[manifest["date_range"]["quarters"]]


def _yoy(tables: dict[str, pd.DataFrame], manifest: dict) -> pd.DataFrame:
    revenue = _quarter_revenue(tables, manifest)
    return (revenue / revenue.shift(4, axis=1) - 1).iloc[:, 4:]


def _longest_decline_streak(yoy: pd.DataFrame) -> pd.Series:
    declining = (yoy < 0).to_numpy()
    streak = best = np.zeros(len(yoy), dtype=int)
    for column in declining.T:
        streak = np.where(column, streak + 1, 0)
        best = np.maximum(best, streak)
    return pd.Series(best, index=yoy.index)


def _inventory_vs_median(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    total = tables["inventory"].groupby(["partner_id", "date"])["on_hand"].sum().unstack()
    return total.div(total.median(axis=1), axis=0)


def _anomaly_partners(manifest: dict, kind: str) -> set[str]:
    return {entry["partner_id"] for entry in manifest["anomalies"][kind]}


# ---------------------------------------------------------------------------------------------------------------
# Determinism, API and data model
# ---------------------------------------------------------------------------------------------------------------


def test_same_seed_gives_identical_company(company):
    again = generate()
    for name, frame in company.tables.items():
        pd.testing.assert_frame_equal(frame, again.tables[name], obj=name)
    assert json.dumps(company.manifest, ensure_ascii=False) == json.dumps(again.manifest, ensure_ascii=False)


def test_different_seed_gives_different_company(company):
    other = generate(seed=8)
    assert not company.tables["partners"]["name"].equals(other.tables["partners"]["name"])
    assert company.tables["sales"]["revenue"].sum() != pytest.approx(other.tables["sales"]["revenue"].sum())
    assert company.manifest["anomalies"] != other.manifest["anomalies"]


@pytest.mark.parametrize("name", list(schema.TABLES))
def test_columns_and_dtypes_follow_schema(company, name):
    table, frame = schema.TABLES[name], company.tables[name]
    assert list(frame.columns) == table.names
    assert len(frame) > 0
    for col in table.columns:
        values = frame[col.name]
        if col.kind in ("text", "quarter"):
            assert isinstance(values.dtype, pd.StringDtype) and values.dtype.na_value is pd.NA, col.name
            assert not values.isin(["nan", "None", "NaN", "<NA>", ""]).any(), col.name
        elif col.kind == "int":
            assert values.dtype == np.int64, col.name
        elif col.kind == "float":
            assert values.dtype == np.float64 and values.notna().all(), col.name
        else:
            assert pd.api.types.is_datetime64_dtype(values), col.name
            assert (values == values.dt.normalize()).all(), col.name
            if col.kind == "month":
                assert (values.dt.day == 1).all(), col.name
        if col.kind == "quarter":
            assert values.str.fullmatch(r"\d{4}Q[1-4]").all()
        if col.non_negative:
            assert (values.dropna() >= 0).all(), col.name
        if col.required:
            assert values.notna().all(), col.name
    if table.key:
        assert not frame.duplicated(list(table.key)).any(), name


def test_manifest_is_json_and_records_parameters(company):
    manifest = json.loads(json.dumps(company.manifest, ensure_ascii=False))
    assert manifest["parameters"] == {"partners": 240, "months": 24, "seed": 7, "end_month": "2026-09"}
    assert manifest["date_range"]["start"] == "2024-10-01" and manifest["date_range"]["end"] == "2026-09-30"
    assert manifest["counts"] == {"cross_region": 4, "below_floor": 5, "stock_buildup": 3, "declining": 3}
    assert manifest["rows"] == {name: len(frame) for name, frame in company.tables.items()}
    planted = [_anomaly_partners(manifest, kind) for kind in manifest["anomalies"]]
    assert sum(len(s) for s in planted) == len(set().union(*planted)), "anomaly partner sets must be disjoint"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"partners": 19},
        {"partners": 0},
        {"partners": 50.5},
        {"months": 11},
        {"months": -3},
        {"end_month": "2026-13"},
        {"end_month": "2026/09"},
        {"end_month": "26-09"},
        {"end_month": ""},
        {"end_month": None},
        {"end_month": "2099-01"},
        {"months": 400},
        {"seed": -1},
        {"seed": "7"},
    ],
)
def test_bad_arguments_raise_chinese_value_error(kwargs):
    with pytest.raises(ValueError, match=r"[\u4e00-\u9fff]"):
        generate(**kwargs)


def test_progress_is_reported_in_chinese():
    calls = []
    generate(partners=20, months=12, progress=lambda fraction, message: calls.append((fraction, message)))
    fractions = [f for f, _ in calls]
    assert 3 <= len(calls) <= 12 and fractions == sorted(fractions)
    assert fractions[0] == 0.0 and fractions[-1] == 1.0
    assert all(re.search(r"[\u4e00-\u9fff]", message) for _, message in calls)


# ---------------------------------------------------------------------------------------------------------------
# What a user sees in the master data
# ---------------------------------------------------------------------------------------------------------------


def test_partners_look_like_a_chinese_channel_network(company):
    partners = company.tables["partners"]
    assert len(partners) == 240 and partners["partner_id"].is_unique
    assert partners["partner_id"].iloc[0] == "P0001" and partners["partner_id"].iloc[-1] == "P0240"
    assert partners["name"].is_unique and partners["name"].str.len().ge(4).all()
    assert set(partners["region"]) == set(schema.REGIONS)
    by_region = partners["region"].value_counts()
    assert by_region.idxmax() == "华东" and by_region["华东"] > 2 * max(by_region["西北"], by_region["东北"])
    assert (partners["country"] == "中国").all()

    share = partners["type"].value_counts(normalize=True)
    assert set(share.index) == set(schema.PARTNER_TYPES)
    assert share["经销商"] == pytest.approx(0.40, abs=0.03) and share["电商平台"] == pytest.approx(0.06, abs=0.02)
    tiers = partners["tier"].value_counts(normalize=True)
    assert tiers["A"] == pytest.approx(0.10, abs=0.02) and tiers["C"] == pytest.approx(0.40, abs=0.03)

    level = {"直营": 0, "零售商": 1, "电商平台": 1, "经销商": 2, "代理商": 2, "批发商": 2}
    assert (partners["channel_level"] == partners["type"].map(level)).all()

    by_id = partners.set_index("partner_id")
    wholesalers = partners[partners["type"] == "批发商"]
    parents = by_id.loc[wholesalers["parent_id"]]
    assert (parents["type"] == "经销商").all()
    assert (parents["region"].to_numpy() == wholesalers["region"].to_numpy()).all()
    assert partners.loc[partners["type"] != "批发商", "parent_id"].isna().all()

    online = partners["type"] == "电商平台"
    assert (partners.loc[online, "territory"] == schema.NATIONWIDE).all()
    home = partners.loc[~online, ["territory", "province"]].rename(columns={"province": "sold_to_province"})
    assert (judge(home.assign(sold_to_region=None)) == INSIDE).all()
    wide = partners.loc[partners["territory"].str.contains("、"), ["type", "tier"]]
    assert len(wide) > 0 and wide["type"].isin(["经销商", "代理商"]).all() and wide["tier"].isin(["A", "B"]).all()

    start = pd.Timestamp(company.manifest["date_range"]["start"])
    end = pd.Timestamp(company.manifest["date_range"]["end"])
    assert (partners["contract_start"] >= pd.Timestamp("2018-01-01")).all()
    assert (partners["contract_start"] < start).all()
    expiring = partners["contract_end"] <= end
    assert 1 <= expiring.sum() <= 0.1 * len(partners)
    assert (partners.loc[expiring, "contract_end"] > end - pd.Timedelta(days=92)).all()
    big = partners.groupby("tier")["credit_limit"].median()
    assert big["A"] > big["B"] > big["C"] > big["D"]


def test_products_have_a_price_system(company):
    products = company.tables["products"]
    assert len(products) == 30 and products["sku"].is_unique
    assert products["category"].value_counts().to_dict() == {
        c: 6 for c in ("饮料", "乳制品", "休闲食品", "调味品", "方便食品")
    }
    assert products["sku"].str.fullmatch(r"[A-Z]{3}-\d{3}").all()
    assert products["name"].str.contains(r"\d+(?:ml|g|kg|L)×\d+").all()
    assert products["list_price"].between(30, 300).all()
    assert (products["floor_price"] / products["list_price"]).between(0.84, 0.86).all()
    assert (products["unit_cost"] / products["list_price"]).between(0.49, 0.66).all()


# ---------------------------------------------------------------------------------------------------------------
# Sales and the other fact tables
# ---------------------------------------------------------------------------------------------------------------


def test_facts_refer_to_known_partners_and_products(company):
    tables = company.tables
    ids = set(tables["partners"]["partner_id"])
    for name in schema.PARTNER_FK_TABLES:
        assert set(tables[name]["partner_id"].dropna()) <= ids, name
    skus = set(tables["products"]["sku"])
    assert set(tables["sales"]["sku"]) <= skus and set(tables["inventory"]["sku"]) <= skus


def test_sales_lines_add_up(company):
    sales = company.tables["sales"]
    assert ((sales["revenue"] - sales["quantity"] * sales["unit_price"]).abs() <= 0.01).all()
    assert (sales["quantity"] == sales["quantity"].round()).all() and (sales["quantity"] >= 1).all()
    assert sales["partner_name"].isna().all() and sales["partner_id"].notna().all()
    assert (sales["sold_to_country"] == "中国").all()
    assert sales[["sold_to_region", "sold_to_province", "sold_to_city"]].notna().all().all()
    line_no = sales.groupby("order_id")["line_no"].agg(["min", "max", "size"])
    assert (line_no["min"] == 1).all() and (line_no["max"] == line_no["size"]).all()
    one_order = ["partner_id", "date", "sold_to_province", "sold_to_city"]
    assert sales.groupby("order_id")[one_order].nunique().eq(1).all().all()  # one buyer, day and ship-to

    months = sales["date"].dt.to_period("M")
    assert months.min() == pd.Period("2024-10") and months.max() == pd.Period("2026-09")
    assert months.nunique() == 24
    carried = sales.drop_duplicates(["partner_id", "sku"]).groupby("partner_id").size()
    assert carried.between(5, 15).all() and len(carried) == 240
    per_month = sales.groupby(["partner_id", "sku", months]).size()
    assert per_month.max() <= 2  # one line per partner x SKU x month, two where a share was diverted


def test_seasonality_q4_peak_and_spring_festival_dip(company):
    sales = company.tables["sales"]
    monthly = sales.groupby(sales["date"].dt.to_period("M"))["revenue"].sum()
    assert (
        monthly[pd.Period("2025-10") : pd.Period("2025-12")].sum()
        > monthly[pd.Period("2025-07") : pd.Period("2025-09")].sum()
    )
    assert monthly.loc[pd.Period("2025-12")] == monthly[pd.Period("2025-01") : pd.Period("2025-12")].max()
    assert company.manifest["date_range"]["spring_festival_months"] == ["2025-01", "2026-02"]
    for month in ("2025-01", "2026-02"):
        dip = pd.Period(month)
        assert monthly[dip] < monthly[dip - 1] and monthly[dip] < monthly[dip + 1], month
    drinks = sales[sales["sku"].str.startswith("BEV")]
    by_month = drinks.groupby(drinks["date"].dt.month)["revenue"].sum()
    assert by_month[7] > by_month[[3, 4, 10]].max()


def test_targets_cover_every_quarter_and_spread_achievement(company):
    tables, manifest = company.tables, company.manifest
    targets = tables["targets"]
    quarters = manifest["date_range"]["quarters"]
    missing = set(manifest["edge_cases"]["missing_latest_target"]["partner_ids"])
    assert manifest["edge_cases"]["missing_latest_target"]["quarter"] == quarters[-1] == "2026Q3"
    assert 3 <= len(missing) <= 12
    assert len(targets) == 240 * len(quarters) - len(missing)
    latest = set(targets.loc[targets["quarter"] == quarters[-1], "partner_id"])
    assert latest.isdisjoint(missing) and len(latest) == 240 - len(missing)

    actual = _quarter_revenue(tables, manifest).stack().rename_axis(["partner_id", "quarter"])
    achievement = (actual / targets.set_index(["partner_id", "quarter"])["target_revenue"]).dropna()
    assert 0.70 <= achievement.quantile(0.05) and achievement.quantile(0.95) <= 1.30
    assert achievement.quantile(0.10) < 0.85 and achievement.quantile(0.90) > 1.08


def test_costs_attribution_and_expense_ratios(company):
    tables = company.tables
    costs, partners = tables["costs"], tables["partners"]
    assert set(costs["cost_type"]) == set(schema.COST_TYPES)
    pooled = costs["partner_id"].isna()
    assert set(costs.loc[pooled, "cost_type"]) == {"市场推广", "其他"}
    assert costs.loc[pooled, ["channel_type", "region"]].notna().all().all()
    own = costs[~pooled].merge(partners[["partner_id", "type", "region"]], on="partner_id", suffixes=("", "_p"))
    assert (own["channel_type"] == own["type"]).all() and (own["region"] == own["region_p"]).all()
    assert (costs.loc[costs["cost_type"] == "返利", "month"].dt.month % 3 == 0).all()

    revenue = tables["sales"].merge(partners[["partner_id", "type"]]).groupby("type")["revenue"].sum()
    ratio = costs.groupby("channel_type")["amount"].sum() / revenue
    assert ratio.idxmax() == "直营" and ratio.idxmin() == "批发商"
    assert ratio["电商平台"] > ratio["经销商"]
    assert ratio.between(0.03, 0.35).all()


def test_collections_never_exceed_due(company):
    tables = company.tables
    collections = tables["collections"]
    assert len(collections) == 240 * 24
    assert (collections["amount_collected"] <= collections["amount_due"]).all()
    due = (
        tables["sales"]
        .groupby(["partner_id", tables["sales"]["date"].dt.to_period("M").dt.to_timestamp()])["revenue"]
        .sum()
    )
    merged = collections.set_index(["partner_id", "month"])["amount_due"]
    assert np.allclose(merged.sort_index().to_numpy(), due.sort_index().to_numpy(), atol=0.01)
    rate = collections.groupby("partner_id")[["amount_collected", "amount_due"]].sum()
    rate = rate["amount_collected"] / rate["amount_due"]
    slow = company.manifest["edge_cases"]["slow_payers"]
    assert rate[slow].max() < 0.86 and rate.drop(slow).min() >= 0.9


def test_surveys_are_plausible(company):
    surveys = company.tables["surveys"].merge(company.tables["partners"][["partner_id", "tier"]])
    assert len(surveys) == 240 * 8
    assert surveys["satisfaction"].between(1, 5).all()
    assert (surveys["satisfaction"] == surveys["satisfaction"].round(1)).all()
    assert surveys["satisfaction"].between(3.2, 4.8).mean() > 0.85
    assert surveys["training_hours"].between(0, 40).all()
    hours = surveys.groupby("tier")["training_hours"].mean()
    assert hours["A"] > hours["D"]


# ---------------------------------------------------------------------------------------------------------------
# Planted anomalies: visible in the raw frames, and nowhere else
# ---------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("which", ["company", "odd_window"])
def test_below_floor_lines_are_exactly_the_planted_ones(which, request):
    sample = request.getfixturevalue(which)
    sales = sample.tables["sales"].merge(sample.tables["products"][["sku", "floor_price"]], on="sku", how="left")
    below = sales["unit_price"] < sales["floor_price"]
    entries = sample.manifest["anomalies"]["below_floor"]
    assert _line_keys(sales, below) == _manifest_lines(entries)
    for entry in entries:
        assert entry["min_price"] < entry["floor_price"]
        assert 0.69 <= entry["min_price"] / entry["list_price"] <= 0.83
        assert 2 <= len(entry["months"]) <= 3


@pytest.mark.parametrize("which", ["company", "odd_window"])
def test_cross_region_lines_are_exactly_the_planted_ones(which, request):
    sample = request.getfixturevalue(which)
    sales, partners = sample.tables["sales"], sample.tables["partners"].set_index("partner_id")
    outside = _outside_territory(sample.tables)
    entries = sample.manifest["anomalies"]["cross_region"]
    assert _line_keys(sales, outside) == _manifest_lines(entries)
    for entry in entries:
        partner = partners.loc[entry["partner_id"]]
        assert partner["territory"] != schema.NATIONWIDE
        assert partner["region"] not in entry["sold_to_regions"]
        assert 2 <= len(entry["months"]) <= 4
        assert 0.15 <= entry["share_of_volume"] <= 0.45
        lines = sales[outside & (sales["partner_id"] == entry["partner_id"])]
        assert lines["quantity"].sum() == entry["quantity"]
        assert lines["revenue"].sum() == pytest.approx(entry["revenue"], abs=0.01)


@pytest.mark.parametrize("which", ["company", "odd_window"])
def test_declining_partners_and_no_other_decline_streaks(which, request):
    sample = request.getfixturevalue(which)
    yoy = _yoy(sample.tables, sample.manifest)
    declining = _anomaly_partners(sample.manifest, "declining")
    for entry in sample.manifest["anomalies"]["declining"]:
        measured = yoy.loc[entry["partner_id"], entry["quarters"]]
        assert (measured < 0).all()
        assert np.allclose(measured.to_numpy(), entry["yoy"], atol=1e-4)
        assert all(-0.36 <= v <= -0.14 for v in entry["yoy"])
    assert len(yoy.columns) >= 1
    if which == "company":
        assert len(declining) == 3 and all(len(e["quarters"]) == 4 for e in sample.manifest["anomalies"]["declining"])
        assert (_longest_decline_streak(yoy.loc[sorted(declining)]) == 4).all()
    streaks = _longest_decline_streak(yoy.drop(index=list(declining)))
    assert streaks.max() < 3


@pytest.mark.parametrize("which", ["company", "odd_window"])
def test_stock_buildup_is_visible_and_unique(which, request):
    sample = request.getfixturevalue(which)
    ratio = _inventory_vs_median(sample.tables)
    quarter_end = ratio.columns[ratio.columns.month % 3 == 0]
    planted = set()
    sales = sample.tables["sales"]
    sell_in = sales.groupby(["partner_id", sales["date"].dt.to_period("M")])["quantity"].sum().unstack()
    for entry in sample.manifest["anomalies"]["stock_buildup"]:
        pid = entry["partner_id"]
        for index, month in enumerate(entry["months"]):
            period = pd.Period(month)
            assert period.month % 3 == 0
            column = ratio.columns[ratio.columns.to_period("M") == period][0]
            following = ratio.columns[ratio.columns.to_period("M") == period + 1][0]
            assert ratio.loc[pid, column] >= 2.0
            assert ratio.loc[pid, following] < 0.7 * ratio.loc[pid, column]  # falls back the month after
            prior = sell_in.loc[pid, period - 3 : period - 1].median()
            assert sell_in.loc[pid, period] >= 1.5 * prior
            assert sell_in.loc[pid, period] / prior == pytest.approx(entry["sell_in_vs_prior_3m"][index], abs=0.01)
            assert ratio.loc[pid, column] == pytest.approx(entry["inventory_vs_median"][index], abs=0.01)
            planted.add((pid, column))
    spikes = {(pid, col) for col in quarter_end for pid in ratio.index[ratio[col] > 2.0]}
    assert spikes == planted


def test_anomalies_are_planted_on_fitting_partner_types(company):
    partners = company.tables["partners"].set_index("partner_id")
    cross = partners.loc[sorted(_anomaly_partners(company.manifest, "cross_region")), "type"]
    assert not cross.isin(["电商平台"]).any()


# ---------------------------------------------------------------------------------------------------------------
# Scale
# ---------------------------------------------------------------------------------------------------------------


def test_thousand_partners_one_year_scales(company):
    big = generate(partners=1000, months=12, seed=11)
    partners, sales = big.tables["partners"], big.tables["sales"]
    assert len(partners) == 1000 and partners["name"].is_unique and partners["partner_id"].iloc[-1] == "P1000"
    assert sales["date"].dt.to_period("M").nunique() == 12
    per_partner_month = len(sales) / (1000 * 12)
    baseline = len(company.tables["sales"]) / (240 * 24)
    assert per_partner_month == pytest.approx(baseline, rel=0.25)
    counts = big.manifest["counts"]
    assert counts["cross_region"] > 4 and counts["below_floor"] > 5 and counts["stock_buildup"] > 3
    assert counts["declining"] == 0  # a single year has no year-on-year quarter to decline in
    assert len(big.tables["targets"]) == 1000 * 4 - len(
        big.manifest["edge_cases"]["missing_latest_target"]["partner_ids"]
    )
    sales = sales.merge(big.tables["products"][["sku", "floor_price"]], on="sku")
    assert _line_keys(sales, sales["unit_price"] < sales["floor_price"]) == _manifest_lines(
        big.manifest["anomalies"]["below_floor"]
    )
    assert _line_keys(big.tables["sales"], _outside_territory(big.tables)) == _manifest_lines(
        big.manifest["anomalies"]["cross_region"]
    )
