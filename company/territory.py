"""Authorised territories: whether a sale's destination lies inside a partner's territory (授权区域 / 窜货).

The one owner of that rule. The rebate preconditions and the scorecard (tools.metrics), the conflict scan
(tools.conflict) and the capability check judge territories with the SQL built here (places_sql, verdict_sql);
Python callers use place()/places(), generated from the same tables, and judge(), which runs verdict_sql.

The rule, for one sales line of a partner:
- Places are compared after normalisation: surrounding spaces and one administrative suffix dropped
  (江苏省 = 江苏, 上海市 = 上海, 广西壮族自治区 = 广西, 香港特别行政区 = 香港), then ALIASES applied
  (内蒙 = 内蒙古, 华东区/华东地区/华东大区 = 华东).
- The territory is split on schema.TERRITORY_SEPARATORS; each part is a province, a region of
  REGION_PROVINCES (华东 covers its provinces), or 全国 (covers everything).
- A line with a sold-to province is inside when the territory lists that province, the province's region, or
  the region written on the line; otherwise it is outside.
- A line with only a sold-to region is inside when the territory lists that region or every province of it,
  and outside when every part of the territory is a known province or region and none lies in that region.
  Otherwise (the territory covers part of the region, or names a place this table does not know, or the
  region is not one of REGION_PROVINCES) it cannot be checked.
- A line without a destination, or of a partner without a territory, cannot be checked.
"Cannot be checked" is SQL NULL: such a line is neither inside nor outside, and is left out of the
territory_compliance denominator.
"""

from __future__ import annotations

import re
from typing import Literal

import duckdb
import pandas as pd

from company.schema import NATIONWIDE, REGIONS, TERRITORY_SEPARATORS, split_territory

Verdict = Literal["inside", "outside"]
INSIDE: Verdict = "inside"
OUTSIDE: Verdict = "outside"

# The seven regions (七大区) as channel teams in China divide the country; provinces by their short names.
# No region table existed in the schema (company.sample.GEOGRAPHY holds a subset of these for the demo data;
# tests check the two agree). A company whose regions differ still matches a region by its name on the line.
REGION_PROVINCES: dict[str, tuple[str, ...]] = {
    "华东": ("上海", "江苏", "浙江", "安徽", "福建", "江西", "山东", "台湾"),
    "华南": ("广东", "广西", "海南", "香港", "澳门"),
    "华北": ("北京", "天津", "河北", "山西", "内蒙古"),
    "华中": ("河南", "湖北", "湖南"),
    "西南": ("重庆", "四川", "贵州", "云南", "西藏"),
    "西北": ("陕西", "甘肃", "青海", "宁夏", "新疆"),
    "东北": ("辽宁", "吉林", "黑龙江"),
}
PROVINCE_REGION: dict[str, str] = {p: r for r, provinces in REGION_PROVINCES.items() for p in provinces}

# Administrative suffixes, dropped once from the end (longer ones first for readability; the regex takes
# whichever starts earliest, so 广西壮族自治区 loses 壮族自治区, not 自治区).
SUFFIXES = ("壮族自治区", "回族自治区", "维吾尔自治区", "自治区", "特别行政区", "省", "市")
REGION_SUFFIXES = ("大区", "地区", "区域", "片区", "区")
# Other spellings, looked up after the suffix is dropped.
ALIASES: dict[str, str] = {
    "内蒙": "内蒙古",
    "中国香港": "香港",
    "中国澳门": "澳门",
    "香港特区": "香港",
    "澳门特区": "澳门",
    "中国台湾": "台湾",
    **{region + suffix: region for region in REGIONS for suffix in REGION_SUFFIXES},
}
KNOWN: tuple[str, ...] = (*PROVINCE_REGION, *REGIONS, NATIONWIDE)

# Written so that Python's re and DuckDB's RE2 read them the same way.
_SPACE = "[ \\t\\r\\n\u3000\u00a0]"
TRIM_RE = f"^{_SPACE}+|{_SPACE}+$"
SUFFIX_RE = "(" + "|".join(SUFFIXES) + ")$"
SEPARATOR_RE = "[" + "".join(re.escape(c) for c in TERRITORY_SEPARATORS) + "]"

_TRIM = re.compile(TRIM_RE)
_SUFFIX = re.compile(SUFFIX_RE)


# ---- Python ---------------------------------------------------------------------------------------------------


def place(text: object) -> str | None:
    """'江苏省 ' -> '江苏'; '广西壮族自治区' -> '广西'; '华东区' -> '华东'; empty or missing -> None."""
    if text is None or (not isinstance(text, str) and pd.isna(text)):
        return None
    value = _SUFFIX.sub("", _TRIM.sub("", str(text)), count=1)
    return ALIASES.get(value, value) or None


def places(territory: object) -> list[str]:
    """'江苏省、上海市' -> ['江苏', '上海']: the territory's parts, normalised, each once, in order."""
    text = None if territory is None or (not isinstance(territory, str) and pd.isna(territory)) else str(territory)
    return list(dict.fromkeys(p for part in split_territory(text) if (p := place(part)) is not None))


def judge(lines: pd.DataFrame) -> pd.Series:
    """Verdict per row of a frame with territory, sold_to_province and sold_to_region columns: 'inside', 'outside'
    or None (cannot be checked). Evaluated by verdict_sql(), so Python callers apply the very rule the tools do."""
    frame = lines[["territory", "sold_to_province", "sold_to_region"]].astype(object).reset_index(drop=True)
    frame["_row"] = range(len(frame))
    con = duckdb.connect()
    try:
        con.register("_lines", frame)
        sql = f"""SELECT {verdict_sql(places_sql("territory"), "sold_to_province", "sold_to_region")} AS verdict
                  FROM _lines ORDER BY _row"""
        verdicts = con.execute(sql).df()["verdict"]
    finally:
        con.close()
    return pd.Series([v if isinstance(v, str) else None for v in verdicts], index=lines.index, dtype=object)


# ---- SQL (DuckDB) ---------------------------------------------------------------------------------------------


def _q(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _list(values: tuple[str, ...] | list[str]) -> str:
    return "[" + ", ".join(_q(v) for v in values) + "]"


def _lookup(keys: list[str], values: list[str], key: str) -> str:
    """values[position of key in keys], NULL when absent. (A CASE would repeat the key expression per branch.)"""
    return f"({'[' + ', '.join(values) + ']'})[list_position({_list(keys)}, {key})]"


def place_sql(value: str) -> str:
    """SQL for place(value): the normalised place, NULL when empty or missing."""
    stripped = f"regexp_replace(regexp_replace(CAST({value} AS VARCHAR), {_q(TRIM_RE)}, '', 'g'), {_q(SUFFIX_RE)}, '')"
    alias = _lookup(list(ALIASES), [_q(v) for v in ALIASES.values()], stripped)
    return f"nullif(coalesce({alias}, {stripped}), '')"


def places_sql(territory: str) -> str:
    """SQL for places(territory): a list of normalised parts (empty when the territory is empty or missing)."""
    parts = f"string_split_regex(coalesce(CAST({territory} AS VARCHAR), ''), {_q(SEPARATOR_RE)})"
    return (
        f"list_distinct(list_filter(list_transform({parts}, lambda _part: {place_sql('_part')}), "
        "lambda _p: _p IS NOT NULL))"
    )


def _region_of_sql(province: str) -> str:
    return _lookup(list(PROVINCE_REGION), [_q(r) for r in PROVINCE_REGION.values()], province)


def _provinces_sql(region: str) -> str:
    return _lookup(list(REGION_PROVINCES), [_list(ps) for ps in REGION_PROVINCES.values()], region)


def verdict_sql(territory_places: str, province: str, region: str) -> str:
    """SQL for one line's verdict: 'inside', 'outside', or NULL when it cannot be checked (see the module docstring).

    territory_places: a list expression from places_sql() (compute it once per partner);
    province, region: the line's sold-to province and region as stored (normalised here)."""
    terr, prov, reg = territory_places, place_sql(province), place_sql(region)
    covered = f"flatten(list_transform({terr}, lambda _t: coalesce({_provinces_sql('_t')}, [_t])))"
    in_region = _provinces_sql(reg)
    return f"""(CASE
        WHEN coalesce(len({terr}), 0) = 0 THEN NULL
        WHEN list_contains({terr}, {_q(NATIONWIDE)}) THEN {_q(INSIDE)}
        WHEN {prov} IS NOT NULL THEN
            CASE WHEN list_contains({terr}, {prov})
                      OR coalesce(list_contains({terr}, {_region_of_sql(prov)}), false)
                      OR coalesce(list_contains({terr}, {reg}), false)
                 THEN {_q(INSIDE)} ELSE {_q(OUTSIDE)} END
        WHEN {reg} IS NULL THEN NULL
        WHEN list_contains({terr}, {reg}) THEN {_q(INSIDE)}
        WHEN {in_region} IS NULL THEN NULL
        WHEN list_has_all({covered}, {in_region}) THEN {_q(INSIDE)}
        WHEN NOT list_has_any({covered}, {in_region}) AND list_has_all({_list(KNOWN)}, {terr}) THEN {_q(OUTSIDE)}
    END)"""
