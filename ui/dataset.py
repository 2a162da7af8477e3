"""The active dataset on every page: a caption naming it and a sidebar switcher between datasets."""

from __future__ import annotations

import streamlit as st

from advisor.workspace import workspaces
from ui import state
from ui.i18n import language, t


def describe(dataset) -> str:
    """「名称」, sample or company data, and the currency, in the interface language."""
    profile = dataset.profile
    return t(
        "dataset.current",
        name=profile.name,
        kind=t("dataset.kind.sample" if profile.is_sample else "dataset.kind.company"),
        unit=profile.money.label(language()),
    )


def option(dataset) -> str:
    profile = dataset.profile
    return t("dataset.option.sample" if profile.is_sample else "dataset.option.company", name=profile.name)


def header() -> None:
    """Name the active dataset under the page title and offer the switch in the sidebar."""
    spaces = workspaces(state.settings())
    datasets = [d for d in spaces.list() if d.store.exists()]
    active = spaces.active()
    if active is None or not active.store.exists():
        return
    st.caption(describe(active))
    if len(datasets) < 2:
        return
    ids = [d.id for d in datasets]
    names = {d.id: option(d) for d in datasets}
    chosen = st.sidebar.selectbox(
        t("dataset.switch"),
        ids,
        index=ids.index(active.id) if active.id in ids else 0,
        format_func=names.get,
        key="dataset_switch",
        help=t("dataset.switch_help"),
    )
    if chosen != active.id:
        spaces.activate(chosen)
        st.session_state["dataset_switched"] = next(d.profile.name for d in datasets if d.id == chosen)
        st.rerun()
    if switched := st.session_state.pop("dataset_switched", None):
        st.toast(t("dataset.switched", name=switched))
