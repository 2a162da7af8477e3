"""A conversation turn (advisor.conversation) and the one answer serialiser (advisor.history): what is stored,
what a follow-up sees, and that a reopened answer shows the same tables and citations."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from advisor.conversation import Conversation, Deps, UnknownConversation
from advisor.history import History, dump_answer, load_answer
from advisor.settings import Settings
from advisor.types import Answer, AnswerTable, ChartSpec, Draft, Route
from retrieval.citations import Citation
from tests.fixtures import make_store, partner, product, sale


@pytest.fixture(autouse=True)
def today():
    """The little company's last sale is in 2026Q2; 本季度 is then 2026Q2."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CANMOU_TODAY", "2026-06-30")
        yield


@pytest.fixture
def deps(tmp_path) -> Deps:
    # 2026Q2 revenue: 华东 10,000 (P1); 华南 3,000 (P3) + 5,000 (P4) = 8,000.
    south = {"sold_to_region": "华南", "sold_to_province": "广东"}
    store = make_store(
        tmp_path,
        partners=[
            partner("P1"),
            partner("P3", region="华南", province="广东", city="广州"),
            partner("P4", region="华南", province="广东", city="深圳"),
        ],
        products=[product("BEV-001")],
        sales=[
            sale("P1", "BEV-001", "2026-04-10", 100, 100),
            sale("P3", "BEV-001", "2026-05-10", 30, 100, **south),
            sale("P4", "BEV-001", "2026-06-10", 50, 100, **south),
        ],
    )
    return Deps(
        store=store, kb=None, settings=Settings(data_dir=tmp_path / "data"), history=History(tmp_path / "h.sqlite")
    )


def test_a_turn_stores_the_question_and_the_reply(deps):
    conversation = Conversation.start(deps, "2026年第2季度华东销售额")
    reply = conversation.ask("2026年第2季度华东销售额")
    assert reply.route.intent == "data" and "10,000.00" in reply.markdown

    messages = deps.history.messages(conversation.id)
    assert [(m.role, m.content) for m in messages] == [
        ("user", "2026年第2季度华东销售额"),
        ("assistant", reply.markdown),
    ]
    assert messages[1].answer.spec == reply.spec and [t.name for t in messages[1].answer.tables] == ["结果", "数值"]
    assert [c.title for c in deps.history.conversations()] == ["2026年第2季度华东销售额"]


def test_a_follow_up_in_the_same_conversation_keeps_the_previous_data_question(deps):
    conversation = Conversation.start(deps, "2026年第2季度华东销售额")
    conversation.ask("2026年第2季度华东销售额")
    follow_up = conversation.ask("华南呢")
    assert follow_up.route.intent == "data"
    assert {"field": "region", "op": "eq", "value": "华南"} in follow_up.spec["filters"]
    assert follow_up.spec["window"]["label"] == "2026年第2季度" and follow_up.spec["metrics"] == ["revenue"]
    assert "8,000.00" in follow_up.markdown

    alone = Conversation.start(deps, "华南呢").ask("华南呢")  # a new conversation has no question to follow
    assert alone.spec is None and alone.route.clarify and "销售额" in alone.route.clarify


def test_resuming_or_opening_by_number(deps):
    first = Conversation.open(deps, None, "设计一个返利方案，预算100万")
    assert Conversation.open(deps, first.id, "预算改成120万").id == first.id
    with pytest.raises(UnknownConversation) as raised:
        Conversation.open(deps, "nonexistent", "华南呢")
    assert "没有编号为「nonexistent」的对话" in raised.value.message
    assert [c.id for c in deps.history.conversations()] == [first.id]


def _answer_with_a_table() -> Answer:
    frame = pd.DataFrame(
        {
            "伙伴编号": ["P0001", "007", "P0003"],  # a code that looks like a number stays a string
            "伙伴": ["南京恒通商贸有限公司", "杭州恒通食品有限公司", None],
            "订单数": [3, 12, 0],
            "完成率": [0.8123456789012, 1.05, None],
            "达标": [False, True, False],
        }
    )
    return Answer(
        question="上季度华东哪些经销商完成率低于80%？",
        route=Route(intent="data", confidence=1.0),
        markdown="有 1 家低于 80% [1]。",
        tables=[AnswerTable(name="结果", frame=frame), AnswerTable(name="空表", frame=frame.iloc[0:0])],
        charts=[ChartSpec(kind="bar", table="结果", x="伙伴", y="完成率", title="完成率")],
        citations=[
            Citation(
                number=1,
                source="渠道管理指南.md",
                title="经销商考核",
                heading_path=["考核", "完成率"],
                location="第2段",
                text="完成率低于80%的经销商进入观察名单。",
                chunk_id="guide-1-2",
            )
        ],
        sql="SELECT 1",
        spec={"metrics": ["revenue"], "filters": [{"field": "region", "op": "eq", "value": "华东"}]},
        draft=Draft(kind="incentive", title="返利方案", args={"budget": 1_000_000}, markdown="## 一、适用对象"),
    )


def test_an_answer_with_tables_round_trips_through_the_one_serialiser(tmp_path):
    original = _answer_with_a_table()
    data = json.loads(json.dumps(dump_answer(original), ensure_ascii=False))  # what the database and --json hold
    assert data["tables"][0]["columns"] == list(original.tables[0].frame.columns)
    assert data["tables"][0]["rows"][1] == ["007", "杭州恒通食品有限公司", 12, 1.05, True]

    history = History(tmp_path / "h.sqlite")
    conversation = history.start(original.question)
    history.add(conversation, "assistant", original.markdown, original)
    for restored in (load_answer(data), history.messages(conversation)[0].answer):
        assert [t.name for t in restored.tables] == ["结果", "空表"]
        pd.testing.assert_frame_equal(restored.tables[0].frame, original.tables[0].frame)  # values and dtypes
        assert list(restored.tables[1].frame.columns) == list(original.tables[1].frame.columns)
        assert restored.citations == original.citations and restored.charts == original.charts
        assert restored.model_dump(exclude={"tables"}) == original.model_dump(exclude={"tables"})


def test_history_written_by_the_earlier_format_still_opens(tmp_path):
    """Rows saved before tables had columns and rows (a pandas split-JSON string) reopen with their tables."""
    original = _answer_with_a_table()
    legacy = original.model_dump(mode="json", exclude={"tables"})
    legacy["tables"] = [
        {"name": t.name, "frame": t.frame.to_json(orient="split", force_ascii=False, date_format="iso")}
        for t in original.tables
    ]
    restored = load_answer(json.loads(json.dumps(legacy, ensure_ascii=False)))
    assert [t.name for t in restored.tables] == ["结果", "空表"]
    assert list(restored.tables[0].frame["订单数"]) == [3, 12, 0] and restored.citations == original.citations
