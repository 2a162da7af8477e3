"""Offline composer: answers built from tool results and retrieved evidence through templates in prompts/.

Every number comes from a tool result; every guidance sentence is a sentence of a retrieved passage
followed by its citation [n]; when the evidence gate finds nothing, the answer says so.
"""

from __future__ import annotations

import dataclasses
from functools import partial
from pathlib import Path
from typing import Any

import pandas as pd

from advisor.guidance_answer import Neighbour, Similarity, choose, render, source_phrase
from advisor.types import Answer, AnswerTable, ChartSpec, Route, Step
from documents.markdown import plain
from retrieval.chunking import Chunk
from retrieval.citations import Citations, key_sentences
from retrieval.search import NOT_FOUND, Evidence, SearchResult
from tools.base import ToolResult

PROMPTS = Path(__file__).resolve().parent.parent / "prompts"
# Retrieved passages a guidance answer chooses its quotes from (measured on the dev half: 5 → 0.74, 8 → 0.76,
# 10 → 0.75 of answers stating the key phrase).
PASSAGES = 8
ENGLISH_EXTRA, ENGLISH_RUNNER_UP = 4, 0.6


def template(name: str, **values: Any) -> str:
    """Fill prompts/<name>.md; a missing variable is a programming error and raises KeyError."""
    return (PROMPTS / f"{name}.md").read_text(encoding="utf-8").format(**values)


def md_table(frame: pd.DataFrame, max_rows: int = 15) -> str:
    if frame.empty:
        return "（无数据）"
    shown = frame.head(max_rows).copy()
    for column in shown.columns:
        if pd.api.types.is_float_dtype(shown[column]):
            shown[column] = shown[column].map(lambda v: "" if pd.isna(v) else f"{v:,.2f}")
        elif not pd.api.types.is_numeric_dtype(shown[column]):  # names and other values of the data: as text
            shown[column] = shown[column].map(lambda v: plain(" ".join(v.split())) if isinstance(v, str) else v)
    shown.columns = [plain(c) for c in shown.columns]
    text = shown.to_markdown(index=False)
    if len(frame) > max_rows:
        text += f"\n\n（共 {len(frame)} 行，此处显示前 {max_rows} 行，完整表格见下方。）"
    return text


# ---- citations ------------------------------------------------------------------------------------
def cited_guidance(
    result: SearchResult, query: str, citations: Citations, passages: int = 3, per_passage: int = 2
) -> list[str]:
    """Bullet lines of passage sentences, each sentence followed by its [n]; empty when nothing is relevant."""
    lines = []
    for evidence in result.relevant[:passages]:
        number = citations.cite(evidence)
        picked = key_sentences(evidence.chunk.text, query, per_passage)
        if picked:
            lines.append("- " + "".join(f"{plain(s)}[{number}]" for s in picked))
    return lines


def _cite_neighbour(citations: Citations, evidence: Evidence, chunk: Chunk) -> int:
    """The citation number of a neighbouring passage a quoted list was made whole from."""
    return citations.cite(dataclasses.replace(evidence, chunk=chunk))


def answer_guidance(
    question: str,
    route: Route,
    result: SearchResult | None,
    steps: list[Step],
    similarity: Similarity | None = None,
    neighbour: Neighbour | None = None,
) -> Answer:
    """The answer first, quoted whole from the best passage, then close runners-up, then where it comes from.

    `neighbour` gives a passage's neighbours in its document, so that a quoted list cut by a passage boundary is
    quoted whole."""
    citations = Citations()
    zh = route.language == "zh"
    passages = [] if result is None else result.passages[:PASSAGES] if result.found else result.plausible_passages[:3]
    # An English question is matched to Chinese passages through the glossary, a less certain ranking: one more
    # runner-up, from a little further down (measured on the dev halves: key phrase stated 0.749 → 0.762, no set lower)
    wider = {"extra": ENGLISH_EXTRA, "runner_up": ENGLISH_RUNNER_UP} if route.language == "en" else {}
    units = choose(question, passages, similarity, neighbour=neighbour, **wider) if passages else []
    if result is None:
        markdown = "知识库还没有准备好（没有索引）。请先运行 `make run` 或在「知识库」页面加入文档。"
    elif not units:
        markdown = (
            f"{NOT_FOUND}\n\n可以换个说法再问，或在「知识库」页面上传相关的制度、方案文档后再问。"
            if zh
            else "Nothing relevant was found in the knowledge base (知识库中没有找到相关依据). "
            "Try rephrasing, or upload the relevant documents on the 知识库 page."
        )
    else:
        blocks = []
        for unit in units:
            neighbouring = partial(_cite_neighbour, citations, unit.evidence)
            blocks.append("\n".join(render(unit, citations.cite(unit.evidence), neighbouring)))
        origins = list(dict.fromkeys(source_phrase(u.evidence, route.language) for u in units))
        if zh:
            credit = f"以上摘自{'、'.join(origins)}。"
        else:
            blocks[0] = f"From {origins[0]} (quoted in Chinese):\n\n{blocks[0]}"
            credit = f"Quoted from {', '.join(origins)}."
        heading = "出处" if zh else "Sources"
        markdown = "\n\n".join([*blocks, credit, f"**{heading}**", citations.reference_list()])
    return Answer(question=question, route=route, markdown=markdown, citations=citations.items, steps=steps)


# The bar chart of each tool's answer: (table, x, y) by canonical names, and its title in Chinese and English.
TOOL_CHARTS: dict[str, tuple[str, str, str, str, str]] = {
    "partner_scorecard": ("tier_distribution", "tier", "partners", "伙伴分级分布", "Partners by tier"),
    "cost_analysis": ("by_channel_type", "channel_type", "expense_ratio", "各渠道类型费用率(%)", "Expense ratio (%)"),
    "simulate_rebate": ("by_tier", "tier", "rebate_amount", "各档位返利(元)", "Rebate by tier (CNY)"),
    "detect_conflicts": ("counts", "kind", "total", "冲突信号数量", "Conflict signals"),
}


def chart_for(result: ToolResult, language: str = "zh") -> list[ChartSpec]:
    """The tool's bar chart, drawn from its answer table with the headers that table shows in `language`."""
    chart = TOOL_CHARTS.get(result.tool)
    if chart is None or chart[0] not in result.tables:
        return []
    table, x, y, zh, en = chart
    if x not in result.tables[table].columns or y not in result.tables[table].columns:
        return []
    return [
        ChartSpec(
            kind="bar",
            table=result.label(table, language),
            x=result.label(x, language, table),
            y=result.label(y, language, table),
            title=en if language == "en" else zh,
        )
    ]


def tables_of(result: ToolResult, names: list[str] | None = None, language: str = "zh") -> list[AnswerTable]:
    """The tool's tables (canonical names, all when none given) as the answer shows them, labelled in `language`."""
    return [AnswerTable(name=n, frame=f) for n, f in result.labelled(language, names).items()]


def answer_tool(
    question: str,
    route: Route,
    result: ToolResult,
    guidance: SearchResult | None,
    steps: list[Step],
    main_tables: list[str] | None = None,
) -> Answer:
    """A scorecard, cost or conflict answer: what was computed, the headline, the tables, cited advice."""
    citations = Citations()
    parts = [f"**{plain(result.title)}**　{plain(result.period)}", "", plain(result.explanation)]
    first = (main_tables or list(result.tables))[0]
    parts += ["", md_table(result.labels.frame(result.tables[first], route.language, first), 10)]
    if result.warnings:
        parts += ["", *[f"> 提示：{plain(w)}" for w in result.warnings]]
    parts += ["", f"计算方法：{plain(result.formula)}"]
    advice = cited_guidance(guidance, question, citations, passages=2, per_passage=1) if guidance else []
    if advice:
        parts += ["", "**建议（来自指南）**", "", *advice, "", "**出处**", "", citations.reference_list()]
    return Answer(
        question=question,
        route=route,
        markdown="\n".join(parts),
        tables=tables_of(result, main_tables, route.language),
        charts=chart_for(result, route.language),
        citations=citations.items,
        steps=steps,
        period=result.period,
        numbers=sorted(result.numbers()),
    )


def answer_clarify(question: str, route: Route, steps: list[Step]) -> Answer:
    options = "\n".join(f"- {o}" for o in route.options)
    return Answer(question=question, route=route, markdown=f"{route.clarify}\n\n{options}", steps=steps)


def answer_help(question: str, route: Route, steps: list[Step], data_note: str, kb_note: str) -> Answer:
    return Answer(
        question=question, route=route, markdown=template("help", data_note=data_note, kb_note=kb_note), steps=steps
    )


def answer_out_of_scope(question: str, route: Route, steps: list[Step]) -> Answer:
    """One line: not something a channel advisor answers, and what it can do instead."""
    text = (
        "这个问题不在渠道参谋的范围内；我可以查公司的渠道数据（销售额、完成率、费用、回款……）、"
        "回答渠道管理方法、做记分卡/费用/窜货分析，或起草返利方案和季度计划。"
        if route.language == "zh"
        else "That is outside what this channel advisor covers; I can query your channel data, answer "
        "channel-management questions, run scorecard/cost/conflict analyses, or draft rebate and quarterly plans."
    )
    return Answer(question=question, route=route, markdown=text, steps=steps)


def combine(first: Answer, second: Answer) -> Answer:
    """A mixed question's two answers in one reply: the method first, then the company's figures."""
    offset = len(first.citations)
    renumbered = second.markdown
    citations = list(first.citations)
    for citation in reversed(second.citations):  # keep [n] unique across the two parts
        new = citation.number + offset
        renumbered = renumbered.replace(f"[{citation.number}]", f"[{new}]")
        citations.append(citation.model_copy(update={"number": new}))
    citations.sort(key=lambda c: c.number)
    return first.model_copy(
        update={
            "markdown": f"{first.markdown}\n\n---\n\n{renumbered}",
            "tables": [*first.tables, *second.tables],
            "charts": [*first.charts, *second.charts],
            "citations": citations,
            "sql": first.sql or second.sql,
            "period": first.period or second.period,
            "spec": first.spec or second.spec,
            "numbers": sorted({*first.numbers, *second.numbers}),
        }
    )
