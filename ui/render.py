"""Show an Answer in Streamlit: markdown, tables, plotly charts, citations, the SQL, flags, draft download."""

from __future__ import annotations

import re

import pandas as pd
import plotly.express as px
import streamlit as st

from advisor.types import Answer, ChartSpec
from ui.i18n import t

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
    # What the assistant wrote, computed and quoted stays in the question's language: it goes into containers
    # keyed content-… (the CSS class st-key-content-…), apart from the interface's own words around it.
    content = st.container(key=f"content-answer-{key}")
    for flag in answer.flags:
        content.warning(t("answer.flag", flag=flag))
    text, footer = split_footer(answer.markdown)
    data_answer = answer.sql is not None and answer.draft is None
    # A data answer's rows are shown once, as a grid below the chart; the Markdown copy is for the command line.
    content.markdown(without_tables(text) if data_answer else text)
    tables = {table.name: table.frame for table in answer.tables}
    # A ranking's chart shows the ranking around the answer; its own rows (最高的 / 前3名) are drawn darker
    ranked = int(answer.spec.get("limit") or 0) if answer.spec and answer.spec.get("sort") else 0
    for number, chart in enumerate(answer.charts):
        figure = chart_figure(chart, tables.get(chart.table), ranked)
        if figure is not None:
            content.plotly_chart(figure, width="stretch", key=f"{key}-chart-{number}")
    if data_answer:
        shown = [table for table in answer.tables if table.name not in CHART_SOURCES] or answer.tables[:1]
        for table in shown:
            content.dataframe(table.frame, hide_index=True, width="stretch")
    elif answer.tables:
        with st.expander(t("answer.tables", count=len(answer.tables))), st.container(key=f"content-tables-{key}"):
            for table in answer.tables:
                st.caption(table.name)
                st.dataframe(table.frame, hide_index=True, width="stretch")
    if footer:
        st.container(key=f"content-footer-{key}").caption(footer)
    if answer.sql:
        with st.expander(t("answer.sql")):
            if answer.period:
                st.container(key=f"content-period-{key}").caption(t("answer.period", period=answer.period))
            st.code(answer.sql, language="sql")
    if answer.citations:
        with st.expander(t("answer.sources", count=len(answer.citations))), st.container(key=f"content-sources-{key}"):
            for citation in answer.citations:
                path = " > ".join(citation.heading_path)
                st.markdown(f"**[{citation.number}] {citation.title}**" + (f" > {path}" if path else ""))
                st.caption(f"{citation.source} {citation.location}")
                st.markdown(citation.text)
    if answer.draft is not None:
        draft = answer.draft
        c1, c2 = st.columns(2)
        c1.download_button(
            t("answer.download.markdown"),
            draft.markdown.encode("utf-8"),
            file_name=f"{draft.title}-v{draft.version}.md",
            mime="text/markdown",
            key=f"{key}-download",
        )
        if draft.document is not None:  # the Word file renders the document shown above, never a rebuild
            c2.download_button(
                t("answer.download.word"),
                data=lambda: draft_docx(draft),
                file_name=f"{draft.title}-v{draft.version}.docx",
                mime="application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                key=f"{key}-docx",
            )
        else:
            c2.caption(t("answer.download.old_draft"))


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
    """The Word version of a chat draft: the document the chat shows, rendered to .docx when the user asks for it.
    It is also kept in the plan library (listed on the 方案 page), one file per draft version."""
    from advisor.plans import render_docx, save_draft
    from ui import auth, state

    user = auth.current_user()  # the download is recorded in the audit log as theirs
    return render_docx(save_draft(draft, state.settings().data_dir / "plans", user=user.name if user else None))
