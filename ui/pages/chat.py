"""对话: the chat assistant — the signed-in user's history in the sidebar, steps in st.status, answers with sources.

Answers read the user's scoped store (a manager's regions); an executive may not draft plans, so a draft request is
refused here before anything is computed (the pipeline does not check can_draft_plans)."""

from __future__ import annotations

import streamlit as st

from advisor.accounts import User, scope_violation
from advisor.conversation import Conversation, Deps, UnknownConversation
from advisor.evidence import words as evidence_words
from advisor.router import OPTION_INTENTS, route
from advisor.types import Step
from company.errors import CanmouError
from documents.kinds import PLAN_KINDS
from ui import auth, state
from ui.i18n import t
from ui.render import render_answer

# Example questions by the kind of user (their texts, in both languages, are in ui/text.yaml).
STARTERS = {
    "chat.group.manager": ("rebate_plan", "rebate_threshold", "cross_region"),
    "chat.group.executive": ("below_target", "expense_ratio", "conflicts"),
    "chat.group.plan": ("work_plan", "strategy", "scorecard"),
}


def drafts_a_plan(question: str) -> bool:
    """The question asks for a new plan draft, as the pipeline would route it (advisor.evidence.decide keeps a plan
    intent only with drafting words, or for a clarifying option that names the plan)."""
    routed = route(question)
    if routed.intent not in PLAN_KINDS:
        return False
    return question in OPTION_INTENTS or bool(evidence_words(question)[0])


def offered(question: str, user: User, store) -> bool:
    """An example question this user can ask: no draft for a role that may not draft, no region outside theirs."""
    if not user.permissions.can_draft_plans and drafts_a_plan(question):
        return False
    return scope_violation(question, user, store) is None


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
        titles = st.container(key="content-history")  # the titles are the user's own questions (content)
        for conversation in conversations:
            current = conversation.id == current_id
            label = ("▸ " if current else "") + conversation.title
            if titles.button(label, key=f"conv-{conversation.id}", width="stretch"):
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


def welcome(user: User, store) -> None:
    st.markdown(t("chat.welcome"))
    if store.exists():
        profile = store.profile()
        loaded = "chat.loaded.sample" if profile.is_sample else "chat.loaded.company"
        st.caption(t(loaded, name=profile.name, docs=state.knowledge().stats()["documents"]))
    if user.permissions.can_import:
        st.caption(t("chat.own"))
    groups = {
        group: [(number, t(f"chat.starter.{starter}")) for number, starter in enumerate(starters)]
        for group, starters in STARTERS.items()
    }
    groups = {group: [(n, q) for n, q in questions if offered(q, user, store)] for group, questions in groups.items()}
    groups = {group: questions for group, questions in groups.items() if questions}
    if not groups:
        return
    st.markdown(t("chat.try"))
    columns = st.columns(len(groups))
    for column, (group, questions) in zip(columns, groups.items(), strict=True):
        with column:
            st.caption(t(group))
            for number, question in questions:
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


def ask(question: str, history, user: User, store) -> None:
    with st.chat_message("user"):
        st.container(key="content-question-asked").markdown(question)
    if not user.permissions.can_draft_plans and drafts_a_plan(question):
        with st.chat_message("assistant"):
            st.warning(t("chat.no_draft"))
        return
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
            deps = Deps(store=store, kb=state.knowledge(), settings=state.settings(), history=history, user=user)
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


user = auth.require_user()
st.title(t("app.name"))
auth.dataset_header(user)
history = state.history(owner=user.name)
store = auth.store_for(user)
sidebar(history)
if not store.exists():
    st.info(t("chat.nodata" if user.permissions.can_import else "chat.nodata_ask_admin"))
conversation = st.session_state.get("conversation_id")
if conversation:
    replay(history, conversation)
else:
    welcome(user, store)
typed = st.chat_input(t("chat.input"))
question = typed or st.session_state.pop("pending", None)
if question:
    ask(question, history, user, store)
