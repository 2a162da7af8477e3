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

# Example questions by the kind of user (their texts, in both languages, are in ui/text.yaml).
STARTERS = {
    "chat.group.manager": ("rebate_plan", "rebate_threshold", "cross_region"),
    "chat.group.executive": ("below_target", "expense_ratio", "conflicts"),
    "chat.group.plan": ("work_plan", "strategy", "scorecard"),
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
        st.caption(t("chat.history_mine"))
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
    st.warning(t("chat.delete_ask", title=conversation.title))
    yes, no = st.columns(2)
    if yes.button(t("chat.delete_yes"), type="primary", width="stretch", key="delete_chat_yes"):
        history.delete(conversation.id)
        st.session_state.pop("confirm_delete", None)
        st.session_state.pop("conversation_id", None)
        st.session_state["chat_message"] = t("chat.deleted", title=conversation.title)
        st.rerun()
    if no.button(t("chat.delete_no"), width="stretch", key="delete_chat_no"):
        st.session_state.pop("confirm_delete", None)
        st.rerun()


def welcome() -> None:
    st.markdown(t("chat.welcome"))
    store = state.store()
    if store.exists():
        profile = store.profile()
        loaded = "chat.loaded.sample" if profile.is_sample else "chat.loaded.company"
        st.caption(t(loaded, name=profile.name, docs=state.knowledge().stats()["documents"]))
    st.caption(t("chat.own"))
    st.markdown(t("chat.try"))
    columns = st.columns(len(STARTERS))
    for column, (group, starters) in zip(columns, STARTERS.items(), strict=True):
        with column:
            st.caption(t(group))
            for number, starter in enumerate(starters):
                question = t(f"chat.starter.{starter}")
                if st.button(question, key=f"starter-{group}-{number}", width="stretch"):
                    st.session_state["pending"] = question
                    st.rerun()


def replay(history, conversation_id: str) -> None:
    for index, message in enumerate(history.messages(conversation_id)):
        with st.chat_message(message.role):
            if message.answer is None:  # the user's words (content, like the answer: not the interface's)
                st.container(key=f"content-question-{conversation_id}-{index}").markdown(message.content)
                continue
            render_answer(message.answer, key=f"{conversation_id}-{index}")
            if message.answer.route.options:  # the assistant's choices for an unclear question
                options = st.container(key=f"content-options-{conversation_id}-{index}")
                for number, option in enumerate(message.answer.route.options):
                    if options.button(option, key=f"opt-{conversation_id}-{index}-{number}"):
                        st.session_state["pending"] = option
                        st.rerun()


def ask(question: str, history) -> None:
    with st.chat_message("user"):
        st.container(key="content-question-asked").markdown(question)
    with st.chat_message("assistant"):
        status = st.status(t("chat.working"), expanded=False)
        stream = st.empty()
        streamed: list[str] = []

        def on_event(kind: str, value) -> None:
            if kind == "step" and isinstance(value, Step):
                status.write(t("chat.step", label=value.label, detail=value.detail))
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
            status.update(label=t("chat.failed"), state="error")
            st.error(exc.message)
            if isinstance(exc, UnknownConversation):
                st.session_state.pop("conversation_id", None)
            return
        status.update(label=t("chat.done", steps=t("sep.steps").join(s.label for s in reply.steps)), state="complete")
        stream.empty()
    st.rerun()


st.title(t("app.name"))
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
