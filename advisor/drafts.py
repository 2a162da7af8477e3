"""Plan drafts as structured data: an incentive plan, a quarterly work plan and a channel strategy.

A draft keeps the arguments that produced it; a revision changes those arguments, runs the tools
again and reports what changed, so "门槛提高到110%再算" recomputes rather than edits text.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

from advisor.composer import guidance_block, md_table, template
from advisor.types import AnswerTable, ChartSpec, Draft
from company.store import Store
from company.units import money
from retrieval.citations import Citations
from tools.base import ToolError
from tools.incentive import DEFAULT_SCHEDULE, RebateSchedule, fit_to_budget
from tools.registry import TOOLS

Search = Callable[..., Any]  # KnowledgeBase.search or None


@dataclass
class Built:
    draft: Draft
    tables: list[AnswerTable]
    charts: list[ChartSpec]
    citations: Citations
    numbers: set[float]
    period: str
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # changes the builder made itself (e.g. fitted rates)


def _search(search: Search | None, query: str, topics: list[str]):
    return search(query, k=4, topics=topics) if search else None


# ---- incentive plan ----------------------------------------------------------------------------------
def incentive_args(slots: dict) -> dict:
    schedule = DEFAULT_SCHEDULE.model_dump()
    args: dict[str, Any] = {"period": "latest", "schedule": schedule, "region": None, "budget": None}
    return apply_incentive_slots(args, slots)[0]


def apply_incentive_slots(args: dict, slots: dict) -> tuple[dict, list[str]]:
    """Apply the user's changes; returns the new arguments and what was changed, in words."""
    new = {**args, "schedule": {**args["schedule"], "tiers": [dict(t) for t in args["schedule"]["tiers"]]}}
    changes: list[str] = []
    tiers = new["schedule"]["tiers"]
    if "threshold" in slots:
        old_first = tiers[0]["threshold"]
        shift = slots["threshold"] - old_first
        # Raise the entry threshold; later tiers keep their spacing only where they would otherwise overlap.
        tiers[0]["threshold"] = round(slots["threshold"], 4)
        for previous, tier in pairwise(tiers):
            if tier["threshold"] <= previous["threshold"]:
                tier["threshold"] = round(tier["threshold"] + shift, 4)
        changes.append(f"入门门槛：{old_first:.0%} → {slots['threshold']:.0%}")
    if "rate_delta" in slots:
        for tier in tiers:
            tier["rate"] = round(max(0.0, tier["rate"] + slots["rate_delta"]), 6)
        changes.append(f"各档返点：{slots['rate_delta'] * 100:+.1f} 个百分点")
    if "mode" in slots and slots["mode"] != new["schedule"]["mode"]:
        new["schedule"]["mode"] = slots["mode"]
        changes.append("计算方式：" + ("分段累进" if slots["mode"] == "marginal" else "全额累进"))
    if "budget" in slots:
        changes.append(f"预算：{money(args.get('budget'))} → {money(slots['budget'])}")
        new["budget"] = slots["budget"]
    if "region" in slots and slots["region"] != args.get("region"):
        changes.append(f"范围：{args.get('region') or '全国'} → {slots['region'] or '全国'}")
        new["region"] = slots["region"]
    if "period" in slots and slots["period"] not in ("next",):
        changes.append(f"测算期间：{args['period']} → {slots['period']}")
        new["period"] = slots["period"]
    if slots.get("fit_budget"):
        new["fit"] = True  # build_incentive scales the rates to the budget with fit_rebate_budget
    return new, changes


def build_incentive(store: Store, args: dict, search: Search | None, version: int = 1) -> Built:
    fit_note = None
    if args.get("fit"):
        args, fit_note = fit_to_budget(store, {k: v for k, v in args.items() if k != "fit"})
    result = TOOLS["simulate_rebate"](store, {k: v for k, v in args.items() if v is not None})
    schedule = RebateSchedule.model_validate(args["schedule"])
    citations = Citations()
    detail = result.tables["返利明细"]
    paid = detail[detail["返利(元)"] > 0].sort_values("返利(元)", ascending=False)
    examples = []
    for _, row in paid.head(2).iterrows():
        examples.append(
            f"- {row['伙伴名称']}：销售额 {money(row['销售额(元)'])}，目标 {money(row['目标(元)'])}，"
            f"完成率 {row['完成率(%)']:.2f}%，达到 {row['达到档位']}（返点 {row['档位返点(%)']:.2f}%），"
            f"返利 {money(row['返利(元)'])}。"
        )
    ineligible = detail[detail["符合条件"] == "否"].head(1)
    for _, row in ineligible.iterrows():
        examples.append(
            f"- {row['伙伴名称']}：完成率 {row['完成率(%)']:.2f}%，但{row['不符合原因']}，本期不返利"
            f"（应得 {money(row['应得返利(元)'])}）。"
        )
    figures = result.figures
    simulation = [result.explanation]
    if args.get("budget"):
        simulation.append(
            f"预算 {money(args['budget'])}，测算合计 {money(figures['返利合计(元)'])}，"
            f"差额 {money(figures.get('预算差额(元)'))}（正数为超出）。"
        )
    conditions = [f"- 回款率不低于 {schedule.min_collection_rate:.0%}。"]
    if schedule.require_territory_compliance:
        conditions.append("- 考核期内无跨区销售（窜货），发现即取消当期返利。")
    if schedule.require_price_compliance:
        conditions.append("- 考核期内无低于最低限价的销售（乱价）。")
    scope = args.get("region") or "全国"
    eligibility = (
        f"{scope}范围内在考核期有销售目标的"
        + ("、".join(schedule.partner_types) if schedule.partner_types else "全部渠道伙伴")
        + f"，共 {figures['伙伴数']} 家参与测算。"
    )
    guidance = guidance_block(
        _search(search, "阶梯返利 门槛 返点 前置条件 预算", ["incentive"]),
        "阶梯返利 门槛 返点 前置条件 预算 公平",
        citations,
        passages=3,
    )
    title = f"{scope}渠道返利方案"
    markdown = template(
        "incentive_plan",
        title=title,
        period=result.period,
        partner_count=figures["伙伴数"],
        version=version,
        eligibility=eligibility,
        mode_text="全额累进（达到某档后全部销售额按该档返点）"
        if schedule.mode == "full"
        else "分段累进（各段完成率分别按所在档返点）",
        tier_table=md_table(result.tables["返利方案"]),
        conditions="\n".join(conditions),
        simulation="\n\n".join(simulation),
        by_tier_table=md_table(result.tables["按档位汇总"]),
        examples="\n".join(examples) or "（本期没有获返利的伙伴。）",
        guidance=guidance + ("\n\n" + citations.reference_list() if citations.items else ""),
    )
    draft = Draft(
        kind="incentive",
        title=title,
        args=args,
        markdown=markdown,
        version=version,
        figures={k: v for k, v in figures.items() if isinstance(v, int | float | str) or v is None},
    )
    tables = [
        AnswerTable(name=n, frame=result.tables[n])
        for n in ("返利方案", "按档位汇总", "按区域汇总", "返利明细")
        if n in result.tables
    ]
    charts = [ChartSpec(kind="bar", table="按档位汇总", x="档位", y="返利(元)", title="各档位返利(元)")]
    return Built(
        draft,
        tables,
        charts,
        citations,
        result.numbers(),
        result.period,
        result.warnings,
        [fit_note] if fit_note else [],
    )


# ---- quarterly work plan -------------------------------------------------------------------------------
def work_plan_args(slots: dict) -> dict:
    args = {"quarter": None, "region": None, "revenue_growth": 0.08}
    return apply_work_plan_slots(args, slots)[0]


def apply_work_plan_slots(args: dict, slots: dict) -> tuple[dict, list[str]]:
    new, changes = dict(args), []
    if "region" in slots and slots["region"] != args.get("region"):
        changes.append(f"范围：{args.get('region') or '全国'} → {slots['region'] or '全国'}")
        new["region"] = slots["region"]
    period = slots.get("period")
    if period and period not in ("next", "上季度", "本季度") and period != args.get("quarter"):
        changes.append(f"计划季度：{args.get('quarter') or '下一季度'} → {period}")
        new["quarter"] = period
    if "growth" in slots:
        changes.append(f"销售增长目标：{args['revenue_growth']:.0%} → {slots['growth']:.0%}")
        new["revenue_growth"] = slots["growth"]
    return new, changes


def build_work_plan(store: Store, args: dict, search: Search | None, version: int = 1) -> Built:
    result = TOOLS["quarterly_work_plan"](store, {k: v for k, v in args.items() if v is not None})
    plan = result.data
    basis = plan.basis_period.split("（")[0]
    scope = {"region": args["region"]} if args.get("region") else {}
    card = TOOLS["partner_scorecard"](store, {"period": basis_key(plan.basis_period), **scope})
    cost = TOOLS["cost_analysis"](store, {"period": basis_key(plan.basis_period), **scope})
    rebate = TOOLS["simulate_rebate"](store, {"period": basis_key(plan.basis_period), **scope})
    citations = Citations()
    review = (
        f"{basis}记分卡：{card.explanation}\n\n{md_table(card.tables['分级分布'])}\n\n"
        f"{basis}费用：{cost.explanation}\n\n{md_table(cost.tables['按渠道类型'])}"
    )
    incentive = f"沿用现行阶梯返利，按{basis}数据测算：{rebate.explanation}"
    guidance = guidance_block(
        _search(search, "季度工作计划 目标 措施 复盘", ["templates", "monitoring"]),
        "季度工作计划 目标 措施 阶段 复盘 考核",
        citations,
        passages=3,
    )
    markdown = template(
        "work_plan",
        title=plan.title,
        period=result.period,
        basis=plan.basis_period,
        version=version,
        goals=md_table(result.tables["目标"]),
        review=review,
        measures=md_table(result.tables["措施"], 20),
        phases=md_table(result.tables["阶段安排"]),
        incentive=incentive,
        risks="\n".join(f"- {r}" for r in plan.risks),
        kpis=md_table(result.tables["考核指标"]),
        guidance=guidance + ("\n\n" + citations.reference_list() if citations.items else ""),
    )
    numbers = result.numbers() | card.numbers() | cost.numbers() | rebate.numbers()
    draft = Draft(
        kind="work_plan",
        title=plan.title,
        args=args,
        markdown=markdown,
        version=version,
        figures={k: v for k, v in result.figures.items() if v is not None},
    )
    tables = [AnswerTable(name=n, frame=result.tables[n]) for n in ("目标", "措施", "阶段安排", "考核指标")]
    tables.append(AnswerTable(name="分级分布", frame=card.tables["分级分布"]))
    charts = [ChartSpec(kind="bar", table="分级分布", x="级别", y="伙伴数", title=f"{basis}伙伴分级分布")]
    return Built(draft, tables, charts, citations, numbers, result.period, result.warnings)


def basis_key(span: str) -> str:
    """'2026年第3季度（...）' -> '2026Q3'."""
    year, quarter = span[:4], span.split("第")[1][0]
    return f"{year}Q{quarter}"


# ---- channel strategy -------------------------------------------------------------------------------------
def strategy_args(slots: dict) -> dict:
    return apply_strategy_slots({"period": "latest", "region": None}, slots)[0]


def apply_strategy_slots(args: dict, slots: dict) -> tuple[dict, list[str]]:
    new, changes = dict(args), []
    if "region" in slots and slots["region"] != args.get("region"):
        changes.append(f"范围：{args.get('region') or '全国'} → {slots['region'] or '全国'}")
        new["region"] = slots["region"]
    if slots.get("period") and slots["period"] != "next" and slots["period"] != args.get("period"):
        changes.append(f"分析期间：{args.get('period')} → {slots['period']}")
        new["period"] = slots["period"]
    return new, changes


def build_strategy(store: Store, args: dict, search: Search | None, version: int = 1) -> Built:
    scope = {"region": args["region"]} if args.get("region") else {}
    cost = TOOLS["cost_analysis"](store, {"period": args["period"], **scope})
    conflicts = TOOLS["detect_conflicts"](store, {"period": args["period"], **scope})
    citations = Citations()
    by_type = cost.tables["按渠道类型"].sort_values("销售额(元)", ascending=False)
    total = float(by_type["销售额(元)"].sum())
    lead = by_type.iloc[0]
    length = cost.tables["渠道长度对比"]
    best_margin = length.sort_values("贡献率(%)", ascending=False).iloc[0]
    situation = (
        f"{cost.explanation}\n\n销售额最大的渠道类型是{lead['渠道类型']}（{money(lead['销售额(元)'])}，"
        f"占 {lead['销售额(元)'] / total:.1%}）。\n\n{md_table(by_type)}\n\n**渠道长度对比**\n\n{md_table(length)}"
    )
    choices = (
        f"数据上，贡献率最高的是{best_margin['层级名称']}渠道（{best_margin['贡献率(%)']:.2f}%），"
        f"费用率最高的渠道类型是{cost.figures['费用率最高分组']}（{cost.figures['费用率最高(%)']:.2f}%）。"
        "结合指南：\n\n"
        + guidance_block(
            _search(search, "渠道长度 宽度 类型 选择 多渠道", ["strategy"]),
            "渠道长度 渠道宽度 渠道类型 密集分销 选择性分销 多渠道",
            citations,
            passages=3,
        )
    )
    selection = guidance_block(
        _search(search, "经销商选择标准 评分", ["selection"]),
        "经销商选择标准 信誉 实力 覆盖 合作意愿 评分",
        citations,
        passages=2,
    )
    control = (
        f"本期排查发现 {conflicts.figures['发现总数']} 条渠道冲突信号（{conflicts.explanation}）。\n\n"
        + guidance_block(
            _search(search, "渠道控制 六个抓手 区域 价格", ["control", "conflict"]),
            "渠道控制 区域控制 价格控制 窜货 乱价",
            citations,
            passages=2,
        )
    )
    roadmap = "\n".join(
        [
            "- 第 1 个月：完成渠道盘点与伙伴分级，确定重点渠道与需要调整的区域。",
            "- 第 2-3 个月：按选择标准补充或替换伙伴，落实区域与价格管控措施，处理已发现的冲突信号。",
            "- 第 4-6 个月：评估各渠道费用率与贡献率的变化，优化渠道组合并固化例会与复盘机制。",
        ]
    )
    scope_text = args.get("region") or "全国"
    title = f"{scope_text}渠道策略（草案）"
    markdown = template(
        "strategy",
        title=title,
        period=cost.period,
        scope=scope_text,
        version=version,
        situation=situation,
        choices=choices,
        selection=selection,
        control=control,
        roadmap=roadmap,
    )
    if citations.items:
        markdown += "\n\n## 参考依据\n\n" + citations.reference_list()
    draft = Draft(
        kind="strategy",
        title=title,
        args=args,
        markdown=markdown,
        version=version,
        figures={k: v for k, v in cost.figures.items() if v is not None},
    )
    tables = [
        AnswerTable(name="按渠道类型", frame=cost.tables["按渠道类型"]),
        AnswerTable(name="渠道长度对比", frame=length),
    ]
    charts = [ChartSpec(kind="bar", table="按渠道类型", x="渠道类型", y="销售额(元)", title="各渠道类型销售额(元)")]
    return Built(
        draft,
        tables,
        charts,
        citations,
        cost.numbers() | conflicts.numbers(),
        cost.period,
        cost.warnings + conflicts.warnings,
    )


BUILDERS = {
    "incentive": (incentive_args, apply_incentive_slots, build_incentive),
    "work_plan": (work_plan_args, apply_work_plan_slots, build_work_plan),
    "strategy": (strategy_args, apply_strategy_slots, build_strategy),
}


def figure_changes(old: Draft, new: Draft) -> list[str]:
    """Headline numbers that moved between two versions of a draft."""
    out = []
    for key, before in old.figures.items():
        after = new.figures.get(key)
        if isinstance(before, int | float) and isinstance(after, int | float) and before != after:
            if "(元)" in key:
                out.append(f"{key.replace('(元)', '')}：{money(before)} → {money(after)}")
            else:
                out.append(f"{key}：{before:,} → {after:,}")
    return out


def revise(store: Store, draft: Draft, slots: dict, search: Search | None) -> tuple[Built, list[str]]:
    _initial, apply, build = BUILDERS[draft.kind]
    args, changes = apply(draft.args, slots)
    if not changes and not args.get("fit"):
        raise ToolError(
            "没有看出要改什么。可以这样说：「把返利门槛提高到110%再算一次」「预算改成150万」「只看华东」"
            "「返点提高0.5个点」「改成分段累进」「增长目标改成10%」。"
        )
    built = build(store, args, search, version=draft.version + 1)
    changes = [c for c in changes if c] + built.notes
    return built, changes + [c for c in figure_changes(draft, built.draft) if c not in changes]
