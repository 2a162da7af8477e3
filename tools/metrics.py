"""Per-partner metrics for a period, shared by every channel tool and compiled from the semantic layer.

Every figure is a metric of company.semantic (METRICS, or TOOL_METRICS for those the data questions do not offer
yet), compiled by compile_per_partner, so a tool and a data question cannot give two numbers for one fact. This
module owns only which partner master columns each row carries, the tools' filters by column name (a Scope), and
the column names the tools read (SEMANTIC_COLUMNS):
- revenue, quantity, gross_profit, target and achievement 完成率 (the target of the quarter; a month or year takes
  its quarters' targets pro rata by days; missing without a target);
- revenue_prev / growth_qoq 环比 and revenue_year_ago / growth_yoy 同比: revenue of the previous / year-ago period
  (missing when the partner had no sales then) and the change against it;
- amount_due, amount_collected and collection_rate 回款率 for the months of the period;
- avg_on_hand (mean of the snapshots in the period), inventory_days 库存天数 and turnover 库存周转(次/年);
- out_of_territory_qty and territory_compliance (company.territory's rule, the one the conflict scan uses),
  below_floor_revenue and price_compliance (the semantic layer's floor rule, also the conflict scan's); a
  compliance that was never measured is missing, never 100 %;
- satisfaction and training_hours of the quarters the period overlaps (missing without a survey record).
"""

from __future__ import annotations

import math

import pandas as pd

from company.catalog import attributes, find_attribute
from company.periods import Period
from company.schema import PARTNERS, SALES
from company.semantic import (
    METRICS,
    TOOL_METRICS,
    Scope,
    TimeWindow,
    build_spec,
    compile_per_partner,
    compile_spec,
)
from company.store import Store
from tools.base import ToolError

# The partner master columns of each row.
PARTNER_COLUMNS: tuple[str, ...] = (
    "partner_id", "name", "type", "tier", "region", "province", "city", "channel_level", "territory"
)  # fmt: skip
# Every other column: its name here -> the semantic field it is (a metric key, or <key>_<comparison>[_change]).
SEMANTIC_COLUMNS: dict[str, str] = {
    "revenue": "revenue",
    "quantity": "quantity",
    "gross_profit": "gross_profit",
    "target": "target",
    "achievement": "achievement",
    "revenue_prev": "revenue_previous",
    "revenue_year_ago": "revenue_yoy",
    "growth_qoq": "revenue_previous_change",
    "growth_yoy": "revenue_yoy_change",
    "amount_due": "amount_due",
    "amount_collected": "amount_collected",
    "collection_rate": "collection_rate",
    "avg_on_hand": "avg_inventory",
    "inventory_days": "inventory_days",
    "turnover": "turnover",
    "out_of_territory_qty": "out_of_territory_qty",
    "territory_compliance": "territory_compliance",
    "below_floor_revenue": "below_floor_revenue",
    "price_compliance": "price_compliance",
    "satisfaction": "satisfaction",
    "training_hours": "training_hours",
}
COMPARED = {"previous": ["revenue"], "yoy": ["revenue"]}  # the comparison windows the fields above read


def window_of(period: Period) -> TimeWindow:
    return TimeWindow(start=period.start, end=period.end, label=period.label, kind=period.grain)


# Fields a filter may name besides imported attributes: (table, column) by the names users give them.
FILTER_FIELDS: dict[str, tuple[str, str]] = {
    **{n: ("sales", c.name) for c in SALES.columns if c.name.startswith("sold_to_") for n in (c.name, c.zh)},
    **{n: ("partners", c.name) for c in PARTNERS.columns if c.kind == "text" for n in (c.name, c.zh, *c.synonyms)},
}


def resolve_filters(store: Store, filters: dict[str, str] | None) -> tuple[Scope, str]:
    """Filters by column name (国家, STATUS, 客户类型 …) as a Scope of conditions on partners (alias p) and on sales
    lines (alias x) with bound values, and their label; unknown names raise ToolError listing the names that exist."""
    partner_conds, sales_conds, params, labels = [], [], {}, []
    for number, (name, value) in enumerate((filters or {}).items()):
        key = str(name).strip()
        found = FILTER_FIELDS.get(key) or FILTER_FIELDS.get(key.lower())
        label = key
        if found is None:
            attribute = find_attribute(store, key)
            if attribute is not None and attribute.table in ("partners", "sales"):
                found, label = (attribute.table, attribute.column), attribute.zh
        if found is None:
            names = sorted({c.zh for c in PARTNERS.columns if c.kind == "text"} | {a.zh for a in attributes(store)})
            raise ToolError(f"没有名为「{key}」的列可以筛选。可用：{'、'.join(names)}。")
        param = f"scope_{number}"
        params[param] = str(value)
        if found[0] == "partners":
            partner_conds.append(f'p."{found[1]}" = ${param}')
        else:
            sales_conds.append(f'x."{found[1]}" = ${param}')
        labels.append(f"{label}={value}")
    return Scope(tuple(partner_conds), tuple(sales_conds), params), "、".join(labels)


def partner_metrics(store: Store, period: Period, filters: dict[str, str] | None = None) -> pd.DataFrame:
    """One row per partner (all partners, also those without sales) with the metrics above.

    filters: {column name: value} on partners (国家, 级别, 客户类型 or a kept partner column) or on sales lines
    (售达省份, STATUS or any kept sales column): only those partners / only those sales lines count."""
    scope, _label = resolve_filters(store, filters)
    current = [field for field in SEMANTIC_COLUMNS.values() if field in METRICS or field in TOOL_METRICS]
    compiled = compile_per_partner(current, window_of(period), compared=COMPARED, scope=scope)
    columns = [f"p.{c}" for c in PARTNER_COLUMNS] + [f"m.{field} AS {c}" for c, field in SEMANTIC_COLUMNS.items()]
    sql = (
        f"SELECT {', '.join(columns)}\nFROM partners p JOIN (\n{compiled.sql}\n) m USING (partner_id)\n"
        "ORDER BY p.partner_id"
    )
    return store.query(sql, compiled.params)


def period_totals(
    store: Store, period: Period, metrics: list[str], region: str | None = None, by: str | None = None
) -> pd.DataFrame:
    """Each metric over all partners (of one region) for the period, per value of the dimension `by` if given (indexed
    by it), as the data questions define it: the ratio of the totals for a ratio (回款率 = Σ 实收 ÷ Σ 应收; 完成率 over
    the partners that have a target), never a mean of the partners' ratios."""
    filters = [{"field": "region", "value": region}] if region else []
    spec = build_spec(metrics=metrics, dimensions=[by] if by else [], filters=filters, window=window_of(period))
    compiled = compile_spec(spec)
    frame = store.query(compiled.sql, compiled.params)[list(compiled.columns)]
    return frame.set_index(by) if by else frame


def period_total(store: Store, period: Period, metric: str, region: str | None = None) -> float | None:
    """One metric over all partners (of one region) for the period; None when it cannot be computed."""
    frame = period_totals(store, period, [metric], region)
    value = frame[metric].iloc[0] if len(frame) else None
    return None if value is None or math.isnan(value) else float(value)
