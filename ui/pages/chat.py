"""对话: the chat assistant — this session's history in the sidebar, steps in st.status, answers with sources."""

from __future__ import annotations

import uuid

import streamlit as st

from advisor.conversation import Conversation, Deps, UnknownConversation
from advisor.types import Step
from company.errors import CanmouError
from ui import dataset, state
from ui.i18n import t
from ui.render import render_answer

STARTERS = {
    "chat.group.manager": ["设计一个返利方案，预算300万", "返利门槛怎么定？", "经销商跨区窜货怎么处理？"],
    "chat.group.executive": ["上季度华东哪些经销商完成率低于80%？", "各渠道费用率对比", "有没有窜货？"],
    "chat.group.plan": ["做一份下季度的渠道工作计划", "起草一份渠道策略", "给华东经销商打分分级"],
}


def session_owner() -> str:
    """This browser session's history key, kept in the address so that reloading the page keeps the history.

    Not an account (sign-in comes later): it only keeps one window's conversations out of another's sidebar.
    """
    owner = st.session_state.get("owner") or st.query_params.get("session") or uuid.uuid4().hex
    st.session_state["owner"] = owner
    if st.query_params.get("session") != owner:
        st.query_params["session"] = owner
    return owner


def sidebar(history) -> None:
    with st.sidebar:
        if st.button(t("chat.new"), width="stretch", key="new_chat"):
            st.session_state.pop("conversation_id", None)
            st.rerun()
        if message := st.session_state.pop("chat_message", None):
            st.success(message)
        st.caption(t("chat.history"))
        conversations = history.conversations(30)
        current_id = st.session_state.get("conversation_id")
        for conversation in conversations:
            current = conversation.id == current_id
            label = ("▸ " if current else "") + conversation.title
            if st.button(label, key=f"conv-{conversation.id}", width="stretch"):
                st.session_state["conversation_id"] = conversation.id
                st.session_state.pop("confirm_delete", None)
                st.rerun()
        st.caption(t("chat.history.mine"))
        current = next((c for c in conversations if c.id == current_id), None)
        if current is not None:
            delete_control(history, current)


def delete_control(history, conversation) -> None:
    """删除当前对话, asked once more before anything is removed."""
    if st.session_state.get("confirm_delete") != conversation.id:
        if st.button(t("chat.delete"), icon=":material/delete:", width="stretch", key="delete_chat"):
            st.session_state["confirm_delete"] = conversation.id
            st.rerun()
        return
    st.warning(t("chat.delete.ask", title=conversation.title))
    yes, no = st.columns(2)
    if yes.button(t("chat.delete.yes"), type="primary", width="stretch", key="delete_chat_yes"):
        history.delete(conversation.id)
        st.session_state.pop("confirm_delete", None)
        st.session_state.pop("conversation_id", None)
        st.session_state["chat_message"] = t("chat.deleted", title=conversation.title)
        st.rerun()
    if no.button(t("chat.delete.no"), width="stretch", key="delete_chat_no"):
        st.session_state.pop("confirm_delete", None)
        st.rerun()


def welcome() -> None:
    st.markdown(t("chat.welcome"))
    store = state.store()
    if store.exists():
        profile = store.profile()
        data = f"「{profile.name}」（{'内置示例公司，虚构的食品饮料企业' if profile.is_sample else '公司数据'}）"
        st.caption(t("chat.loaded", data=data, docs=str(state.knowledge().stats()["documents"])))
    st.caption(t("chat.own"))
    st.markdown(t("chat.try"))
    columns = st.columns(len(STARTERS))
    for column, (group, questions) in zip(columns, STARTERS.items(), strict=True):
        with column:
            st.caption(t(group))
            for number, question in enumerate(questions):
                if st.button(question, key=f"starter-{group}-{number}", width="stretch"):
                    st.session_state["pending"] = question
                    st.rerun()


def replay(history, conversation_id: str) -> None:
    for index, message in enumerate(history.messages(conversation_id)):
        with st.chat_message(message.role):
            if message.answer is None:
                st.markdown(message.content)
                continue
            render_answer(message.answer, key=f"{conversation_id}-{index}")
            if message.answer.route.options:
                for number, option in enumerate(message.answer.route.options):
                    if st.button(option, key=f"opt-{conversation_id}-{index}-{number}"):
                        st.session_state["pending"] = option
                        st.rerun()


def ask(question: str, history) -> None:
    with st.chat_message("user"):
        st.markdown(question)
    with st.chat_message("assistant"):
        status = st.status("正在处理…", expanded=False)
        stream = st.empty()
        streamed: list[str] = []

        def on_event(kind: str, value) -> None:
            if kind == "step" and isinstance(value, Step):
                status.write(f"**{value.label}**　{value.detail}")
            elif kind == "token":
                streamed.append(value)
                stream.markdown("".join(streamed) + "▌")
            elif kind == "retract":  # the model streamed a preamble, then decided to call tools
                streamed.clear()
                stream.empty()

        try:
            deps = Deps(store=state.store(), kb=state.knowledge(), settings=state.settings(), history=history)
            conversation = Conversation.open(deps, st.session_state.get("conversation_id"), question)
            st.session_state["conversation_id"] = conversation.id
            reply = conversation.ask(question, on_event)
        except CanmouError as exc:  # a turn that got as far as the question saved the message as its reply
            status.update(label="出错了", state="error")
            st.error(exc.message)
            if isinstance(exc, UnknownConversation):
                st.session_state.pop("conversation_id", None)
            return
        status.update(label="完成：" + "；".join(s.label for s in reply.steps), state="complete")
        stream.empty()
    st.rerun()


st.title(t("chat.title"))
dataset.header()
history = state.history(owner=session_owner())
sidebar(history)
if not state.store().exists():
    st.info(t("chat.nodata"))
conversation = st.session_state.get("conversation_id")
if conversation:
    replay(history, conversation)
else:
    welcome()
typed = st.chat_input(t("chat.input"))
question = typed or st.session_state.pop("pending", None)
if question:
    ask(question, history)
