"""知识库: upload documents with progress, list and remove them, and a search console with legs and scores."""

from __future__ import annotations

import re

import pandas as pd
import streamlit as st

from company.errors import CanmouError
from knowledge.loaders import SUPPORTED
from ui import state
from ui.i18n import t

CJK = re.compile(r"[\u4e00-\u9fff]")

TOPICS = {
    "strategy": "渠道策略",
    "selection": "伙伴选择",
    "training": "培训支持",
    "incentive": "激励返利",
    "monitoring": "监控评估",
    "optimisation": "优化创新",
    "relationship": "关系协同",
    "control": "渠道控制",
    "vms": "垂直营销",
    "programming": "分销规划",
    "alliance": "产销联盟",
    "internet": "互联网渠道",
    "conflict": "冲突处理",
    "templates": "文档模板",
}
LEG_NAMES = {"words": "词语", "bigrams": "双字", "dense": "语义"}


def upload_section(kb) -> None:
    st.subheader("上传文档")
    st.caption(
        "支持 " + " ".join(SUPPORTED) + "。会自动识别标题、合并被硬换行切断的句子、去掉下载站声明等广告行，"
        "并合并重复的段落；同一文件重复上传不会重复入库。"
    )
    files = st.file_uploader(
        "选择文档", type=[s.lstrip(".") for s in SUPPORTED], accept_multiple_files=True, key="kb_upload"
    )
    if not files or not st.button("加入知识库", type="primary", key="kb_add"):
        return
    bar = st.progress(0.0, text="准备中…")
    results = []
    for number, upload in enumerate(files):

        def step(fraction: float, message: str, n=number) -> None:
            bar.progress(min(1.0, (n + fraction) / len(files)), text=f"[{n + 1}/{len(files)}] {message}")

        try:
            outcome = kb.add(upload.name, upload.getvalue(), progress=step)
        except CanmouError as exc:
            results.append(("error", f"{upload.name}：{exc.message}"))
            continue
        doc = outcome.document
        if outcome.duplicate_of:
            results.append(("info", f"{upload.name} 与已有文档「{doc.title}」内容相同，未重复加入。"))
        else:
            cleaned = []
            if doc.dropped_boilerplate:
                cleaned.append(f"去掉广告/页眉页脚 {doc.dropped_boilerplate} 行")
            if doc.dropped_duplicates:
                cleaned.append(f"合并重复段落 {doc.dropped_duplicates} 处")
            note = f"（{'，'.join(cleaned)}）" if cleaned else ""
            results.append(("success", f"已加入「{doc.title}」：{doc.chunks} 段{note}。"))
    bar.progress(1.0, text="完成")
    st.session_state["kb_messages"] = results
    st.rerun()


def documents_section(kb) -> None:
    st.subheader("文档列表")
    docs = kb.documents()
    if not docs:
        st.info("知识库是空的。运行 `make run` 会自动索引内置的渠道管理指南，也可以在上方上传自己的文档。")
        return
    frame = pd.DataFrame(
        [
            {
                "编号": d.doc_id,
                "标题": d.title,
                "文件": d.source,
                "来源": "内置指南" if d.origin == "guide" else "上传",
                "主题": TOPICS.get(d.topic or "", d.topic or ""),
                "段落数": d.chunks,
                "字数": d.chars,
                "加入时间": d.added_at,
            }
            for d in docs
        ]
    )
    st.dataframe(frame, hide_index=True, width="stretch")
    c1, c2 = st.columns([3, 1], vertical_alignment="bottom")
    choice = c1.selectbox(
        "删除文档",
        [""] + [d.doc_id for d in docs],
        key="kb_remove_choice",
        format_func=lambda v: (
            "选择要删除的文档" if not v else next(f"{d.title}（{d.source}）" for d in docs if d.doc_id == v)
        ),
    )
    if c2.button("删除", key="kb_remove", disabled=not choice):
        doc = kb.remove(choice)
        st.session_state["kb_messages"] = [("success", f"已删除「{doc.title}」。")]
        st.rerun()


def search_section(kb) -> None:
    st.subheader("检索测试")
    c1, c2, c3 = st.columns([4, 2, 1])
    query = c1.text_input("问题", placeholder="例如：经销商跨区窜货怎么处理？", key="kb_query")
    topics = c2.multiselect("主题", list(TOPICS), format_func=TOPICS.get, key="kb_topics", placeholder="全部主题")
    k = c3.number_input("段落数", min_value=1, max_value=20, value=5, key="kb_k")
    if not query.strip():
        return
    result = kb.search(query, k=int(k), topics=topics or None)
    if not result.found:
        st.warning(result.message + " 下列段落相关性不足，仅供参考。")
    st.caption(
        f"用时 {result.elapsed_ms:.1f} ms"
        + (f" · 同义词扩展：{'、'.join(result.expanded_terms[:12])}" if result.expanded_terms else "")
    )
    for p in result.passages:
        c = p.chunk
        legs = "，".join(f"{LEG_NAMES[leg]}第{info['rank']}名" for leg, info in p.legs.items())
        path = " > ".join(c.heading_path)
        label = f"[{p.rank}] {c.title}{' > ' + path if path else ''}"
        with st.expander(label, expanded=p.relevant and p.rank <= 2):
            st.markdown(c.text)
            sim = f"{p.similarity:.3f}" if p.similarity is not None else "—"
            st.caption(
                f"来源：{c.source} {c.location_label} · 融合得分 {p.score:.4f} · {legs} · 语义相似度 {sim} · "
                f"词语覆盖 {p.coverage:.0%} · {'可作为依据' if p.relevant else '相关性不足'}"
            )


st.title(t("knowledge.title"))
for kind, message in st.session_state.pop("kb_messages", []):
    getattr(st, kind)(message)
try:
    knowledge = state.knowledge()
except CanmouError as exc:
    st.error(exc.message)
    st.stop()
with st.spinner("正在加载检索模型（首次打开约需几秒）…"):
    knowledge.warm_up()
stats = knowledge.stats()
cols = st.columns(3)
cols[0].metric("文档", stats["documents"])
cols[1].metric("段落", stats["chunks"], help="文档切分成的引用单位，每段约 300 字，回答时按段引用。")
search_section(knowledge)
upload_section(knowledge)
documents_section(knowledge)
