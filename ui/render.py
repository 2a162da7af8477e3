"""Show an Answer in Streamlit: markdown, tables, plotly charts, citations, the SQL, flags, draft download."""

from __future__ import annotations

import hashlib
import json
import re

import pandas as pd
import plotly.express as px
import streamlit as st

from advisor.types import Answer, ChartSpec

# A data answer's tables: 结果 is what the user reads, 数值 the same rows as numbers for the chart, 排名 the
# ranking around a 最高 / 前3 answer that its chart draws.
CHART_SOURCES = ("数值", "排名")
LEADER = "#1f5fbf"  # the ranked first bar
OTHERS = "#a9bfdc"
FOOTER = re.compile(r"\n*<sub>(.*?)</sub>\s*$", re.S)
TRUNCATION_NOTE = re.compile(r"^（共 \d+ 行，此处显示前 \d+ 行，完整表格见下方。）$")


# Markdown tables (answers, plan documents) in a narrow column: Chinese text breaks only at punctuation and
# spaces, headers stay on one line, and a table wider than the column scrolls instead of squeezing its cells.
TABLE_STYLE = """<style>
[data-testid="stMarkdownContainer"] table { display: block; max-width: 100%; overflow-x: auto; }
[data-testid="stMarkdownContainer"] th { white-space: nowrap; }
[data-testid="stMarkdownContainer"] td { word-break: keep-all; overflow-wrap: normal; min-width: 4em; }
</style>"""


def style_tables() -> None:
    st.html(TABLE_STYLE)


def render_answer(answer: Answer, key: str) -> None:
    for flag in answer.flags:
        st.warning(f"核对提示：{flag}")
    text, footer = split_footer(answer.markdown)
    data_answer = answer.sql is not None and answer.draft is None
    # A data answer's rows are shown once, as a grid below the chart; the Markdown copy is for the command line.
    st.markdown(without_tables(text) if data_answer else text)
    tables = {t.name: t.frame for t in answer.tables}
    # A ranking's chart shows the ranking around the answer; its own rows (最高的 / 前3名) are drawn darker
    ranked = int(answer.spec.get("limit") or 0) if answer.spec and answer.spec.get("sort") else 0
    for number, chart in enumerate(answer.charts):
        figure = chart_figure(chart, tables.get(chart.table), ranked)
        if figure is not None:
            st.plotly_chart(figure, width="stretch", key=f"{key}-chart-{number}")
    if data_answer:
        shown = [t for t in answer.tables if t.name not in CHART_SOURCES] or answer.tables[:1]
        for table in shown:
            st.dataframe(table.frame, hide_index=True, width="stretch")
    elif answer.tables:
        with st.expander(f"查看表格（{len(answer.tables)} 个）"):
            for table in answer.tables:
                st.caption(table.name)
                st.dataframe(table.frame, hide_index=True, width="stretch")
    if footer:
        st.caption(footer)
    if answer.sql:
        with st.expander("查询语句（SQL）与期间"):
            if answer.period:
                st.caption(f"期间：{answer.period}")
            st.code(answer.sql, language="sql")
    if answer.citations:
        with st.expander(f"出处（{len(answer.citations)} 段）"):
            for citation in answer.citations:
                path = " > ".join(citation.heading_path)
                st.markdown(f"**[{citation.number}] {citation.title}**" + (f" > {path}" if path else ""))
                st.caption(f"{citation.source} {citation.location}")
                st.markdown(citation.text)
    if answer.draft is not None:
        draft = answer.draft
        c1, c2 = st.columns(2)
        c1.download_button(
            "下载方案（Markdown）",
            draft.markdown.encode("utf-8"),
            file_name=f"{draft.title}-v{draft.version}.md",
            mime="text/markdown",
            key=f"{key}-download",
        )
        c2.download_button(
            "下载方案（Word）",
            data=lambda: draft_docx(draft),
            file_name=f"{draft.title}-v{draft.version}.docx",
            mime="application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            key=f"{key}-docx",
        )


def chart_figure(chart: ChartSpec, frame: pd.DataFrame | None, ranked: int | bool):
    """The plotly figure for a chart, or None when it would say nothing a sentence does not (one bar, one point).

    In a ranking (前5名, 最高的) the answer's own bars — the first `ranked` — are drawn darker than the rest.
    """
    if frame is None or chart.x not in frame.columns or chart.y not in frame.columns or len(frame) < 2:
        return None
    draw = px.line if chart.kind == "line" else px.bar
    figure = draw(frame, x=chart.x, y=chart.y, color=chart.color, title=chart.title)
    if ranked and chart.kind == "bar" and chart.color is None:
        leaders = min(int(ranked), len(frame))
        figure.update_traces(marker_color=[LEADER] * leaders + [OTHERS] * (len(frame) - leaders))
    figure.update_layout(margin=dict(l=10, r=10, t=40, b=10), height=320)
    return figure


def split_footer(markdown: str) -> tuple[str, str]:
    """The answer text and its dataset line (sent as <sub>…</sub>, which st.markdown would print as tags)."""
    match = FOOTER.search(markdown)
    if match is None:
        return markdown, ""
    return markdown[: match.start()], match.group(1)


def without_tables(markdown: str) -> str:
    """The text without its Markdown tables and their 'first N rows' note (the grid shows every row)."""
    kept = [
        line
        for line in markdown.splitlines()
        if not line.lstrip().startswith("|") and not TRUNCATION_NOTE.match(line.strip())
    ]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(kept)).strip()


def draft_docx(draft) -> bytes:
    """The Word version of a chat draft, built when the user asks for it (it takes a second or two)."""
    from advisor.plans import PlanLibrary, generate, render_docx
    from ui import state

    document = generate(draft.kind, draft.args, state.store(), state.knowledge().search, version=draft.version)
    # One saved plan per draft version (also listed on the 方案 page), however often the button is pressed.
    digest = hashlib.sha1(json.dumps(draft.args, sort_keys=True, default=str).encode()).hexdigest()[:10]
    PlanLibrary(state.settings().data_dir / "plans").save(document, f"draft-{draft.kind}-{digest}-v{draft.version}")
    return render_docx(document)
