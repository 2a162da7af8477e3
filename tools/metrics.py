"""Per-partner metrics for a period, computed once in DuckDB SQL and shared by every channel tool.

Definitions (documented in docs and README, used by scorecard, incentive, conflict and cost):
- achievement 完成率 = revenue / target (target of the quarter; a month or year sums its quarters' targets
  pro rata by days); missing when the partner has no target.
- growth_yoy 同比 / growth_qoq 环比 = revenue / revenue of the year-ago / previous period - 1.
- collection_rate 回款率 = amount collected / amount due for the months of the period.
- avg_on_hand = mean of the month-end snapshots in the period (units); inventory_days 库存天数 =
  avg_on_hand / (units sold in the period / days); turnover 库存周转(次/年) = annualised cost of goods
  sold / average inventory at cost.
- territory_compliance = share of units sold inside the authorised territory, among sales that can be checked;
  missing when none can; out_of_territory_qty = units sold outside it. Inside, outside and "cannot be checked"
  are company.territory's rule (the one the conflict scan uses);
  price_compliance = share of revenue sold at or above the floor price, among products with a floor price;
  missing when none has one. A compliance that was never measured is never 100 %.
"""

from __future__ import annotations

import pandas as pd

from company.catalog import attributes, find_attribute
from company.periods import Period
from company.schema import PARTNERS, SALES
from company.store import Store
from company.territory import OUTSIDE, places_sql, verdict_sql
from tools.base import ToolError

METRICS_SQL = f"""
WITH p AS (
    SELECT partner_id, name, type, tier, region, province, city, channel_level, territory,
           {places_sql("territory")} AS terr
    FROM partners
    WHERE {{partner_where}}
),
lines AS (
    SELECT s.partner_id, s.revenue, s.quantity, s.unit_price, pr.unit_cost, pr.floor_price,
           {verdict_sql("p.terr", "s.sold_to_province", "s.sold_to_region")} AS territory_verdict
    FROM sales s
    LEFT JOIN products pr USING (sku)
    LEFT JOIN p USING (partner_id)
    WHERE s.date BETWEEN $start AND $end AND {{sales_where}}
),
s AS (
    SELECT partner_id,
           sum(revenue) AS revenue,
           sum(quantity) AS quantity,
           sum(quantity * unit_cost) AS cogs,
           -- Lines that cannot be checked (verdict NULL) are neither inside nor outside.
           sum(CASE WHEN territory_verdict IS NOT NULL THEN quantity END) AS territory_checked_qty,
           sum(CASE WHEN territory_verdict = '{OUTSIDE}' THEN quantity ELSE 0 END) AS out_of_territory_qty,
           sum(CASE WHEN floor_price IS NOT NULL THEN revenue END) AS floor_checked_revenue,
           sum(CASE WHEN unit_price < floor_price THEN revenue ELSE 0 END) AS below_floor_revenue
    FROM lines
    GROUP BY 1
),
prev AS (
    SELECT partner_id, sum(revenue) AS revenue FROM sales
    WHERE date BETWEEN $prev_start AND $prev_end AND {{sales_where}} GROUP BY 1
),
ago AS (
    SELECT partner_id, sum(revenue) AS revenue FROM sales
    WHERE date BETWEEN $ago_start AND $ago_end AND {{sales_where}} GROUP BY 1
),
t AS (SELECT partner_id, sum(target_revenue) AS target FROM targets WHERE list_contains($quarters, quarter) GROUP BY 1),
c AS (
    SELECT partner_id, sum(amount_due) AS amount_due, sum(amount_collected) AS amount_collected
    FROM collections WHERE month BETWEEN $start AND $end GROUP BY 1
),
i AS (
    SELECT i.partner_id, sum(i.on_hand) / count(DISTINCT i.date) AS avg_on_hand,
           sum(i.on_hand * pr.unit_cost) / count(DISTINCT i.date) AS avg_inventory_cost
    FROM inventory i LEFT JOIN products pr USING (sku)
    WHERE i.date BETWEEN $start AND $end GROUP BY 1
),
v AS (
    SELECT partner_id, avg(satisfaction) AS satisfaction, sum(training_hours) AS training_hours
    FROM surveys WHERE list_contains($quarters, quarter) GROUP BY 1
)
SELECT p.partner_id, p.name, p.type, p.tier, p.region, p.province, p.city, p.channel_level, p.territory,
       coalesce(s.revenue, 0) AS revenue,
       coalesce(s.quantity, 0) AS quantity,
       coalesce(s.revenue, 0) - coalesce(s.cogs, 0) AS gross_profit,
       t.target * $target_share AS target,
       CASE WHEN t.target > 0 THEN coalesce(s.revenue, 0) / (t.target * $target_share) END AS achievement,
       prev.revenue AS revenue_prev,
       ago.revenue AS revenue_year_ago,
       CASE WHEN prev.revenue > 0 THEN coalesce(s.revenue, 0) / prev.revenue - 1 END AS growth_qoq,
       CASE WHEN ago.revenue > 0 THEN coalesce(s.revenue, 0) / ago.revenue - 1 END AS growth_yoy,
       c.amount_due, c.amount_collected,
       CASE WHEN c.amount_due > 0 THEN c.amount_collected / c.amount_due END AS collection_rate,
       i.avg_on_hand,
       CASE WHEN s.quantity > 0 THEN i.avg_on_hand / (s.quantity / $days) END AS inventory_days,
       CASE WHEN i.avg_inventory_cost > 0 THEN s.cogs * (365.0 / $days) / i.avg_inventory_cost END AS turnover,
       coalesce(s.out_of_territory_qty, 0) AS out_of_territory_qty,
       CASE WHEN s.territory_checked_qty > 0 THEN 1 - coalesce(s.out_of_territory_qty, 0) / s.territory_checked_qty END
           AS territory_compliance,
       coalesce(s.below_floor_revenue, 0) AS below_floor_revenue,
       CASE WHEN s.floor_checked_revenue > 0 THEN 1 - coalesce(s.below_floor_revenue, 0) / s.floor_checked_revenue END
           AS price_compliance,
       v.satisfaction, v.training_hours
FROM p
LEFT JOIN s USING (partner_id) LEFT JOIN prev USING (partner_id) LEFT JOIN ago USING (partner_id)
LEFT JOIN t USING (partner_id) LEFT JOIN c USING (partner_id) LEFT JOIN i USING (partner_id)
LEFT JOIN v USING (partner_id)
ORDER BY p.partner_id
"""


def quarters_of(period: Period) -> tuple[list[str], float]:
    """Quarter keys overlapping the period, and the share of their targets that falls inside it."""
    if period.grain == "quarter":
        return [period.key], 1.0
    if period.grain == "year":
        return [f"{period.start.year}Q{q}" for q in range(1, 5)], 1.0
    q = (period.start.month - 1) // 3 + 1
    quarter_days = {1: 90, 2: 91, 3: 92, 4: 92}[q] + (1 if q == 1 and period.start.year % 4 == 0 else 0)
    return [f"{period.start.year}Q{q}"], period.days / quarter_days


# Fields a filter may name besides imported attributes: (table, column) by the names users give them.
FILTER_FIELDS: dict[str, tuple[str, str]] = {
    **{n: ("sales", c.name) for c in SALES.columns if c.name.startswith("sold_to_") for n in (c.name, c.zh)},
    **{n: ("partners", c.name) for c in PARTNERS.columns if c.kind == "text" for n in (c.name, c.zh, *c.synonyms)},
}


def resolve_filters(store: Store, filters: dict[str, str] | None) -> tuple[list[str], list[str], dict[str, str], str]:
    """Filters by column name (国家, STATUS, 客户类型 …) as SQL conditions on partners and on sales lines,
    with bound values; unknown names raise ToolError listing the names that exist."""
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
        param = f"filter_{number}"
        params[param] = str(value)
        (partner_conds if found[0] == "partners" else sales_conds).append(f'"{found[1]}" = ${param}')
        labels.append(f"{label}={value}")
    return partner_conds, sales_conds, params, "、".join(labels)


def partner_metrics(store: Store, period: Period, filters: dict[str, str] | None = None) -> pd.DataFrame:
    """One row per partner (all partners, also those without sales) with the metrics above.

    filters: {column name: value} on partners (国家, 级别, 客户类型 or a kept partner column) or on sales lines
    (售达省份, STATUS or any kept sales column): only those partners / only those sales lines count."""
    partner_conds, sales_conds, filter_params, _label = resolve_filters(store, filters)
    quarters, share = quarters_of(period)
    params = {
        "start": period.start,
        "end": period.end,
        "days": period.days,
        "prev_start": period.previous.start,
        "prev_end": period.previous.end,
        "ago_start": period.year_ago.start,
        "ago_end": period.year_ago.end,
        "quarters": quarters,
        "target_share": share,
        **filter_params,
    }
    sql = METRICS_SQL.format(
        partner_where=" AND ".join(partner_conds) or "true", sales_where=" AND ".join(sales_conds) or "true"
    )
    return store.query(sql, params)
