"""The active dataset on every page: a caption naming it and a sidebar switcher between datasets."""

from __future__ import annotations

import streamlit as st

from advisor.workspace import workspaces
from ui import state


def header() -> None:
    """Name the active dataset under the page title and offer the switch in the sidebar."""
    spaces = workspaces(state.settings())
    datasets = [d for d in spaces.list() if d.store.exists()]
    active = spaces.active()
    if active is None or not active.store.exists():
        return
    st.caption(f"当前数据集：{active.describe()}")
    if len(datasets) < 2:
        return
    ids = [d.id for d in datasets]
    names = {d.id: f"{d.profile.name}{'（示例）' if d.profile.is_sample else ''}" for d in datasets}
    chosen = st.sidebar.selectbox(
        "数据集",
        ids,
        index=ids.index(active.id) if active.id in ids else 0,
        format_func=names.get,
        key="dataset_switch",
        help="示例公司与您导入的公司数据分开保存；切换后所有页面、回答和方案都用所选数据集。",
    )
    if chosen != active.id:
        spaces.activate(chosen)
        st.session_state["dataset_switched"] = names[chosen]
        st.rerun()
    if switched := st.session_state.pop("dataset_switched", None):
        st.toast(f"已切换到数据集「{switched}」")
