"""One territory rule (company.territory) behind the rebate preconditions and the conflict scan: the same partners
are cut from the rebate for cross-region selling as the scan reports for 窜货, whether the partner master spells
provinces 江苏 or 江苏省, lists several provinces, names a region, or the sales name only a region.
"""

from __future__ import annotations

import duckdb
import pandas as pd
import pytest

from company import schema
from company.importers import import_file
from company.periods import parse_period
from company.sample import GEOGRAPHY
from company.store import Store
from company.territory import INSIDE, OUTSIDE, REGION_PROVINCES, judge, place, place_sql, places, places_sql
from tests.fixtures import make_store, partner, product, sale
from tools.conflict import ConflictArgs, detect_conflicts
from tools.incentive import RebateArgs, simulate_rebate
from tools.metrics import partner_metrics

QUARTERS = ("2025Q4", "2026Q1", "2026Q2", "2026Q3")

# How partner masters spell provinces in full.
_FULL_SPECIAL = {
    "内蒙古": "内蒙古自治区",
    "广西": "广西壮族自治区",
    "宁夏": "宁夏回族自治区",
    "新疆": "新疆维吾尔自治区",
    "西藏": "西藏自治区",
    "香港": "香港特别行政区",
    "澳门": "澳门特别行政区",
    **{city: f"{city}市" for city in ("北京", "天津", "上海", "重庆")},
}


def full_name(short: str) -> str:
    return _FULL_SPECIAL.get(short, f"{short}省")


def full_territory(territory: str | None) -> str | None:
    """'江苏、上海' -> '江苏省、上海市'; regions and 全国 stay as they are."""
    if territory is None or pd.isna(territory):
        return territory
    return "、".join(
        full_name(p) if p not in schema.REGIONS and p != schema.NATIONWIDE else p
        for p in schema.split_territory(territory)
    )


def verdict(territory: str | None, province: str | None = None, region: str | None = None) -> str | None:
    frame = pd.DataFrame({"territory": [territory], "sold_to_province": [province], "sold_to_region": [region]})
    return judge(frame).iloc[0]


# ---------------------------------------------------------------------------------------------------------------
# The rule itself
# ---------------------------------------------------------------------------------------------------------------

ALL_PROVINCES = [p for provinces in REGION_PROVINCES.values() for p in provinces]


def test_every_full_province_name_is_its_short_name_in_python_and_in_sql():
    spellings = [
        *ALL_PROVINCES,
        *map(full_name, ALL_PROVINCES),
        " 江苏省 ",
        "\u3000上海市",
        "华东区",
        "华东地区",
        "内蒙",
    ]
    spellings += ["", "  ", None, "EMEA", schema.NATIONWIDE]
    con = duckdb.connect()
    in_sql = [con.execute(f"SELECT {place_sql('$v')}", {"v": v}).fetchone()[0] for v in spellings]
    assert in_sql == [place(v) for v in spellings]
    assert [place(full_name(p)) for p in ALL_PROVINCES] == ALL_PROVINCES
    assert [place(v) for v in (" 江苏省 ", "\u3000上海市", "华东区", "华东地区", "内蒙", "", "  ", None)] == [
        "江苏",
        "上海",
        "华东",
        "华东",
        "内蒙古",
        None,
        None,
        None,
    ]
    territory = "江苏省、上海市;浙江 / 广西壮族自治区，华东区|全国"
    listed = con.execute(f"SELECT {places_sql('$t')}", {"t": territory}).fetchone()[0]
    assert sorted(listed) == sorted(places(territory)) == sorted(["江苏", "上海", "浙江", "广西", "华东", "全国"])


def test_region_table_covers_the_schema_regions_and_the_sample_geography():
    assert tuple(REGION_PROVINCES) == schema.REGIONS
    for region, provinces in GEOGRAPHY.items():
        assert set(provinces) <= set(REGION_PROVINCES[region]), region


@pytest.mark.parametrize(
    ("territory", "province", "region", "expected"),
    [
        ("江苏省", "江苏", "华东", INSIDE),
        ("江苏", "江苏省", None, INSIDE),
        ("江苏", "浙江", "华东", OUTSIDE),
        ("江苏省、上海市", "上海", None, INSIDE),
        ("江苏；上海市/浙江省", "浙江", None, INSIDE),
        ("江苏、上海", "安徽省", None, OUTSIDE),
        ("内蒙古", "内蒙古自治区", None, INSIDE),
        ("广西壮族自治区", "广西", None, INSIDE),
        ("新疆维吾尔自治区、宁夏", "宁夏回族自治区", None, INSIDE),
        ("西藏", "西藏自治区", None, INSIDE),
        ("香港特别行政区", "澳门", None, OUTSIDE),
        ("全国", "黑龙江", "东北", INSIDE),
        ("华东", "浙江省", None, INSIDE),  # a region covers its provinces
        ("华东地区", "湖南", "华中", OUTSIDE),
        ("华南", "广西壮族自治区", None, INSIDE),
        # Only a region on the line: judged when the territory covers all of it or none of it.
        ("华东", None, "华东", INSIDE),
        ("黑龙江、吉林省、辽宁", None, "东北区", INSIDE),
        ("江苏", None, "西北", OUTSIDE),
        ("江苏", None, "华东", None),  # part of 华东: cannot be checked
        ("江苏、苏南片", None, "西北", None),  # a place the table does not know
        ("江苏", None, "EMEA", None),  # a region the table does not know
        ("EMEA", "Bavaria", "EMEA", INSIDE),  # a company's own region, named on the line
        # Nothing to compare.
        ("江苏", None, None, None),
        (None, "江苏", "华东", None),
        ("", "江苏", "华东", None),
    ],
)
def test_the_rule(territory, province, region, expected):
    assert verdict(territory, province, region) == expected


# ---------------------------------------------------------------------------------------------------------------
# Rebate preconditions and conflict findings on one hand-made company
# ---------------------------------------------------------------------------------------------------------------

DAY = "2026-08-15"

# partner id -> (territory as written with short names, [(units, sold-to province, sold-to region)])
CASES: dict[str, tuple[str, list[tuple[float, str | None, str | None]]]] = {
    "T1": ("江苏", [(100, "江苏", "华东"), (20, "浙江", "华东")]),
    "T2": ("江苏、上海", [(50, "上海市", "华东"), (50, "江苏省", None)]),
    "T3": ("广西", [(30, "广西", "华南"), (10, "广西壮族自治区", None)]),
    "T4": ("内蒙古;新疆", [(10, "新疆", "西北"), (12, "内蒙古自治区", None), (5, "宁夏", "西北")]),
    "T5": ("华东", [(40, "浙江省", None), (10, "湖南", "华中")]),
    "T6": ("全国", [(40, "黑龙江", "东北"), (5, None, "西南")]),
    "T7": ("江苏", [(65, "江苏", "华东"), (20, None, "华东"), (10, None, "西北"), (5, None, None)]),
    "T8": ("黑龙江、吉林、辽宁", [(30, None, "东北"), (10, "吉林省", "东北")]),
    "T9": ("江苏", [(25, None, "华东"), (4, None, "苏南")]),  # a region of its own: cannot be checked either
    "T10": ("香港、澳门", [(30, "澳门", "华南"), (3, "广东", "华南")]),
}
# Units outside the territory; territory_compliance among the units that can be checked (None: none can).
OUTSIDE_UNITS = {"T1": 20, "T4": 5, "T5": 10, "T7": 10, "T10": 3}
COMPLIANCE = {
    "T1": 100 / 120,
    "T2": 1.0,
    "T3": 1.0,
    "T4": 22 / 27,
    "T5": 40 / 50,
    "T6": 1.0,
    "T7": 65 / 75,
    "T8": 1.0,
    "T9": None,
    "T10": 30 / 33,
}


def _company(folder, spelling: str) -> Store:
    partners, sales, targets = [], [], []
    for pid, (territory, lines) in CASES.items():
        written = territory if spelling == "short" else full_territory(territory)
        partners.append(partner(pid, territory=written))
        targets.append({"partner_id": pid, "quarter": "2026Q3", "target_revenue": 1_000.0})
        for n, (units, province, region) in enumerate(lines):
            sales.append(
                sale(
                    pid,
                    "S1",
                    DAY,
                    units,
                    100.0,
                    order_id=f"{pid}-{n}",
                    sold_to_province=province,
                    sold_to_region=region,
                )
            )
    return make_store(folder, partners=partners, products=[product("S1")], sales=sales, targets=targets)


def _rebate_cuts(store: Store, quarter: str) -> dict[str, str]:
    """Partners whose rebate the cross-region precondition cancels, with the reason given."""
    detail = simulate_rebate(store, RebateArgs(period=quarter)).tables["rebate_detail"]
    reasons = detail.set_index("partner_id")["ineligible_reason"]
    return {pid: reason for pid, reason in reasons.items() if "跨区销售" in reason}


def _cross_findings(store: Store, quarter: str) -> dict[str, dict]:
    result = detect_conflicts(store, ConflictArgs(period=quarter, lookback_quarters=1, checks=["cross_region"]))
    return {f.partner_id: f.metrics | {"severity": f.severity} for f in result.data}


@pytest.mark.parametrize("spelling", ["short", "full"])
def test_rebate_cuts_exactly_the_partners_the_conflict_scan_reports(tmp_path, spelling):
    store = _company(tmp_path, spelling)
    cuts, found = _rebate_cuts(store, "2026Q3"), _cross_findings(store, "2026Q3")
    assert sorted(cuts) == sorted(found) == sorted(OUTSIDE_UNITS)
    for pid, units in OUTSIDE_UNITS.items():
        assert found[pid]["units"] == units
        assert cuts[pid] == f"存在跨区销售 {units} 件"

    metrics = partner_metrics(store, parse_period("2026Q3")).set_index("partner_id")
    assert metrics["out_of_territory_qty"].to_dict() == {pid: OUTSIDE_UNITS.get(pid, 0) for pid in CASES}
    for pid, expected in COMPLIANCE.items():
        got = metrics.loc[pid, "territory_compliance"]
        assert pd.isna(got) if expected is None else got == pytest.approx(expected), pid


def test_full_and_short_names_give_the_same_rebates_and_findings(tmp_path):
    short, full = _company(tmp_path / "short", "short"), _company(tmp_path / "full", "full")
    assert full.table("partners")["territory"].str.contains("省").any()
    detail = {
        name: simulate_rebate(store, RebateArgs(period="2026Q3")).tables["rebate_detail"]
        for name, store in (("short", short), ("full", full))
    }
    pd.testing.assert_frame_equal(detail["short"], detail["full"])
    found_short, found_full = _cross_findings(short, "2026Q3"), _cross_findings(full, "2026Q3")
    assert {p: m | {"territory": None} for p, m in found_short.items()} == {
        p: m | {"territory": None} for p, m in found_full.items()
    }


# ---------------------------------------------------------------------------------------------------------------
# The sample company, its partner master re-imported with full province names
# ---------------------------------------------------------------------------------------------------------------


def _results(store: Store) -> dict[str, tuple[pd.DataFrame, dict[str, str], dict[str, dict]]]:
    out = {}
    for quarter in QUARTERS:
        detail = simulate_rebate(store, RebateArgs(period=quarter)).tables["rebate_detail"]
        out[quarter] = (detail, _rebate_cuts(store, quarter), _cross_findings(store, quarter))
    return out


def test_sample_company_reimported_with_full_province_names_gives_the_same_results(loaded_store, tmp_path):
    before = _results(loaded_store)
    partners = loaded_store.table("partners")
    master = partners.assign(territory=partners["territory"].map(full_territory))
    assert master["territory"].str.contains("省|自治区|市").sum() > len(master) // 2
    path = tmp_path / "partners.csv"
    master.to_csv(path, index=False)
    assert import_file(loaded_store, path, table="partners").committed
    assert (
        loaded_store.table("partners")
        .set_index("partner_id")["territory"]
        .equals(master.set_index("partner_id")["territory"])
    )

    after = _results(loaded_store)
    cut_somewhere = False
    for quarter in QUARTERS:
        detail, cuts, found = after[quarter]
        pd.testing.assert_frame_equal(detail, before[quarter][0], obj=quarter)
        assert cuts == before[quarter][1]
        assert {p: m | {"territory": None} for p, m in found.items()} == {
            p: m | {"territory": None} for p, m in before[quarter][2].items()
        }
        assert sorted(cuts) == sorted(found), quarter  # the rebate and the scan agree on who sold across regions
        cut_somewhere |= bool(cuts)
    assert cut_somewhere
