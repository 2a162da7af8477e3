"""What data a dataset has, and what each computation needs: the capability model.

Every tool, metric and plan section declares the inputs it needs (targets, costs, inventory,
collections, floor prices, territories, partner types, ...). When an input is missing the result
names it, says what was computed instead, and says which file and columns would add it; it never
raises, and it never fills the gap with a silent default (such as compliance = 100 %).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from company.schema import NATIONWIDE
from company.store import Store
from company.territory import places_sql


@dataclass(frozen=True)
class Input:
    key: str
    zh: str
    table: str
    columns: str  # the file and columns that add it, as shown to the user
    sql: str  # count of rows that make the input usable

    def how_to_add(self) -> str:
        return f"导入{self.columns}"


INPUTS: dict[str, Input] = {
    i.key: i
    for i in (
        Input(
            "sales", "销售明细", "sales", "销售明细（列：日期、客户、产品、数量、金额）", "SELECT count(*) FROM sales"
        ),
        Input(
            "targets",
            "季度目标",
            "targets",
            "季度目标表（列：伙伴编号或名称、季度、目标销售额）",
            "SELECT count(*) FROM targets",
        ),
        Input(
            "costs",
            "渠道费用",
            "costs",
            "渠道费用表（列：月份、伙伴编号或渠道类型、费用类型、金额）",
            "SELECT count(*) FROM costs",
        ),
        Input(
            "rebates_paid",
            "已发放返利",
            "costs",
            "渠道费用表中费用类型为「返利」的记录",
            "SELECT count(*) FROM costs WHERE cost_type = '返利'",
        ),
        Input(
            "inventory",
            "渠道库存",
            "inventory",
            "渠道库存表（列：快照日期、伙伴编号、产品编码、库存数量）",
            "SELECT count(*) FROM inventory",
        ),
        Input(
            "collections",
            "回款",
            "collections",
            "回款表（列：伙伴编号、月份、应收金额、实收金额）",
            "SELECT count(*) FROM collections",
        ),
        Input(
            "floor_prices",
            "最低限价",
            "products",
            "产品表的「最低限价」列（列：产品编码、最低限价）",
            "SELECT count(*) FROM products WHERE floor_price IS NOT NULL",
        ),
        Input(
            "unit_costs",
            "产品单位成本",
            "products",
            "产品表的「单位成本」列（列：产品编码、单位成本）",
            "SELECT count(*) FROM products WHERE unit_cost IS NOT NULL",
        ),
        Input(
            "territories",
            "授权区域",
            "partners",
            "伙伴表的「授权区域」列（列：伙伴编号、授权区域，如 江苏、上海）",
            # A territory that names places (not only 全国) is what a cross-region check can test against.
            f"SELECT count(*) FROM (SELECT {places_sql('territory')} AS terr FROM partners) "
            f"WHERE len(terr) > 0 AND NOT list_contains(terr, '{NATIONWIDE}')",
        ),
        Input(
            "sold_to",
            "售达地区",
            "sales",
            "销售明细的「售达省份」或「售达区域」列",
            "SELECT count(*) FROM sales WHERE sold_to_province IS NOT NULL OR sold_to_region IS NOT NULL",
        ),
        Input(
            "returns",
            "退货记录",
            "sales",
            "销售明细里金额为负的退货、退款行（列：日期、客户、产品、数量、金额）",
            "SELECT count(*) FROM sales WHERE revenue < 0",
        ),
        Input(
            "partner_types",
            "伙伴类型",
            "partners",
            "伙伴表的「伙伴类型」列（经销商/代理商/批发商/零售商/电商平台/直营）",
            "SELECT count(*) FROM partners WHERE type IS NOT NULL",
        ),
        Input(
            "regions",
            "伙伴所属区域",
            "partners",
            "伙伴表的「区域」列",
            "SELECT count(*) FROM partners WHERE region IS NOT NULL",
        ),
        Input(
            "tiers",
            "伙伴级别",
            "partners",
            "伙伴表的「级别」列（A/B/C/D）",
            "SELECT count(*) FROM partners WHERE tier IS NOT NULL",
        ),
        Input(
            "channel_levels",
            "渠道层级",
            "partners",
            "伙伴表的「渠道层级」列（0 直营、1 一级、2 二级）",
            "SELECT count(*) FROM partners WHERE channel_level IS NOT NULL",
        ),
        Input(
            "credit_limits",
            "信用额度",
            "partners",
            "伙伴表的「信用额度」列",
            "SELECT count(*) FROM partners WHERE credit_limit IS NOT NULL",
        ),
        Input(
            "satisfaction",
            "满意度调查",
            "surveys",
            "满意度与培训表（列：伙伴编号、季度、满意度）",
            "SELECT count(*) FROM surveys WHERE satisfaction IS NOT NULL",
        ),
        Input(
            "training",
            "培训记录",
            "surveys",
            "满意度与培训表（列：伙伴编号、季度、培训时长）",
            "SELECT count(*) FROM surveys WHERE training_hours IS NOT NULL",
        ),
    )
}


@dataclass(frozen=True)
class Missing:
    """One input a result could not use: what it is, what was done instead, how to add it."""

    key: str
    zh: str
    instead: str
    how: str

    def message(self) -> str:
        return f"缺少「{self.zh}」：{self.instead}。补充方法：{self.how}。"

    def to_dict(self) -> dict[str, str]:
        return {"input": self.key, "zh": self.zh, "instead": self.instead, "how": self.how}


@dataclass(frozen=True)
class Availability:
    counts: dict[str, int]

    def has(self, key: str) -> bool:
        return self.counts.get(key, 0) > 0

    def missing(self, key: str, instead: str) -> Missing:
        item = INPUTS[key]
        return Missing(item.key, item.zh, instead, item.how_to_add())

    def lacking(self, keys: tuple[str, ...] | list[str]) -> list[str]:
        return [k for k in keys if not self.has(k)]


_CACHE: dict[tuple[str, str], Availability] = {}
_LOCK = threading.Lock()


def availability(store: Store) -> Availability:
    """Row counts of every input in the store's current version (cached per version)."""
    key = (str(store.folder), store.version())
    with _LOCK:
        if key in _CACHE:
            return _CACHE[key]
    if not store.exists():
        found = Availability({k: 0 for k in INPUTS})
    else:
        with store.connect() as con:
            found = Availability({k: int(con.execute(i.sql).fetchone()[0]) for k, i in INPUTS.items()})
    with _LOCK:
        if len(_CACHE) > 32:
            _CACHE.clear()
        _CACHE[key] = found
    return found
