"""方案: generate plan documents, list saved ones, open, edit section text, regenerate, download Word/Markdown."""

from __future__ import annotations

import streamlit as st

from advisor.drafts import incentive_args
from advisor.plans import KIND_NAMES, PlanLibrary, generate, render_docx, render_markdown
from company.errors import CanmouError
from company.schema import REGIONS
from documents.docx import file_name
from documents.model import Paragraph, PlanDocument
from ui import dataset, state
from ui.i18n import t

ALL = "全国"


def library() -> PlanLibrary:
    return PlanLibrary(state.settings().data_dir / "plans")


def plan_args(kind: str, period: str, region: str, budget: float) -> dict:
    scope = None if region == ALL else region
    if kind == "work_plan":
        return {"quarter": period.strip() or None, "region": scope}
    if kind == "incentive":
        args = incentive_args({"region": scope, **({"budget": budget} if budget else {})})
        if period.strip():
            args["period"] = period.strip()
        return args
    return {"region": scope, "period": period.strip() or "latest"}


def generate_form(defaults: dict | None = None, key: str = "new") -> None:
    defaults = defaults or {}
    kinds = list(KIND_NAMES)
    c1, c2, c3, c4 = st.columns([2, 2, 2, 2])
    kind = c1.selectbox(
        "方案类型",
        kinds,
        index=kinds.index(defaults.get("kind", "work_plan")),
        format_func=KIND_NAMES.get,
        key=f"{key}-kind",
    )
    period = c2.text_input("期间（季度，如 2026Q4；留空为默认）", value=defaults.get("period", ""), key=f"{key}-period")
    regions = [ALL, *REGIONS]
    region = c3.selectbox("范围", regions, index=regions.index(defaults.get("region") or ALL), key=f"{key}-region")
    budget = c4.number_input(
        "返利预算（元，仅返利方案）",
        min_value=0.0,
        value=float(defaults.get("budget") or 0),
        step=100_000.0,
        key=f"{key}-budget",
    )
    if st.button("生成方案" if key == "new" else "按新参数重新生成", type="primary", key=f"{key}-go"):
        with st.spinner("正在运行工具并生成文档…"):
            try:
                document = generate(
                    kind,
                    plan_args(kind, period, region, budget),
                    state.store(),
                    state.knowledge().search,
                    version=defaults.get("version", 0) + 1,
                )
            except CanmouError as exc:
                st.error(exc.message)
                return
        # The select box below keeps its own choice across reruns: ask it to show the new plan on the next run.
        st.session_state["plan_select"] = library().save(document)
        st.session_state["plan_message"] = f"已生成「{document.title}」。"
        st.rerun()


def editor(document: PlanDocument, plan_id: str) -> None:
    with st.expander("编辑各节文字（表格与图表来自数据，不能手改）"):
        edited: dict[str, str] = {}
        for number, section in enumerate(document.walk()):
            text = "\n\n".join(p.text for p in section.paragraphs)
            edited[number] = st.text_area(section.heading, value=text, key=f"edit-{plan_id}-{number}", height=120)
        if st.button("保存修改", key=f"save-{plan_id}"):
            for number, section in enumerate(document.walk()):
                parts = [t.strip() for t in edited[number].split("\n\n") if t.strip()]
                styles = [p.style for p in section.paragraphs]
                section.paragraphs = [
                    Paragraph(text=t, style=styles[i] if i < len(styles) else "body") for i, t in enumerate(parts)
                ]
            library().save(document, plan_id)
            st.session_state["plan_message"] = "修改已保存。"
            st.rerun()


def show(document: PlanDocument, plan_id: str) -> None:
    st.subheader(document.title)
    st.caption(
        f"{document.metadata.company} · {document.metadata.period} · {document.metadata.scope} · "
        f"版本 {document.metadata.version}"
    )
    c1, c2, c3 = st.columns(3)
    c1.download_button(
        "下载 Word（.docx）",
        data=lambda: render_docx(document),
        file_name=file_name(document),
        mime="application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        key=f"docx-{plan_id}",
    )
    c2.download_button(
        "下载 Markdown",
        data=lambda: render_markdown(document).encode("utf-8"),
        file_name=file_name(document, ".md"),
        mime="text/markdown",
        key=f"md-{plan_id}",
    )
    if c3.button("删除此方案", key=f"delete-{plan_id}"):
        library().delete(plan_id)
        st.session_state["plan_select"] = None
        st.rerun()
    for warning in document.warnings:
        st.caption(f"提示：{warning}")
    editor(document, plan_id)
    with st.expander("按新参数重新生成"):
        args = document.args
        generate_form(
            {
                "kind": args.get("kind", "work_plan"),
                "region": args.get("region"),
                "period": args.get("quarter") or (args.get("period") if args.get("period") != "latest" else "") or "",
                "budget": args.get("budget"),
                "version": document.metadata.version,
            },
            key=f"re-{plan_id}",
        )
    st.markdown(render_markdown(document))


st.title(t("plans.title"))
dataset.header()
if message := st.session_state.pop("plan_message", None):
    st.success(message)
if not state.store().exists():
    st.info("还没有公司数据：方案里的数字来自公司数据。请先到「数据中心」生成示例公司或导入文件。")
    st.stop()
st.caption(
    "季度渠道工作计划、激励/返利方案、渠道策略：数字来自计算工具，建议引用知识库并标注出处；可下载 Word 与 Markdown。"
    "也可以在「对话」里起草方案后继续修改。"
)
generate_form()
# Newest first by the time each file was written (ids of drafts saved from the chat do not sort by date).
saved = sorted(library().list(), key=lambda p: p.path.stat().st_mtime, reverse=True)
if not saved:
    st.info("还没有保存的方案。选好类型和参数后点「生成方案」。")
    st.stop()
labels = {p.plan_id: f"{p.title}（{KIND_NAMES.get(p.kind, p.kind)}，{p.saved_at}）" for p in saved}
ids = list(labels)
if "plan_select" in st.session_state:  # just generated (or deleted): show that plan, or the newest
    wanted = st.session_state.pop("plan_select")
    st.session_state["plan_choice"] = wanted if wanted in ids else ids[0]
elif st.session_state.get("plan_choice") not in ids:
    st.session_state["plan_choice"] = ids[0]
chosen = st.selectbox("已保存的方案", ids, format_func=labels.get, key="plan_choice")
show(library().load(chosen), chosen)
