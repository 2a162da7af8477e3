"""One builder per plan kind: tool results and retrieved guide passages -> PlanDocument.

The chat draft, the 方案 page and the `plan` command all get their document from build_plan, and the Markdown
and Word renderers print that same document. Every number comes from a tool result (TOOLS[...]); every guidance
sentence is a sentence of a retrieved passage followed by its [n]; with no knowledge base (search=None) the
guidance parts say so instead. Tool tables are read by their canonical names; the document, which is what the
user sees, stores them with the tools' Chinese labels.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from company import clock
from company.store import Store
from company.units import DEFAULT_CURRENCY, currency, localise_columns, localise_text, money
from documents import wording
from documents.kinds import plan_kind
from documents.model import Chart, Metadata, Paragraph, PlanDocument, Reference, Section, Table, cell
from retrieval.citations import Citations, key_sentences
from retrieval.search import NOT_FOUND
from tools.base import ToolError, ToolResult
from tools.incentive import DEFAULT_SCHEDULE, NO_TARGET, RebateSchedule, fit_to_budget
from tools.registry import TOOLS

Search = Callable[..., Any]  # KnowledgeBase.search: (query, k=..., topics=[...]) -> SearchResult
LANGUAGE = "zh"  # plan documents are written in Chinese, so their tables carry the Chinese labels


class Guidance:
    """Cites retrieved passages for one document: bullet paragraphs of passage sentences, each with its [n]."""

    def __init__(self, search: Search | None):
        self.search = search
        self.citations = Citations()
        self._used: set[str] = set()

    def bullets(
        self, query: str, topics: list[str], terms: str | None = None, passages: int = 2, lead: str | None = None
    ) -> list[Paragraph]:
        """Up to `passages` bullets, each two sentences of one passage with its [n]; `lead` introduces them."""
        if self.search is None:
            return [Paragraph(text=wording.KB_MISSING, style="note")]
        result = self.search(query, k=4, topics=topics)
        lines = []
        for evidence in result.relevant[:passages]:
            picked = [s for s in key_sentences(evidence.chunk.text, terms or query, 2) if s not in self._used]
            if not picked:
                continue
            self._used.update(picked)
            number = self.citations.cite(evidence)
            lines.append(Paragraph(text="".join(f"{s}[{number}]" for s in picked), style="bullet"))
        if not lines:
            return [Paragraph(text=NOT_FOUND, style="note")]
        return ([Paragraph(text=lead)] if lead else []) + lines

    def references(self) -> list[Reference]:
        return [Reference.model_validate(c.model_dump()) for c in self.citations.items]


def _company(store: Store, company: str | None) -> str:
    if company:
        return company
    named = store.meta("company_name")
    if named:
        return str(named)
    profile = store.profile()
    return f"{profile.name}（演示数据）" if profile.is_sample else profile.name


def _warnings(*results: ToolResult) -> list[str]:
    return list(dict.fromkeys(w for r in results for w in r.warnings))


def _headline(result: ToolResult, *, keep_missing: bool = True) -> dict[str, dict[str, Any]]:
    """The document's `figures` and `figure_labels`: the tool's headline figures by canonical name as plain values
    (those with no value left out unless keep_missing), and the Chinese label of each."""
    figures = {
        k: cell(v) for k, v in result.figures.items() if v is None or isinstance(v, str | int | float | np.generic)
    }
    if not keep_missing:
        figures = {k: v for k, v in figures.items() if v is not None}
    return {"figures": figures, "figure_labels": {k: result.figure_label(k, LANGUAGE) for k in figures}}


def in_currency(document: PlanDocument, store: Store) -> PlanDocument:
    """The document with every money unit in the dataset's currency (元 → 美元 …), from one place."""
    code = store.profile().currency
    if currency(code).code == DEFAULT_CURRENCY:
        return document

    def text(value: str) -> str:
        return localise_text(value, code)

    for section in document.walk():
        section.heading = text(section.heading)
        for paragraph in [*section.paragraphs, *section.closing]:
            paragraph.text = text(paragraph.text)
        for table in section.tables:
            table.caption, table.note = text(table.caption), text(table.note)
            table.frame = localise_columns(table.frame, code)
            table.units = {text(k): text(v) for k, v in table.units.items()}
        for chart in section.charts:
            renamed = {c: text(str(c)) for c in chart.data.columns}
            chart.data = chart.data.rename(columns=renamed)
            chart.x, chart.y = renamed.get(chart.x, chart.x), [renamed.get(y, y) for y in chart.y]
            chart.label = renamed.get(chart.label, chart.label) if chart.label else None
            chart.title, chart.x_label, chart.y_label = text(chart.title), text(chart.x_label), text(chart.y_label)
    document.warnings = [text(w) for w in document.warnings]
    document.figure_labels = {k: text(v) for k, v in document.figure_labels.items()}
    return document


def _missing_section(*results: ToolResult | None) -> list[Section]:
    """「需要补充的数据」: every input the plan's numbers lacked, what was done instead, which file adds it."""
    lines = list(dict.fromkeys(m.message() for r in results if r is not None for m in r.missing))
    if not lines:
        return []
    return [
        Section(
            heading="需要补充的数据",
            paragraphs=[Paragraph(text="以下内容因公司数据不全而没有计算或改用了替代口径：")]
            + [Paragraph(text=line, style="bullet") for line in lines],
        )
    ]


def _labelled(result: ToolResult, name: str, frame: pd.DataFrame | None = None) -> pd.DataFrame:
    """A tool table (or rows of it, `frame`) with the headers the document shows."""
    return result.labels.frame(result.tables[name] if frame is None else frame, LANGUAGE, name)


def _table(result: ToolResult, name: str, caption: str, note: str = "", frame: pd.DataFrame | None = None) -> Table:
    return Table(caption=caption, frame=_labelled(result, name, frame), note=note, source=result.tool)


def _bar(result: ToolResult, name: str, x: str, y: str, title: str, frame: pd.DataFrame | None = None) -> Chart:
    """A bar chart of the tool table `name` (or rows of it): x and y are canonical column names."""
    data = _labelled(result, name, (result.tables[name] if frame is None else frame)[[x, y]])
    x_label, y_label = (result.label(c, LANGUAGE, name) for c in (x, y))
    return Chart(kind="bar", title=title, data=data.reset_index(drop=True), x=x_label, y=[y_label])


# ---- quarterly work plan -----------------------------------------------------------------------------------
def build_quarterly_plan(
    store: Store,
    search: Search | None,
    quarter: str | None = None,
    region: str | None = None,
    revenue_growth: float = 0.08,
    *,
    company: str | None = None,
    author: str = "渠道管理部",
    version: int = 1,
    today: date | None = None,
) -> PlanDocument:
    """季度渠道工作计划: goals, review of the basis quarter, measures, phases (Gantt), incentives, risks, KPIs."""
    args = {"quarter": quarter, "region": region, "revenue_growth": revenue_growth}
    result = TOOLS["quarterly_work_plan"](store, {k: v for k, v in args.items() if v is not None})
    plan = result.data
    basis_key = result.parameters["basis"]
    basis = plan.basis_period.split("（")[0]
    label = result.period.split("（")[0]
    scope = {"region": region} if region else {}
    card = TOOLS["partner_scorecard"](store, {"period": basis_key, **scope})
    cost = TOOLS["cost_analysis"](store, {"period": basis_key, **scope})
    try:  # without targets or a year-ago basis the rebate cannot be simulated: the section says what is needed
        rebate = TOOLS["simulate_rebate"](store, {"period": basis_key, **scope})
        rebate_gap = ""
    except ToolError as exc:
        rebate, rebate_gap = None, exc.message
    guide = Guidance(search)

    goals = Section(
        heading="季度目标",
        paragraphs=[result.explanation, f"目标值的计算方法：{result.formula}。"],
        tables=[_table(result, "goals", f"{label}季度目标", f"基线为{basis}实际值；单位见「单位」列。")],
    )
    goals.closing = guide.bullets(
        "季度工作计划 目标 数字 负责人 完成日期",
        ["templates"],
        "季度计划 目标 数字 负责人 时间 动作",
        lead="编制要点（摘自指南）：",
    )

    review = Section(
        heading="现状回顾",
        paragraphs=[f"以下为{basis}（计划的基础数据期）的实际情况。"],
        subsections=[
            Section(
                heading="伙伴分级",
                level=2,
                paragraphs=[card.explanation],
                tables=[
                    _table(card, "tier_distribution", f"{basis}伙伴分级分布", "得分为记分卡加权得分（0-100 分）。")
                ],
                charts=[_bar(card, "tier_distribution", "tier", "partners", f"{basis}伙伴分级分布（家）")],
            ),
            Section(
                heading="渠道费用",
                level=2,
                paragraphs=[cost.explanation],
                tables=[_table(cost, "by_channel_type", f"{basis}各渠道类型费用与效益", "金额单位：元；比例单位：%。")],
            ),
        ],
    )

    measures = Section(
        heading="分领域措施",
        paragraphs=[
            f"根据{basis}的记分卡、费用、渠道冲突与返利测算结果，本季度共安排 {len(plan.measures)} 条措施，"
            "按领域列出负责部门与涉及伙伴。"
        ],
        tables=[_table(result, "measures", "分领域措施与负责部门")],
    )

    phase_rows = pd.DataFrame(
        [
            {"阶段": p.name, "开始": p.start.isoformat(), "结束": p.end.isoformat(), "标注": f"{p.owner} · {p.weeks}"}
            for p in plan.phases
        ]
    )
    owners = pd.DataFrame([{"角色": role, "职责": duty} for role, duty in plan.owners.items()])
    phases = Section(
        heading="阶段安排",
        paragraphs=[
            f"本季度分 {len(plan.phases)} 个阶段推进，起止日期、任务与负责人如下；复盘日期见「考核指标与复盘日期」。"
        ],
        tables=[
            _table(result, "phases", "阶段、时间与主要任务"),
            Table(caption="职责分工", frame=owners, source=result.tool),
        ],
        charts=[
            Chart(
                kind="gantt",
                title=f"{label}阶段安排",
                data=phase_rows,
                x="阶段",
                y=["开始", "结束"],
                label="标注",
                markers=[d.isoformat() for d in plan.review_dates],
                caption=f"{label}阶段甘特图（虚线为复盘日）",
            )
        ],
    )

    if rebate is not None:
        schedule = RebateSchedule.model_validate(rebate.parameters["schedule"])
        incentive = Section(
            heading="激励安排",
            paragraphs=[
                f"沿用现行阶梯返利（{schedule.describe()}），按{basis}数据测算：{wording.plain(rebate.explanation)}",
            ],
            tables=[_table(rebate, "by_tier", f"按{basis}数据测算的各档返利", "金额单位：元；比例单位：%。")],
        )
    else:
        incentive = Section(heading="激励安排", paragraphs=[f"需要补充的数据：{rebate_gap}"])
    incentive.closing = guide.bullets(
        "阶梯返利 冲档 压货 季末 返利兑现", ["incentive"], "返利 冲档 压货 季末 兑现", lead="执行要点（摘自指南）："
    )

    risks = Section(heading="风险与应对", paragraphs=[Paragraph(text=r, style="bullet") for r in plan.risks])
    risks.closing = guide.bullets(
        "窜货 乱价 压货 处理 预防", ["conflict", "control"], "窜货 乱价 压货 处理 预防", lead="应对要点（摘自指南）："
    )

    reviews = [d.isoformat() for d in plan.review_dates]
    kpis = Section(
        heading="考核指标与复盘日期",
        paragraphs=[f"月度复盘日：{'、'.join(reviews[:-1])}；季度复盘日：{reviews[-1]}。"],
        tables=[_table(result, "kpis", "考核指标、负责部门与复盘日期")],
    )
    kpis.closing = guide.bullets(
        "季度复盘 月度 考核 评估 对照目标",
        ["monitoring", "templates"],
        "复盘 考核 评估 目标 滞后",
        lead="复盘要点（摘自指南）：",
    )

    scope_text = store.scope_label(region)
    return in_currency(
        PlanDocument(
            kind="work_plan",
            title=plan.title,
            metadata=Metadata(
                company=_company(store, company),
                period=result.period,
                scope=scope_text,
                author=author,
                date=today or clock.today(),
                version=version,
                basis=plan.basis_period,
            ),
            sections=[goals, review, measures, phases, incentive, risks, kpis],
            references=guide.references(),
            appendix=_missing_section(result),
            warnings=_warnings(*(r for r in (result, card, cost, rebate) if r is not None)),
            args=args,
            **_headline(result, keep_missing=False),
        ),
        store,
    )


# ---- incentive plan ------------------------------------------------------------------------------------------


def _examples(result: ToolResult) -> tuple[list[Paragraph], pd.DataFrame]:
    detail = result.tables["rebate_detail"]
    paid = detail[detail["rebate_amount"] > 0].sort_values("rebate_amount", ascending=False).head(2)
    ineligible = detail[detail["eligible"] == "否"].head(1)
    # Without targets the tiers measure growth against a year earlier: tools.incentive labels the columns so.
    base_word = result.label("target", LANGUAGE, "rebate_detail").removesuffix("(元)")
    reach_word = result.label("achievement", LANGUAGE, "rebate_detail").removesuffix("(%)")

    def rate(value) -> str:
        return f"{value:.2f}%" if pd.notna(value) else "无法计算"

    lines = [
        Paragraph(
            text=f"{row['name']}：销售额 {money(row['revenue'])}，{base_word} {money(row['target'])}，"
            f"{reach_word} {rate(row['achievement'])}，达到{row['tier_reached']}（返点 {row['tier_rate']:.2f}%），"
            f"返利 {money(row['rebate_amount'])}。",
            style="bullet",
        )
        for _, row in paid.iterrows()
    ]
    lines += [
        Paragraph(
            text=f"{row['name']}：{reach_word} {rate(row['achievement'])}，但{row['ineligible_reason']}，本期不返利"
            f"（应得 {money(row['rebate_due'])}）。",
            style="bullet",
        )
        for _, row in ineligible.iterrows()
    ]
    columns = [
        "name",
        "revenue",
        "target",
        "achievement",
        "tier_reached",
        "tier_rate",
        "rebate_due",
        "eligible",
        "rebate_amount",
    ]
    return lines, _labelled(result, "rebate_detail", pd.concat([paid, ineligible])[columns].reset_index(drop=True))


def build_incentive_plan(
    store: Store,
    search: Search | None,
    args: dict | None = None,
    *,
    company: str | None = None,
    author: str = "渠道管理部",
    version: int = 1,
    today: date | None = None,
) -> PlanDocument:
    """激励/返利方案: eligibility, tiers, conditions, simulation and budget, payout, worked examples, basis.

    `args` is the chat draft's argument dict: period, schedule (RebateSchedule as a dict), region, budget, fit.
    """
    args = {**incentive_defaults(), **(args or {})}
    adjustments: list[str] = []
    if args.pop("fit", False):
        args, note = fit_to_budget(store, args)
        adjustments.append(note)
    result = TOOLS["simulate_rebate"](store, {k: v for k, v in args.items() if v is not None})
    schedule = RebateSchedule.model_validate(args["schedule"])
    figures = result.figures
    scope = store.scope_label(args.get("region"))
    guide = Guidance(search)

    eligibility = Section(
        heading="适用对象",
        paragraphs=[
            f"{scope}范围内在考核期有销售目标的"
            + ("、".join(schedule.partner_types) if schedule.partner_types else "全部渠道伙伴")
            + f"，共 {figures['partners']} 家参与测算。"
        ],
    )
    tiers = Section(
        heading="返利档位与返点",
        paragraphs=[
            f"计算方式：{wording.MODE_TEXT[schedule.mode]}",
            f"方案要点：{schedule.describe()}。",
            *(f"已{note}。" for note in adjustments),
        ],
        tables=[_table(result, "schedule", "返利档位与返点", "门槛为季度销售目标完成率；返点为占销售额的比例（%）。")],
    )
    conditions = [f"回款率不低于 {schedule.min_collection_rate:.0%}。"]
    if schedule.require_territory_compliance:
        conditions.append("考核期内无跨区销售（窜货），发现即取消当期返利。")
    if schedule.require_price_compliance:
        conditions.append("考核期内无低于最低限价的销售（乱价）。")
    preconditions = Section(heading="前置条件", paragraphs=[Paragraph(text=c, style="bullet") for c in conditions])

    by_tier = result.tables["by_tier"]
    budget = Section(heading="预算对比", level=2)
    if "budget_comparison" in result.tables:
        budget.tables.append(_table(result, "budget_comparison", "测算返利与预算对比", "差额为正数表示超出预算。"))
        comparison = pd.DataFrame(
            {"项目": ["预算", "测算返利合计"], "金额(元)": [figures["budget"], figures["rebate_total"]]}
        )
        budget.charts.append(Chart(kind="bar", title="测算返利与预算", data=comparison, x="项目", y=["金额(元)"]))
    else:
        budget.paragraphs.append(
            Paragraph(
                text=f"本方案未设定预算：测算返利合计 {money(figures['rebate_total'])}，"
                f"占销售额 {figures['rebate_ratio']:.2f}%。给出预算后可重新测算预算差额。"
            )
        )
    simulation = Section(
        heading="测算结果与预算",
        paragraphs=[wording.plain(result.explanation)],
        subsections=[
            Section(
                heading="各档位测算",
                level=2,
                tables=[_table(result, "by_tier", "各档位伙伴数与返利", "金额单位：元；比例单位：%。")],
                charts=[
                    _bar(
                        result, "by_tier", "tier", "rebate_amount", "各档位返利", by_tier[by_tier["tier"] != NO_TARGET]
                    )
                ],
            ),
            budget,
        ],
    )
    if not args.get("region") and "by_region" in result.tables:
        simulation.subsections.append(
            Section(
                heading="分区域测算",
                level=2,
                tables=[_table(result, "by_region", "各区域返利测算", "金额单位：元；比例单位：%。")],
            )
        )

    payout = Section(heading="兑现时间与方式", paragraphs=[Paragraph(text=t, style="bullet") for t in wording.PAYOUT])

    example_lines, example_rows = _examples(result)
    examples = Section(
        heading="计算示例",
        paragraphs=example_lines or [Paragraph(text="（本期没有获返利的伙伴。）", style="note")],
        tables=[
            Table(
                caption="示例伙伴的返利计算", frame=example_rows, note="金额单位：元；比例单位：%。", source=result.tool
            )
        ]
        if len(example_rows)
        else [],
    )

    basis = Section(heading="设计依据")
    basis.paragraphs += guide.bullets(
        "阶梯返利 门槛 返点 前置条件 预算", ["incentive"], "阶梯返利 门槛 返点 前置条件 预算 公平", passages=3
    )
    basis.paragraphs += guide.bullets("返利预算 过度激励 压货 窜货 风险", ["incentive"], "预算 过度 压货 窜货 风险")

    return in_currency(
        PlanDocument(
            kind="incentive",
            title=f"{scope}渠道返利方案",
            metadata=Metadata(
                company=_company(store, company),
                period=result.period,
                scope=scope,
                author=author,
                date=today or clock.today(),
                version=version,
            ),
            sections=[
                eligibility,
                tiers,
                preconditions,
                simulation,
                payout,
                examples,
                basis,
            ],
            references=guide.references(),
            appendix=_missing_section(result),
            warnings=_warnings(result),
            args=args,
            **_headline(result),
            adjustments=adjustments,
        ),
        store,
    )


# ---- channel strategy ------------------------------------------------------------------------------------
def build_strategy(
    store: Store,
    search: Search | None,
    region: str | None = None,
    period: str = "latest",
    *,
    company: str | None = None,
    author: str = "渠道管理部",
    version: int = 1,
    today: date | None = None,
) -> PlanDocument:
    """渠道策略（草案）: current channels by type and length, structure choices, partner criteria, control, roadmap."""
    scope = {"region": region} if region else {}
    cost = TOOLS["cost_analysis"](store, {"period": period, **scope})
    conflicts = TOOLS["detect_conflicts"](store, {"period": period, **scope})
    card = TOOLS["partner_scorecard"](store, {"period": period, **scope})
    guide = Guidance(search)

    by_type = cost.tables["by_channel_type"].sort_values("revenue", ascending=False).reset_index(drop=True)
    total = float(by_type["revenue"].sum())
    lead = by_type.iloc[0]
    length = cost.tables.get("channel_length")
    measured = length is not None and length["contribution_margin"].notna().any()
    best = length.sort_values("contribution_margin", ascending=False).iloc[0] if measured else None
    high_group = cost.figures.get("highest_ratio_group")
    high_text = (
        f"费用率最高的渠道类型是{high_group}（{cost.figures['highest_expense_ratio']:.2f}%）。" if high_group else ""
    )
    length_text = (
        f"贡献率最高的是{best['level_name']}渠道（{best['contribution_margin']:.2f}%）；{high_text}"
        if best is not None
        else "渠道长度与贡献的对比需要渠道层级、费用和产品成本数据，见文末「需要补充的数据」。" + high_text
    )
    situation = Section(
        heading="渠道现状",
        paragraphs=[cost.explanation],
        subsections=[
            Section(
                heading="渠道类型",
                level=2,
                paragraphs=[
                    f"销售额最大的渠道类型是{lead['channel_type']}（{money(lead['revenue'])}，"
                    f"占 {lead['revenue'] / total:.1%}）。"
                ],
                tables=[
                    _table(
                        cost,
                        "by_channel_type",
                        "各渠道类型销售、费用与贡献",
                        "金额单位：元；比例单位：%。",
                        frame=by_type,
                    )
                ],
                charts=[_bar(cost, "by_channel_type", "channel_type", "revenue", "各渠道类型销售额", frame=by_type)],
            ),
            Section(
                heading="渠道长度",
                level=2,
                paragraphs=[length_text],
                tables=[_table(cost, "channel_length", "不同渠道层级的费用与贡献", "金额单位：元；比例单位：%。")]
                if length is not None
                else [],
            ),
        ],
    )

    choices = Section(
        heading="渠道长度、宽度与类型的选择",
        paragraphs=[
            (f"从数据看，{best['level_name']}渠道贡献率最高，" if best is not None else "")
            + (f"{high_group}费用率最高，" if high_group else "")
            + "渠道结构调整应在控制力与覆盖效率之间取舍。指南要点："
        ],
    )
    choices.paragraphs += guide.bullets(
        "渠道长度 宽度 类型 选择 多渠道",
        ["strategy"],
        "渠道长度 渠道宽度 渠道类型 密集分销 选择性分销 多渠道",
        passages=3,
    )

    selection = Section(
        heading="伙伴选择标准",
        paragraphs=[f"现有伙伴的记分卡分级：{card.explanation}"],
        tables=[_table(card, "tier_distribution", "现有伙伴分级分布", "得分为记分卡加权得分（0-100 分）。")],
    )
    selection.closing = guide.bullets(
        "经销商选择标准 评分",
        ["selection"],
        "经销商选择标准 信誉 实力 覆盖 合作意愿 评分",
        passages=2,
        lead="新增或替换伙伴时的选择标准（摘自指南）：",
    )

    control = Section(
        heading="渠道控制手段",
        paragraphs=[f"本期排查发现 {conflicts.figures['findings_total']} 条渠道冲突信号：{conflicts.explanation}"],
        tables=[_table(conflicts, "counts", "渠道冲突信号（按类型与严重度）", "单位：项。")],
    )
    control.closing = guide.bullets(
        "渠道控制 六个抓手 区域 价格",
        ["control", "conflict"],
        "渠道控制 区域控制 价格控制 窜货 乱价",
        passages=2,
        lead="控制要点（摘自指南）：",
    )

    roadmap = Section(
        heading="实施路线图",
        paragraphs=["策略分三个阶段在六个月内落地，每月复盘一次进度。"],
        tables=[Table(caption="实施路线图", frame=pd.DataFrame(wording.ROADMAP))],
    )

    scope_text = store.scope_label(region)
    return in_currency(
        PlanDocument(
            kind="strategy",
            title=f"{scope_text}渠道策略（草案）",
            metadata=Metadata(
                company=_company(store, company),
                period=cost.period,
                scope=scope_text,
                author=author,
                date=today or clock.today(),
                version=version,
            ),
            sections=[situation, choices, selection, control, roadmap],
            references=guide.references(),
            appendix=_missing_section(cost, conflicts, card),
            warnings=_warnings(cost, conflicts, card),
            args={"region": region, "period": period},
            **_headline(cost, keep_missing=False),
        ),
        store,
    )


# ---- one builder per plan kind ---------------------------------------------------------------------------------
def incentive_defaults() -> dict[str, Any]:
    return {"period": "latest", "schedule": DEFAULT_SCHEDULE.model_dump(), "region": None, "budget": None}


@dataclass(frozen=True)
class PlanBuilder:
    """How one plan kind is built: the arguments a new plan starts from, and the builder reading them."""

    defaults: Callable[[], dict[str, Any]]
    build: Callable[..., PlanDocument]  # (store, search, args, **options) -> PlanDocument


BUILDERS: dict[str, PlanBuilder] = {
    "work_plan": PlanBuilder(
        lambda: {"quarter": None, "region": None, "revenue_growth": 0.08},
        lambda store, search, args, **options: build_quarterly_plan(
            store,
            search,
            quarter=args["quarter"],
            region=args["region"],
            revenue_growth=args["revenue_growth"],
            **options,
        ),
    ),
    "incentive": PlanBuilder(incentive_defaults, build_incentive_plan),
    "strategy": PlanBuilder(
        lambda: {"period": "latest", "region": None},
        lambda store, search, args, **options: build_strategy(
            store, search, region=args["region"], period=args["period"] or "latest", **options
        ),
    ),
}


def default_args(kind: str) -> dict[str, Any]:
    """The arguments a new plan of this kind starts from (a fresh copy)."""
    return BUILDERS[plan_kind(kind).id].defaults()


def build_plan(kind: str, args: dict, store: Store, search: Search | None, **options: Any) -> PlanDocument:
    """The document of a plan kind (any of its names, see documents.kinds) from its arguments; arguments not
    given take the kind's defaults; options go to the builder (company, author, version, today)."""
    builder = BUILDERS[plan_kind(kind).id]
    return builder.build(store, search, {**builder.defaults(), **args}, **options)


__all__ = [
    "BUILDERS",
    "Guidance",
    "build_incentive_plan",
    "build_plan",
    "build_quarterly_plan",
    "build_strategy",
    "default_args",
]
