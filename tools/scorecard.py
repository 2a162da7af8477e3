"""Partner scorecard and tiering: normalised, weighted KPIs -> score 0-100 -> tier A/B/C/D, with movement."""

from __future__ import annotations

import tomllib
from functools import lru_cache
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field

from company.capabilities import Availability, Missing, availability
from company.periods import Period
from company.schema import TIER_NAMES
from company.store import Store
from tools.base import COMMON_LABELS, Labels, ToolError, ToolResult, register, resolve_period
from tools.metrics import partner_metrics

DEFAULTS_FILE = Path(__file__).with_name("scorecard.toml")
KPIS: dict[str, tuple[str, str, Literal["higher", "lower"]]] = {
    # name: (Chinese label, unit, direction)
    "achievement": ("完成率", "%", "higher"),
    "growth_yoy": ("同比增长", "%", "higher"),
    "collection_rate": ("回款率", "%", "higher"),
    "inventory_days": ("库存天数", "天", "lower"),
    "price_compliance": ("价格合规", "%", "higher"),
    "territory_compliance": ("区域合规", "%", "higher"),
    "satisfaction": ("满意度", "分", "higher"),
    "training_hours": ("培训时长", "小时", "higher"),
    "revenue": ("销售规模", "元", "higher"),
}
# The data each KPI needs (company.capabilities); growth also needs sales a year before the period.
KPI_INPUTS: dict[str, tuple[str, ...]] = {
    "achievement": ("targets",),
    "growth_yoy": ("sales",),
    "collection_rate": ("collections",),
    "inventory_days": ("inventory",),
    "price_compliance": ("floor_prices",),
    "territory_compliance": ("territories", "sold_to"),
    "satisfaction": ("satisfaction",),
    "training_hours": ("training",),
    "revenue": ("sales",),
}
PERCENT_KPIS = {k for k, (_l, unit, _d) in KPIS.items() if unit == "%"}
TIER_ORDER = ("A", "B", "C", "D")
# English KPI names (the settings page shows the same ones, ui/text.yaml scorecard.kpi) and units.
KPI_EN: dict[str, str] = {
    "achievement": "Target achievement",
    "growth_yoy": "Growth year on year",
    "collection_rate": "Collection rate",
    "inventory_days": "Days of inventory",
    "price_compliance": "Price compliance",
    "territory_compliance": "Territory compliance",
    "satisfaction": "Satisfaction",
    "training_hours": "Training hours",
    "revenue": "Sales volume",
}
UNIT_EN = {"%": "%", "天": "days", "分": "points", "小时": "hours", "元": "CNY"}

LABELS = COMMON_LABELS | Labels(
    {
        # tables
        "scorecard": ("记分卡", "Scorecard"),
        "tier_distribution": ("分级分布", "Tier distribution"),
        "tier_changes": ("升降级", "Tier changes"),
        "weights": ("权重", "Weights"),
        # scorecard and tier_changes
        "partner_type": ("类型", "Type"),
        "score": ("得分", "Score"),
        "tier": ("级别", "Tier"),
        "tier_name": ("级别名称", "Tier name"),
        "previous_tier": ("上期级别", "Previous tier"),
        "movement": ("变动", "Change"),
        "gap_to_next": ("距上一级(分)", "Gap to next tier (points)"),
        "lever": ("最该提升的指标", "KPI to improve"),
        "lever_points": ("可增加(分)", "Possible gain (points)"),
        **{
            key: (f"{zh}({unit})", f"{KPI_EN[key]} ({UNIT_EN[unit]})")
            for key, (zh, unit, _d) in KPIS.items()
            if key != "revenue"  # the revenue column is 销售额(元), not the KPI's name 销售规模
        },
        # tier_distribution
        "partners": ("伙伴数", "Partners"),
        "share": ("占比(%)", "Share (%)"),
        "average_score": ("平均得分", "Average score"),
        # weights
        "kpi": ("指标", "KPI"),
        "default_weight": ("默认权重(%)", "Default weight (%)"),
        "weight": ("实际权重(%)", "Weight used (%)"),
        "status": ("说明", "Note"),
        # headline figures (partners and average_score read as the tier_distribution columns do)
        **{f"tier_{t.lower()}_partners": (f"{t}级伙伴数", f"Tier {t} partners") for t in TIER_ORDER},
        "promoted_partners": ("升级数", "Partners promoted"),
        "demoted_partners": ("降级数", "Partners demoted"),
    }
)


@lru_cache(maxsize=1)
def defaults() -> dict:
    return tomllib.loads(DEFAULTS_FILE.read_text(encoding="utf-8"))


def default_weights() -> dict[str, float]:
    return dict(defaults()["weights"])


def default_cutoffs() -> dict[str, float]:
    return dict(defaults()["tiers"])


class ScorecardArgs(BaseModel):
    """Score every channel partner for a period and assign tiers A/B/C/D (战略/核心/一般/观察).

    Call this for questions about partner evaluation, ranking, tiering, 记分卡, 考核, 分级, who should be
    promoted or demoted, or which KPI a partner should improve. KPIs: achievement (完成率), growth_yoy,
    collection_rate (回款率), inventory_days (库存天数, lower is better), price_compliance,
    territory_compliance, satisfaction, training_hours. Each KPI is normalised across all partners
    (percentile by default, or minmax), weighted (weights must sum to 1), and summed to a 0-100 score.
    The result lists each partner's score, tier, gap to the next tier, the KPI that would lift the score
    most, and the tier movement against the previous period. Filters only narrow the rows shown; scores
    are always computed against all partners.
    """

    period: str = Field("latest", description="期间 period: 2026Q3 / 2026-07 / 2026 / 本季度 / 上季度")
    weights: dict[str, float] | None = Field(None, description="指标权重 KPI weights (must sum to 1); default file")
    cutoffs: dict[str, float] | None = Field(None, description="分级线 tier cut-offs {A: 75, B: 65, C: 52}")
    normalisation: Literal["percentile", "minmax"] | None = Field(None, description="归一化方法 normalisation")
    region: str | None = Field(None, description="只看某个区域 region filter, e.g. 华东")
    partner_type: str | None = Field(None, description="只看某类伙伴 partner type filter, e.g. 经销商")
    tiers: list[Literal["A", "B", "C", "D"]] | None = Field(None, description="只看这些级别 tier filter")
    top: int | None = Field(None, ge=1, description="只列出得分最高的 N 个 top N rows")
    filters: dict[str, str] | None = Field(
        None,
        description="按列名筛选 filter by column name: partner columns (国家, 级别, 客户类型 …), sales columns "
        '(售达省份 …) or columns kept from imports (STATUS, Segment …), e.g. {"国家": "France"}',
    )


def _check_weights(weights: dict[str, float]) -> dict[str, float]:
    unknown = sorted(set(weights) - set(KPIS))
    if unknown:
        raise ToolError(
            f"未知的指标：{'、'.join(unknown)}。可用指标：{'、'.join(f'{k}（{v[0]}）' for k, v in KPIS.items())}。"
        )
    if any(w < 0 for w in weights.values()):
        raise ToolError("权重不能为负数。")
    total = sum(weights.values())
    if abs(total - 1) > 1e-6:
        suggestion = weights.get("achievement", 0) + 1 - total
        raise ToolError(f"权重之和为 {total:.4g}，必须等于 1。请调整后再算（例如完成率权重改为 {suggestion:.2f}）。")
    return {k: float(w) for k, w in weights.items() if w > 0}


def _check_cutoffs(cutoffs: dict[str, float]) -> dict[str, float]:
    if set(cutoffs) != {"A", "B", "C"}:
        raise ToolError("分级线需要给出 A、B、C 三档（低于 C 为 D），例如 {A: 75, B: 65, C: 52}。")
    if not 100 >= cutoffs["A"] > cutoffs["B"] > cutoffs["C"] >= 0:
        raise ToolError(
            f"分级线必须满足 100 ≥ A > B > C ≥ 0，当前为 A={cutoffs['A']}、B={cutoffs['B']}、C={cutoffs['C']}。"
        )
    return cutoffs


def normalise(values: pd.Series, direction: str, method: str) -> pd.Series:
    """0..1 where 1 is best; missing stays missing. Ties share the better rank, so a KPI everyone
    meets (full compliance) gives everyone 1 rather than an average rank."""
    present = values.dropna()
    out = pd.Series(np.nan, index=values.index)
    if present.empty:
        return out
    if method == "minmax":
        low, high = present.min(), present.max()
        if high == low:
            out[present.index] = 1.0
        else:
            scaled = (present - low) / (high - low)
            out[present.index] = scaled if direction == "higher" else 1 - scaled
        return out
    ranks = present.rank(method="max", pct=True, ascending=direction == "higher")
    out[present.index] = ranks
    return out


def tier_of(score: float, cutoffs: dict[str, float]) -> str:
    for tier in ("A", "B", "C"):
        if score >= cutoffs[tier]:
            return tier
    return "D"


def score_frame(
    metrics: pd.DataFrame, weights: dict[str, float], cutoffs: dict[str, float], method: str
) -> pd.DataFrame:
    """Scores, tiers, gaps and best lever for every partner row of partner_metrics."""
    frame = metrics.copy()
    norm = pd.DataFrame(
        {k: normalise(frame[k].astype("float64"), KPIS[k][2], method) for k in weights}, index=frame.index
    )
    w = pd.Series(weights)
    available = norm.notna().mul(w, axis=1).sum(axis=1)
    points = norm.fillna(0).mul(w, axis=1)
    frame["score"] = (points.sum(axis=1) / available.replace(0, np.nan) * 100).round(2)
    frame["tier"] = frame["score"].map(lambda s: tier_of(s, cutoffs) if pd.notna(s) else "D")
    # The lever: the KPI whose move to the best normalised value adds the most points.
    headroom = (1 - norm).mul(w, axis=1).div(available.replace(0, np.nan), axis=0) * 100
    has_room = headroom.notna().any(axis=1)
    frame["lever"] = headroom.fillna(-1).idxmax(axis=1).where(has_room)
    frame["lever_points"] = headroom.max(axis=1).round(2)
    next_cut = {"B": cutoffs["A"], "C": cutoffs["B"], "D": cutoffs["C"]}
    frame["gap_to_next"] = [
        round(next_cut[t] - s, 2) if t in next_cut and pd.notna(s) else np.nan
        for t, s in zip(frame["tier"], frame["score"], strict=True)
    ]
    return frame


@register("partner_scorecard", ScorecardArgs)
def partner_scorecard(store: Store, args: ScorecardArgs) -> ToolResult:
    config = defaults()
    weights = _check_weights(args.weights if args.weights is not None else default_weights())
    cutoffs = _check_cutoffs(args.cutoffs if args.cutoffs is not None else default_cutoffs())
    method = args.normalisation or config.get("normalisation", "percentile")
    notes: list[str] = []
    period = resolve_period(store, args.period, notes=notes)
    metrics = partner_metrics(store, period, args.filters)
    if metrics["revenue"].sum() == 0:
        raise ToolError(f"{period.span} 没有销售数据，无法评分。请换一个有数据的期间。")
    defaults_used = dict(weights)
    weights, missing = measured_weights(weights, availability(store), metrics, period)
    current = score_frame(metrics, weights, cutoffs, method)
    previous = _previous_tiers(store, period, weights, cutoffs, method, args.filters)
    current["previous_tier"] = current["partner_id"].map(previous)
    current["movement"] = [
        _movement(now, before) for now, before in zip(current["tier"], current["previous_tier"], strict=True)
    ]

    shown = _filter(current, args)
    table = _table(shown.sort_values("score", ascending=False))
    if args.top:
        table = table.head(args.top)
    distribution = _distribution(shown)
    moves = _table(shown[shown["movement"].isin(["升级", "降级"])].sort_values("score", ascending=False))
    counts = shown["tier"].value_counts()
    top = shown.sort_values("score", ascending=False).iloc[0] if len(shown) else None
    figures = {f"tier_{t.lower()}_partners": int(counts.get(t, 0)) for t in TIER_ORDER}
    figures |= {
        "partners": len(shown),
        "average_score": round(float(shown["score"].mean()), 2) if len(shown) else None,
        "promoted_partners": int((shown["movement"] == "升级").sum()),
        "demoted_partners": int((shown["movement"] == "降级").sum()),
    }
    tiers = "、".join(f"{t} 级 {figures[f'tier_{t.lower()}_partners']} 个" for t in TIER_ORDER)
    explanation = (
        f"{period.label}共评估 {len(shown)} 个伙伴：{tiers}；较上期升级 {figures['promoted_partners']} 个、"
        f"降级 {figures['demoted_partners']} 个。"
        + (f"得分最高的是{top['name']}（{top['score']:.1f} 分）。" if top is not None else "")
    )
    formula = (
        "得分 = Σ 权重 × 归一化指标 × 100（缺失指标不计，其余权重按比例放大）；"
        f"归一化：{'百分位排名（并列取较高名次）' if method == 'percentile' else '最小-最大缩放'}，库存天数越低越好；"
        f"分级：≥{cutoffs['A']:g} A（战略），≥{cutoffs['B']:g} B（核心），≥{cutoffs['C']:g} C（一般），其余 D（观察）"
    )
    warnings = list(notes)
    no_target = int(current["achievement"].isna().sum())
    if no_target and "achievement" in weights:
        warnings.append(f"{no_target} 个伙伴在{period.label}没有目标，完成率不参与其评分。")
    if missing:
        used = "、".join(f"{KPIS[k][0]} {w * 100:.0f}%" for k, w in weights.items())
        warnings.append(f"只按有数据的指标评分，权重已按比例放大：{used}。")
    return ToolResult(
        tool="partner_scorecard",
        title=f"伙伴记分卡与分级（{period.label}）",
        period=period.span,
        explanation=explanation,
        formula=formula,
        parameters={
            "period": period.key,
            "weights": weights,
            "cutoffs": cutoffs,
            "normalisation": method,
            "region": args.region,
            "partner_type": args.partner_type,
            "tiers": args.tiers,
            "top": args.top,
            "filters": args.filters,
        },
        tables={
            "scorecard": _drop_unmeasured(table, weights),
            "tier_distribution": distribution,
            "tier_changes": _drop_unmeasured(moves, weights),
            "weights": _weights_table(defaults_used, weights, missing),
        },
        labels=LABELS,
        figures=figures,
        warnings=warnings,
        missing=missing,
        data=shown,
    )


def measured_weights(
    weights: dict[str, float], available: Availability, metrics: pd.DataFrame, period: Period
) -> tuple[dict[str, float], list[Missing]]:
    """The weights of KPIs the data measures, renormalised to 1; each dropped KPI as a Missing.

    Without targets, achievement's weight goes to sales scale (the partner's revenue percentile), so a
    dataset of sales alone still ranks its largest customers fairly."""
    kept: dict[str, float] = {}
    missing: list[Missing] = []
    for key, weight in weights.items():
        lacking = available.lacking(KPI_INPUTS[key])
        if lacking:
            instead = f"「{KPIS[key][0]}」（权重 {weight * 100:.0f}%）不参与评分"
            if key == "achievement":
                instead = f"没有完成率，其权重 {weight * 100:.0f}% 改按销售规模（销售额在全部伙伴中的百分位）计分"
                kept["revenue"] = kept.get("revenue", 0.0) + weight
            missing += [available.missing(k, instead) for k in lacking]
            continue
        if metrics[key].notna().sum() == 0:
            what = f"{period.year_ago.label}的销售" if key == "growth_yoy" else f"{period.label}的{KPIS[key][0]}数据"
            missing.append(
                Missing(key, what, f"「{KPIS[key][0]}」（权重 {weight * 100:.0f}%）不参与评分", f"导入{what}")
            )
            continue
        kept[key] = kept.get(key, 0.0) + weight
    total = sum(kept.values())
    if not total:
        raise ToolError("没有任何可计算的评分指标。请至少导入销售明细。")
    return {k: w / total for k, w in kept.items()}, missing


def _weights_table(default: dict[str, float], used: dict[str, float], missing: list[Missing]) -> pd.DataFrame:
    rows = []
    for key in dict.fromkeys([*default, *used]):
        rows.append(
            {
                "kpi": KPIS[key][0],
                "default_weight": round(default.get(key, 0.0) * 100, 2),
                "weight": round(used.get(key, 0.0) * 100, 2),
                "status": "已计入" if key in used else "缺少数据，未计入",
            }
        )
    return pd.DataFrame(rows)


def _drop_unmeasured(table: pd.DataFrame, weights: dict[str, float]) -> pd.DataFrame:
    drop = [key for key in KPIS if key not in weights and key != "revenue"]
    return table.drop(columns=[c for c in drop if c in table.columns])


def _previous_tiers(store, period: Period, weights, cutoffs, method, filters=None) -> dict[str, str]:
    previous = partner_metrics(store, period.previous, filters)
    if previous["revenue"].sum() == 0:
        return {}
    scored = score_frame(previous, weights, cutoffs, method)
    return dict(zip(scored["partner_id"], scored["tier"], strict=True))


def _movement(now: str, before) -> str:
    if not isinstance(before, str):
        return "新进"
    if now == before:
        return "持平"
    return "升级" if TIER_ORDER.index(now) < TIER_ORDER.index(before) else "降级"


def _filter(frame: pd.DataFrame, args: ScorecardArgs) -> pd.DataFrame:
    for column, value, label in (("region", args.region, "区域"), ("type", args.partner_type, "伙伴类型")):
        if value:
            known = sorted(frame[column].dropna().unique())
            if value not in known:
                raise ToolError(f"没有{label}「{value}」。可选：{'、'.join(known)}。")
            frame = frame[frame[column] == value]
    if args.tiers:
        frame = frame[frame["tier"].isin(args.tiers)]
    return frame


def _table(frame: pd.DataFrame) -> pd.DataFrame:
    out = pd.DataFrame(
        {
            "partner_id": frame["partner_id"],
            "name": frame["name"],
            "region": frame["region"],
            "partner_type": frame["type"],
            "score": frame["score"],
            "tier": frame["tier"],
            "tier_name": frame["tier"].map(TIER_NAMES),
            "previous_tier": frame["previous_tier"],
            "movement": frame["movement"],
            "gap_to_next": frame["gap_to_next"],
            "lever": frame["lever"].map(lambda k: KPIS[k][0] if isinstance(k, str) else None),
            "lever_points": frame["lever_points"],
        }
    )
    for key in KPIS:
        if key == "revenue":
            continue  # shown as 销售额 below
        values = frame[key].astype("float64")
        out[key] = (values * 100).round(2) if key in PERCENT_KPIS else values.round(2)
    out["revenue"] = frame["revenue"].round(2)
    return out.reset_index(drop=True)


def _distribution(frame: pd.DataFrame) -> pd.DataFrame:
    counts = frame["tier"].value_counts().reindex(list(TIER_ORDER), fill_value=0)
    total = int(counts.sum())
    return pd.DataFrame(
        {
            "tier": list(TIER_ORDER),
            "tier_name": [TIER_NAMES[t] for t in TIER_ORDER],
            "partners": counts.to_numpy(),
            "share": [round(c / total * 100, 2) if total else 0.0 for c in counts],
            "average_score": [
                round(float(frame.loc[frame["tier"] == t, "score"].mean()), 2) if c else None
                for t, c in zip(TIER_ORDER, counts, strict=True)
            ],
        }
    )
