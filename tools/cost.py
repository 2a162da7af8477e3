"""Channel cost analysis: expense ratio, cost-to-serve, gross margin and contribution, incentive ROI,
revenue concentration and channel length, with shared costs allocated to partners by revenue."""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field, field_validator

from company.capabilities import Availability, Missing, availability
from company.periods import Period
from company.schema import COST_TYPES
from company.store import Store
from tools.base import COMMON_LABELS, Labels, ToolError, ToolResult, register, resolve_period
from tools.metrics import partner_metrics

GroupBy = Literal["channel_type", "region", "partner"]
GROUP_LABELS: dict[str, str] = {"channel_type": "渠道类型", "region": "区域", "partner": "伙伴"}
GROUP_ALIASES = {
    "渠道类型": "channel_type",
    "渠道": "channel_type",
    "伙伴类型": "channel_type",
    "type": "channel_type",
    "channel": "channel_type",
    "区域": "region",
    "大区": "region",
    "伙伴": "partner",
    "经销商": "partner",
}
NO_TYPE, NO_REGION = "未分类", "未指定区域"
LEVEL_NAMES = {0: "直营/直销", 1: "一级", 2: "二级"}
HHI_LOW, HHI_HIGH = 1_500, 2_500
# Canonical column of each cost type in 费用构成 (a type only the data knows gets cost_type_<n>).
COST_TYPE_COLUMNS: dict[str, tuple[str, str]] = {
    "物流": ("cost_logistics", "Logistics"),
    "促销": ("cost_promotion", "Promotion"),
    "返利": ("cost_rebate", "Rebates"),
    "培训": ("cost_training", "Training"),
    "人员": ("cost_personnel", "Personnel"),
    "市场推广": ("cost_marketing", "Marketing"),
    "其他": ("cost_other", "Other"),
}

LABELS = COMMON_LABELS | Labels(
    {
        # tables
        "by_channel_type": ("按渠道类型", "By channel type"),
        "by_region": ("按区域", "By region"),
        "by_partner": ("按伙伴", "By partner"),
        "cost_breakdown": ("费用构成", "Cost breakdown"),
        "incentive_roi": ("激励投入产出", "Incentive ROI"),
        "concentration": ("集中度", "Concentration"),
        "channel_length": ("渠道长度对比", "Channel length"),
        # columns
        "channel_type": ("渠道类型", "Channel type"),
        "partners": ("伙伴数", "Partners"),
        "cost": ("渠道费用(元)", "Channel cost (CNY)"),
        "expense_ratio": ("费用率(%)", "Expense ratio (%)"),
        "gross_profit": ("毛利(元)", "Gross profit (CNY)"),
        "gross_margin": ("毛利率(%)", "Gross margin (%)"),
        "contribution": ("贡献(元)", "Contribution (CNY)"),
        "contribution_margin": ("贡献率(%)", "Contribution margin (%)"),
        "channel_level": ("渠道层级", "Channel level"),
        "direct_cost": ("直接费用(元)", "Direct cost (CNY)"),
        "allocated_cost": ("分摊费用(元)", "Allocated cost (CNY)"),
        "cost_to_serve": ("服务成本(元)", "Cost to serve (CNY)"),
        "cost_per_10k_revenue": ("每万元销售服务成本(元)", "Cost to serve per 10,000 CNY of sales (CNY)"),
        **{key: (f"{zh}(元)", f"{en} (CNY)") for zh, (key, en) in COST_TYPE_COLUMNS.items()},
        "cost_total": ("合计(元)", "Total (CNY)"),
        "incentive_roi.gross_profit": ("本期毛利(元)", "Gross profit (CNY)"),
        "gross_profit_year_ago": ("去年同期毛利(元)", "Gross profit a year earlier (CNY)"),
        "incremental_gross_profit": ("增量毛利(元)", "Incremental gross profit (CNY)"),
        "incentive_spend": ("激励投入(元)", "Incentive spend (CNY)"),
        "roi": ("激励投入产出比(倍)", "Incentive ROI (x)"),
        "rank": ("排名", "Rank"),
        "revenue_share": ("销售占比(%)", "Share of sales (%)"),
        "cumulative_share": ("累计占比(%)", "Cumulative share (%)"),
        "level_name": ("层级名称", "Level"),
        # headline figures (revenue, cost, expense_ratio … incentive_spend, roi read as the columns do)
        "top_n_share": ("前N名销售占比(%)", "Top-N share of sales (%)"),
        "hhi": ("HHI", "HHI"),
        "concentration_verdict": ("集中度判断", "Concentration"),
        "highest_ratio_group": ("费用率最高分组", "Group with the highest expense ratio"),
        "highest_expense_ratio": ("费用率最高(%)", "Highest expense ratio (%)"),
        "lowest_ratio_group": ("费用率最低分组", "Group with the lowest expense ratio"),
        "lowest_expense_ratio": ("费用率最低(%)", "Lowest expense ratio (%)"),
        "unallocated_cost": ("未分摊费用(元)", "Unallocated cost (CNY)"),
    }
)
# Columns left empty when the data lacks what they are computed from (never a 0 % expense ratio for costs
# never recorded).
NEEDS_COSTS = {
    "cost", "expense_ratio", "contribution", "contribution_margin", "direct_cost", "allocated_cost", "cost_to_serve",
    "cost_per_10k_revenue", "incentive_spend", "roi",
}  # fmt: skip
NEEDS_UNIT_COSTS = {
    "gross_profit", "gross_margin", "contribution", "contribution_margin", "gross_profit_year_ago",
    "incremental_gross_profit",
}  # fmt: skip

# Costs booked only to a channel type (and maybe a region) are pooled per (type, region, cost type) and spread
# over that pool's partners by their revenue in the period; a pool with no selling partner stays unallocated.
LEDGER_SQL = """
WITH p AS (SELECT partner_id, type, region FROM partners),
rev AS (SELECT partner_id, sum(revenue) AS revenue FROM sales WHERE date BETWEEN $start AND $end GROUP BY 1),
c AS (
    SELECT c.cost_type, c.amount, p.partner_id,
           CASE WHEN p.partner_id IS NULL THEN c.channel_type ELSE p.type END AS channel_type,
           CASE WHEN p.partner_id IS NULL THEN c.region ELSE p.region END AS region
    FROM costs c LEFT JOIN p ON c.partner_id = p.partner_id
    WHERE c.month BETWEEN $start AND $end
),
pool AS (
    SELECT channel_type, region, cost_type, sum(amount) AS amount FROM c WHERE partner_id IS NULL GROUP BY ALL
),
w AS (
    SELECT p.partner_id, p.type, p.region, greatest(coalesce(rev.revenue, 0), 0) AS weight
    FROM p LEFT JOIN rev USING (partner_id)
),
shares AS (
    SELECT w.partner_id, w.type AS channel_type, w.region, pool.cost_type, pool.amount, w.weight,
           sum(w.weight) OVER (PARTITION BY pool.channel_type, pool.region, pool.cost_type) AS pool_weight
    FROM pool JOIN w ON w.type = pool.channel_type AND (pool.region IS NULL OR w.region = pool.region)
    WHERE w.weight > 0
)
SELECT partner_id, channel_type, region, cost_type, sum(amount) AS amount, 'direct' AS kind
FROM c WHERE partner_id IS NOT NULL GROUP BY ALL
UNION ALL
SELECT partner_id, channel_type, region, cost_type, amount * weight / pool_weight, 'allocated' FROM shares
UNION ALL
SELECT NULL, channel_type, region, cost_type, amount, 'unallocated' FROM pool
WHERE NOT EXISTS (
    SELECT 1 FROM w WHERE w.type = pool.channel_type AND (pool.region IS NULL OR w.region = pool.region)
                      AND w.weight > 0
)
"""


class CostArgs(BaseModel):
    """Analyse channel costs and profitability for a period (渠道费用/成本效益分析).

    Call this for questions about 费用率 (channel expense ratio = channel costs ÷ revenue) by channel type,
    region or partner; 服务成本 cost-to-serve per partner; 毛利/毛利率 gross margin (revenue − quantity ×
    unit cost) and contribution after channel costs (毛利 − 费用); 激励投入产出 ROI of rebate/promotion spend
    (incremental gross profit vs the same period a year earlier ÷ incentive spend); 集中度 revenue
    concentration (top-N share and HHI); and 渠道长度 comparison of direct (0), one-level and two-level
    channels. Costs booked only to a channel type/region are allocated to that group's partners in
    proportion to revenue. group_by picks the main table; the by-channel-type, by-region and per-partner
    (cost-to-serve) tables are always included, with 费用构成 (cost by cost type), 激励投入产出, 集中度 and
    渠道长度对比. ROI is left empty (with a warning) when the year-ago period has no or only partial data.
    region / partner_type narrow everything to one region or one partner type.
    """

    period: str = Field("latest", description="期间 period: 2026Q3 / 2026-07 / 2026 / 本季度 / 上季度 / 去年")
    group_by: GroupBy = Field(
        "channel_type", description="主表分组 main grouping: channel_type 渠道类型 / region 区域 / partner 伙伴"
    )
    region: str | None = Field(None, description="只看某个区域 region filter, e.g. 华东")
    partner_type: str | None = Field(None, description="只看某类渠道 partner type filter, e.g. 经销商、直营")
    top_n: int = Field(10, ge=1, description="集中度按前 N 名伙伴计算 number of top partners for concentration")
    incentive_cost_types: list[str] = Field(
        default_factory=lambda: ["返利", "促销"],
        description="计入激励投入的费用类型 incentive cost types (物流/促销/返利/培训/人员/市场推广/其他)",
    )

    @field_validator("group_by", mode="before")
    @classmethod
    def _known_group(cls, value: object) -> object:
        text = str(value).strip() if value is not None else value
        text = GROUP_ALIASES.get(text, text)
        if text not in GROUP_LABELS:
            raise ValueError(
                f"不认识的分组「{value}」。group_by 只能是 channel_type（渠道类型）、region（区域）或 partner（伙伴）。"
            )
        return text

    @field_validator("incentive_cost_types")
    @classmethod
    def _known_cost_types(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError(f"激励费用类型不能为空，请从 {'、'.join(COST_TYPES)} 中选择，默认是 返利、促销。")
        unknown = [v for v in value if v not in COST_TYPES]
        if unknown:
            raise ValueError(f"未知的费用类型：{'、'.join(unknown)}。可选：{'、'.join(COST_TYPES)}。")
        return list(dict.fromkeys(value))


# ---- small helpers ------------------------------------------------------------------------------------------
def _percent_of(part: pd.Series | float, whole: pd.Series | float) -> pd.Series | float:
    """part ÷ whole in percent (2 decimals); missing where whole is not positive."""
    if isinstance(whole, pd.Series):
        return (part / whole.where(whole > 0) * 100).round(2)
    return round(part / whole * 100, 2) if whole > 0 else math.nan


def _num(value: float) -> float | None:
    return None if value is None or pd.isna(value) else float(value)


def hhi_verdict(hhi: float) -> str:
    if hhi < HHI_LOW:
        return "分散"
    if hhi <= HHI_HIGH:
        return "中等集中"
    return "高度集中"


FACTS_SQL = """
SELECT
    (SELECT count(*) FROM sales WHERE date BETWEEN $start AND $end) AS n_sales,
    (SELECT min(date) FROM sales) AS first_sale,
    (SELECT max(date) FROM sales) AS last_sale,
    (SELECT coalesce(sum(s.revenue), 0) FROM sales s LEFT JOIN products pr USING (sku)
      WHERE s.date BETWEEN $start AND $end AND pr.unit_cost IS NULL) AS revenue_without_unit_cost,
    (SELECT count(*) FROM costs WHERE month BETWEEN $start AND $end AND partner_id IS NOT NULL
      AND partner_id NOT IN (SELECT partner_id FROM partners)) AS costs_unknown_partner,
    (SELECT list(DISTINCT region ORDER BY region) FROM
       (SELECT region FROM partners UNION SELECT region FROM costs) WHERE region IS NOT NULL) AS regions,
    (SELECT list(DISTINCT t ORDER BY t) FROM
       (SELECT type AS t FROM partners UNION SELECT channel_type FROM costs) WHERE t IS NOT NULL) AS types
"""


def _facts(store: Store, period: Period, args: CostArgs) -> pd.Series:
    """Checks the period and filters against the data (one query) and returns the data-quality counts."""
    facts = store.query(FACTS_SQL, {"start": period.start, "end": period.end}).iloc[0]
    if facts["n_sales"] == 0:
        lo, hi = pd.Timestamp(facts["first_sale"]).date(), pd.Timestamp(facts["last_sale"]).date()
        raise ToolError(
            f"{period.span} 没有销售记录，无法计算费用率。"
            f"销售数据覆盖 {lo.isoformat()} ~ {hi.isoformat()}，请换一个期间。"
        )
    regions = [str(r) for r in facts["regions"]] if isinstance(facts["regions"], list | tuple | np.ndarray) else []
    types = [str(t) for t in facts["types"]] if isinstance(facts["types"], list | tuple | np.ndarray) else []
    if args.region is not None and args.region not in regions:
        raise ToolError(f"数据里没有区域「{args.region}」。可选区域：{'、'.join(regions)}。")
    if args.partner_type is not None and args.partner_type not in types:
        raise ToolError(f"数据里没有渠道类型「{args.partner_type}」。可选类型：{'、'.join(types)}。")
    return facts


def _scope(frame: pd.DataFrame, args: CostArgs) -> pd.DataFrame:
    keep = pd.Series(True, index=frame.index)
    if args.region is not None:
        keep &= frame["region"] == args.region
    if args.partner_type is not None:
        keep &= frame["channel_type"] == args.partner_type
    return frame[keep]


# ---- group tables -------------------------------------------------------------------------------------------
def _group_table(partners: pd.DataFrame, ledger: pd.DataFrame, key: str) -> pd.DataFrame:
    """Revenue, cost, expense ratio, gross margin and contribution per value of `key` (its first column)."""
    sales = partners.groupby(key, dropna=False).agg(
        revenue=("revenue", "sum"), gross_profit=("gross_profit", "sum"), partners=("partner_id", "count")
    )
    costs = ledger.groupby(key, dropna=False)["amount"].sum().rename("cost")
    out = sales.join(costs, how="outer").fillna({"revenue": 0.0, "gross_profit": 0.0, "partners": 0, "cost": 0.0})
    out = out.reset_index().rename(columns={key: "group"})
    out["contribution"] = out["gross_profit"] - out["cost"]
    out = out.sort_values(["revenue", "cost"], ascending=False, ignore_index=True)
    return pd.DataFrame(
        {
            key: out["group"],
            "partners": out["partners"].astype(int),
            "revenue": out["revenue"].round(2),
            "cost": out["cost"].round(2),
            "expense_ratio": _percent_of(out["cost"], out["revenue"]),
            "gross_profit": out["gross_profit"].round(2),
            "gross_margin": _percent_of(out["gross_profit"], out["revenue"]),
            "contribution": out["contribution"].round(2),
            "contribution_margin": _percent_of(out["contribution"], out["revenue"]),
        }
    )


def _partner_costs(partners: pd.DataFrame, ledger: pd.DataFrame) -> pd.DataFrame:
    """Partners in scope with direct, allocated and total cost (0 when none) and contribution, unrounded."""
    attributed = ledger[ledger["partner_id"].notna()]
    by_kind = attributed.pivot_table(index="partner_id", columns="kind", values="amount", aggfunc="sum")
    df = partners.set_index("partner_id").join(by_kind.reindex(columns=["direct", "allocated"]), how="left")
    df[["direct", "allocated"]] = df[["direct", "allocated"]].fillna(0.0)
    df["cost"] = df["direct"] + df["allocated"]
    df["contribution"] = df["gross_profit"] - df["cost"]
    return df.reset_index().sort_values(["revenue", "partner_id"], ascending=[False, True], ignore_index=True)


def _partner_table(df: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "partner_id": df["partner_id"],
            "name": df["name"],
            "channel_type": df["channel_type"],
            "region": df["region"],
            "channel_level": df["channel_level"],
            "revenue": df["revenue"].round(2),
            "direct_cost": df["direct"].round(2),
            "allocated_cost": df["allocated"].round(2),
            "cost_to_serve": df["cost"].round(2),
            "cost_per_10k_revenue": (df["cost"] / (df["revenue"].where(df["revenue"] > 0) / 10_000)).round(2),
            "expense_ratio": _percent_of(df["cost"], df["revenue"]),
            "gross_profit": df["gross_profit"].round(2),
            "gross_margin": _percent_of(df["gross_profit"], df["revenue"]),
            "contribution": df["contribution"].round(2),
            "contribution_margin": _percent_of(df["contribution"], df["revenue"]),
        }
    )


def _breakdown(ledger: pd.DataFrame, key: str, groups: pd.Series) -> tuple[pd.DataFrame, Labels]:
    """Cost per cost type for each group of the main table (groups without costs show 0), and the labels of the
    cost types only this data has."""
    extra = sorted(set(ledger["cost_type"]) - set(COST_TYPES))
    types = [*COST_TYPES, *extra]
    rows = ledger[ledger[key].notna()] if key == "partner_id" else ledger
    wide = rows.pivot_table(index=key, columns="cost_type", values="amount", aggfunc="sum", fill_value=0.0)
    wide = wide.reindex(index=groups.tolist(), columns=types, fill_value=0.0).fillna(0.0)
    columns = {t: COST_TYPE_COLUMNS[t][0] for t in COST_TYPES} | {t: f"cost_type_{n}" for n, t in enumerate(extra, 1)}
    out = pd.DataFrame({key: groups.tolist()})
    for t in types:
        out[columns[t]] = wide[t].round(2).to_numpy()
    out["cost_total"] = wide.sum(axis=1).round(2).to_numpy()
    return out, Labels({columns[t]: (f"{t}(元)", f"{t} (CNY)") for t in extra})


def _roi_table(
    partners: pd.DataFrame,
    ago: pd.DataFrame,
    ledger: pd.DataFrame,
    incentive: list[str],
    ago_label: str,
    not_comparable: str | None = None,
) -> tuple[pd.DataFrame, list[str]]:
    """Incremental gross profit over the year-ago period ÷ incentive spend, per channel type.

    not_comparable: why the year-ago period cannot serve as baseline at all (then every ROI is missing).
    """
    now = partners.groupby("channel_type").agg(gp=("gross_profit", "sum"), has_ago=("has_ago", "any"))
    if not_comparable:
        now["has_ago"] = False
    before = ago.groupby("channel_type")["gross_profit"].sum().rename("gp_ago")
    spend = ledger[ledger["cost_type"].isin(incentive)].groupby("channel_type")["amount"].sum().rename("spend")
    df = now.join(before, how="left").join(spend, how="outer")
    df["gp"] = df["gp"].fillna(0.0)
    df["has_ago"] = df["has_ago"].fillna(False).astype(bool)
    df["spend"] = df["spend"].fillna(0.0)
    df["gp_ago"] = df["gp_ago"].where(df["has_ago"])
    df["incremental"] = df["gp"] - df["gp_ago"]
    df["roi"] = (df["incremental"] / df["spend"].where(df["spend"] > 0)).round(4)
    warnings = [not_comparable] if not_comparable else []
    no_ago = df.index[~df["has_ago"]].tolist()
    if no_ago and not not_comparable:
        warnings.append(
            f"{'、'.join(no_ago)} 去年同期（{ago_label}）没有销售数据，无法计算增量毛利，激励投入产出比留空。"
        )
    no_spend = df.index[df["has_ago"] & (df["spend"] <= 0)].tolist()
    if no_spend:
        warnings.append(f"{'、'.join(no_spend)} 本期没有激励费用（{'、'.join(incentive)}），激励投入产出比留空。")
    df = df.reset_index().sort_values("spend", ascending=False, ignore_index=True)
    table = pd.DataFrame(
        {
            "channel_type": df["channel_type"],
            "gross_profit": df["gp"].round(2),
            "gross_profit_year_ago": df["gp_ago"].round(2),
            "incremental_gross_profit": df["incremental"].round(2),
            "incentive_spend": df["spend"].round(2),
            "roi": df["roi"],
        }
    )
    return table, warnings


def _concentration(partners: pd.DataFrame, top_n: int) -> tuple[pd.DataFrame, float, float]:
    selling = partners[partners["revenue"] > 0].sort_values(["revenue", "partner_id"], ascending=[False, True])
    total = selling["revenue"].sum()
    share = selling["revenue"] / total
    hhi = float((share**2).sum() * 10_000)
    top = selling.head(top_n)
    top_share = float(share.head(top_n).sum())
    table = pd.DataFrame(
        {
            "rank": np.arange(1, len(top) + 1),
            "partner_id": top["partner_id"].to_numpy(),
            "name": top["name"].to_numpy(),
            "channel_type": top["channel_type"].to_numpy(),
            "region": top["region"].to_numpy(),
            "revenue": top["revenue"].round(2).to_numpy(),
            "revenue_share": (share.head(top_n) * 100).round(2).to_numpy(),
            "cumulative_share": (share.head(top_n).cumsum() * 100).round(2).to_numpy(),
        }
    )
    return table, top_share, hhi


def _length_table(costs: pd.DataFrame) -> pd.DataFrame:
    out = costs.groupby("channel_level", dropna=False).agg(
        partners=("partner_id", "count"), revenue=("revenue", "sum"), gp=("gross_profit", "sum"), cost=("cost", "sum")
    )
    out = out.reset_index().sort_values("channel_level", ignore_index=True)
    names = ["未知" if pd.isna(v) else LEVEL_NAMES.get(int(v), f"{int(v)}级") for v in out["channel_level"]]
    return pd.DataFrame(
        {
            "channel_level": out["channel_level"],
            "level_name": names,
            "partners": out["partners"].astype(int),
            "revenue": out["revenue"].round(2),
            "cost": out["cost"].round(2),
            "gross_margin": _percent_of(out["gp"], out["revenue"]),
            "expense_ratio": _percent_of(out["cost"], out["revenue"]),
            "contribution_margin": _percent_of(out["gp"] - out["cost"], out["revenue"]),
        }
    )


# ---- the tool -----------------------------------------------------------------------------------------------
@register("cost_analysis", CostArgs)
def cost_analysis(store: Store, args: CostArgs) -> ToolResult:
    period = resolve_period(store, args.period)
    facts = _facts(store, period, args)
    scope_text = "、".join(
        f"{name}={value}" for name, value in (("区域", args.region), ("渠道类型", args.partner_type)) if value
    )

    metrics = partner_metrics(store, period).rename(columns={"type": "channel_type"})
    metrics["channel_type"] = metrics["channel_type"].fillna(NO_TYPE)
    metrics["region"] = metrics["region"].fillna(NO_REGION)
    metrics["has_ago"] = metrics["revenue_year_ago"].notna()
    partners = _scope(metrics, args)
    if partners["revenue"].sum() <= 0:
        raise ToolError(
            f"{period.span} 在所选范围（{scope_text}）内没有销售额，无法计算费用率。请放宽区域或渠道类型筛选。"
        )

    ago = partner_metrics(store, period.year_ago).rename(columns={"type": "channel_type"})
    ago["channel_type"] = ago["channel_type"].fillna(NO_TYPE)
    ago["region"] = ago["region"].fillna(NO_REGION)
    ago = _scope(ago, args)

    ledger = store.query(LEDGER_SQL, {"start": period.start, "end": period.end})
    ledger["channel_type"] = ledger["channel_type"].fillna(NO_TYPE)
    ledger["region"] = ledger["region"].fillna(NO_REGION)
    warnings: list[str] = []
    if args.region is not None:
        dropped = ledger[(ledger["kind"] == "unallocated") & (ledger["region"] == NO_REGION)]
        if args.partner_type is not None:
            dropped = dropped[dropped["channel_type"] == args.partner_type]
        if dropped["amount"].sum() > 0:
            warnings.append(
                f"有 {dropped['amount'].sum():,.2f} 元未指定区域、且该渠道类型本期无销售可分摊的费用，"
                f"无法归入{args.region}，未计入。"
            )
    ledger = _scope(ledger, args)

    unknown = int(facts["costs_unknown_partner"])
    if unknown:
        warnings.append(f"有 {unknown} 条费用的伙伴编号不在伙伴主数据中，按其渠道类型/区域作为共享费用处理。")
    unallocated = ledger[ledger["kind"] == "unallocated"]
    unallocated_total = float(unallocated["amount"].sum())
    if unallocated_total > 0:
        pools = "、".join(sorted(set(unallocated["channel_type"] + "/" + unallocated["region"])))
        warnings.append(
            f"{pools} 的共享费用 {unallocated_total:,.2f} 元本期没有有销售的伙伴可分摊，"
            "计入渠道类型和区域合计，但不进入伙伴服务成本和渠道长度对比。"
        )
    missing_cost = float(facts["revenue_without_unit_cost"])
    if missing_cost > 0:
        warnings.append(
            f"有 {missing_cost:,.2f} 元销售的产品缺少单位成本，这部分销售没有计入毛利，毛利与毛利率偏低；"
            "请在产品表补充单位成本。"
        )

    by_type = _group_table(partners, ledger, "channel_type")
    by_region = _group_table(partners, ledger, "region")
    partner_costs = _partner_costs(partners, ledger)
    by_partner = _partner_table(partner_costs)
    main_name = f"by_{args.group_by}"
    tables = {"by_channel_type": by_type, "by_region": by_region, "by_partner": by_partner}
    tables = {main_name: tables[main_name], **{k: v for k, v in tables.items() if k != main_name}}
    main = tables[main_name]

    key = "partner_id" if args.group_by == "partner" else args.group_by
    breakdown, type_labels = _breakdown(ledger, key, main[key])
    if args.group_by == "partner":
        breakdown.insert(1, "name", main["name"].to_numpy())
    tables["cost_breakdown"] = breakdown
    first_month = pd.Timestamp(facts["first_sale"]).date().replace(day=1)
    last_sale = pd.Timestamp(facts["last_sale"]).date()
    not_comparable = None
    # A year-ago period the data only partly covers would make almost all gross profit look incremental.
    if period.year_ago.start < first_month <= period.year_ago.end:
        not_comparable = (
            f"销售数据从 {first_month.isoformat()} 开始，去年同期（{period.year_ago.label}）只有部分月份，"
            "不能作为基期，激励投入产出比留空。"
        )
    elif last_sale.replace(day=1) < period.end.replace(day=1):
        warnings.append(
            f"本期销售数据只到 {last_sale.isoformat()}，不是完整的{period.label}；与去年同期整期相比，增量毛利和"
            "激励投入产出比偏低。"
        )
    roi, roi_warnings = _roi_table(
        partners, ago, ledger, args.incentive_cost_types, period.year_ago.label, not_comparable
    )
    tables["incentive_roi"] = roi
    warnings += roi_warnings
    concentration, top_share, hhi = _concentration(partners, args.top_n)
    tables["concentration"] = concentration
    tables["channel_length"] = _length_table(partner_costs)

    available = availability(store)
    missing = _unmeasured(available, tables)
    if not available.has("unit_costs"):
        warnings = [w for w in warnings if "缺少单位成本" not in w]
    if not available.has("costs"):
        warnings = [w for w in warnings if "激励" not in w]
    revenue = float(partners["revenue"].sum())
    gross_profit = float(partners["gross_profit"].sum()) if available.has("unit_costs") else math.nan
    cost = float(ledger["amount"].sum()) if available.has("costs") else math.nan
    verdict = hhi_verdict(hhi)
    name_col = "name" if args.group_by == "partner" else key
    ranked = main[main["expense_ratio"].notna()].sort_values("expense_ratio", ascending=False)
    if ranked.empty:  # no costs: the expense-ratio comparison has nothing to compare
        ranked = main.sort_values("revenue", ascending=False).head(1).assign(expense_ratio=math.nan)
    high, low = ranked.iloc[0], ranked.iloc[-1]
    incentive_spend = float(roi["incentive_spend"].sum())
    incremental = roi["incremental_gross_profit"].sum(min_count=1)
    overall_roi = (
        round(float(incremental) / incentive_spend, 4)
        if incentive_spend > 0 and roi["gross_profit_year_ago"].notna().all() and pd.notna(incremental)
        else None
    )

    figures = {
        "revenue": round(revenue, 2),
        "cost": _num(round(cost, 2)),
        "expense_ratio": _num(_percent_of(cost, revenue)),
        "gross_profit": _num(round(gross_profit, 2)),
        "gross_margin": _num(_percent_of(gross_profit, revenue)),
        "contribution": _num(round(gross_profit - cost, 2)),
        "contribution_margin": _num(_percent_of(gross_profit - cost, revenue)),
        "top_n_share": round(top_share * 100, 2),
        "hhi": round(hhi, 2),
        "concentration_verdict": verdict,
        "highest_ratio_group": str(high[name_col]) if pd.notna(high["expense_ratio"]) else None,
        "highest_expense_ratio": _num(high["expense_ratio"]),
        "lowest_ratio_group": str(low[name_col]) if pd.notna(low["expense_ratio"]) else None,
        "lowest_expense_ratio": _num(low["expense_ratio"]),
        "unallocated_cost": round(unallocated_total, 2),
        "incentive_spend": round(incentive_spend, 2),
        "roi": overall_roi,
    }
    gap = float(high["expense_ratio"]) - float(low["expense_ratio"])
    if not available.has("costs"):
        comparison = f"没有渠道费用数据，费用率与贡献未计算；范围内销售额 {revenue:,.2f} 元；"
    elif len(ranked) > 1:
        comparison = (
            f"按{GROUP_LABELS[args.group_by]}看，{high[name_col]}费用率最高（{high['expense_ratio']:.2f}%），"
            f"{low[name_col]}最低（{low['expense_ratio']:.2f}%），相差 {gap:.2f} 个百分点；"
        )
    else:
        comparison = f"范围内只有{high[name_col]}一组有销售；"
    ratios = "、".join(
        f"{name} {figures[key]:.2f}%"
        for name, key in (("整体费用率", "expense_ratio"), ("毛利率", "gross_margin"))
        if figures[key] is not None
    )
    explanation = (
        f"{comparison}{ratios + '。' if ratios else ''}"
        f"前 {args.top_n} 名伙伴占销售额 {top_share * 100:.2f}%，HHI 为 {hhi:,.0f}，销售{verdict}。"
    )
    formula = (
        "费用率 = 渠道费用 ÷ 销售额；毛利 = 销售额 − 销量 × 单位成本，毛利率 = 毛利 ÷ 销售额；"
        "贡献 = 毛利 − 渠道费用，贡献率 = 贡献 ÷ 销售额；"
        "服务成本 = 直接归属伙伴的费用 + 分摊的共享费用（只记到渠道类型/区域的费用，按本期销售额占比"
        "分摊给该渠道类型（记了区域时限该区域）下的伙伴），每万元销售服务成本 = 服务成本 ÷ (销售额 ÷ 10000)；"
        f"激励投入产出比 = (本期毛利 − 去年同期毛利) ÷ 激励费用（{'、'.join(args.incentive_cost_types)}）；"
        f"前N名占比 = 前 {args.top_n} 名伙伴销售额 ÷ 总销售额，HHI = Σ(伙伴销售占比²) × 10000"
        f"（<{HHI_LOW:,} 分散，{HHI_LOW:,}–{HHI_HIGH:,} 中等集中，>{HHI_HIGH:,} 高度集中）。"
    )
    return ToolResult(
        tool="cost_analysis",
        title=f"渠道费用与效益分析{f'（{scope_text}）' if scope_text else ''}",
        period=period.span,
        explanation=explanation,
        formula=formula,
        parameters={**args.model_dump(), "period": period.key},
        tables=tables,
        labels=LABELS | type_labels,
        figures=figures,
        warnings=warnings,
        missing=missing,
    )


def _unmeasured(available: Availability, tables: dict[str, pd.DataFrame]) -> list[Missing]:
    """Blank the columns whose inputs the data lacks (never a 0 % expense ratio for costs never recorded)."""
    missing: list[Missing] = []
    blank: set[str] = set()
    if not available.has("costs"):
        missing.append(
            available.missing("costs", "费用率、贡献、服务成本和激励投入产出没有计算；只给出销售额、毛利与集中度")
        )
        blank |= NEEDS_COSTS
    if not available.has("unit_costs"):
        missing.append(available.missing("unit_costs", "毛利、毛利率与贡献没有计算"))
        blank |= NEEDS_UNIT_COSTS
    if not available.has("partner_types"):
        missing.append(available.missing("partner_types", f"按渠道类型的对比只有「{NO_TYPE}」一组"))
    if not available.has("channel_levels"):
        missing.append(available.missing("channel_levels", "渠道长度对比没有计算"))
        tables.pop("channel_length", None)
    for name, frame in tables.items():
        for column in frame.columns:
            if column in blank and pd.api.types.is_numeric_dtype(frame[column]):
                frame[column] = np.nan
        tables[name] = frame
    return missing
