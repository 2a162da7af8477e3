"""Tiered rebates (阶梯返利): the schedule model, per-partner payout simulation, budget fitting and what-if grids.

Owns 全额累进 / 分段累进 payout arithmetic, growth bonus, caps and preconditions (回款率、区域与价格合规).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field, field_validator, model_validator

from company.capabilities import Missing, availability
from company.periods import Period
from company.semantic import growth
from company.store import Store
from company.units import money, percent
from tools.base import COMMON_LABELS, Labels, ToolError, ToolResult, latest_date, register, resolve_period
from tools.metrics import partner_metrics

EPS = 1e-9  # achievement == threshold must count as reached despite float division
THRESHOLD_STEP = 0.005  # entry-threshold search moves in 0.5 个百分点
RATE_UNIT = 0.0001  # fitted rates are published floored to 0.01 个百分点, so the total never exceeds the budget
MAX_SCALE = 5.0  # rates beyond five times the draft are no longer a tweak of the same plan
BELOW = "未达门槛"
NO_TARGET = "无目标"
MODE_NAMES = {"full": "全额累进", "marginal": "分段累进"}

LABELS = COMMON_LABELS | Labels(
    {
        # tables
        "rebate_detail": ("返利明细", "Rebate detail"),
        "by_tier": ("按档位汇总", "By tier"),
        "by_region": ("按区域汇总", "By region"),
        "near_next_tier": ("临近下一档", "Near the next tier"),
        "schedule": ("返利方案", "Rebate schedule"),
        "budget_comparison": ("预算对比", "Budget comparison"),
        "schedule_comparison": ("方案对比", "Schedule comparison"),
        "partners_losing_rebate": ("失去返利的伙伴", "Partners losing their rebate"),
        "new_by_tier": ("新方案按档位汇总", "New schedule by tier"),
        "rebate_total_grid": ("返利合计矩阵", "Total rebate grid"),
        "paid_partners_grid": ("获返利伙伴数矩阵", "Partners paid grid"),
        "scenarios": ("情景明细", "Scenarios"),
        # rebate_detail
        "partner_type": ("类型", "Type"),
        "target": ("目标(元)", "Target (CNY)"),
        "achievement": ("完成率(%)", "Achievement (%)"),
        "growth_yoy": ("同比增长(%)", "Growth year on year (%)"),
        "tier_reached": ("达到档位", "Tier reached"),
        "tier_rate": ("档位返点(%)", "Tier rate (%)"),
        "base_rebate": ("基础返利(元)", "Base rebate (CNY)"),
        "growth_bonus": ("增长奖励(元)", "Growth bonus (CNY)"),
        "rebate_before_cap": ("封顶前返利(元)", "Rebate before cap (CNY)"),
        "cap_cut": ("封顶扣减(元)", "Cut by cap (CNY)"),
        "rebate_due": ("应得返利(元)", "Rebate earned (CNY)"),
        "effective_rate": ("综合返点(%)", "Effective rate (%)"),
        "eligible": ("符合条件", "Eligible"),
        "ineligible_reason": ("不符合原因", "Why not eligible"),
        "rebate_amount": ("返利(元)", "Rebate (CNY)"),
        # schedule, by_tier, by_region
        "tier": ("档位", "Tier"),
        "achievement_range": ("完成率区间", "Achievement range"),
        "threshold": ("门槛完成率(%)", "Threshold achievement (%)"),
        "rate": ("返点(%)", "Rate (%)"),
        "partners": ("伙伴数(家)", "Partners"),
        "partner_share": ("伙伴占比(%)", "Share of partners (%)"),
        "paid_partners": ("获返利伙伴数(家)", "Partners paid"),
        "rebate_to_revenue": ("返利占销售额(%)", "Rebate to revenue (%)"),
        "ineligible_partners": ("不符合条件伙伴数(家)", "Partners not eligible"),
        "rebate_ratio": ("返利费用率(%)", "Rebate ratio (%)"),
        "rebate_share": ("返利占比(%)", "Share of rebate (%)"),
        # near_next_tier
        "next_tier": ("下一档", "Next tier"),
        "gap_points": ("差距(百分点)", "Gap (points)"),
        "revenue_needed": ("需增加销售额(元)", "Extra revenue needed (CNY)"),
        "rebate_now": ("当前返利(元)", "Rebate now (CNY)"),
        "rebate_at_next_tier": ("达档后返利(元)", "Rebate at the next tier (CNY)"),
        "rebate_increase": ("增加返利(元)", "Extra rebate (CNY)"),
        "marginal_rate": ("新增销售的返点(%)", "Rate on the extra revenue (%)"),
        # budget_comparison
        "rebate_total": ("返利合计(元)", "Total rebate (CNY)"),
        "budget": ("预算(元)", "Budget (CNY)"),
        "budget_gap": ("差额(元)（正数为超出）", "Over budget (CNY; negative = under)"),
        "budget_use": ("预算使用率(%)", "Budget used (%)"),
        # schedule_comparison, partners_losing_rebate
        "item": ("项目", "Item"),
        "threshold_old": ("原门槛完成率(%)", "Old threshold achievement (%)"),
        "threshold_new": ("新门槛完成率(%)", "New threshold achievement (%)"),
        "rate_old": ("原返点(%)", "Old rate (%)"),
        "rate_new": ("新返点(%)", "New rate (%)"),
        "rebate_old": ("原返利(元)", "Old rebate (CNY)"),
        "rebate_new": ("新返利(元)", "New rebate (CNY)"),
        # scenarios and the grids
        "threshold_step": ("门槛调整(百分点)", "Threshold change (points)"),
        "rate_step": ("返点调整(百分点)", "Rate change (points)"),
        "entry_threshold": ("入门门槛(%)", "Entry threshold (%)"),
        "top_rate": ("最高档返点(%)", "Top tier rate (%)"),
        "change_vs_current": ("较当前方案(元)", "Change against the current schedule (CNY)"),
        "threshold_change": ("门槛调整", "Threshold change"),
        # headline figures: a figure that is a column's quantity keeps its name (rebate_total, budget, rebate_ratio,
        # budget_use); "figures.<name>" gives it the figure's own label where it reads differently from the column
        "figures.partners": ("伙伴数", "Partners"),
        "figures.paid_partners": ("获返利伙伴数", "Partners paid"),
        "figures.ineligible_partners": ("不符合条件伙伴数", "Partners not eligible"),
        "figures.revenue": ("销售额合计(元)", "Total revenue (CNY)"),
        "figures.cap_cut": ("封顶扣减合计(元)", "Total cut by caps (CNY)"),
        "figures.budget_gap": ("预算差额(元)", "Budget gap (CNY)"),
        "forfeited_rebate": ("因不符合条件取消的返利(元)", "Rebate withheld from ineligible partners (CNY)"),
        "near_next_tier_partners": ("临近下一档伙伴数", "Partners near the next tier"),
        "near_next_tier_rebate_increase": ("临近下一档增加返利(元)", "Extra rebate if they reach it (CNY)"),
        # fit_rebate_budget
        "rebate_total_old": ("原方案返利合计(元)", "Total rebate, current schedule (CNY)"),
        "rebate_total_new": ("新方案返利合计(元)", "Total rebate, new schedule (CNY)"),
        "scale_factor": ("缩放系数", "Scale factor"),
        "max_scale_factor": ("可上调倍数", "Largest possible scale-up (x)"),
        "rebate_total_at_highest_threshold": (
            "最高入门门槛下返利合计(元)",
            "Total rebate at the highest entry threshold (CNY)",
        ),
        "entry_threshold_new": ("新入门门槛(%)", "New entry threshold (%)"),
        "budget_left": ("预算结余(元)", "Budget left (CNY)"),
        "paid_partners_old": ("原获返利伙伴数", "Partners paid, current schedule"),
        "paid_partners_new": ("新获返利伙伴数", "Partners paid, new schedule"),
        "partners_lost": ("失去返利伙伴数", "Partners losing their rebate"),
        "budget_met": ("可满足预算", "Budget can be met"),
        # rebate_sensitivity
        "rebate_total_current": ("当前方案返利合计(元)", "Total rebate, current schedule (CNY)"),
        "rebate_total_lowest": ("最低情景返利(元)", "Lowest scenario total (CNY)"),
        "rebate_total_highest": ("最高情景返利(元)", "Highest scenario total (CNY)"),
        "scenario_count": ("情景数", "Scenarios"),
    }
)


# ---- formatting ---------------------------------------------------------------------------------------


def _pct(ratio: float, digits: int = 2) -> str:
    """0.015 -> '1.5%', 1.052631 -> '105.26%' (company.units.percent, trailing zeros dropped)."""
    return percent(ratio, digits, trim=True)


def _money(amount: float) -> str:
    return money(amount, trim=True)


def _points(step: float) -> str:
    """A ratio step as 个百分点 with its sign: 0.05 -> '+5个百分点'."""
    if abs(step) < EPS:
        return "不变"
    return f"{step * 100:+.2f}".rstrip("0").rstrip(".") + "个百分点"


def _points_en(points: float) -> str:
    """A step already in points, in English: 0.5 -> '+0.5 pt', 0 -> 'unchanged'."""
    if abs(points) < EPS:
        return "unchanged"
    return f"{points:+.2f}".rstrip("0").rstrip(".") + " pt"


def _step_column(points: float) -> str:
    """The canonical column of a rate step in points: 0.5 -> rate_up_0_5pt, -0.5 -> rate_down_0_5pt."""
    if abs(points) < EPS:
        return "rate_unchanged"
    size = f"{abs(points):.2f}".rstrip("0").rstrip(".").replace(".", "_")
    return f"rate_{'up' if points > 0 else 'down'}_{size}pt"


def _qty(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"


# ---- the schedule -------------------------------------------------------------------------------------


def _tier_problem(threshold: Any, rate: Any) -> str | None:
    """What is wrong with one tier's numbers, in words a channel manager can act on (None if fine)."""
    if not isinstance(threshold, int | float) or not isinstance(rate, int | float):
        return None  # pydantic's own type check reports it
    if not (math.isfinite(threshold) and math.isfinite(rate)):
        return "门槛和返点必须是有限的数字"
    if threshold < 0:
        return f"门槛完成率 {_pct(threshold)} 不能为负数"
    if threshold > 5:
        return f"门槛完成率 {threshold:g} 看起来是百分数，请写成小数（90% 写 0.9）"
    if rate < 0:
        return f"返点 {_pct(rate)} 不能为负数"
    if rate > 0.5:
        return f"返点 {rate:g} 看起来是百分数，请写成小数（3% 写 0.03）"
    return None


class RebateTier(BaseModel):
    """One step of a schedule: from `threshold` achievement on, `rate` of revenue is paid as rebate."""

    threshold: float = Field(description="门槛完成率，小数（90% 写 0.9）/ achievement ratio where the tier starts")
    rate: float = Field(description="返点，占销售额的比例（1.5% 写 0.015）/ rebate rate as a share of revenue")

    @model_validator(mode="after")
    def _check(self) -> RebateTier:
        if problem := _tier_problem(self.threshold, self.rate):
            raise ValueError(problem)
        return self


def _raw_tier(item: Any) -> tuple[Any, Any]:
    if isinstance(item, RebateTier):
        return item.threshold, item.rate
    if isinstance(item, dict):
        return item.get("threshold"), item.get("rate")
    if isinstance(item, list | tuple) and len(item) == 2:
        return item[0], item[1]
    return None, None


class RebateSchedule(BaseModel):
    """A tiered rebate schedule (阶梯返利方案) with its growth bonus, caps and preconditions."""

    tiers: list[RebateTier] = Field(
        description="返利档位，按门槛从低到高 / tiers, thresholds strictly increasing, rates non-decreasing"
    )
    mode: Literal["full", "marginal"] = Field(
        "full",
        description="累进方式 full=全额累进（全部销售额按达到的最高档返点）/ "
        "marginal=分段累进（各段完成率按所在档返点）",
    )
    growth_bonus_rate: float | None = Field(
        None,
        description="增长奖励返点（同比达标时按销售额追加，0.5% 写 0.005）/ extra rate when growth_yoy ≥ threshold",
    )
    growth_bonus_threshold: float = Field(0.10, description="增长奖励的同比门槛（10% 写 0.1）/ growth_yoy needed")
    cap_rate: float | None = Field(None, description="返利不超过销售额的比例（如 0.04）/ payout ≤ cap_rate × revenue")
    cap_amount: float | None = Field(None, description="每家伙伴返利上限（元）/ per-partner payout cap in 元")
    max_achievement: float | None = Field(
        None, description="超过该完成率的销售额不计返利（如 1.3）/ revenue above target × this earns nothing"
    )
    min_collection_rate: float = Field(0.9, description="前置条件：回款率不低于（0.9 即 90%）/ minimum collection rate")
    require_territory_compliance: bool = Field(True, description="前置条件：无跨区销售 / no out-of-territory volume")
    require_price_compliance: bool = Field(True, description="前置条件：无低于限价销售 / no below-floor revenue")
    partner_types: list[str] | None = Field(
        None, description="适用的伙伴类型（空=全部）/ eligible partner types, e.g. ['经销商', '代理商']"
    )

    @field_validator("mode", mode="before")
    @classmethod
    def _mode(cls, value: Any) -> Any:
        names = {"全额累进": "full", "全额": "full", "分段累进": "marginal", "分段": "marginal", "超额累进": "marginal"}
        if value is None:
            return "full"
        value = names.get(str(value).strip(), str(value).strip().lower())
        if value not in MODE_NAMES:
            raise ValueError(f"累进方式「{value}」无法识别，请写 full（全额累进）或 marginal（分段累进）")
        return value

    @field_validator("tiers", mode="before")
    @classmethod
    def _tiers_numbered(cls, value: Any) -> Any:
        if value is None or (isinstance(value, list | tuple) and not value):
            raise ValueError(
                "至少需要一个返利档位（门槛完成率 threshold + 返点 rate），"
                "例如 90% 返 1.5% 写 {threshold: 0.9, rate: 0.015}"
            )
        if isinstance(value, list | tuple):
            for number, item in enumerate(value, start=1):
                if problem := _tier_problem(*_raw_tier(item)):
                    raise ValueError(f"第{number}档：{problem}")
            return [
                {"threshold": item[0], "rate": item[1]} if isinstance(item, list | tuple) else item for item in value
            ]
        return value

    @field_validator("growth_bonus_rate", "cap_rate")
    @classmethod
    def _small_rate(cls, value: float | None, info) -> float | None:
        label = {"growth_bonus_rate": "增长奖励返点", "cap_rate": "返利封顶比例"}[info.field_name]
        if value is not None and not 0 <= value <= 0.5:
            raise ValueError(f"{label} {value:g} 应在 0 到 0.5 之间，写成小数（0.5% 写 0.005）")
        if info.field_name == "cap_rate" and value == 0:
            raise ValueError("返利封顶比例为 0 等于不发返利；不需要封顶请留空")
        return value

    @field_validator("growth_bonus_threshold")
    @classmethod
    def _growth_threshold(cls, value: float) -> float:
        if not -1 < value <= 5:
            raise ValueError(f"增长奖励的同比门槛 {value:g} 应写成小数（同比增长 10% 写 0.1）")
        return value

    @field_validator("cap_amount")
    @classmethod
    def _cap_amount(cls, value: float | None) -> float | None:
        if value is not None and value <= 0:
            raise ValueError("每家伙伴返利上限 cap_amount 必须大于 0 元；不需要封顶请留空")
        return value

    @field_validator("min_collection_rate")
    @classmethod
    def _collection(cls, value: float) -> float:
        if not 0 <= value <= 1:
            raise ValueError(f"回款率门槛 {value:g} 应在 0 到 1 之间（90% 写 0.9；不设门槛写 0）")
        return value

    @model_validator(mode="after")
    def _ordered(self) -> RebateSchedule:
        for number in range(2, len(self.tiers) + 1):
            lower, upper = self.tiers[number - 2], self.tiers[number - 1]
            if upper.threshold <= lower.threshold:
                raise ValueError(
                    f"第{number}档门槛 {_pct(upper.threshold)} 不高于第{number - 1}档门槛 {_pct(lower.threshold)}，"
                    "门槛须从低到高逐档递增"
                )
            if upper.rate < lower.rate:
                raise ValueError(
                    f"第{number}档返点 {_pct(upper.rate)} 低于第{number - 1}档返点 {_pct(lower.rate)}，"
                    "返点须随档位逐档不降"
                )
        if self.max_achievement is not None and self.max_achievement <= self.tiers[-1].threshold:
            raise ValueError(
                f"封顶完成率 {_pct(self.max_achievement)} 须高于最高档门槛 {_pct(self.tiers[-1].threshold)}"
            )
        return self

    def steps_text(self) -> str:
        """'全额累进 90%→1.5%、100%→3%、110%→4%'."""
        return MODE_NAMES[self.mode] + " " + "、".join(f"{_pct(t.threshold)}→{_pct(t.rate)}" for t in self.tiers)

    def describe(self) -> str:
        """The whole schedule in one Chinese line, for explanations and documents."""
        parts = [self.steps_text()]
        if self.max_achievement is not None:
            parts.append(f"完成率超过 {_pct(self.max_achievement)} 的部分不计返利")
        if self.growth_bonus_rate:
            parts.append(f"同比增长≥{_pct(self.growth_bonus_threshold)} 追加 {_pct(self.growth_bonus_rate)}")
        if self.cap_rate is not None:
            parts.append(f"返利不超过销售额的 {_pct(self.cap_rate)}")
        if self.cap_amount is not None:
            parts.append(f"每家最多 {_money(self.cap_amount)}")
        conditions = []
        if self.min_collection_rate > 0:
            conditions.append(f"回款率≥{_pct(self.min_collection_rate)}")
        if self.require_territory_compliance:
            conditions.append("无跨区销售")
        if self.require_price_compliance:
            conditions.append("无低于限价销售")
        if self.partner_types:
            conditions.append(f"仅限{'、'.join(self.partner_types)}")
        if conditions:
            parts.append("前置条件：" + "、".join(conditions))
        return "；".join(parts)


# Matches the four-tier example in knowledge/guides/09-tiered-rebate-design.md (130% 封顶).
DEFAULT_SCHEDULE = RebateSchedule(
    tiers=[
        RebateTier(threshold=0.9, rate=0.015),
        RebateTier(threshold=1.0, rate=0.03),
        RebateTier(threshold=1.1, rate=0.04),
    ],
    mode="full",
    max_achievement=1.3,
    min_collection_rate=0.9,
)


def _default_schedule() -> RebateSchedule:
    return DEFAULT_SCHEDULE.model_copy(deep=True)


# ---- arguments ------------------------------------------------------------------------------------------


def _check_budget(value: float | None) -> float | None:
    if value is not None and not value > 0:
        raise ValueError(f"预算必须大于 0 元（收到 {value:g}）；预算为 0 等于不发返利，无法据此设计方案")
    return value


class ScopeArgs(BaseModel):
    """Period, schedule and filters shared by the rebate tools."""

    period: str = Field("latest", description="考核期间 period: 2026Q3 / 2026-07 / 2026 / 本季度 / 上季度")
    schedule: RebateSchedule = Field(
        default_factory=_default_schedule, description="返利方案 schedule; default 90%→1.5%、100%→3%、110%→4%"
    )
    region: str | None = Field(None, description="只测算某个区域 region filter, e.g. 华东")
    partner_type: str | None = Field(None, description="只测算某类伙伴 partner type filter, e.g. 经销商")
    filters: dict[str, str] | None = Field(
        None,
        description="按列名筛选 filter by column name: partner columns (国家, 级别, 客户类型 …), sales columns "
        '(售达省份 …) or columns kept from imports (STATUS, Segment …), e.g. {"国家": "France"}',
    )


class RebateArgs(ScopeArgs):
    """Simulate the tiered rebate (阶梯返利/返点) each channel partner earns in a period under a schedule.

    Call this for 返利测算, "这个季度要发多少返利", who reaches which tier, rebate cost by region, whether a
    rebate plan fits a budget, or which partners are close to the next tier (冲档名单). Achievement (完成率) =
    revenue / target from the sales and targets tables. mode "full" (全额累进): the whole revenue earns the rate
    of the highest tier reached; "marginal" (分段累进): each slice of achievement between two thresholds earns
    that tier's rate. Optional growth bonus, caps (share of revenue, amount per partner) and max_achievement
    (revenue above target × max_achievement earns nothing). Preconditions make a partner ineligible (payout 0,
    reason given): collection rate below min_collection_rate, any out-of-territory sales, any below-floor sales,
    type not in partner_types, no target, no sales. Thresholds and rates are decimals (90% = 0.9, 1.5% = 0.015).
    Returns a per-partner table, totals by tier and region, the share of partners per tier, the budget gap when
    `budget` is given, and partners within `near_window` of the next tier with the extra rebate they would earn.
    """

    budget: float | None = Field(None, description="返利预算（元），给出时对比总返利 / rebate budget in 元")
    near_window: float = Field(
        0.05, description="冲档名单：距下一档门槛不超过多少（0.05 = 5 个百分点）/ gap to next tier to list"
    )

    @field_validator("budget")
    @classmethod
    def _budget(cls, value: float | None) -> float | None:
        return _check_budget(value)

    @field_validator("near_window")
    @classmethod
    def _window(cls, value: float) -> float:
        if not 0 <= value <= 0.5:
            raise ValueError(f"冲档名单的距离 {value:g} 应在 0 到 0.5 之间（5 个百分点写 0.05）")
        return value


class FitBudgetArgs(ScopeArgs):
    """Adjust a rebate schedule so the period's total rebate stays within a budget, as close to it as possible.

    Call this when a rebate plan costs more than the budget (返利超预算怎么调), or to find how far rates could
    rise within a budget. method "scale_rates" multiplies every tier rate and the growth bonus rate by one factor
    found by bisection (caps stay fixed, so the total is not proportional to the factor); new rates are floored to
    0.01 个百分点. method "raise_entry_threshold" raises only the first tier's threshold in 0.5-point steps,
    staying below the second threshold, and reports when even the highest allowed entry threshold is over budget.
    If the schedule already fits, it is kept unless allow_increase is true (scale_rates only). Returns the old vs
    new schedule, the new total, and partners who lose their rebate.
    """

    budget: float = Field(description="返利预算（元），必须大于 0 / rebate budget in 元 (> 0)")
    method: Literal["scale_rates", "raise_entry_threshold"] = Field(
        "scale_rates", description="调整方式：scale_rates=按同一系数调整返点；raise_entry_threshold=提高入门门槛"
    )
    allow_increase: bool = Field(
        False, description="预算有结余时是否上调返点用足预算（仅 scale_rates）/ scale rates up when under budget"
    )

    @field_validator("budget")
    @classmethod
    def _budget(cls, value: float) -> float:
        return _check_budget(value)

    @field_validator("method", mode="before")
    @classmethod
    def _method(cls, value: Any) -> Any:
        names = {
            "按比例调整返点": "scale_rates",
            "调整返点": "scale_rates",
            "提高门槛": "raise_entry_threshold",
            "提高入门门槛": "raise_entry_threshold",
        }
        value = names.get(str(value).strip(), str(value).strip())
        if value not in ("scale_rates", "raise_entry_threshold"):
            raise ValueError(
                f"调整方式「{value}」无法识别，请写 scale_rates（按比例调整返点）"
                "或 raise_entry_threshold（提高入门门槛）"
            )
        return value


class SensitivityArgs(ScopeArgs):
    """What-if grid for a rebate schedule: total rebate and number of partners paid when all tier thresholds shift
    by each threshold step and all tier rates by each rate step (rates floored at 0, thresholds at 0).

    Call this for 返利敏感性, "门槛提高 5 个点、返点降半个点要花多少", or to compare policy tweaks before
    publishing. Steps are decimals: threshold step 0.05 = +5 个百分点 of achievement; rate step 0.005 = +0.5 个百分点
    of rate. Growth bonus, caps and preconditions stay as in the schedule.
    """

    threshold_steps: list[float] = Field(
        default_factory=lambda: [-0.05, 0.0, 0.05], description="门槛整体调整（0.05 = +5 个百分点）/ threshold shifts"
    )
    rate_steps: list[float] = Field(
        default_factory=lambda: [-0.005, 0.0, 0.005], description="返点整体调整（0.005 = +0.5 个百分点）/ rate shifts"
    )

    @field_validator("threshold_steps")
    @classmethod
    def _threshold_steps(cls, value: list[float]) -> list[float]:
        return _check_steps(value, 0.5, "门槛调整", "+5 个百分点写 0.05")

    @field_validator("rate_steps")
    @classmethod
    def _rate_steps(cls, value: list[float]) -> list[float]:
        return _check_steps(value, 0.1, "返点调整", "+0.5 个百分点写 0.005")


def _check_steps(value: list[float], limit: float, label: str, example: str) -> list[float]:
    if not value:
        raise ValueError(f"{label}至少需要一个值，例如 [0]")
    if len(value) > 9:
        raise ValueError(f"{label}最多 9 个值，收到 {len(value)} 个")
    for step in value:
        if not math.isfinite(step) or abs(step) > limit:
            raise ValueError(f"{label} {step:g} 超出范围 ±{limit:g}，请写成小数（{example}）")
    return sorted({round(float(step), 6) for step in value})


# ---- data -----------------------------------------------------------------------------------------------


def _scope(store: Store, args: ScopeArgs) -> tuple[Period, pd.DataFrame, list[str]]:
    """The period, the partners in scope with their metrics, and warnings about the data."""
    period = resolve_period(store, args.period)
    frame = partner_metrics(store, period, args.filters)
    for column, value, label in (("region", args.region, "区域"), ("type", args.partner_type, "伙伴类型")):
        if value is None:
            continue
        known = sorted(frame[column].dropna().unique().tolist())
        if value.strip() not in known:
            raise ToolError(f"没有{label}为「{value}」的伙伴。可选{label}：{'、'.join(known) or '（无）'}。")
        frame = frame[frame[column] == value.strip()]
    frame = frame.reset_index(drop=True)
    warnings = []
    last = latest_date(store)
    if period.end > last:
        warnings.append(
            f"{period.label}尚未结束（数据截至 {last.isoformat()}），完成率按已发生的销售计算，返利会偏低。"
        )
    if frame.empty:
        raise ToolError("所选范围内没有伙伴，请放宽区域或伙伴类型条件。")
    frame.attrs["basis"], frame.attrs["missing"] = _basis(store, frame, period)
    if not (frame["revenue"] > 0).any():
        warnings.append(f"{period.label}所选范围内没有任何销售，返利为 0。")
    return period, frame, warnings


def _basis(store: Store, frame: pd.DataFrame, period: Period) -> tuple[str, list[Missing]]:
    """What the tiers measure. With targets: achievement. Without: the ratio to the same period a year
    earlier (同比达成率), said so; with neither, the tool asks for targets instead of paying nobody."""
    available = availability(store)
    missing: list[Missing] = []
    if not (available.has("territories") and available.has("sold_to")):
        lacking = next(k for k in ("territories", "sold_to") if not available.has(k))
        missing.append(available.missing(lacking, "「无跨区销售」前置条件没有核查"))
    if not available.has("floor_prices"):
        missing.append(available.missing("floor_prices", "「无低于限价销售」前置条件没有核查"))
    if not available.has("collections"):
        missing.append(available.missing("collections", "「回款率」前置条件没有核查"))
    if available.has("targets"):
        return "achievement", missing
    ago = frame["revenue_year_ago"]
    if not (ago > 0).any():
        raise ToolError(
            f"没有季度目标，也没有{period.year_ago.label}的销售可比，无法按档位测算返利。"
            "请导入季度目标表（列：伙伴编号或名称、季度、目标销售额）后再测算；"
            "或换一个有去年同期数据的期间，按同比增长测算。"
        )
    frame["target"] = ago.where(ago > 0)
    # 同比达成率 = this period ÷ the year-ago period = 1 + growth_yoy (the semantic layer's 同比).
    frame["achievement"] = (frame["growth_yoy"] + 1).where(frame["target"].notna())
    missing.insert(
        0,
        available.missing(
            "targets",
            f"档位改按同比达成率（本期销售额 ÷ {period.year_ago.label}销售额）测算：门槛 100% 即与去年持平、"
            "110% 即增长 10%；去年同期没有销售的伙伴不参与",
        ),
    )
    return "growth", missing


def _finish(result: ToolResult, frame: pd.DataFrame) -> ToolResult:
    """Attach the missing inputs; for the growth basis, name what the tiers measure in every label."""
    result.missing = list(frame.attrs.get("missing", []))
    if any(m.key == "collections" for m in result.missing):
        result.warnings = [w for w in result.warnings if "没有回款记录" not in w]
    if frame.attrs.get("basis") != "growth":
        return result

    def relabel(text: str) -> str:
        return text.replace("完成率", "同比达成率").replace(NO_TARGET, "去年同期无销售")

    def relabel_en(text: str) -> str:
        return text.replace("Achievement", "Year-on-year ratio").replace("achievement", "year-on-year ratio")

    result.labels = result.labels.relabelled(relabel, relabel_en) | Labels(
        {"target": ("去年同期销售额(元)", "Revenue a year earlier (CNY)")}
    )
    for name, table in result.tables.items():
        table = table.copy()
        for column in table.columns:
            if pd.api.types.is_string_dtype(table[column]) or table[column].dtype == object:
                table[column] = table[column].map(lambda v: relabel(v) if isinstance(v, str) else v)
        result.tables[name] = table
    result.explanation = "档位按同比达成率（本期 ÷ 去年同期）测算。" + relabel(result.explanation)
    result.formula = relabel(result.formula).replace("÷ 目标", "÷ 去年同期销售额").replace("目标 ×", "去年同期销售额 ×")
    result.warnings = [relabel(w) for w in result.warnings]
    return result


def _eligibility(frame: pd.DataFrame, schedule: RebateSchedule) -> tuple[np.ndarray, list[str], list[str]]:
    """Eligible flags and a Chinese reason per partner (empty when eligible), plus warnings."""
    reasons: list[list[str]] = [[] for _ in range(len(frame))]
    warnings: list[str] = []

    def flag(mask: pd.Series, text: Callable[[pd.Series], str]) -> None:
        for i in np.flatnonzero(mask.to_numpy(bool)):
            reasons[i].append(text(frame.iloc[i]))

    revenue = frame["revenue"].fillna(0)
    flag(~(frame["target"] > 0), lambda _r: NO_TARGET)
    flag(revenue <= 0, lambda _r: "本期无销售")
    if schedule.partner_types:
        allowed = "、".join(schedule.partner_types)
        flag(
            ~frame["type"].isin(schedule.partner_types),
            lambda r: f"伙伴类型「{r['type'] if pd.notna(r['type']) else '未填'}」不在适用范围（{allowed}）",
        )
    if schedule.min_collection_rate > 0:
        rate = frame["collection_rate"]
        selling = revenue > 0
        if (selling & rate.notna()).any():
            flag(selling & rate.isna(), lambda _r: "无回款记录，回款率无法核实")
            flag(
                rate < schedule.min_collection_rate - EPS,
                lambda r: f"回款率 {_pct(r['collection_rate'])} 低于 {_pct(schedule.min_collection_rate)}",
            )
        elif selling.any():
            warnings.append("所选期间没有回款记录，未核查回款率前置条件；请在「数据中心」导入回款数据后再测算。")
    if schedule.require_territory_compliance:
        flag(frame["out_of_territory_qty"] > 0, lambda r: f"存在跨区销售 {_qty(r['out_of_territory_qty'])} 件")
    if schedule.require_price_compliance:
        flag(frame["below_floor_revenue"] > 0, lambda r: f"存在低于限价销售 {r['below_floor_revenue']:,.2f} 元")
    eligible = np.array([not r for r in reasons], dtype=bool)
    return eligible, ["；".join(r) for r in reasons], warnings


# ---- payout arithmetic -----------------------------------------------------------------------------------


def _amounts(frame: pd.DataFrame, schedule: RebateSchedule) -> dict[str, np.ndarray]:
    """Per-partner rebate before preconditions, in cents-rounded 元 (vectorised: budget search calls it often)."""
    revenue = frame["revenue"].fillna(0).to_numpy(float)
    target = frame["target"].to_numpy(float)
    has_target = np.isfinite(target) & (target > 0)
    target0 = np.where(has_target, target, 0.0)
    achievement = np.where(has_target, frame["achievement"].to_numpy(float), np.nan)
    reach = np.nan_to_num(achievement, nan=-1.0)
    thresholds = np.array([t.threshold for t in schedule.tiers])
    rates = np.array([t.rate for t in schedule.tiers])

    tier = (reach[:, None] >= thresholds[None, :] - EPS).sum(axis=1) - 1  # thresholds ascending
    tier_rate = np.where(tier >= 0, rates[np.maximum(tier, 0)], 0.0)
    cap = schedule.max_achievement
    base = np.where(has_target, np.minimum(revenue, target0 * cap), revenue) if cap is not None else revenue
    if schedule.mode == "full":
        base_rebate = base * tier_rate
    else:
        top = reach if cap is None else np.minimum(reach, cap)
        upper = np.append(thresholds[1:], np.inf)
        width = np.clip(np.minimum(top[:, None], upper[None, :]) - thresholds[None, :], 0.0, None)
        base_rebate = target0 * (width * rates[None, :]).sum(axis=1)
    base_rebate = np.round(base_rebate, 2)

    bonus = np.zeros(len(frame))
    if schedule.growth_bonus_rate:
        growth = frame["growth_yoy"].to_numpy(float)
        earns = np.nan_to_num(growth, nan=-np.inf) >= schedule.growth_bonus_threshold - EPS
        bonus = np.round(np.where(earns, base * schedule.growth_bonus_rate, 0.0), 2)

    before = base_rebate + bonus
    limit = np.full(len(frame), np.inf)
    if schedule.cap_rate is not None:
        limit = np.minimum(limit, schedule.cap_rate * revenue)
    if schedule.cap_amount is not None:
        limit = np.minimum(limit, schedule.cap_amount)
    due = np.round(np.minimum(before, limit), 2)
    return {
        "achievement": achievement,
        "tier": np.where(has_target, tier, -2),
        "tier_rate": tier_rate,
        "base_rebate": base_rebate,
        "bonus": bonus,
        "before": np.round(before, 2),
        "cut": np.round(before - due, 2),
        "due": due,
    }


def _paid(frame: pd.DataFrame, schedule: RebateSchedule, eligible: np.ndarray) -> np.ndarray:
    return np.where(eligible, _amounts(frame, schedule)["due"], 0.0)


def _total(frame: pd.DataFrame, schedule: RebateSchedule, eligible: np.ndarray) -> float:
    return round(float(_paid(frame, schedule, eligible).sum()), 2)


def _tier_label(schedule: RebateSchedule, tier: int) -> str:
    if tier == -2:
        return NO_TARGET
    if tier == -1:
        return BELOW
    return f"{_pct(schedule.tiers[tier].threshold)}档"


def _scaled(schedule: RebateSchedule, factor: float, publish: bool = False) -> RebateSchedule:
    """Every tier rate and the growth bonus rate times factor; publish=True floors them to 0.01 个百分点."""

    def scale(rate: float) -> float:
        value = rate * factor
        return math.floor(round(value / RATE_UNIT, 6)) * RATE_UNIT if publish else value

    tiers = [RebateTier.model_construct(threshold=t.threshold, rate=scale(t.rate)) for t in schedule.tiers]
    bonus = scale(schedule.growth_bonus_rate) if schedule.growth_bonus_rate else schedule.growth_bonus_rate
    return schedule.model_copy(update={"tiers": tiers, "growth_bonus_rate": bonus})


def _shifted(schedule: RebateSchedule, threshold_step: float, rate_step: float) -> RebateSchedule:
    # Shifting every threshold keeps their order; flooring at 0 may tie two, which both formulas handle.
    tiers = [
        RebateTier.model_construct(threshold=max(0.0, t.threshold + threshold_step), rate=max(0.0, t.rate + rate_step))
        for t in schedule.tiers
    ]
    return schedule.model_copy(update={"tiers": tiers})


# ---- tables -----------------------------------------------------------------------------------------------


def _schedule_table(schedule: RebateSchedule) -> pd.DataFrame:
    rows = []
    for number, tier in enumerate(schedule.tiers, start=1):
        upper = schedule.tiers[number].threshold if number < len(schedule.tiers) else None
        rows.append(
            {
                "tier": f"{_pct(tier.threshold)}档",
                "achievement_range": _range_text(tier.threshold, upper),
                "threshold": round(tier.threshold * 100, 2),
                "rate": round(tier.rate * 100, 2),
            }
        )
    return pd.DataFrame(rows)


def _range_text(lower: float, upper: float | None) -> str:
    return f"{_pct(lower)} 至不足 {_pct(upper)}" if upper is not None else f"{_pct(lower)} 及以上"


def _detail_table(
    frame: pd.DataFrame,
    schedule: RebateSchedule,
    amounts: dict[str, np.ndarray],
    eligible: np.ndarray,
    reasons: list[str],
) -> pd.DataFrame:
    revenue = frame["revenue"].fillna(0)
    paid = np.where(eligible, amounts["due"], 0.0)
    table = pd.DataFrame(
        {
            "partner_id": frame["partner_id"],
            "name": frame["name"],
            "region": frame["region"].fillna("未填区域"),
            "partner_type": frame["type"].fillna("未填类型"),
            "revenue": revenue.round(2),
            "target": frame["target"].round(2),
            "achievement": (amounts["achievement"] * 100).round(2),
            "growth_yoy": (frame["growth_yoy"] * 100).round(2),
            "tier_reached": [_tier_label(schedule, t) for t in amounts["tier"]],
            "tier_rate": (amounts["tier_rate"] * 100).round(2),
            "base_rebate": amounts["base_rebate"],
            "growth_bonus": amounts["bonus"],
            "rebate_before_cap": amounts["before"],
            "cap_cut": amounts["cut"],
            "rebate_due": amounts["due"],
            "effective_rate": np.where(revenue > 0, amounts["due"] / revenue.where(revenue > 0, 1) * 100, np.nan).round(
                2
            ),
            "eligible": np.where(eligible, "是", "否"),
            "ineligible_reason": reasons,
            "rebate_amount": paid,
        }
    )
    return table.sort_values(["rebate_amount", "rebate_due", "partner_id"], ascending=[False, False, True]).reset_index(
        drop=True
    )


def _tier_summary(detail: pd.DataFrame, schedule: RebateSchedule) -> pd.DataFrame:
    labels = [NO_TARGET, BELOW] + [f"{_pct(t.threshold)}档" for t in schedule.tiers]
    ranges = ["无季度目标", f"低于 {_pct(schedule.tiers[0].threshold)}"] + [
        _range_text(t.threshold, schedule.tiers[i + 1].threshold if i + 1 < len(schedule.tiers) else None)
        for i, t in enumerate(schedule.tiers)
    ]
    rates = [np.nan, 0.0] + [round(t.rate * 100, 2) for t in schedule.tiers]
    rows = []
    for label, text, rate in zip(labels, ranges, rates, strict=True):
        group = detail[detail["tier_reached"] == label]
        revenue, paid = float(group["revenue"].sum()), float(group["rebate_amount"].sum())
        rows.append(
            {
                "tier": label,
                "achievement_range": text,
                "rate": rate,
                "partners": len(group),
                "partner_share": round(len(group) / len(detail) * 100, 2) if len(detail) else 0.0,
                "paid_partners": int((group["rebate_amount"] > 0).sum()),
                "revenue": round(revenue, 2),
                "rebate_amount": round(paid, 2),
                "rebate_to_revenue": round(paid / revenue * 100, 2) if revenue > 0 else np.nan,
            }
        )
    return pd.DataFrame(rows)


def _region_summary(detail: pd.DataFrame) -> pd.DataFrame:
    total = float(detail["rebate_amount"].sum())
    grouped = (
        detail.groupby("region", sort=False)
        .agg(
            partners=("partner_id", "size"),
            paid_partners=("rebate_amount", lambda s: int((s > 0).sum())),
            ineligible_partners=("eligible", lambda s: int((s == "否").sum())),
            revenue=("revenue", "sum"),
            rebate_amount=("rebate_amount", "sum"),
        )
        .reset_index()
    )
    grouped["revenue"] = grouped["revenue"].round(2)
    grouped["rebate_amount"] = grouped["rebate_amount"].round(2)
    grouped["rebate_ratio"] = (grouped["rebate_amount"] / grouped["revenue"].where(grouped["revenue"] > 0) * 100).round(
        2
    )
    grouped["rebate_share"] = (grouped["rebate_amount"] / total * 100).round(2) if total > 0 else 0.0
    return grouped.sort_values(["rebate_amount", "region"], ascending=[False, True]).reset_index(drop=True)


def _near_next_tier(
    frame: pd.DataFrame, schedule: RebateSchedule, amounts: dict[str, np.ndarray], eligible: np.ndarray, window: float
) -> pd.DataFrame:
    """Eligible partners within `window` below the next threshold, and what reaching it would pay."""
    thresholds = np.array([t.threshold for t in schedule.tiers])
    achievement = amounts["achievement"]
    rows = []
    for i in np.flatnonzero(eligible & np.isfinite(achievement)):
        above = thresholds[thresholds > achievement[i] + EPS]
        if not len(above) or above[0] - achievement[i] > window + EPS:
            continue
        rows.append((i, float(above[0])))
    columns = [
        "partner_id",
        "name",
        "region",
        "achievement",
        "next_tier",
        "gap_points",
        "revenue_needed",
        "rebate_now",
        "rebate_at_next_tier",
        "rebate_increase",
        "marginal_rate",
    ]
    if not rows:
        return pd.DataFrame(columns=columns)
    index = [i for i, _ in rows]
    nxt = np.array([t for _, t in rows])
    what_if = frame.iloc[index].copy()
    what_if["revenue"] = what_if["target"] * nxt
    what_if["achievement"] = nxt
    # Growth moves with the extra revenue, so the growth bonus is re-judged too (by the semantic layer's rule).
    what_if["growth_yoy"] = growth(what_if["revenue"], what_if["revenue_year_ago"])
    after = _amounts(what_if, schedule)["due"]
    now = amounts["due"][index]
    needed = (what_if["revenue"] - frame["revenue"].iloc[index].fillna(0)).to_numpy(float)
    table = pd.DataFrame(
        {
            "partner_id": what_if["partner_id"].to_numpy(),
            "name": what_if["name"].to_numpy(),
            "region": what_if["region"].fillna("未填区域").to_numpy(),
            "achievement": (achievement[index] * 100).round(2),
            "next_tier": [f"{_pct(t)}档" for t in nxt],
            "gap_points": ((nxt - achievement[index]) * 100).round(2),
            "revenue_needed": needed.round(2),
            "rebate_now": now,
            "rebate_at_next_tier": after,
            "rebate_increase": np.round(after - now, 2),
            "marginal_rate": np.where(needed > 0, (after - now) / np.where(needed > 0, needed, 1) * 100, np.nan).round(
                2
            ),
        }
    )
    return table.sort_values(["gap_points", "partner_id"]).reset_index(drop=True)


# ---- tools ------------------------------------------------------------------------------------------------

FORMULA = (
    "完成率 = 销售额 ÷ 目标；返利基数 = 销售额（设封顶完成率时不超过 目标 × 封顶完成率）；"
    "全额累进：基础返利 = 返利基数 × 达到的最高档返点；分段累进：基础返利 = Σ 目标 × 落在各档区间的完成率 × 该档返点；"
    "增长奖励 = 返利基数 × 增长奖励返点（同比达标时）；"
    "应得返利 = min(基础返利 + 增长奖励, 销售额 × 封顶比例, 每家上限)；"
    "不满足前置条件（无目标、无销售、回款率、跨区、低价、伙伴类型）的返利为 0"
)


@register("simulate_rebate", RebateArgs)
def simulate_rebate(store: Store, args: RebateArgs) -> ToolResult:
    period, frame, warnings = _scope(store, args)
    schedule = args.schedule
    eligible, reasons, more = _eligibility(frame, schedule)
    warnings += more
    if schedule.growth_bonus_rate:
        missing = int(((frame["revenue"] > 0) & frame["growth_yoy"].isna()).sum())
        if missing:
            warnings.append(f"{missing} 家伙伴没有去年同期销售，无法计算同比，不计增长奖励。")
    amounts = _amounts(frame, schedule)
    detail = _detail_table(frame, schedule, amounts, eligible, reasons)
    by_tier = _tier_summary(detail, schedule)
    by_region = _region_summary(detail)
    near = _near_next_tier(frame, schedule, amounts, eligible, args.near_window)

    total = round(float(detail["rebate_amount"].sum()), 2)
    revenue = round(float(detail["revenue"].sum()), 2)
    paid_count = int((detail["rebate_amount"] > 0).sum())
    ineligible = detail[detail["eligible"] == "否"]
    forfeited = round(float(ineligible["rebate_due"].sum()), 2)
    figures: dict[str, Any] = {
        "partners": len(detail),
        "paid_partners": paid_count,
        "ineligible_partners": len(ineligible),
        "rebate_total": total,
        "revenue": revenue,
        "rebate_ratio": round(total / revenue * 100, 2) if revenue > 0 else None,
        "forfeited_rebate": forfeited,
        "cap_cut": round(float(detail.loc[detail["eligible"] == "是", "cap_cut"].sum()), 2),
        "near_next_tier_partners": len(near),
        "near_next_tier_rebate_increase": round(float(near["rebate_increase"].sum()), 2) if len(near) else 0.0,
    }
    tables = {
        "rebate_detail": detail,
        "by_tier": by_tier,
        "by_region": by_region,
        "near_next_tier": near,
        "schedule": _schedule_table(schedule),
    }

    sentences = [
        f"{period.label}共 {len(detail)} 家伙伴参与测算，{paid_count} 家获得返利，合计 {_money(total)}"
        + (f"，占销售额 {_pct(total / revenue)}" if revenue > 0 else "")
        + (f"；{len(ineligible)} 家不符合前置条件，取消应得返利 {_money(forfeited)}" if len(ineligible) else "")
        + "。"
    ]
    if args.budget is not None:
        gap = round(total - args.budget, 2)
        figures.update({"budget": args.budget, "budget_gap": gap, "budget_use": round(total / args.budget * 100, 2)})
        tables["budget_comparison"] = pd.DataFrame(
            [
                {
                    "rebate_total": total,
                    "budget": args.budget,
                    "budget_gap": gap,
                    "budget_use": round(total / args.budget * 100, 2),
                }
            ]
        )
        if gap > 0:
            sentences.append(
                f"比预算 {_money(args.budget)}超出 {_money(gap)}（{_pct(gap / args.budget)}），"
                "可按预算调整方案（按比例下调返点，或提高入门门槛）。"
            )
        else:
            sentences.append(f"在预算 {_money(args.budget)}之内，结余 {_money(-gap)}。")
    if len(near):
        sentences.append(
            f"另有 {len(near)} 家距下一档不超过 {args.near_window * 100:g} 个百分点，"
            f"若全部冲档成功将再增加返利 {_money(figures['near_next_tier_rebate_increase'])}。"
        )
    return _finish(
        ToolResult(
            tool="simulate_rebate",
            title=f"返利测算：{period.label}",
            period=period.span,
            explanation="".join(sentences),
            formula=FORMULA,
            parameters=args.model_dump(mode="json") | {"schedule_text": schedule.describe()},
            tables=tables,
            labels=LABELS,
            figures=figures,
            warnings=warnings,
            data={"schedule": schedule.model_dump(mode="json")},
        ),
        frame,
    )


def _best_scale(total_at: Callable[[float], float], budget: float) -> tuple[float, bool]:
    """Largest factor whose total stays within budget (bisection; the total never falls as the factor rises).

    Returns (factor, plateau): plateau means caps stop the total below the budget even at MAX_SCALE; the factor is
    then the smallest one that already pays that most-possible total.
    """
    if total_at(1.0) > budget:
        lo, hi = 0.0, 1.0
    elif (most := total_at(MAX_SCALE)) <= budget:
        lo, hi = 0.0, MAX_SCALE
        for _ in range(60):
            mid = (lo + hi) / 2
            if total_at(mid) >= most - 0.005:
                hi = mid
            else:
                lo = mid
        return (MAX_SCALE if hi > MAX_SCALE * 0.999 else hi), True
    else:
        lo, hi = 1.0, MAX_SCALE
    for _ in range(60):
        mid = (lo + hi) / 2
        if total_at(mid) <= budget:
            lo = mid
        else:
            hi = mid
    return lo, False


def _plateau_text(factor: float, most: float) -> str:
    if factor >= MAX_SCALE * 0.999:
        return f"即使返点上调到 {MAX_SCALE:g} 倍，合计也只有 {_money(most)}"
    if factor == 1.0:
        return f"受封顶限制，当前返点下合计已是上限 {_money(most)}，上调返点不会增加返利"
    return f"受封顶限制，返点上调到 {factor:.4f} 倍时合计已达上限 {_money(most)}，再上调也不会增加"


def _floor6(factor: float) -> float:
    """The factor shown to 6 decimals, rounded down so re-using the shown value stays within budget."""
    return math.floor(factor * 1e6) / 1e6


def _compare_table(old: RebateSchedule, new: RebateSchedule) -> pd.DataFrame:
    rows = [
        {
            "item": f"第{n}档",
            "threshold_old": round(a.threshold * 100, 2),
            "threshold_new": round(b.threshold * 100, 2),
            "rate_old": round(a.rate * 100, 2),
            "rate_new": round(b.rate * 100, 2),
        }
        for n, (a, b) in enumerate(zip(old.tiers, new.tiers, strict=True), start=1)
    ]
    if old.growth_bonus_rate:
        rows.append(
            {
                "item": f"增长奖励（同比≥{_pct(old.growth_bonus_threshold)}）",
                "threshold_old": np.nan,
                "threshold_new": np.nan,
                "rate_old": round(old.growth_bonus_rate * 100, 2),
                "rate_new": round((new.growth_bonus_rate or 0) * 100, 2),
            }
        )
    return pd.DataFrame(rows)


@register("fit_rebate_budget", FitBudgetArgs)
def fit_rebate_budget(store: Store, args: FitBudgetArgs) -> ToolResult:
    period, frame, warnings = _scope(store, args)
    old, budget = args.schedule, args.budget
    eligible, reasons, more = _eligibility(frame, old)
    warnings += more
    old_paid = _paid(frame, old, eligible)
    old_total = round(float(old_paid.sum()), 2)
    figures: dict[str, Any] = {"budget": budget, "rebate_total_old": old_total}
    sentences = [
        f"原方案（{old.steps_text()}）合计 {_money(old_total)}，"
        + (
            f"比预算 {_money(budget)}超出 {_money(old_total - budget)}。"
            if old_total > budget
            else f"在预算 {_money(budget)}之内，结余 {_money(budget - old_total)}。"
        )
    ]
    feasible = True

    if args.method == "scale_rates":

        def total_at(k: float) -> float:
            return _total(frame, _scaled(old, k), eligible)

        factor, plateau = _best_scale(total_at, budget)
        if plateau:
            factor = max(factor, 1.0)  # the schedule already fits: never cut rates just because caps bind
        most = total_at(factor) if plateau else None
        if plateau and not most:
            new = old
            figures["scale_factor"] = 1.0
            sentences.append("没有符合条件且达到门槛的伙伴，调整返点不会改变返利合计，方案保持不变。")
        elif plateau and (factor == 1.0 or not args.allow_increase):
            new = old
            figures.update({"scale_factor": 1.0, "max_scale_factor": _floor6(factor)})
            sentences.append(f"方案保持不变；{_plateau_text(factor, most)}，用不完预算。")
        elif old_total <= budget and not args.allow_increase:
            new = old
            figures.update({"scale_factor": 1.0, "max_scale_factor": _floor6(factor)})
            sentences.append(
                f"方案保持不变；若要用足预算，返点可整体上调到 {factor:.4f} 倍（设 allow_increase=true 生成新方案）。"
            )
        else:
            new = _scaled(old, factor, publish=True)
            figures["scale_factor"] = _floor6(factor)
            new_total = _total(frame, new, eligible)
            verb = "上调" if factor > 1 else "下调"
            example = f"{_pct(old.tiers[-1].rate)} → {_pct(new.tiers[-1].rate)}"
            sentences.append(
                f"各档返点按 {factor:.4f} 倍{verb}（最高档 {example}，取整到 0.01 个百分点）"
                f"后合计 {_money(new_total)}，预算结余 {_money(budget - new_total)}。"
            )
            if plateau:
                sentences.append(f"{_plateau_text(factor, most)}，仍用不完预算。")
            elif old.cap_rate is not None or old.cap_amount is not None:
                sentences.append("封顶规则保持不变，所以返利合计与缩放系数不成正比。")
    else:
        thresholds = [t.threshold for t in old.tiers]
        if len(thresholds) > 1:
            ceiling_threshold, ceiling_text = (
                thresholds[1] - THRESHOLD_STEP,
                f"第二档门槛 {_pct(thresholds[1])} 之下的最高值",
            )
        elif old.max_achievement is not None:
            ceiling_threshold, ceiling_text = old.max_achievement - THRESHOLD_STEP, "封顶完成率之下的最高值"
        else:
            top = float(np.nanmax(np.append(frame["achievement"].to_numpy(float), thresholds[0])))
            ceiling_threshold, ceiling_text = top + THRESHOLD_STEP, "高于所有伙伴的完成率"
        new = old
        if old_total > budget:
            steps = math.floor(round((ceiling_threshold - thresholds[0]) / THRESHOLD_STEP, 6))
            candidate = old
            for step in range(1, steps + 1):
                entry = round(thresholds[0] + step * THRESHOLD_STEP, 6)
                tiers = [RebateTier(threshold=entry, rate=old.tiers[0].rate), *old.tiers[1:]]
                candidate = old.model_copy(update={"tiers": tiers})
                if _total(frame, candidate, eligible) <= budget:
                    new = candidate
                    break
            else:
                feasible = False
                if steps >= 1:
                    best = _total(frame, candidate, eligible)
                    figures["rebate_total_at_highest_threshold"] = best
                    sentences.append(
                        f"无法满足预算：即使把入门门槛提高到 {_pct(candidate.tiers[0].threshold)}（{ceiling_text}），"
                        f"返利合计仍为 {_money(best)}，超出预算 {_money(best - budget)}。"
                    )
                else:
                    sentences.append(
                        f"无法满足预算：入门门槛 {_pct(thresholds[0])} 已没有提高的空间（{ceiling_text}）。"
                    )
                sentences.append("建议改用按比例下调返点（method=scale_rates），或同时下调高档返点。")
        if feasible and new is not old:
            sentences.append(
                f"把入门门槛从 {_pct(thresholds[0])} 提高到 {_pct(new.tiers[0].threshold)} 后合计 "
                f"{_money(_total(frame, new, eligible))}，预算结余 {_money(budget - _total(frame, new, eligible))}。"
            )
        elif feasible:
            sentences.append("无需提高门槛，方案保持不变。")
        figures["entry_threshold_new"] = round(new.tiers[0].threshold * 100, 2)

    new_paid = _paid(frame, new, eligible)
    new_total = round(float(new_paid.sum()), 2)
    lost = (old_paid > 0) & (new_paid <= 0)
    lost_table = pd.DataFrame(
        {
            "partner_id": frame["partner_id"][lost].to_numpy(),
            "name": frame["name"][lost].to_numpy(),
            "region": frame["region"][lost].fillna("未填区域").to_numpy(),
            "achievement": (frame["achievement"][lost] * 100).round(2).to_numpy(),
            "rebate_old": old_paid[lost],
            "rebate_new": new_paid[lost],
        }
    )
    if lost.any():
        sentences.append(f"{int(lost.sum())} 家伙伴因此失去返利（原合计 {_money(float(old_paid[lost].sum()))}）。")
    figures.update(
        {
            "rebate_total_new": new_total if feasible else None,
            "budget_left": round(budget - new_total, 2) if feasible else None,
            "paid_partners_old": int((old_paid > 0).sum()),
            "paid_partners_new": int((new_paid > 0).sum()),
            "partners_lost": int(lost.sum()),
            "budget_met": "是" if feasible else "否",
        }
    )
    detail = _detail_table(frame, new, _amounts(frame, new), eligible, reasons)
    return _finish(
        ToolResult(
            tool="fit_rebate_budget",
            title=f"返利方案按预算调整：{period.label}",
            period=period.span,
            explanation="".join(sentences),
            formula=(
                "按比例调整返点：新返点 = 原返点 × 系数（封顶规则不变，用二分法求使合计 ≤ 预算的最大系数，"
                "返点向下取整到 0.01 个百分点）；"
                "提高入门门槛：第一档门槛每次提高 0.5 个百分点、保持低于第二档，取合计 ≤ 预算的最低门槛。" + FORMULA
            ),
            parameters=args.model_dump(mode="json"),
            tables={
                "schedule_comparison": _compare_table(old, new),
                "partners_losing_rebate": lost_table,
                "new_by_tier": _tier_summary(detail, new),
            },
            labels=LABELS,
            figures=figures,
            warnings=warnings,
            data={"schedule": new.model_dump(mode="json"), "feasible": feasible},
        ),
        frame,
    )


@register("rebate_sensitivity", SensitivityArgs)
def rebate_sensitivity(store: Store, args: SensitivityArgs) -> ToolResult:
    period, frame, warnings = _scope(store, args)
    schedule = args.schedule
    eligible, _reasons, more = _eligibility(frame, schedule)
    warnings += more
    revenue = float(frame["revenue"].fillna(0).sum())
    current = _total(frame, schedule, eligible)
    rows = []
    for t_step in args.threshold_steps:
        for r_step in args.rate_steps:
            scenario = _shifted(schedule, t_step, r_step)
            paid = _paid(frame, scenario, eligible)
            total = round(float(paid.sum()), 2)
            rows.append(
                {
                    "threshold_step": round(t_step * 100, 2),
                    "rate_step": round(r_step * 100, 2),
                    "entry_threshold": round(scenario.tiers[0].threshold * 100, 2),
                    "top_rate": round(scenario.tiers[-1].rate * 100, 2),
                    "rebate_total": total,
                    "change_vs_current": round(total - current, 2),
                    "paid_partners": int((paid > 0).sum()),
                    "rebate_ratio": round(total / revenue * 100, 2) if revenue > 0 else np.nan,
                }
            )
    long = pd.DataFrame(rows)
    if any(t.rate + s < 0 for t in schedule.tiers for s in args.rate_steps):
        warnings.append("部分情景下返点调整后低于 0，已按 0 计算。")

    grid_labels: dict[str, tuple[str, str]] = {}

    def grid(name: str, value: str, unit: str, unit_en: str) -> pd.DataFrame:
        table = long.pivot(index="threshold_step", columns="rate_step", values=value)
        keys = [_step_column(c) for c in table.columns]
        grid_labels.update(
            {
                f"{name}.{key}": (f"返点{_points(c / 100)}({unit})", f"Rate {_points_en(c)} ({unit_en})")
                for key, c in zip(keys, table.columns, strict=True)
            }
        )
        table.columns = keys
        table.insert(0, "threshold_change", [f"门槛{_points(i / 100)}" for i in table.index])
        return table.reset_index(drop=True)

    lowest, highest = long.loc[long["rebate_total"].idxmin()], long.loc[long["rebate_total"].idxmax()]

    def name(row: pd.Series) -> str:
        return f"门槛{_points(row['threshold_step'] / 100)}、返点{_points(row['rate_step'] / 100)}"

    sentences = [f"当前方案合计 {_money(current)}，{int((_paid(frame, schedule, eligible) > 0).sum())} 家获返利。"]
    pieces = []
    up_t = [s for s in args.threshold_steps if s > 0]
    if up_t and 0.0 in args.rate_steps:
        row = long[(long["threshold_step"] == round(up_t[0] * 100, 2)) & (long["rate_step"] == 0)].iloc[0]
        pieces.append(
            f"门槛整体{_points(up_t[0])}时合计 {_money(row['rebate_total'])}"
            f"（{_signed_money(row['change_vs_current'])}，{int(row['paid_partners'])} 家获返利）"
        )
    up_r = [s for s in args.rate_steps if s > 0]
    if up_r and 0.0 in args.threshold_steps:
        row = long[(long["threshold_step"] == 0) & (long["rate_step"] == round(up_r[0] * 100, 2))].iloc[0]
        pieces.append(
            f"返点整体{_points(up_r[0])}时合计 {_money(row['rebate_total'])}"
            f"（{_signed_money(row['change_vs_current'])}）"
        )
    if pieces:
        sentences.append("；".join(pieces) + "。")
    sentences.append(
        f"所列 {len(long)} 个情景中最低 {_money(lowest['rebate_total'])}（{name(lowest)}），"
        f"最高 {_money(highest['rebate_total'])}（{name(highest)}）。"
    )
    return _finish(
        ToolResult(
            tool="rebate_sensitivity",
            title=f"返利敏感性分析：{period.label}",
            period=period.span,
            explanation="".join(sentences),
            formula="每个情景：所有档位门槛 + 门槛调整（不低于 0），所有档位返点 + 返点调整（不低于 0），"
            "增长奖励、封顶与前置条件不变，按原方案规则重算每家返利后加总。" + FORMULA,
            parameters=args.model_dump(mode="json"),
            tables={
                "rebate_total_grid": grid("rebate_total_grid", "rebate_total", "元", "CNY"),
                "paid_partners_grid": grid("paid_partners_grid", "paid_partners", "家", "partners"),
                "scenarios": long,
            },
            labels=LABELS | Labels(grid_labels),
            figures={
                "rebate_total_current": current,
                "rebate_total_lowest": float(lowest["rebate_total"]),
                "rebate_total_highest": float(highest["rebate_total"]),
                "scenario_count": len(long),
            },
            warnings=warnings,
            data={"schedule": schedule.model_dump(mode="json")},
        ),
        frame,
    )


def _signed_money(amount: float) -> str:
    return ("+" if amount > 0 else "−" if amount < 0 else "±") + _money(abs(amount))


def fit_to_budget(store: Store, args: dict) -> tuple[dict, str]:
    """Scale a draft's rates so its total stays within its budget; returns new arguments and the change in words.

    Shared by the chat draft's 按预算调整 and the plan documents, so both fit a budget the same way.
    """
    if not args.get("budget"):
        raise ToolError("还没有预算，无法按预算调整。请先给出预算金额，例如「预算改成150万」。")
    scope = {k: args[k] for k in ("period", "region") if args.get(k)}
    fitted = fit_rebate_budget(
        store, FitBudgetArgs(**scope, schedule=args["schedule"], budget=args["budget"], method="scale_rates")
    )
    if not fitted.data["feasible"]:
        raise ToolError(fitted.explanation)
    old = "/".join(f"{t['rate']:.2%}" for t in args["schedule"]["tiers"])
    new = "/".join(f"{t['rate']:.2%}" for t in fitted.data["schedule"]["tiers"])
    return {**args, "schedule": fitted.data["schedule"]}, f"按预算调整返点：{old} → {new}"
