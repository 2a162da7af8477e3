"""方案: generate plan documents, list saved ones, open, edit section text, regenerate, download Word/Markdown."""

from __future__ import annotations

import streamlit as st

from advisor.drafts import REVISIONS, incentive_args
from advisor.plans import PlanLibrary, generate, render_docx, render_markdown
from company.errors import CanmouError
from company.schema import REGIONS
from documents.docx import file_name
from documents.kinds import PLAN_KINDS, UnknownPlanKind, plan_kind
from documents.model import Paragraph, PlanDocument
from ui import auth, state
from ui.i18n import language, t


def library() -> PlanLibrary:
    return PlanLibrary(state.settings().data_dir / "plans")


def kind_name(kind: str) -> str:
    try:
        return plan_kind(kind).name(language())
    except UnknownPlanKind:
        return kind


def region_name(region: str) -> str:
    """A region as written in the data; "" is the whole country."""
    return region or t("plans.all_regions")


def plan_args(kind: str, period: str, region: str, budget: float, base: dict | None = None) -> dict:
    """The arguments of the plan to generate. Regenerating a plan of the same kind starts from its own arguments
    (a rebate plan keeps its tiers, 110% threshold and all) and changes what the form changed, the way the chat
    revises a draft."""
    scope = region or None
    if base is not None:
        slots: dict = {"region": scope}
        if period.strip():
            slots["period"] = period.strip()
        if budget:
            slots["budget"] = budget
        args = REVISIONS[kind](dict(base), slots)[0]
        if not budget:
            args.pop("budget", None)  # 0 in the form: no budget
        return args
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
    kinds = list(PLAN_KINDS)
    default_kind = defaults.get("kind", "work_plan")
    c1, c2, c3, c4 = st.columns([2, 2, 2, 2])
    kind = c1.selectbox(
        t("plans.kind"),
        kinds,
        index=kinds.index(default_kind) if default_kind in kinds else 0,
        format_func=kind_name,
        key=f"{key}-kind",
    )
    period = c2.text_input(t("plans.period"), value=defaults.get("period", ""), key=f"{key}-period")
    mine = user.permissions.regions  # a manager plans for their own regions only
    regions = list(mine) if mine is not None else ["", *REGIONS]
    region = c3.selectbox(
        t("plans.region"),
        regions,
        index=regions.index(defaults["region"]) if defaults.get("region") in regions else 0,
        format_func=region_name,
        key=f"{key}-region",
    )
    budget = c4.number_input(
        t("plans.budget", unit=auth.store_for(user).profile().money.label(language())),
        min_value=0.0,
        value=float(defaults.get("budget") or 0),
        step=100_000.0,
        key=f"{key}-budget",
    )
    if st.button(t("plans.generate" if key == "new" else "plans.regenerate"), type="primary", key=f"{key}-go"):
        with st.spinner(t("plans.generating")):
            try:
                base = defaults.get("args") if kind == defaults.get("kind") else None
                document = generate(
                    kind,
                    plan_args(kind, period, region, budget, base),
                    auth.store_for(user),
                    state.knowledge().search,
                    version=defaults.get("version", 0) + 1,
                )
            except CanmouError as exc:
                st.error(exc.message)
                return
        # The select box below keeps its own choice across reruns: ask it to show the new plan on the next run.
        st.session_state["plan_select"] = library().save(document)
        st.session_state["plan_message"] = t("plans.generated", title=document.title)
        st.rerun()


def editor(document: PlanDocument, plan_id: str) -> None:
    with st.expander(t("plans.edit")):
        edited: dict[str, str] = {}
        # The sections' headings and text are the document's own words (content, not interface).
        with st.container(key=f"content-sections-{plan_id}"):
            for number, section in enumerate(document.walk()):
                text = "\n\n".join(p.text for p in section.paragraphs)
                edited[number] = st.text_area(section.heading, value=text, key=f"edit-{plan_id}-{number}", height=120)
        if st.button(t("plans.save_edits"), key=f"save-{plan_id}"):
            for number, section in enumerate(document.walk()):
                parts = [part.strip() for part in edited[number].split("\n\n") if part.strip()]
                styles = [p.style for p in section.paragraphs]
                section.paragraphs = [
                    Paragraph(text=part, style=styles[i] if i < len(styles) else "body") for i, part in enumerate(parts)
                ]
            library().save(document, plan_id)
            st.session_state["plan_message"] = t("plans.edits_saved")
            st.rerun()


def show(document: PlanDocument, plan_id: str) -> None:
    # The document is written in its own language (its title, period, scope and notes): content, not interface.
    head = st.container(key=f"content-plan-head-{plan_id}")
    head.subheader(document.title)
    metadata = document.metadata
    head.caption(
        t(
            "plans.metadata",
            company=metadata.company,
            period=metadata.period,
            scope=metadata.scope,
            version=metadata.version,
        )
    )
    c1, c2, c3 = st.columns(3)
    c1.download_button(
        t("plans.download_docx"),
        data=lambda: render_docx(document),
        file_name=file_name(document),
        mime="application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        key=f"docx-{plan_id}",
    )
    c2.download_button(
        t("plans.download_md"),
        data=lambda: render_markdown(document).encode("utf-8"),
        file_name=file_name(document, ".md"),
        mime="text/markdown",
        key=f"md-{plan_id}",
    )
    if user.permissions.can_draft_plans and c3.button(t("plans.delete"), key=f"delete-{plan_id}"):
        library().delete(plan_id, user=user.name)
        st.session_state["plan_select"] = None
        st.rerun()
    notes = st.container(key=f"content-plan-notes-{plan_id}")
    for warning in document.warnings:
        notes.caption(t("plans.note", warning=warning))
    if not user.permissions.can_draft_plans:  # an executive reads plans; drafting is a manager's or an admin's
        st.container(key=f"content-plan-{plan_id}").markdown(render_markdown(document))
        return
    editor(document, plan_id)
    with st.expander(t("plans.regenerate")):
        args = document.args
        generate_form(
            {
                "kind": document.kind,
                "args": args,
                "region": args.get("region"),
                "period": args.get("quarter") or (args.get("period") if args.get("period") != "latest" else "") or "",
                "budget": args.get("budget"),
                "version": document.metadata.version,
            },
            key=f"re-{plan_id}",
        )
    st.container(key=f"content-plan-{plan_id}").markdown(render_markdown(document))


def visible(plan, user) -> bool:
    """A manager sees the plans of their own regions only (a whole-company plan holds every region's figures)."""
    mine = user.permissions.regions
    return mine is None or library().load(plan.plan_id).args.get("region") in mine


user = auth.require_user()
st.title(t("plans.title"))
auth.dataset_header(user)
if message := st.session_state.pop("plan_message", None):
    st.success(message)
if not auth.store_for(user).exists():
    st.info(t("plans.nodata"))
    st.stop()
if user.permissions.can_draft_plans:
    st.caption(t("plans.caption"))
    generate_form()
else:
    st.caption(t("plans.read_only"))
# Newest first by the time each file was written (ids of drafts saved from the chat do not sort by date).
saved = sorted((p for p in library().list() if visible(p, user)), key=lambda p: p.path.stat().st_mtime, reverse=True)
if not saved:
    st.info(t("plans.none"))
    st.stop()
labels = {p.plan_id: t("plans.option", title=p.title, kind=kind_name(p.kind), saved=p.saved_at) for p in saved}
ids = list(labels)
if "plan_select" in st.session_state:  # just generated (or deleted): show that plan, or the newest
    wanted = st.session_state.pop("plan_select")
    st.session_state["plan_choice"] = wanted if wanted in ids else ids[0]
elif st.session_state.get("plan_choice") not in ids:
    st.session_state["plan_choice"] = ids[0]
chosen = st.selectbox(t("plans.saved"), ids, format_func=labels.get, key="plan_choice")
show(library().load(chosen), chosen)
