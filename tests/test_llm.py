"""The LLM layer against a local OpenAI-compatible stub (the real ChatOpenAI client, no internet) and the fake model.

Covers: tools offered and run, results sent back, streamed answers, the grounding post-check, connection
checks with their Chinese messages, backends chosen by name from the registry, the context budget, and that
the API key never leaks.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import openai
import pandas as pd
import pytest
from pydantic import ValidationError

from advisor.llm import (
    NO_EVIDENCE,
    LLMError,
    answer_numbers,
    answer_reserve,
    check_connection,
    check_grounding,
    create_chat_model,
    load_system_prompt,
    run_llm_turn,
    tool_specs,
)
from advisor.llm_backends import BACKENDS, get_backend, openai_chat_model
from advisor.settings import Settings, settings_error_message
from advisor.types import Answer, Citation, Route
from retrieval.knowledge_base import KnowledgeBase
from retrieval.tokens import count_tokens
from tests.stub_openai import StubOpenAI
from tools.registry import TOOLS

ROOT = Path(__file__).resolve().parent.parent
KEY = "sk-test-7f3a9c1e5b2d4a6f"
WRONG_KEY = "sk-wrong-0a1b2c3d4e5f6789"

REBATE_DOC = (
    "阶梯返利设计要点\n\n一、返利门槛\n返利按季度完成率分档：完成率达到 90% 返 1%，达到 100% 返 2%，"
    "达到 120% 返 3%。返利门槛应当与回款挂钩，未按时回款的经销商不享受当季返利。\n\n"
    "二、返利兑现\n返利以货补或抵扣货款的方式兑现，季度结束后 30 天内核算完毕并公示。\n"
)
CONFLICT_DOC = (
    "窜货处理办法\n\n一、发现与取证\n发现跨区窜货后，先通过产品防伪码追溯货物来源，保存照片和购货凭证。\n\n"
    "二、处罚措施\n首次窜货扣减当季返利，再次窜货取消年度返利资格，情节严重的终止经销协议。\n"
)


# ---- fixtures ------------------------------------------------------------------------------------------------


@pytest.fixture
def stub():
    with StubOpenAI(api_key=KEY) as server:
        yield server


@pytest.fixture(scope="session")
def kb(tmp_path_factory) -> KnowledgeBase:
    base = KnowledgeBase(tmp_path_factory.mktemp("llm-kb") / "knowledge")
    for name, text in (("返利.txt", REBATE_DOC), ("窜货.txt", CONFLICT_DOC)):
        assert base.add(name, text.encode("utf-8")).ok
    return base


@pytest.fixture
def fake(fake_backend):
    return fake_backend.model


def openai_settings(stub: StubOpenAI, **changes) -> Settings:
    values = {
        "llm_backend": "openai",
        "llm_base_url": stub.base_url,
        "llm_api_key": KEY,
        "llm_model": stub.model,
        "llm_timeout_s": 10,
    }
    return Settings(**(values | changes))


def model_for(stub: StubOpenAI, **changes):
    return create_chat_model(openai_settings(stub, **changes))


class Events:
    def __init__(self):
        self.seen: list[tuple[str, object]] = []

    def __call__(self, kind: str, payload: object) -> None:
        self.seen.append((kind, payload))

    def of(self, kind: str) -> list:
        return [payload for k, payload in self.seen if k == kind]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---- the tool-calling turn through the real client -----------------------------------------------------------


def test_scorecard_round_trip_runs_the_tool_and_sends_its_result_back(stub, loaded_store, kb):
    expected = TOOLS["partner_scorecard"](loaded_store, {})
    partners, average = expected.figures["partners"], expected.figures["average_score"]
    stub.enqueue_tool_calls(("partner_scorecard", {"period": "latest"}))
    stub.enqueue_text(f"{expected.period}共评估 {partners} 个伙伴，平均得分 {average} 分。")
    events = Events()

    turn = run_llm_turn(model_for(stub), "给伙伴打分分级", [], loaded_store, kb, events, context_tokens=32000)

    first, second = stub.chat_requests()
    assert len(stub.chat_requests()) == 2 and first.authorized and first.body["stream"] is True
    offered = set(first.tool_names)
    assert offered == {*TOOLS, "query_data", "search_knowledge"}
    scorecard = next(t["function"] for t in first.body["tools"] if t["function"]["name"] == "partner_scorecard")
    assert "period" in scorecard["parameters"]["properties"] and "tier" in scorecard["description"]
    assistant = [m for m in second.messages if m["role"] == "assistant"][-1]
    call = assistant["tool_calls"][0]
    assert call["id"] == "call_0" and json.loads(call["function"]["arguments"]) == {"period": "latest"}
    (sent,) = second.tool_messages()
    payload = json.loads(sent["content"])
    assert sent["tool_call_id"] == "call_0"
    assert payload["title"] == expected.title and payload["figures"]["平均得分"] == average
    card = payload["tables"]["记分卡"]
    assert card["total_rows"] == partners and len(card["rows"]) == 20 and "只列出前 20 行" in card["note"]

    (run,) = turn.tool_runs
    assert run.name == "partner_scorecard" and run.ok and run.result.figures == expected.figures
    assert events.of("tool") == [run]
    assert turn.text.endswith(f"平均得分 {average} 分。") and turn.flags == []
    assert average in turn.numbers and turn.rounds == 1
    assert "运行工具 partner_scorecard" in [s.label for s in turn.steps]
    answer = turn.to_answer("给伙伴打分分级")
    assert answer.route.intent == "scorecard" and answer.period == expected.period
    assert {t.name for t in answer.tables} >= {f"{expected.title}·记分卡"}


def test_final_answer_streams_token_by_token(stub, loaded_store, kb):
    pieces = ["渠道", "管理", "的", "核心", "是", "分工", "与", "协同", "。"]
    stub.enqueue_text("".join(pieces), pieces=pieces)
    events = Events()

    turn = run_llm_turn(model_for(stub), "渠道管理的核心是什么", [], loaded_store, kb, events)

    assert events.of("token") == pieces, "each SSE chunk reaches the UI as its own token"
    assert turn.text == "".join(pieces) and events.of("done") == [turn]
    assert [k for k, _ in events.seen].index("token") < [k for k, _ in events.seen].index("done")


def test_knowledge_search_numbers_passages_across_calls_and_says_when_nothing_is_found(stub, loaded_store, kb):
    stub.enqueue_tool_calls(("search_knowledge", {"query": "返利门槛 完成率 分档"}))
    stub.enqueue_tool_calls(
        ("search_knowledge", {"query": "窜货 处罚措施", "k": 3}), ("search_knowledge", {"query": "红烧肉怎么做"})
    )
    stub.enqueue_text("返利按完成率分档，完成率达到 100% 返 2%[1]。")

    turn = run_llm_turn(model_for(stub), "返利门槛怎么定，窜货怎么罚", [], loaded_store, kb)

    first, second, found_none = turn.tool_runs
    assert first.result and first.result[0].number == 1
    assert min(c.number for c in second.result) == len(first.result) + 1, "numbering continues across calls"
    assert found_none.result == [] and found_none.payload == {"query": "红烧肉怎么做", "message": NO_EVIDENCE}
    assert [c.number for c in turn.citations] == list(range(1, len(turn.citations) + 1))
    sent = {m["tool_call_id"]: json.loads(m["content"]) for m in stub.chat_requests()[2].tool_messages()}
    assert [p["n"] for p in sent["call_0"]["passages"]] == [c.number for c in second.result]
    assert sent["call_1"]["message"] == NO_EVIDENCE
    rebate = turn.citations[0]
    assert rebate.source == "返利.txt" and rebate.heading_path == ["一、返利门槛"] and "返 2%" in rebate.text
    assert turn.flags == [], "a cited passage backs the numbers it shows"
    punish = next(c for c in turn.citations if "取消年度返利资格" in c.text)
    assert check_grounding(f"再次窜货取消年度返利资格[{punish.number}]。", turn.numbers, turn.citations) == []


def test_post_check_flags_an_invented_number_and_a_citation_that_points_nowhere(stub, loaded_store, kb):
    expected = TOOLS["partner_scorecard"](loaded_store, {})
    average = expected.figures["average_score"]
    stub.enqueue_tool_calls(("partner_scorecard", {}))
    stub.enqueue_text(f"平均得分 {average} 分，另有 987,654 元返利尚未兑现[9]。")

    turn = run_llm_turn(model_for(stub), "伙伴表现怎么样", [], loaded_store, kb)

    assert len(turn.flags) == 2
    citation_flag, number_flag = turn.flags
    assert "[9]" in citation_flag and "不对应" in citation_flag
    assert "987,654" in number_flag and str(average) not in number_flag
    assert "回答核对" in [s.label for s in turn.steps]


def test_tool_errors_go_back_to_the_model_in_chinese(stub, loaded_store, kb):
    stub.enqueue_tool_calls(("cost_analysis", {"top_n": 0}), ("drop_all_tables", {}))
    stub.enqueue_text("参数有误，无法计算。")

    turn = run_llm_turn(model_for(stub), "费用分析", [], loaded_store, kb)

    bad_args, unknown = turn.tool_runs
    assert bad_args.error == "参数 top_n：应不小于 1。" and "没有名为「drop_all_tables」的工具" in unknown.error
    sent = [json.loads(m["content"]) for m in stub.chat_requests()[1].tool_messages()]
    assert sent == [{"error": bad_args.error}, {"error": unknown.error}]
    assert turn.text == "参数有误，无法计算。"


def test_malformed_tool_arguments_are_answered_with_an_error(stub, loaded_store, kb):
    stub.enqueue_tool_calls(("partner_scorecard", '{"period": 2026Q3}'))
    stub.enqueue_text("请换个问法。")

    turn = run_llm_turn(model_for(stub), "记分卡", [], loaded_store, kb)

    (run,) = turn.tool_runs
    assert run.result is None and "不是合法的 JSON" in run.error
    second = stub.chat_requests()[1]
    (call,) = [m for m in second.messages if m["role"] == "assistant"][-1]["tool_calls"]
    (reply,) = second.tool_messages()
    assert reply["tool_call_id"] == call["id"] and "不是合法的 JSON" in json.loads(reply["content"])["error"]


def test_text_streamed_before_tool_calls_is_retracted(stub, loaded_store, kb):
    stub.enqueue_tool_calls(("search_knowledge", {"query": "窜货 处罚"}), text="让我查一下。")
    stub.enqueue_text("首次窜货扣减当季返利[1]。")
    events = Events()

    turn = run_llm_turn(model_for(stub), "窜货怎么罚", [], loaded_store, kb, events)

    assert events.of("retract") == ["让我查一下。"]
    assert turn.text == "首次窜货扣减当季返利[1]。" and turn.flags == []


def test_query_data_runs_the_validated_spec_and_passes_refusals_on(stub, loaded_store, kb):
    ran: list[tuple] = []
    frame = pd.DataFrame({"省份": ["江苏", "浙江"], "销售额(元)": [1234567.89, 987654.32]})

    def engine(store, spec, language, notes):
        ran.append((spec, language, notes))
        return SimpleNamespace(
            spec=spec, frame=frame, table="sales", summary="江苏销售额最高", sql="SELECT province ...", window="2026Q3"
        )

    spec = {"metrics": ["revenue"], "dimensions": ["province"], "filters": [{"field": "region", "value": "华东区"}]}
    stub.enqueue_tool_calls(
        ("query_data", spec | {"window": {"period": "2026Q3"}}),
        ("query_data", {"metrics": ["revenue"], "window": "2024Q1"}),
    )
    stub.enqueue_text("2026Q3 江苏销售额 123.46 万元，浙江 98.77 万元。2024年第1季度没有数据。")

    turn = run_llm_turn(model_for(stub), "华东各省销售额", [], loaded_store, kb, data_engine=engine)

    ((ran_spec, language, notes),) = ran
    assert ran_spec.metrics == ["revenue"] and ran_spec.dimensions == ["province"] and language == "zh"
    assert notes == [], "2026Q3 is fully covered by the data"
    assert ran_spec.filters[0].value == "华东", "the value as the data spells it"
    assert (ran_spec.window.start.isoformat(), ran_spec.window.end.isoformat()) == ("2026-07-01", "2026-09-30")
    table, refusal = (json.loads(m["content"]) for m in stub.chat_requests()[1].tool_messages())
    assert table["table"]["rows"] == [["江苏", 1234567.89], ["浙江", 987654.32]] and table["window"] == "2026Q3"
    assert table["sql"].startswith("SELECT") and table["spec"]["metrics"] == ["revenue"]
    assert refusal["cannot_answer"].startswith("2024年第1季度没有数据：数据截至 2026-09-30")
    assert turn.flags == [], "万 scaling and rounding to the shown decimals are tolerated"
    answer = turn.to_answer("华东各省销售额")
    assert answer.route.intent == "data" and answer.sql.startswith("SELECT") and answer.period == "2026Q3"
    assert answer.spec["dimensions"] == ["province"], "a follow-up question keeps the frame"


def test_query_data_uses_the_data_engine_by_default(stub, loaded_store, kb):
    from advisor.data_questions import DataAnswer

    stub.enqueue_tool_calls(
        ("query_data", {"metrics": ["revenue"], "dimensions": ["region"], "window": "last_complete_quarter"})
    )
    stub.enqueue_text("见表。")

    turn = run_llm_turn(model_for(stub), "上季度各区域销售额", [], loaded_store, kb)

    (run,) = turn.tool_runs
    assert run.ok and isinstance(run.result, DataAnswer)
    payload = json.loads(stub.chat_requests()[1].tool_messages()[0]["content"])
    assert payload["window"] == run.result.window and payload["summary"] == run.result.summary
    assert payload["table"]["rows"] and payload["sql"]
    top = float(run.result.frame.select_dtypes("number").iloc[0, 0])
    assert check_grounding(f"最高 {top / 1e4:,.2f} 万元（{top:,.0f} 元）。", turn.numbers, []) == []
    assert check_grounding(f"最高 {top / 1e4 + 3:,.2f} 万元。", turn.numbers, []) != []


def test_endpoint_failure_during_a_turn_is_a_chinese_llm_error(stub, loaded_store, kb):
    stub.enqueue_error(500, "upstream exploded")
    stub.enqueue_error(500, "upstream exploded")  # the client retries once
    with pytest.raises(LLMError, match=r"HTTP 500.*upstream exploded"):
        run_llm_turn(model_for(stub), "你好", [], loaded_store, kb)


# ---- history and the context budget (fake model, no HTTP) ----------------------------------------------------


def test_history_is_sent_oldest_trimmed_first_and_tables_cut_to_fit(fake, loaded_store, kb):
    history = []
    for i in range(12):
        history += [("user", f"第{i}个问题：" + "渠道" * 50), ("assistant", f"第{i}个回答[1]：" + "伙伴" * 50)]
    specs = tool_specs(loaded_store)
    fixed = count_tokens(json.dumps(specs, ensure_ascii=False)) + count_tokens(load_system_prompt("问题"))
    budget = next(b for b in range(fixed, fixed + 20000, 50) if b - answer_reserve(b) - fixed >= 1000)
    fake.enqueue(tool_calls=[("partner_scorecard", {})])
    fake.enqueue("好的。")

    turn = run_llm_turn(fake, "最后一个问题", history, loaded_store, kb, context_tokens=budget)

    sent = fake.requests[0]["messages"]
    assert sent[0].type == "system" and sent[-1].content == "最后一个问题"
    kept = [m.content for m in sent[1:-1]]
    assert 0 < len(kept) < len(history) and kept[-1] == history[-1][1].replace("[1]", "")
    assert any("省略了最早的" in t for t in turn.trimmed)
    tool_message = fake.requests[1]["messages"][-1]
    assert tool_message.type == "tool"
    rows = json.loads(tool_message.content)["tables"]["记分卡"]["rows"] if tool_message.content.endswith("}") else []
    assert len(rows) < 20 and any("只给模型看了前" in t for t in turn.trimmed)
    assert len(turn.tool_runs[0].result.tables["scorecard"]) == 40, "the user still gets the whole table"


def test_history_accepts_dicts_and_answers(fake, loaded_store, kb):
    earlier = Answer(
        question="上季度谁最好", route=Route(intent="scorecard", confidence=1.0), markdown="P0009 最好[2]。"
    )
    fake.enqueue("好。")
    history = [{"role": "user", "content": "你好"}, earlier, {"role": "user", "content": "那这季度呢"}]
    run_llm_turn(fake, "那这季度呢", history, loaded_store, kb)
    assert [(m.type, m.content) for m in fake.requests[0]["messages"][1:]] == [
        ("human", "你好"),
        ("human", "上季度谁最好"),
        ("ai", "P0009 最好。"),
        ("human", "那这季度呢"),
    ]


def test_tool_rounds_are_capped_and_the_last_call_must_answer(fake, loaded_store, kb):
    for _ in range(5):
        fake.enqueue(tool_calls=[("search_knowledge", {"query": "返利"})])

    turn = run_llm_turn(fake, "返利", [], loaded_store, kb)

    assert turn.rounds == 4 and len(fake.requests) == 5
    assert [r["tool_choice"] for r in fake.requests] == [None, None, None, None, "none"]
    assert any("仍要求调用工具" in f for f in turn.flags)
    assert [c.number for c in turn.citations] == list(range(1, len(turn.citations) + 1)), "same passage, same [n]"


def test_backends_are_chosen_by_name_from_settings(fake_backend):
    assert create_chat_model(Settings(llm_backend="offline")) is None
    assert create_chat_model(Settings(llm_backend="fake")) is fake_backend.model
    assert check_connection(Settings(llm_backend="fake")) == (True, "正在使用测试用的假模型，不发送网络请求。")
    with pytest.raises(LLMError, match="还没有设置模型服务地址"):
        create_chat_model(Settings(llm_backend="openai", llm_base_url=None))
    with pytest.raises(LLMError, match="不是 http"):
        create_chat_model(Settings(llm_backend="openai", llm_base_url="localhost:11434"))
    with pytest.raises(LLMError, match="模型名称"):
        create_chat_model(Settings(llm_backend="openai", llm_base_url="http://127.0.0.1:1/v1", llm_model=" "))


def test_unknown_backend_is_refused_in_chinese_naming_the_choices(monkeypatch):
    with pytest.raises(ValidationError) as refused:
        Settings(llm_backend="gpt-4")
    message = settings_error_message(refused.value)
    assert "CANMOU_LLM_BACKEND = 'gpt-4'（不认识的大模型后端「gpt-4」，可选：offline、openai）" in message


def test_cli_refuses_an_unknown_backend_with_exit_code_2(tmp_path):
    env = {**os.environ, "CANMOU_DATA_DIR": str(tmp_path / "data"), "CANMOU_LLM_BACKEND": "fake"}
    done = subprocess.run(
        [sys.executable, "-m", "advisor", "ask", "返利分几档"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 2, done.stderr
    assert "CANMOU_LLM_BACKEND = 'fake'（不认识的大模型后端「fake」，可选：offline、openai）" in done.stderr


def test_a_backend_registered_before_settings_are_read_can_be_chosen(monkeypatch, request):
    monkeypatch.setenv("CANMOU_LLM_BACKEND", "fake")
    with pytest.raises(ValidationError, match="不认识的大模型后端「fake」"):
        Settings()
    fake_backend = request.getfixturevalue("fake_backend")  # registers "fake", as a plugin would
    settings = Settings()
    assert settings.llm_backend == "fake" and create_chat_model(settings) is fake_backend.model


def test_production_code_has_no_fake_model():
    sources = [path.read_text(encoding="utf-8") for path in (ROOT / "advisor").rglob("*.py")]
    sources += [path.read_text(encoding="utf-8") for path in (ROOT / "ui").rglob("*.py")]
    assert not any("FakeChatModel" in text or "fake_chat_model" in text for text in sources)
    assert list(BACKENDS) == ["offline", "openai"], "only the tests register the fake backend"


def test_openai_backend_explains_a_wrong_key_and_an_unreachable_endpoint_in_chinese(stub):
    backend = get_backend("openai")
    wrong = openai_chat_model(openai_settings(stub, llm_api_key=WRONG_KEY), streaming=False, max_retries=0)
    with pytest.raises(openai.AuthenticationError) as refused:
        wrong.invoke("ping")
    error = backend.explain(refused.value)
    assert isinstance(error, LLMError) and error.message.startswith("模型服务拒绝了 API Key（HTTP 401）")
    assert "CANMOU_LLM_API_KEY" in error.message and WRONG_KEY not in error.message

    port = free_port()
    down = openai_chat_model(
        openai_settings(stub, llm_base_url=f"http://127.0.0.1:{port}/v1"), streaming=False, max_retries=0
    )
    with pytest.raises(openai.APIConnectionError) as unreachable:
        down.invoke("ping")
    error = backend.explain(unreachable.value)
    assert (
        error.message.startswith(f"连不上模型服务 http://127.0.0.1:{port}/v1（")
        and "CANMOU_LLM_BASE_URL" in error.message
    )

    assert backend.explain(ValueError("not the endpoint's")) is None, "a bug is not dressed up as a service failure"
    assert get_backend("offline").explain(refused.value) is None


# ---- connection check --------------------------------------------------------------------------------------


def test_check_connection_success_names_the_model(stub):
    ok, message = check_connection(openai_settings(stub))
    assert ok and "连接成功" in message and stub.model in message
    (request,) = stub.chat_requests()
    assert request.body["max_completion_tokens"] == 8 and not request.body.get("stream")


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"llm_base_url": "http://127.0.0.1:{port}/v1"}, "连不上模型服务"),
        ({"llm_api_key": WRONG_KEY}, "HTTP 401"),
        ({"llm_model": "no-such-model"}, "找不到模型「no-such-model」"),
        ({"llm_base_url": "http://127.0.0.1:{stub}/api"}, "没有 OpenAI 兼容接口"),
        ({"llm_base_url": ""}, "还没有设置模型服务地址"),
    ],
)
def test_check_connection_failures_say_what_to_fix(stub, changes, expected):
    changes = {k: v.format(port=free_port(), stub=stub.port) if isinstance(v, str) else v for k, v in changes.items()}
    ok, message = check_connection(openai_settings(stub, **changes))
    assert not ok and expected in message
    assert WRONG_KEY not in message and KEY not in message


def test_check_connection_timeout(stub):
    stub.enqueue_delay(3)
    ok, message = check_connection(openai_settings(stub, llm_timeout_s=0.5))
    assert not ok and "超时" in message and "CANMOU_LLM_TIMEOUT_S" in message


# ---- the post-check rules ----------------------------------------------------------------------------------


def citation(number: int, text: str) -> Citation:
    return Citation(number=number, source="指南.md", title="指南", text=text, chunk_id=f"c{number}")


def test_post_check_tolerates_formatting_and_ignores_periods_counts_and_ids():
    numbers = [1618768.98, 0.853, 62.34, 40, -0.052, 8]
    text = (
        "2026Q3（2026年第3季度，7月至9月）共 40 家伙伴，A 级 8 个：销售额 161.88 万元（1,618,768.98 元），"
        "完成率 85.3%（0.85），平均 62.3 分，同比下降 5.2%。P0009 排第 1，前 10 名见表[1]。\n"
        "1. 分 3 个步骤推进；\n2. 每 2 周复盘[1]。"
    )
    assert check_grounding(text, numbers, [citation(1, "按季度复盘。")]) == []
    assert [s.raw for s in answer_numbers("2026年7月 3 个步骤 第 2 步 Top 10 SKU-1001 [3] 12.5%")] == ["12.5%"]


def test_post_check_flags_numbers_no_tool_shows():
    flags = check_grounding("完成率 91.2%，平均 62.3 分，共 41 家伙伴。", [0.853, 62.34, 40], [])
    assert len(flags) == 1 and "「91.2%」" in flags[0] and "「41」" in flags[0] and "62.3" not in flags[0]


def test_post_check_citations_and_passage_numbers():
    passages = [citation(1, "完成率达到 120% 返 3%。"), citation(2, "季度结束后 30 天内核算。")]
    assert check_grounding("达到 120% 返 3%[1]，30 天内核算[2]。", [], passages) == []
    (flag,) = check_grounding("达到 120% 返 3%。见[1]", [], passages)
    assert "120%" in flag, "a passage's numbers count only in a sentence that cites it"
    (flag,) = check_grounding("依据见 [1, 3] 和 [2-4]。", [], passages)
    assert "[3]、[4]" in flag
    (flag,) = check_grounding("建议按季度核算返利。", [], passages)
    assert "没有标注引用" in flag
    assert check_grounding("预算 20 万元可以分三档。", [], [], question="预算 20 万怎么分配返利") == []


# ---- secrets and imports -----------------------------------------------------------------------------------


def test_api_key_never_reaches_logs_reprs_or_errors(stub, loaded_store, kb, caplog):
    caplog.set_level(logging.DEBUG)
    settings = openai_settings(stub)
    model = create_chat_model(settings)
    stub.enqueue_tool_calls(("search_knowledge", {"query": "返利门槛"}))
    stub.enqueue_text("返利按完成率分档[1]。")
    turn = run_llm_turn(model, "返利门槛", [], loaded_store, kb)
    wrong = openai_settings(stub, llm_api_key=WRONG_KEY)
    with pytest.raises(LLMError) as failure:
        run_llm_turn(create_chat_model(wrong), "你好", [], loaded_store, kb)
    ok, message = check_connection(wrong)

    assert stub.chat_requests()[-1].authorized is False and not ok
    texts = [caplog.text, repr(settings), str(settings), repr(model), str(model), repr(turn), str(failure.value)]
    texts += [message, repr(wrong), settings.model_dump_json(), repr(openai_chat_model(settings))]
    for text in texts:
        assert KEY not in text and WRONG_KEY not in text
    assert "HTTP 401" in str(failure.value)


def test_default_start_up_does_not_import_langchain_openai():
    code = (
        "import importlib.util, sys\n"
        "import advisor.llm, advisor.cli, advisor.workspace\n"
        "if importlib.util.find_spec('advisor.pipeline'): import advisor.pipeline\n"
        "from advisor.llm import create_chat_model\n"
        "from advisor.settings import Settings\n"
        "assert create_chat_model(Settings(llm_backend='offline')) is None\n"
        "print(sorted(m for m in ('langchain_openai', 'openai', 'langchain_core') if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "langchain_openai" not in done.stdout and "'openai'" not in done.stdout


def test_a_key_the_endpoint_echoes_partly_is_masked_in_the_error(stub):
    stub.enqueue_error(400, f"invalid request for key {KEY[:-3]}… (truncated)")  # not the whole key: 21 of 24
    ok, message = check_connection(openai_settings(stub))
    assert not ok and "HTTP 400" in message and "invalid request for key ***" in message
    assert not [KEY[i : i + 8] for i in range(len(KEY) - 7) if KEY[i : i + 8] in message]


# ---- the model's tools: one registry ----------------------------------------------------------------------------
def test_query_data_and_search_knowledge_are_registered_like_every_channel_tool(loaded_store):
    from advisor.llm import ASSISTANT_TOOLS
    from tools.registry import TOOLS

    assert set(ASSISTANT_TOOLS) == {*TOOLS, "query_data", "search_knowledge"}
    assert [s["function"]["name"] for s in tool_specs(loaded_store)] == list(ASSISTANT_TOOLS)
    assert ASSISTANT_TOOLS["query_data"].intent == "data" and ASSISTANT_TOOLS["search_knowledge"].intent == "guidance"


def test_a_newly_registered_assistant_tool_is_offered_and_run(fake, loaded_store, kb):
    from advisor.llm import ASSISTANT_TOOLS, AssistantTool, register_assistant_tool

    def spec(_catalog):
        return {"type": "function", "function": {"name": "count_regions", "description": "区域个数", "parameters": {}}}

    def run(turn, tool_run):
        tool_run.result = len(loaded_store.region_names())
        tool_run.payload = {"regions": tool_run.result}
        tool_run.numbers = {float(tool_run.result)}

    register_assistant_tool(AssistantTool("count_regions", "data", spec, run))
    try:
        assert "count_regions" in [s["function"]["name"] for s in tool_specs(loaded_store)]
        fake.enqueue(tool_calls=[("count_regions", {})])
        fake.enqueue("一共有这些区域。")
        turn = run_llm_turn(fake, "有几个区域", [], loaded_store, kb)
        assert [r.name for r in turn.tool_runs] == ["count_regions"] and turn.tool_runs[0].ok
    finally:
        ASSISTANT_TOOLS.pop("count_regions")
