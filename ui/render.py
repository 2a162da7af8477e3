"""Show an Answer in Streamlit: markdown, tables, plotly charts, citations, the SQL, flags, draft download."""

from __future__ import annotations

import hashlib
import json

import plotly.express as px
import streamlit as st

from advisor.types import Answer


def render_answer(answer: Answer, key: str) -> None:
    for flag in answer.flags:
        st.warning(f"核对提示：{flag}")
    st.markdown(answer.markdown)
    tables = {t.name: t.frame for t in answer.tables}
    for number, chart in enumerate(answer.charts):
        frame = tables.get(chart.table)
        if frame is None or chart.x not in frame.columns or chart.y not in frame.columns or frame.empty:
            continue
        draw = px.line if chart.kind == "line" else px.bar
        fig = draw(frame, x=chart.x, y=chart.y, color=chart.color, title=chart.title)
        fig.update_layout(margin=dict(l=10, r=10, t=40, b=10), height=320)
        st.plotly_chart(fig, width="stretch", key=f"{key}-chart-{number}")
    if answer.tables:
        with st.expander(
            f"查看表格（{len(answer.tables)} 个）", expanded=answer.draft is None and answer.sql is not None
        ):
            for table in answer.tables:
                st.caption(table.name)
                st.dataframe(table.frame, hide_index=True, width="stretch")
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


def draft_docx(draft) -> bytes:
    """The Word version of a chat draft, built when the user asks for it (it takes a second or two)."""
    from advisor.plans import PlanLibrary, generate, render_docx
    from ui import state

    document = generate(draft.kind, draft.args, state.store(), state.knowledge().search, version=draft.version)
    # One saved plan per draft version (also listed on the 方案 page), however often the button is pressed.
    digest = hashlib.sha1(json.dumps(draft.args, sort_keys=True, default=str).encode()).hexdigest()[:10]
    PlanLibrary(state.settings().data_dir / "plans").save(document, f"draft-{draft.kind}-{digest}-v{draft.version}")
    return render_docx(document)
