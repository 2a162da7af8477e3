"""The assistant's pipeline: route the question, run tools and retrieval, compose (offline or with an LLM).

Dependencies come in through Context (store, knowledge base, settings, the current draft, history);
nothing here imports streamlit, and the LLM client is imported only when an LLM backend is chosen.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from advisor import composer, drafts
from advisor.accounts import User, scope_violation
from advisor.evidence import Evidence, asks_to_run, decide, only_weak_guidance
from advisor.evidence import words as evidence_words
from advisor.router import OPTION_INTENTS, describe, route
from advisor.settings import Settings
from advisor.types import Answer, AnswerTable, ChartSpec, Draft, Route, Step
from advisor.types import notify as _notify
from company.capabilities import availability
from company.errors import CanmouError
from company.store import Store
from company.units import localise_columns, localise_text
from documents.kinds import PLAN_KINDS
from documents.markdown import plain
from tools.registry import TOOLS

Event = Callable[[str, Any], None]  # ("step", Step) | ("token", str)

TOOL_INTENTS = {
    "scorecard": ("partner_scorecard", ["scorecard", "tier_distribution", "tier_changes"], ["monitoring"]),
    "cost": ("cost_analysis", None, ["control", "monitoring"]),
    "conflict": ("detect_conflicts", ["findings", "counts"], ["conflict"]),
}


@dataclass
class Context:
    store: Store
    kb: Any | None  # retrieval.knowledge_base.KnowledgeBase
    settings: Settings
    draft: Draft | None = None
    history: list[dict] = field(default_factory=list)
    user: User | None = None  # the signed-in user; None: the local operator of a deployment without sign-in


def _search(ctx: Context):
    return ctx.kb.search if ctx.kb is not None else None


def answer(question: str, ctx: Context, on_event: Event | None = None) -> Answer:
    """Answer one question; never raises for a user-level problem (the message is the answer)."""
    question = question.strip()
    steps: list[Step] = []
    if ctx.user is not None:  # a manager reads only their regions' data; naming another region is refused
        ctx = replace(ctx, store=ctx.user.permissions.store(ctx.store))
        refused = scope_violation(question, ctx.user, ctx.store)
        if refused is not None:  # routed on the whole dataset only to tell a data question from a how-to question
            whole, _ = _route_by_evidence(question, replace(ctx, store=ctx.store.unscoped()))
            if whole.intent not in ("guidance", "help"):
                _notify(on_event, Step(label="权限", detail=refused), steps)
                cue = whole.model_copy(update={"clarify": None, "options": []})
                return Answer(question=question, route=cue, markdown=refused, steps=steps)
    if ctx.store.exists():  # one answer reads one version of the data, even while an admin imports
        ctx = replace(ctx, store=ctx.store.pinned())
    routed, decision = _route_by_evidence(question, ctx)
    _notify(on_event, Step(label="理解问题", detail=describe(routed)), steps)
    if decision == "out_of_scope":
        return composer.answer_out_of_scope(question, routed.model_copy(update={"intent": None}), steps)
    if routed.intent is None:
        return composer.answer_clarify(question, routed, steps)
    drafting = routed.intent in PLAN_KINDS or routed.intent == "revise"
    if drafting and ctx.user is not None and not ctx.user.permissions.can_draft_plans:  # an executive reads only
        refused = (
            "您的账号是只读的（高管），可以查看数据和方案，不能起草或修改方案；需要方案请联系区域经理或管理员。"
            if routed.language == "zh"
            else "Your account is read-only (executive): you can read data and plans, not draft or revise them."
        )
        _notify(on_event, Step(label="权限", detail=refused), steps)
        return Answer(question=question, route=routed, markdown=refused, steps=steps)
    if ctx.settings.llm_backend != "offline" and routed.intent not in ("help", "revise"):
        from advisor.llm_answers import answer_with_llm  # imported only when an LLM is configured

        offline = HANDLERS[routed.intent]  # what answers when the endpoint fails
        return in_dataset_terms(answer_with_llm(question, routed, ctx, steps, on_event, offline), ctx.store)
    try:
        reply = HANDLERS[routed.intent](question, routed, ctx, steps, on_event)
        if decision == "both":  # 窜货怎么处理？我们最近有吗: the method, then the company's own figures
            second = "guidance" if routed.intent != "guidance" else _second_intent(question, ctx)
            if second is not None:
                other = routed.model_copy(update={"intent": second})
                extra = HANDLERS[second](question, other, ctx, steps, on_event)
                reply = (
                    composer.combine(reply, extra) if routed.intent == "guidance" else composer.combine(extra, reply)
                )
    except CanmouError as exc:
        _notify(on_event, Step(label="出错", detail=exc.message), steps)
        return Answer(question=question, route=routed, markdown=exc.message, steps=steps)
    return in_dataset_terms(reply, ctx.store)


def _route_by_evidence(question: str, ctx: Context) -> tuple[Route, str]:
    """The cue router's intent, checked against the evidence (advisor.evidence)."""
    from advisor.data_questions import evidence as data_evidence

    routed = route(question, has_draft=ctx.draft is not None)
    if question in OPTION_INTENTS:  # a button of a clarifying question: the choice is the route
        return routed, "keep"
    draft, guidance, tools = evidence_words(question)
    previous = previous_spec(ctx)
    data = data_evidence(ctx.store, question, previous) if ctx.store.exists() else "none"
    run = asks_to_run(question)
    if tools and not draft and data not in ("answer", "ask") and not run:
        tools = ()  # 第二次窜货停货停几天: names 窜货 but asks about the rule, not for a scan
    if "cost" in tools and data == "ask" and not availability(ctx.store).has("costs"):
        # marketing spend and the ROI on it, in an export with no costs: the data side names what is missing; the
        # cost analysis could only show sales and concentration instead
        tools = tuple(t for t in tools if t != "cost")
    if data == "ask" and ctx.kb is not None:
        # 客户买了直销的东西想退，可以找哪些地方办: the data side would only ask back, and the question speaks the
        # words of the company's own documents (直销, over an uploaded regulation): the documents decide
        searched = ctx.kb.search(question, k=composer.PASSAGES)
        if searched.own_words and searched.found:
            data = "partial"
    facts = Evidence(
        draft=draft, guidance=guidance, tools=tools, data=data, run=run, guidance_weak=only_weak_guidance(question)
    )
    # A partial data match (直销员要守哪些规矩) goes where the knowledge base says; a full one needs no search.
    kb_found = _kb_plausible(question, ctx) if ctx.kb is not None and data == "partial" else None
    decision = decide(routed.intent, facts, kb_found)
    if decision == "clarify" and ctx.kb is not None:  # nothing else speaks: does the knowledge base?
        decision = decide(routed.intent, facts, _kb_plausible(question, ctx))
    elif decision == "guidance" and data == "none" and ctx.kb is not None and not _kb_plausible(question, ctx):
        decision = "out_of_scope"  # 今天天气怎么样: a how-question nothing here can answer
    intent = {
        "data": "data",
        "guidance": "guidance",
        "both": routed.intent if routed.intent in ("conflict", "scorecard", "cost") else "guidance",
    }.get(decision, routed.intent)
    if decision in ("data", "guidance", "both") and intent != routed.intent:
        routed = routed.model_copy(update={"intent": intent, "clarify": None, "options": [], "confidence": 1.0})
    return routed, decision


def _kb_plausible(question: str, ctx: Context) -> bool:
    """The knowledge base holds plausible evidence: among all passages, or within the one document the question
    names (which features does the review want built first: the review, searched alone, answers)."""
    if ctx.kb.search(question, k=composer.PASSAGES).plausible:
        return True
    named = _named_document(question, ctx)
    return bool(named and ctx.kb.search(question, k=composer.PASSAGES, sources=[named]).plausible)


def _named_document(question: str, ctx: Context) -> str | None:
    from advisor.evidence import named_document

    own = [(d.doc_id, f"{d.title} {d.source}") for d in ctx.kb.documents() if not d.doc_id.startswith("guide:")]
    return named_document(question, own) if own else None


def _second_intent(question: str, ctx: Context) -> str | None:
    """For a mixed question answered with guidance first: the data answer or the tool the question names."""
    from advisor.evidence import EXPLICIT

    for name, pattern in EXPLICIT.items():
        if pattern.search(question):
            return name
    return "data"


def in_dataset_terms(reply: Answer, store: Store) -> Answer:
    """Money in the dataset's currency, and the dataset named, on every answer that shows company numbers."""
    if not (reply.tables or reply.draft or reply.sql) or not store.exists():
        return reply
    profile = store.profile()
    code = profile.currency
    renamed: dict[str, str] = {}
    tables = []
    for table in reply.tables:
        renamed.update({str(c): localise_text(str(c), code) for c in table.frame.columns})
        tables.append(table.model_copy(update={"frame": localise_columns(table.frame, code)}))
    charts = [
        c.model_copy(
            update={"x": renamed.get(c.x, c.x), "y": renamed.get(c.y, c.y), "title": localise_text(c.title, code)}
        )
        for c in reply.charts
    ]
    kind = "内置示例公司，虚构数据" if profile.is_sample else "公司数据"
    footer = (
        f"\n\n<sub>数据集：「{profile.name}」（{kind}，金额单位：{profile.money.zh}）</sub>"
        if reply.route.language == "zh"
        else f"\n\n<sub>Dataset: {profile.name} ({'sample, fictional' if profile.is_sample else 'company data'}, "
        f"amounts in {profile.money.code})</sub>"
    )
    return reply.model_copy(
        update={"markdown": localise_text(reply.markdown, code) + footer, "tables": tables, "charts": charts}
    )


def _help(question, routed, ctx: Context, steps, on_event) -> Answer:
    data_note = "尚无公司数据，请在「数据中心」生成示例或导入"
    if ctx.store.exists():
        profile = ctx.store.profile()
        data_note = (
            f"「{profile.name}」（内置示例公司，虚构的食品饮料企业）"
            if profile.is_sample
            else f"「{profile.name}」（公司数据，金额单位：{profile.money.zh}）"
        )
    kb_note = "未加载"
    if ctx.kb is not None:
        stats = ctx.kb.stats()
        kb_note = f"{stats['documents']} 篇文档、{stats['chunks']} 段"
    return composer.answer_help(question, routed, steps, data_note, kb_note)


def _guidance(question, routed, ctx: Context, steps, on_event) -> Answer:
    result = ctx.kb.search(question, k=composer.PASSAGES) if ctx.kb is not None else None
    if ctx.kb is not None and (named := _named_document(question, ctx)):
        # 评审报告里最核心的建议是哪几条: the report answers, not a guide that happens to share its words
        own = ctx.kb.search(question, k=composer.PASSAGES, sources=[named])
        result = own if own.found else result
    detail = (
        "没有知识库"
        if result is None
        else (f"找到 {len(result.relevant)} 段相关依据" if result.found else "没有足够相关的段落")
    )
    _notify(on_event, Step(label="检索知识库", detail=detail), steps)
    similarity, neighbour = (ctx.kb.similarities, ctx.kb.neighbour) if ctx.kb is not None else (None, None)
    reply = composer.answer_guidance(question, routed, result, steps, similarity, neighbour)
    if ctx.kb is not None and not ctx.kb.use_guides and not reply.citations:
        note = (
            "（内置指南已在「设置」中关闭，目前只检索您上传的文档。）"
            if routed.language == "zh"
            else "(The built-in guides are switched off in Settings; only your uploaded documents are searched.)"
        )
        reply = reply.model_copy(update={"markdown": f"{reply.markdown}\n\n{note}"})
    return reply


def _data(question, routed, ctx: Context, steps, on_event) -> Answer:
    from advisor.data_questions import Clarification, answer_data_question

    result = answer_data_question(ctx.store, question, previous_spec(ctx))
    if isinstance(result, Clarification):
        _notify(on_event, Step(label="需要澄清", detail=result.question), steps)
        clarified = routed.model_copy(update={"clarify": result.question, "options": list(result.options)})
        return composer.answer_clarify(question, clarified, steps)
    _notify(on_event, Step(label="查询数据", detail=f"{result.window}，{len(result.frame)} 行"), steps)
    values, charts = _chart_frame(result)
    if result.members is not None:  # 有几家: the number of members is the answer; the rows list who they are
        values = _members_frame(result)
    elif result.difference is not None:  # 华东比华南多卖了多少: the gap is the answer; the rows show both
        values = _difference_frame(result)
    tables = [AnswerTable(name="结果", frame=result.table), AnswerTable(name="数值", frame=values)]
    context = _ranking_context(ctx.store, result)
    if context is not result:  # the chart draws the ranking around the answer; 数值 stays the answer's own rows
        ranking, charts = _chart_frame(context, table="排名")
        tables.append(AnswerTable(name="排名", frame=ranking))
    window_label = "期间：" if routed.language == "zh" else "Window: "
    # the summary names partners and products as imported: shown as text, never as Markdown (an image, a link)
    markdown = f"{plain(result.summary)}\n\n{window_label}{result.window}\n\n{composer.md_table(result.table, 15)}"
    if result.notes:  # how the question was read (segmnet → segment) and what of it was not used, never hidden
        notes_label = "说明：" if routed.language == "zh" else "Notes: "
        markdown += (
            f"\n\n{notes_label}{plain('；'.join(result.notes) if routed.language == 'zh' else '; '.join(result.notes))}"
        )
    numbers = sorted(
        {float(v) for col in result.frame.select_dtypes("number").columns for v in result.frame[col].dropna()}
        | ({float(result.members)} if result.members is not None else set())
        | ({float(result.difference)} if result.difference is not None else set())
    )
    return Answer(
        question=question,
        route=routed,
        markdown=markdown,
        tables=tables,
        charts=charts,
        steps=steps,
        sql=result.sql,
        period=result.window,
        spec=result.spec.model_dump(mode="json"),
        numbers=numbers,
    )


def _members_frame(result):
    """One row: how many members (partners / products) the answer lists."""
    import pandas as pd

    from advisor.data_questions import counted_members
    from company.semantic import DIMENSIONS

    dim = DIMENSIONS[counted_members(result.spec) or "partner"]
    english = result.language == "en"
    label = f"{dim.en} count" if english else f"{dim.zh}数"
    return pd.DataFrame({label: [result.members]})


def _difference_frame(result):
    """One row: the first named group's figure minus the second's."""
    import pandas as pd

    from company.semantic import METRICS

    if result.ratio:  # 实收占应收的百分之几: the first figure over the second
        return pd.DataFrame({"ratio (%)" if result.language == "en" else "比值（%）": [result.difference]})
    metric = METRICS.get(result.spec.metrics[0])
    if metric is None or len(result.spec.metrics) == 2:  # 应收和实收差了多少: two figures (one of the export's own)
        return pd.DataFrame({"difference" if result.language == "en" else "差额": [result.difference]})
    label = f"{metric.en} difference" if result.language == "en" else f"{metric.zh}差额"
    value = result.difference * 100 if metric.fmt == "ratio" else result.difference
    return pd.DataFrame({label + (" (%)" if metric.fmt == "ratio" else ""): [value]})


RANKING_CONTEXT = 10  # bars a "which is highest / top 3" chart shows, the answer's own rows first


def _ranking_context(store: Store, result):
    """哪个区域销售额最高 answers with one row; its chart shows the ranking around it (the first ten), so the user
    sees how far ahead the answer is. Other answers chart their own rows."""
    from advisor.data_questions import answer_spec, context_for
    from company.semantic import DIMENSIONS, QuerySpecError, catalog_scope

    spec = result.spec
    if not (spec.sort and spec.limit and spec.limit < RANKING_CONTEXT and len(spec.dimensions) == 1):
        return result
    plain = not (spec.share != "none" or spec.streak or spec.absent or spec.per or spec.comparison != "none")
    if not plain or any(f.is_threshold for f in spec.filters):
        return result
    try:
        context = context_for(store)  # the dataset's own attributes (DEALSIZE, Segment) are dimensions too
        with catalog_scope(context.extra_dimensions, context.extra_metrics):
            if DIMENSIONS[spec.dimensions[0]].is_time:
                return result
            wider = answer_spec(store, spec.model_copy(update={"limit": RANKING_CONTEXT}), result.language)
    except (QuerySpecError, CanmouError):
        return result
    return wider if len(wider.frame) > len(result.frame) else result


def previous_spec(ctx: Context) -> dict | None:
    """The spec of the conversation's last data answer, for a follow-up such as 华南呢？"""
    for turn in reversed(ctx.history):
        if turn.get("role") == "assistant":
            return turn.get("spec")
    return None


def _chart_frame(result, table: str = "数值") -> tuple[Any, list[ChartSpec]]:
    """The engine's numeric frame with readable headers (ratios in %) and the chart drawn from it."""
    from company.semantic import DIMENSIONS, METRICS

    english = result.language == "en"
    names: dict[str, str] = {}
    frame = result.frame.copy()
    for column in frame.columns:
        base = column.removesuffix("_compare").removesuffix("_change")
        metric = METRICS.get(base)
        if metric is not None:
            label = metric.en if english else metric.zh
            if metric.fmt == "ratio" or column.endswith("_change"):
                frame[column] = frame[column] * 100
                label += " (%)" if english else "(%)"
            elif column == base and (metric.unit_en if english else metric.unit_zh):
                label += f" ({metric.unit_en})" if english else f"({metric.unit_zh})"
            if column.endswith("_compare"):
                label += " prev" if english else "·对比期"
            elif column.endswith("_change"):
                label = ("change " if english else "变化") + label
            names[column] = label
        elif column in ("partner_id", "sku"):
            names[column] = (
                ("ID" if english else "伙伴编号") if column == "partner_id" else ("SKU" if english else "产品编码")
            )
        elif column in ("partner_name", "product_name"):
            names[column] = (
                ("Partner" if english else "伙伴名称")
                if column == "partner_name"
                else ("Product" if english else "产品名称")
            )
        elif column in DIMENSIONS:
            names[column] = DIMENSIONS[column].en if english else DIMENSIONS[column].zh
    frame = frame.rename(columns=names)
    chart = result.chart
    if chart.kind not in ("bar", "line") or not chart.x or not chart.y:
        return frame, []
    return frame, [
        ChartSpec(
            kind=chart.kind,
            table=table,
            x=names.get(chart.x, chart.x),
            y=names.get(chart.y, chart.y),
            title=chart.title,
        )
    ]


def _tool_args(intent: str, slots: dict) -> dict:
    args: dict[str, Any] = {}
    if slots.get("region"):
        args["region"] = slots["region"]
    if slots.get("period") and slots["period"] != "next":
        args["period"] = slots["period"]
    if intent == "scorecard" and slots.get("partner_type"):
        args["partner_type"] = slots["partner_type"]
    if intent == "cost" and slots.get("partner_type"):
        args["partner_type"] = slots["partner_type"]
    return args


def _tool(question, routed: Route, ctx: Context, steps, on_event) -> Answer:
    name, main_tables, topics = TOOL_INTENTS[routed.intent]
    args = _tool_args(routed.intent, routed.slots)
    if routed.intent == "scorecard":  # weights and cut-offs chosen on the settings page
        args |= {
            k: v
            for k, v in (("weights", ctx.settings.scorecard_weights), ("cutoffs", ctx.settings.scorecard_cutoffs))
            if v
        }
    if routed.intent == "conflict":
        args.setdefault("lookback_quarters", 4)
    result = TOOLS[name](ctx.store, args)
    _notify(on_event, Step(label=f"运行工具 {name}", detail=result.period), steps)
    guidance = ctx.kb.search(question, k=4, topics=topics) if ctx.kb is not None else None
    if guidance is not None:
        _notify(on_event, Step(label="检索知识库", detail=f"找到 {len(guidance.relevant)} 段相关依据"), steps)
    return composer.answer_tool(question, routed, result, guidance, steps, main_tables)


def _draft_answer(question, routed: Route, built: drafts.Built, steps, changes: list[str]) -> Answer:
    draft = built.draft
    parts = []
    if changes:
        parts += ["**本次修改**", "", *[f"- {c}" for c in changes], ""]
    parts.append(draft.markdown)
    return Answer(
        question=question,
        route=routed,
        markdown="\n".join(parts),
        tables=built.tables,
        charts=built.charts,
        citations=built.citations,
        steps=steps,
        period=built.period,
        draft=draft,
        changes=changes,
        numbers=sorted(built.numbers),
    )


def _new_draft(question, routed: Route, ctx: Context, steps, on_event) -> Answer:
    slots = routed.slots
    regions = getattr(ctx.store, "regions", None)
    if not slots.get("region") and regions and len(regions) == 1:  # a 华东 manager's plan is 华东's, titled so
        slots = {**slots, "region": regions[0]}
    built = drafts.new_draft(routed.intent, ctx.store, slots, _search(ctx))
    _notify(on_event, Step(label="生成方案", detail=f"{built.draft.title}（{built.period}）"), steps)
    return _draft_answer(question, routed, built, steps, [])


def _revise(question, routed: Route, ctx: Context, steps, on_event) -> Answer:
    if ctx.draft is None:
        raise CanmouError("当前没有可修改的方案。先说「设计一个返利方案」或「做一份季度工作计划」，再提修改。")
    built, changes = drafts.revise(ctx.store, ctx.draft, routed.slots, _search(ctx))
    _notify(on_event, Step(label="重新计算方案", detail="；".join(changes)), steps)
    return _draft_answer(question, routed, built, steps, changes)


HANDLERS: dict[str, Callable[..., Answer]] = {
    "help": _help,
    "guidance": _guidance,
    "data": _data,
    "scorecard": _tool,
    "cost": _tool,
    "conflict": _tool,
    "revise": _revise,
    **dict.fromkeys(PLAN_KINDS, _new_draft),  # every plan kind is a draft intent
}
