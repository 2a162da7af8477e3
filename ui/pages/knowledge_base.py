"""知识库: upload documents with progress, list and remove them, and a search console with legs and scores.

Everyone may search and list; adding and removing documents is an admin's (recorded in the audit log)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from advisor.accounts import User
from advisor.audit import AuditLog
from company.errors import CanmouError
from knowledge.loaders import GUIDE_TOPICS, SUPPORTED
from ui import auth, state
from ui.i18n import file_uploader, t

# The guides' topics are named in ui/text.yaml (knowledge.topic.<id>); an uploaded document's own topic shows as is.
TOPICS = GUIDE_TOPICS


def topic_name(topic: str | None) -> str:
    return t(f"knowledge.topic.{topic}") if topic in TOPICS else topic or ""


def audit(event: str, user: User, **details) -> None:
    AuditLog(state.settings().data_dir).record(event, user.name, target="document", **details)


def upload_section(kb, user: User) -> None:
    st.subheader(t("knowledge.upload.title"))
    st.caption(t("knowledge.upload.caption", types=" ".join(SUPPORTED)))
    files = file_uploader(
        t("knowledge.upload.label"), [s.lstrip(".") for s in SUPPORTED], accept_multiple_files=True, key="kb_upload"
    )
    if not files or not st.button(t("knowledge.upload.add"), type="primary", key="kb_add"):
        return
    bar = st.progress(0.0, text=t("knowledge.upload.preparing"))
    results = []

    def step(fraction: float, message: str) -> None:
        bar.progress(min(1.0, fraction), text=message)

    # each file's problem is that file's outcome (a damaged PDF never stops the others, never shows a traceback)
    outcomes = kb.add_uploads([(upload.name, upload.getvalue()) for upload in files], progress=step)
    for upload, outcome in zip(files, outcomes, strict=True):
        if outcome.error:
            results.append(("error", t("knowledge.upload.failed", name=upload.name, message=outcome.error)))
            continue
        doc = outcome.document
        if not outcome.duplicate_of:
            audit("import", user, file=upload.name, id=doc.doc_id, title=doc.title)
        if outcome.duplicate_of:
            results.append(("info", t("knowledge.upload.duplicate", name=upload.name, title=doc.title)))
        else:
            cleaned = []
            if doc.dropped_boilerplate:
                cleaned.append(t("knowledge.upload.boilerplate", count=doc.dropped_boilerplate))
            if doc.dropped_duplicates:
                cleaned.append(t("knowledge.upload.duplicates", count=doc.dropped_duplicates))
            note = t("knowledge.upload.cleaned", items=t("sep.clause").join(cleaned)) if cleaned else ""
            results.append(("success", t("knowledge.upload.added", title=doc.title, chunks=doc.chunks, note=note)))
    bar.progress(1.0, text=t("knowledge.upload.done"))
    st.session_state["kb_messages"] = results
    st.rerun()


def documents_section(kb, user: User) -> None:
    st.subheader(t("knowledge.documents.title"))
    docs = kb.documents()
    if not docs:
        st.info(t("knowledge.documents.empty"))
        return
    names = ("id", "title", "file", "origin", "topic", "chunks", "chars", "added")
    column = {name: t(f"knowledge.documents.column.{name}") for name in names}
    frame = pd.DataFrame(
        [
            {
                column["id"]: d.doc_id,
                column["title"]: d.title,
                column["file"]: d.source,
                column["origin"]: t(f"knowledge.documents.origin.{'guide' if d.origin == 'guide' else 'upload'}"),
                column["topic"]: topic_name(d.topic),
                column["chunks"]: d.chunks,
                column["chars"]: d.chars,
                column["added"]: d.added_at,
            }
            for d in docs
        ]
    )
    st.dataframe(frame, hide_index=True, width="stretch")
    if not user.permissions.can_manage_knowledge:
        return
    c1, c2 = st.columns([3, 1], vertical_alignment="bottom")
    choice = c1.selectbox(
        t("knowledge.documents.remove"),
        [""] + [d.doc_id for d in docs],
        key="kb_remove_choice",
        format_func=lambda v: (
            t("knowledge.documents.remove_choose")
            if not v
            else next(
                t("knowledge.documents.remove_option", title=d.title, source=d.source) for d in docs if d.doc_id == v
            )
        ),
    )
    if c2.button(t("knowledge.documents.remove_button"), key="kb_remove", disabled=not choice):
        doc = kb.remove(choice)
        audit("delete", user, id=doc.doc_id, title=doc.title)
        st.session_state["kb_messages"] = [("success", t("knowledge.documents.removed", title=doc.title))]
        st.rerun()


def search_section(kb) -> None:
    st.subheader(t("knowledge.search.title"))
    c1, c2, c3 = st.columns([4, 2, 1])
    query = c1.text_input(t("knowledge.search.query"), placeholder=t("knowledge.search.placeholder"), key="kb_query")
    topics = c2.multiselect(
        t("knowledge.search.topics"),
        list(TOPICS),
        format_func=topic_name,
        key="kb_topics",
        placeholder=t("knowledge.search.all_topics"),
    )
    k = c3.number_input(t("knowledge.search.k"), min_value=1, max_value=20, value=5, key="kb_k")
    if not query.strip():
        return
    result = kb.search(query, k=int(k), topics=topics or None)
    if not result.found:
        st.warning(t("knowledge.search.weak"))
    terms = t("sep.list").join(result.expanded_terms[:12])
    st.caption(
        t("knowledge.search.elapsed", ms=f"{result.elapsed_ms:.1f}")
        + (t("knowledge.search.expanded", terms=terms) if terms else "")
    )
    for p in result.passages:
        c = p.chunk
        legs = t("sep.clause").join(
            t("knowledge.search.leg_rank", leg=t(f"knowledge.leg.{leg}"), rank=info["rank"])
            for leg, info in p.legs.items()
        )
        path = " > ".join(c.heading_path)
        label = t("knowledge.search.result", rank=p.rank, title=c.title + (f" > {path}" if path else ""))
        with st.expander(label, expanded=p.relevant and p.rank <= 2):
            # The passage and where it comes from are quoted as they are written (content, not interface).
            with st.container(key=f"content-passage-{p.rank}"):
                st.markdown(c.text)
                st.caption(t("knowledge.search.source", source=c.source, location=c.location_label))
            st.caption(
                t(
                    "knowledge.search.scores",
                    score=f"{p.score:.4f}",
                    legs=legs,
                    similarity=f"{p.similarity:.3f}" if p.similarity is not None else "—",
                    coverage=f"{p.coverage:.0%}",
                    verdict=t("knowledge.search.relevant" if p.relevant else "knowledge.search.not_relevant"),
                )
            )


user = auth.require_user()
st.title(t("knowledge.title"))
for kind, message in st.session_state.pop("kb_messages", []):
    getattr(st, kind)(message)
try:
    knowledge = state.knowledge()
except CanmouError as exc:
    st.error(exc.message)
    st.stop()
with st.spinner(t("knowledge.loading")):
    knowledge.warm_up()
stats = knowledge.stats()
cols = st.columns(3)
cols[0].metric(t("knowledge.metric.documents"), stats["documents"])
cols[1].metric(t("knowledge.metric.chunks"), stats["chunks"], help=t("knowledge.metric.chunks_help"))
search_section(knowledge)
if user.permissions.can_manage_knowledge:
    upload_section(knowledge, user)
else:
    st.caption(t("knowledge.documents.read_only"))
documents_section(knowledge, user)
