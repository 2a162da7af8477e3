"""对话: the chat assistant — history in the sidebar, steps in st.status, answers with tables, charts, sources."""

from __future__ import annotations

import streamlit as st

from advisor.pipeline import Context, answer
from advisor.types import Step
from company.errors import CanmouError
from ui import state
from ui.render import render_answer

STARTERS = {
    "渠道经理：起草方案": ["设计一个返利方案，预算300万", "做一份下季度的渠道工作计划", "起草一份渠道策略"],
    "高管：查伙伴数据": ["上季度华东哪些经销商完成率低于80%？", "各渠道费用率对比", "有没有窜货？"],
    "方法与指南": ["经销商跨区窜货怎么处理？", "返利门槛怎么定？", "How should we select new distributors?"],
}


def sidebar(history) -> None:
    with st.sidebar:
        if st.button("＋ 新对话", width="stretch", key="new_chat"):
            st.session_state.pop("conversation_id", None)
            st.rerun()
        st.caption("历史对话")
        for conversation in history.conversations(30):
            current = conversation.id == st.session_state.get("conversation_id")
            label = ("▸ " if current else "") + conversation.title
            if st.button(label, key=f"conv-{conversation.id}", width="stretch"):
                st.session_state["conversation_id"] = conversation.id
                st.rerun()


def welcome() -> None:
    st.markdown(
        "我是**渠道参谋**：查伙伴数据、问渠道管理方法、做记分卡与费用分析、起草返利方案和季度计划。"
        "数字都来自公司数据，建议都标明出处。试试下面的问题："
    )
    columns = st.columns(len(STARTERS))
    for column, (group, questions) in zip(columns, STARTERS.items(), strict=True):
        with column:
            st.caption(group)
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
    conversation_id = st.session_state.get("conversation_id") or history.start(question)
    st.session_state["conversation_id"] = conversation_id
    history.add(conversation_id, "user", question)
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
            context = Context(
                store=state.store(),
                kb=state.knowledge(),
                settings=state.settings(),
                draft=history.current_draft(conversation_id),
                history=[{"role": m.role, "content": m.content} for m in history.messages(conversation_id)[-8:]],
            )
            reply = answer(question, context, on_event)
        except CanmouError as exc:
            status.update(label="出错了", state="error")
            st.error(exc.message)
            history.add(conversation_id, "assistant", exc.message)
            return
        status.update(label="完成：" + "；".join(s.label for s in reply.steps), state="complete")
        stream.empty()
        history.add(conversation_id, "assistant", reply.markdown, reply)
    st.rerun()


st.title("渠道参谋")
history = state.history()
sidebar(history)
if not state.store().exists():
    st.info("还没有公司数据：数据问题和方案需要数据。请到「数据中心」生成示例公司或导入文件；方法类问题仍可回答。")
conversation = st.session_state.get("conversation_id")
if conversation:
    replay(history, conversation)
else:
    welcome()
typed = st.chat_input("问数据、问方法、或让我起草方案…（例如：上季度华东哪些经销商完成率低于80%？）")
question = typed or st.session_state.pop("pending", None)
if question:
    ask(question, history)
