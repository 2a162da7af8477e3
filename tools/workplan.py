"""Quarterly channel work plan built from the scorecard, cost, conflict and rebate results (a structured plan)."""

from __future__ import annotations

from datetime import date

import pandas as pd
from pydantic import BaseModel, Field

from company.capabilities import Missing
from company.periods import Period, PeriodError, parse_period, period_of
from company.store import Store
from tools.base import TOOLS, Labels, ToolError, ToolResult, register, span_of
from tools.metrics import partner_metrics, period_total, period_totals
from tools.scorecard import KPIS

# The goals a plan can set: canonical key -> (Chinese name, English name). The figures are <key>_target and
# <key>_baseline, labelled 销售额目标 / Revenue target.
GOALS: dict[str, tuple[str, str]] = {
    "revenue": ("销售额", "Revenue"),
    "on_target_share": ("达标伙伴占比", "On-target partner share"),
    "expense_ratio": ("费用率", "Expense ratio"),
    "collection_rate": ("回款率", "Collection rate"),
    "high_severity_conflicts": ("高严重度渠道冲突", "High-severity channel conflicts"),
    "ab_tier_share": ("A/B级伙伴占比", "Tier A/B partner share"),
}

LABELS = Labels(
    {
        # tables
        "goals": ("目标", "Goals"),
        "measures": ("措施", "Measures"),
        "phases": ("阶段安排", "Phases"),
        "kpis": ("考核指标", "KPIs"),
        # columns
        "area": ("领域", "Area"),
        "goal": ("目标", "Goal"),
        "baseline": ("基线", "Baseline"),
        "target": ("目标值", "Target"),
        "kpis.target": ("目标", "Target"),
        "unit": ("单位", "Unit"),
        "basis": ("依据", "Basis"),
        "action": ("措施", "Measure"),
        "detail": ("说明", "Detail"),
        "owner": ("负责", "Owner"),
        "partners": ("涉及伙伴", "Partners concerned"),
        "phase": ("阶段", "Phase"),
        "weeks": ("周次", "Weeks"),
        "start": ("开始", "Start"),
        "end": ("结束", "End"),
        "tasks": ("主要任务", "Main tasks"),
        "kpi": ("指标", "KPI"),
        "formula": ("计算", "Formula"),
        "review_dates": ("复盘日期", "Review dates"),
        # headline figures
        **{f"{key}_target": (f"{zh}目标", f"{en} target") for key, (zh, en) in GOALS.items()},
        **{f"{key}_baseline": (f"{zh}基线", f"{en} baseline") for key, (zh, en) in GOALS.items()},
    }
)

ROLES = {
    "渠道总监": "整体目标与资源调配，主持月度与季度复盘",
    "区域经理": "伙伴一对一整改与冲级辅导、终端走访",
    "渠道管理部": "渠道秩序（窜货、乱价、压货）核查与处理，记分卡维护",
    "财务部": "费用复核、回款跟踪与返利核算",
    "市场部": "促销与培训资源、伙伴满意度调查",
}


class Goal(BaseModel):
    area: str
    key: str  # canonical, one of GOALS: names the plan's figures (revenue -> revenue_target, revenue_baseline)
    name: str
    baseline: float | None
    target: float
    unit: str
    basis: str


class Measure(BaseModel):
    area: str
    action: str
    detail: str
    owner: str
    partners: list[str] = Field(default_factory=list)
    source: str


class Phase(BaseModel):
    name: str
    start: date
    end: date
    weeks: str
    tasks: list[str]
    owner: str


class Kpi(BaseModel):
    name: str
    formula: str
    baseline: float | None
    target: float
    unit: str
    owner: str
    review_dates: list[date]


class WorkPlan(BaseModel):
    """A quarterly distribution work plan: goals with numbers, measures by area, phases, owners, KPIs."""

    title: str
    quarter: str
    region: str | None
    basis_period: str
    goals: list[Goal]
    measures: list[Measure]
    phases: list[Phase]
    kpis: list[Kpi]
    owners: dict[str, str]
    risks: list[str]
    review_dates: list[date]


class WorkPlanArgs(BaseModel):
    """Draft a quarterly channel work plan (季度渠道工作计划) with goals, measures, phases, owners and KPIs.

    Call this when the user asks for a quarterly (work) plan, 季度计划, 工作计划, or what to do next quarter.
    It runs the partner scorecard, the cost analysis, the conflict check and the rebate simulation on the
    quarter before the plan quarter (the basis), and turns their numbers into goals (sales, share of
    partners on target, expense ratio, collection rate, channel order, partner structure), measures naming
    the partners concerned, three monthly phases with dates, owners by role and KPIs with review dates.
    """

    quarter: str | None = Field(
        None, description="计划季度 plan quarter, e.g. 2026Q4; default: the quarter after the data"
    )
    region: str | None = Field(None, description="只为某个区域做计划 region, e.g. 华东")
    revenue_growth: float = Field(
        0.08, ge=-0.5, le=2, description="销售额目标：较去年同季增长 growth vs same quarter last year"
    )
    cost_cut_points: float = Field(0.5, ge=0, le=20, description="费用率目标：下降的百分点 expense-ratio cut in points")
    collection_target: float = Field(0.95, gt=0, le=1, description="回款率目标 collection-rate target")


def _plan_quarter(store: Store, text: str | None) -> tuple[Period, Period, list[str]]:
    """The plan quarter (a future quarter needs no data), its basis quarter, and notes about both.

    Default: the quarter after the data's last complete quarter. The basis is the quarter before the plan
    when the data covers it fully, else the latest complete quarter before it."""
    span = span_of(store)
    notes: list[str] = []
    latest = span.latest_complete("quarter")
    if text:
        try:
            quarter = parse_period(text, span.today)
        except PeriodError as exc:
            raise ToolError(exc.message) from None
        if quarter.grain != "quarter":
            raise ToolError(f"工作计划按季度制定，请写成 2026Q4 这样的季度，收到的是「{text}」。")
    else:  # the quarter after the last complete one, so the basis is a whole quarter of data
        quarter = latest.shift(1) if latest else period_of("quarter", span.last).shift(1)
    basis = quarter.previous
    coverage = span.coverage(basis)
    if coverage == "none":
        suggestion = f"请选择 {latest.shift(1).key}。" if latest else ""
        raise ToolError(f"{basis.label}没有销售数据（{span.until}），计划需要上一季度的实际数据作基础。{suggestion}")
    if coverage == "partial":
        if latest is not None and latest == basis.previous:
            notes.append(f"{span.until}，{basis.label}数据不完整，计划以最近一个完整季度 {latest.label} 为基础。")
            basis = latest
        else:
            notes.append(f"{span.until}，{basis.label}只有部分数据，计划基础按已有数据计算。")
    return quarter, basis, notes


def _review_dates(quarter: Period) -> list[date]:
    """The 5th of each month of the quarter, and the 5th of the month after (the quarter review)."""
    first = period_of("month", quarter.start)
    return [date(m.start.year, m.start.month, 5) for m in (first.shift(i) for i in range(4))]


def _phases(quarter: Period, focus: dict[str, list[str]]) -> list[Phase]:
    starts = [period_of("month", quarter.start).shift(i) for i in range(3)]
    names = ("诊断与部署", "执行与跟进", "冲刺与复盘")
    weeks = ("第1-4周", "第5-8周", "第9-13周")
    owners = ("渠道总监", "区域经理", "渠道总监")
    return [
        Phase(
            name=names[i],
            start=m.start,
            end=m.end if i < 2 else quarter.end,
            weeks=weeks[i],
            tasks=focus[names[i]],
            owner=owners[i],
        )
        for i, m in enumerate(starts)
    ]


def _names(frame: pd.DataFrame, limit: int = 5) -> list[str]:
    return [f"{row['name']}（{row['partner_id']}）" for _, row in frame.head(limit).iterrows()]


SECTIONS = {
    "partner_scorecard": "伙伴记分卡",
    "cost_analysis": "费用分析",
    "detect_conflicts": "渠道冲突排查",
    "simulate_rebate": "返利测算",
}


@register("quarterly_work_plan", WorkPlanArgs)
def quarterly_work_plan(store: Store, args: WorkPlanArgs) -> ToolResult:
    quarter, basis, period_notes = _plan_quarter(store, args.quarter)
    metrics = partner_metrics(store, basis)
    if args.region:
        regions = sorted(metrics["region"].dropna().unique())
        if args.region not in regions:
            raise ToolError(f"没有区域「{args.region}」。可选：{'、'.join(regions)}。")
        metrics = metrics[metrics["region"] == args.region]
    if metrics["revenue"].sum() == 0:
        raise ToolError(f"计划基于上一季度（{basis.span}）的数据，但该季度没有销售。请选择数据之后的季度做计划。")

    scope = {"region": args.region} if args.region else {}
    missing: list[Missing] = []

    def section(name: str) -> ToolResult | None:
        """A part of the plan from another tool; when the data cannot support it, the plan says so."""
        try:
            result = TOOLS[name](store, {"period": basis.key, **scope})
        except ToolError as exc:
            missing.append(Missing(name, SECTIONS[name], f"计划里没有这一部分（{exc.message}）", "补充上面提到的数据"))
            return None
        for item in result.missing:
            if item not in missing:
                missing.append(item)
        return result

    card = section("partner_scorecard")
    cost = section("cost_analysis")
    conflicts = section("detect_conflicts")
    rebate = section("simulate_rebate")

    goals = _goals(store, quarter, basis, metrics, card, cost, conflicts, args)
    by_region = period_totals(store, basis, ["achievement"], args.region, by="region")["achievement"]
    measures = _measures(metrics, by_region, card, cost, conflicts, rebate)
    focus = {
        "诊断与部署": [
            "召开季度启动会，向伙伴发布目标与返利政策",
            "区域经理与 D 级伙伴逐一面谈，签订整改计划",
            "对高、中严重度的窜货/乱价/压货案件核实证据并书面通知",
        ],
        "执行与跟进": [
            "每周跟踪完成率、回款与库存，发现偏差当周纠正",
            "对临近升级的伙伴做冲级辅导",
            "复核费用率最高渠道的费用明细，停止低效投入",
        ],
        "冲刺与复盘": [
            "季末冲刺但不压货：按动销而非进货考核",
            "核算返利与回款，兑现前置条件",
            "季度复盘：更新记分卡与分级，确定下季度调整",
        ],
    }
    phases = _phases(quarter, focus)
    reviews = _review_dates(quarter)
    kpis = [
        Kpi(
            name=g.name,
            formula=KPI_FORMULAS.get(g.key, ""),
            baseline=g.baseline,
            target=g.target,
            unit=g.unit,
            owner=KPI_OWNERS.get(g.key, "渠道总监"),
            review_dates=reviews,
        )
        for g in goals
    ]
    scope_label = store.scope_label(args.region)
    plan = WorkPlan(
        title=f"{quarter.label}渠道工作计划（{scope_label}）",
        quarter=quarter.key,
        region=args.region,
        basis_period=basis.span,
        goals=goals,
        measures=measures,
        phases=phases,
        kpis=kpis,
        owners=dict(ROLES),
        risks=_risks(cost, conflicts, card),
        review_dates=reviews,
    )
    return ToolResult(
        tool="quarterly_work_plan",
        title=plan.title,
        period=quarter.span,
        explanation=(
            f"以{basis.label}的实际数据为基础，为{quarter.label}（{scope_label}）设定 {len(goals)} 项目标、"
            f"{len(measures)} 条措施、3 个阶段，月度复盘日为 {'、'.join(d.isoformat() for d in reviews[:3])}，"
            f"季度复盘日为 {reviews[3].isoformat()}。"
        ),
        formula="销售额目标 = 去年同季销售额 × (1 + 增长率)（无去年同季数据时用上季度）；"
        "费用率目标 = 上季度费用率 − 下降点数；回款率目标 = max(上季度回款率, 目标回款率)；"
        "达标伙伴占比目标 = 上季度占比 + 10 个百分点（不超过 100%）",
        parameters={"quarter": quarter.key, "basis": basis.key, **args.model_dump()},
        tables={
            "goals": _goal_table(goals),
            "measures": _measure_table(measures),
            "phases": _phase_table(phases),
            "kpis": _kpi_table(kpis),
        },
        labels=LABELS,
        figures={f"{g.key}_target": g.target for g in goals} | {f"{g.key}_baseline": g.baseline for g in goals},
        warnings=[*period_notes, *(w for r in (card, cost, conflicts) if r is not None for w in r.warnings)],
        missing=missing,
        data=plan,
    )


KPI_FORMULAS = {
    "revenue": "Σ 销售额（元）",
    "on_target_share": "完成率 ≥ 100% 的伙伴数 ÷ 有目标的伙伴数",
    "expense_ratio": "渠道费用 ÷ 销售额",
    "collection_rate": "实收 ÷ 应收",
    "high_severity_conflicts": "未处理完毕的高严重度案件数",
    "ab_tier_share": "A、B 级伙伴数 ÷ 伙伴总数",
}
KPI_OWNERS = {
    "revenue": "渠道总监",
    "on_target_share": "区域经理",
    "expense_ratio": "财务部",
    "collection_rate": "财务部",
    "high_severity_conflicts": "渠道管理部",
    "ab_tier_share": "区域经理",
}


def _goals(store, quarter, basis, metrics, card, cost, conflicts, args) -> list[Goal]:
    year_ago = partner_metrics(store, quarter.year_ago)
    if args.region:
        year_ago = year_ago[year_ago["region"] == args.region]
    seasonal = float(year_ago["revenue"].sum())
    base_revenue = float(metrics["revenue"].sum())
    reference, basis_text = (
        (seasonal, f"{quarter.year_ago.label}销售额") if seasonal > 0 else (base_revenue, f"{basis.label}销售额")
    )
    with_target = metrics[metrics["achievement"].notna()]
    on_target = float((with_target["achievement"] >= 1).mean() * 100) if len(with_target) else None
    ratio = cost.figures.get("expense_ratio") if cost is not None else None
    collection = period_total(store, basis, "collection_rate", args.region)
    high = int(conflicts.figures.get("high_severity_findings", 0)) if conflicts is not None else None
    tiers = card.data["tier"].value_counts() if card is not None else pd.Series(dtype=int)
    ab_share = (
        float((tiers.get("A", 0) + tiers.get("B", 0)) / len(card.data) * 100)
        if card is not None and len(card.data)
        else None
    )
    goals = [
        Goal(
            area="销售",
            key="revenue",
            name=GOALS["revenue"][0],
            baseline=round(base_revenue, 2),
            target=round(reference * (1 + args.revenue_growth), 2),
            unit="元",
            basis=f"{basis_text} {reference:,.2f} 元 × (1 + {args.revenue_growth:.0%})",
        ),
    ]
    if on_target is not None:
        goals.append(
            Goal(
                area="伙伴管理",
                key="on_target_share",
                name=GOALS["on_target_share"][0],
                baseline=round(on_target, 2),
                target=round(min(100.0, on_target + 10), 2),
                unit="%",
                basis=f"{basis.label}完成率 ≥ 100% 的伙伴占比",
            )
        )
    if ratio is not None:
        goals.append(
            Goal(
                area="费用控制",
                key="expense_ratio",
                name=GOALS["expense_ratio"][0],
                baseline=ratio,
                target=round(max(0.0, ratio - args.cost_cut_points), 2),
                unit="%",
                basis=f"{basis.label}费用率 {ratio}% − {args.cost_cut_points} 个百分点",
            )
        )
    if collection is not None:
        goals.append(
            Goal(
                area="回款",
                key="collection_rate",
                name=GOALS["collection_rate"][0],
                baseline=round(collection * 100, 2),
                target=round(max(collection, args.collection_target) * 100, 2),
                unit="%",
                basis=f"{basis.label}回款率与目标 {args.collection_target:.0%} 取高者",
            )
        )
    if high is not None:
        goals.append(
            Goal(
                area="渠道秩序",
                key="high_severity_conflicts",
                name=GOALS["high_severity_conflicts"][0],
                baseline=high,
                target=0,
                unit="件",
                basis=f"{basis.label}排查出的高严重度窜货/乱价/压货/下滑案件",
            )
        )
    if ab_share is not None:
        goals.append(
            Goal(
                area="伙伴结构",
                key="ab_tier_share",
                name=GOALS["ab_tier_share"][0],
                baseline=round(ab_share, 2),
                target=round(min(100.0, ab_share + 5), 2),
                unit="%",
                basis=f"{basis.label}记分卡分级",
            )
        )
    return goals


def _measures(metrics, achievement_by_region, card, cost, conflicts, rebate) -> list[Measure]:
    scored = card.data if card is not None else pd.DataFrame(columns=["tier", "score", "gap_to_next", "lever"])
    measures: list[Measure] = []
    weak = scored[scored["tier"] == "D"].sort_values("score")
    if len(weak):
        measures.append(
            Measure(
                area="伙伴管理",
                action=f"与 {len(weak)} 家 D 级（观察）伙伴签订整改计划",
                detail="逐一面谈，按其最弱指标定整改目标，季度末未改善的列入优化名单",
                owner="区域经理",
                partners=_names(weak),
                source="partner_scorecard",
            )
        )
    near = scored[(scored["tier"] == "C") & (scored["gap_to_next"] <= 5)].sort_values("gap_to_next")
    if len(near):
        lever = near["lever"].mode().iloc[0] if near["lever"].notna().any() else None
        measures.append(
            Measure(
                area="伙伴管理",
                action=f"辅导 {len(near)} 家距 B 级不足 5 分的伙伴冲级",
                detail=f"重点提升{KPIS[lever][0] if lever else '薄弱指标'}，每两周复核一次",
                owner="区域经理",
                partners=_names(near),
                source="partner_scorecard",
            )
        )
    worst = achievement_by_region.dropna().sort_values()  # 完成率 as the semantic layer defines it, per region
    if len(worst) > 1:
        measures.append(
            Measure(
                area="网络建设",
                action=f"在完成率最低的{worst.index[0]}区优化网点",
                detail=f"{worst.index[0]}上季度完成率 {worst.iloc[0]:.1%}：排查空白城市与低效网点，补充或替换伙伴",
                owner="渠道总监",
                source="partner_metrics",
            )
        )
    figures = cost.figures if cost is not None else {}
    high_group, high_ratio = figures.get("highest_ratio_group"), figures.get("highest_expense_ratio")
    if high_group:
        measures.append(
            Measure(
                area="费用控制",
                action=f"复核费用率最高的「{high_group}」渠道费用",
                detail=f"上季度费用率 {high_ratio}%（整体 {cost.figures['expense_ratio']}%）："
                "逐项核对物流、促销与人员费用，停止投入产出比低的活动",
                owner="财务部",
                source="cost_analysis",
            )
        )
    for finding in [f for f in (conflicts.data if conflicts is not None else []) if f.severity in ("高", "中")][:6]:
        measures.append(
            Measure(
                area="渠道秩序",
                action=f"处理{finding.kind_zh}：{finding.partner_name}",
                detail=f"{finding.summary} {finding.suggested_action}",
                owner="渠道管理部",
                partners=[f"{finding.partner_name}（{finding.partner_id}）"],
                source="detect_conflicts",
            )
        )
    low_sat = metrics[metrics["satisfaction"].notna()].sort_values("satisfaction").head(5)
    if len(low_sat):
        measures.append(
            Measure(
                area="客户满意度",
                action="走访满意度最低的伙伴",
                detail=f"满意度 {low_sat['satisfaction'].min():.1f}~{low_sat['satisfaction'].max():.1f} 分："
                "了解返利兑现、到货与价格方面的意见，两周内答复",
                owner="市场部",
                partners=_names(low_sat),
                source="partner_metrics",
            )
        )
    total = rebate.figures.get("rebate_total") if rebate is not None else None
    if total is not None:
        measures.append(
            Measure(
                area="激励",
                action="按现行阶梯返利测算本季返利预算",
                detail=f"按上季度数据测算返利合计 {total:,.2f} 元，"
                f"{rebate.figures.get('near_next_tier_partners', 0)} 家伙伴临近下一档；"
                "前置条件（回款率、无窜货乱价）照常执行",
                owner="财务部",
                source="simulate_rebate",
            )
        )
    return measures


def _risks(cost, conflicts, card) -> list[str]:
    risks = ["季末冲量可能引发压货与窜货：返利按动销和回款核算，季末两周加密库存核查。"]
    if cost is not None and cost.figures.get("concentration_verdict") == "高度集中":
        risks.append(f"销售高度集中（HHI {cost.figures['hhi']}）：头部伙伴变动风险大，需培育第二梯队。")
    if conflicts is not None and conflicts.figures.get("findings_total", 0):
        risks.append(
            f"上季度发现 {conflicts.figures['findings_total']} 起渠道冲突信号，处理不及时会影响价格体系与伙伴信心。"
        )
    if card is not None and card.figures.get("demoted_partners", 0):
        risks.append(f"上季度有 {card.figures['demoted_partners']} 家伙伴降级，需防止其流失或消极经营。")
    return risks


def _goal_table(goals: list[Goal]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "area": g.area,
                "goal": g.name,
                "baseline": g.baseline,
                "target": g.target,
                "unit": g.unit,
                "basis": g.basis,
            }
            for g in goals
        ]
    )


def _measure_table(measures: list[Measure]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "area": m.area,
                "action": m.action,
                "detail": m.detail,
                "owner": m.owner,
                "partners": "、".join(m.partners),
            }
            for m in measures
        ]
    )


def _phase_table(phases: list[Phase]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "phase": p.name,
                "weeks": p.weeks,
                "start": p.start.isoformat(),
                "end": p.end.isoformat(),
                "tasks": "；".join(p.tasks),
                "owner": p.owner,
            }
            for p in phases
        ]
    )


def _kpi_table(kpis: list[Kpi]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "kpi": k.name,
                "formula": k.formula,
                "baseline": k.baseline,
                "target": k.target,
                "unit": k.unit,
                "owner": k.owner,
                "review_dates": "、".join(d.isoformat() for d in k.review_dates),
            }
            for k in kpis
        ]
    )
