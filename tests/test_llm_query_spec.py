"""Data questions with an LLM go through the typed query_data tool, tested through the OpenAI-compatible stub.

The model fills a QuerySpec whose JSON schema comes from the semantic layer and the dataset's live catalog; an
invalid spec goes back to the model once; a second invalid one ends the turn with a Chinese "could not" message
and no numbers; the rule parser never sees the question as text.
"""

from __future__ import annotations

import json
from datetime import date

import pandas as pd
import pytest

from advisor.data_questions import DataAnswer, answer_spec
from advisor.llm import answer_numbers, create_chat_model, query_catalog, run_llm_turn
from advisor.settings import Settings
from company.semantic import DIMENSIONS, METRICS, TimeWindow, build_spec
from company.store import Store
from tests.fixtures import import_dealer_export
from tests.stub_openai import StubOpenAI

KEY = "sk-query-spec-test"
Q3 = TimeWindow(start=date(2026, 7, 1), end=date(2026, 9, 30), kind="quarter")  # the sample's latest quarter


@pytest.fixture
def stub():
    with StubOpenAI(api_key=KEY) as server:
        yield server


def model_for(stub: StubOpenAI):
    settings = Settings(
        llm_backend="openai", llm_base_url=stub.base_url, llm_api_key=KEY, llm_model=stub.model, llm_timeout_s=10
    )
    return create_chat_model(settings)


def offered_query_tool(stub: StubOpenAI) -> dict:
    first = stub.chat_requests()[0]
    return next(t["function"] for t in first.body["tools"] if t["function"]["name"] == "query_data")


def sent_back(stub: StubOpenAI, request: int) -> list[dict]:
    """The tool results the client sent in the given chat request, as JSON."""
    return [json.loads(m["content"]) for m in stub.chat_requests()[request].tool_messages()]


@pytest.fixture(scope="module")
def export_store(tmp_path_factory) -> Store:
    """A dealer export as a user imports it: a STATUS column (attribute dimension), a Profit column (measure),
    and no targets, costs or inventory."""
    return import_dealer_export(tmp_path_factory.mktemp("export"))


@pytest.fixture
def no_rule_parser(monkeypatch):
    """The rule parser fails the test if anything hands it the question as text."""
    import advisor.data_questions as data_questions

    def refuse(*args, **kwargs):
        raise AssertionError("the rule parser was called on the LLM path")

    monkeypatch.setattr(data_questions, "answer_data_question", refuse)
    monkeypatch.setattr(data_questions, "parse", refuse)
    monkeypatch.setattr(data_questions, "_Parser", refuse)


# ---- (a) the schema comes from the semantic layer and the live catalog ---------------------------------------


def test_the_offered_schema_enumerates_the_semantic_layers_metrics_and_dimensions(stub, loaded_store):
    stub.enqueue_text("你好。")

    run_llm_turn(model_for(stub), "你好", [], loaded_store, None)

    tool = offered_query_tool(stub)
    props = tool["parameters"]["properties"]
    # every metric of the layer, except those the sample company has no data for (it records no returns)
    assert props["metrics"]["items"]["enum"] == [k for k in METRICS if k not in ("return_amount", "return_lines")]
    assert props["dimensions"]["items"]["enum"] == list(DIMENSIONS)
    assert "revenue=销售额" in props["metrics"]["description"] and "region=区域" in props["dimensions"]["description"]
    assert props["comparison"]["enum"] == ["none", "yoy", "previous"]
    assert set(props["filters"]["items"]["properties"]["op"]["enum"]) == {
        "eq",
        "ne",
        "in",
        "not_in",
        "lt",
        "le",
        "gt",
        "ge",
    }
    assert "华东" in props["filters"]["items"]["properties"]["value"]["description"], "the data's regions"
    assert set(props["window"]["properties"]) == {"period", "start", "end"}
    assert tool["parameters"]["required"] == ["metrics", "window"] and "$defs" not in json.dumps(tool)
    assert "数据截至 2026-09-30" in tool["description"] and "2026Q3" in tool["description"]
    assert "ask_data" not in stub.chat_requests()[0].tool_names


def test_an_imported_datasets_attributes_join_the_schema_and_missing_inputs_leave_it(stub, export_store):
    stub.enqueue_text("好的。")

    run_llm_turn(model_for(stub), "你好", [], export_store, None)

    tool = offered_query_tool(stub)
    props = tool["parameters"]["properties"]
    dimensions, metrics = props["dimensions"]["items"]["enum"], props["metrics"]["items"]["enum"]
    assert "x_status" in dimensions and "x_status=STATUS" in props["dimensions"]["description"]
    assert "x_profit" in metrics and "revenue" in metrics
    assert "x_status: Cancelled、Shipped" in props["filters"]["items"]["properties"]["value"]["description"]
    assert "achievement" not in metrics and "expense_ratio" not in metrics, "the export has no targets or costs"
    assert "完成率（缺少「季度目标」）" in tool["description"]
    assert query_catalog(export_store).span.last == date(2025, 4, 16)
    assert "数据截至 2025-04-16" in tool["description"]


# ---- (b) a valid spec: the same numbers as running the spec directly ------------------------------------------


def test_a_valid_spec_answers_with_the_numbers_of_the_same_spec_run_directly(stub, loaded_store, no_rule_parser):
    args = {
        "metrics": ["revenue"],
        "dimensions": ["region"],
        "window": {"period": "2026Q3"},
        "sort": {"metric": "revenue", "direction": "desc"},
        "limit": 3,
    }
    direct = answer_spec(loaded_store, build_spec(**{**args, "window": Q3}))
    top = direct.frame.iloc[0]
    text = f"2026年第3季度销售额最高的是{top['region']}，{top['revenue'] / 1e4:,.2f} 万元。"
    stub.enqueue_tool_calls(("query_data", args))
    stub.enqueue_text(text)

    turn = run_llm_turn(model_for(stub), "2026Q3 销售额前三的区域", [], loaded_store, None)

    (run,) = turn.tool_runs
    assert run.ok and isinstance(run.result, DataAnswer)
    pd.testing.assert_frame_equal(run.result.frame, direct.frame)
    assert run.result.sql == direct.sql and run.result.window == direct.window
    (payload,) = sent_back(stub, 1)
    assert payload["table"]["rows"][0][0] == top["region"] and payload["summary"] == direct.summary
    assert turn.text == text and turn.flags == [], "the answer's number is backed by the query result"
    assert float(top["revenue"]) in turn.numbers
    answer = turn.to_answer("2026Q3 销售额前三的区域")
    assert answer.route.intent == "data" and answer.sql == direct.sql and answer.tables


def test_an_english_question_gets_an_english_window(stub, loaded_store):
    stub.enqueue_tool_calls(("query_data", {"metrics": ["quantity"], "window": "2026-08"}))
    stub.enqueue_text("See the table.")

    turn = run_llm_turn(model_for(stub), "Units sold in August 2026?", [], loaded_store, None)

    assert turn.tool_runs[0].result.window.startswith("Aug 2026 (2026-08-01 ~ 2026-08-31)")


# ---- (c) an invalid spec goes back once with the Chinese error -----------------------------------------------


def test_an_invalid_spec_goes_back_with_the_error_and_the_corrected_one_answers(stub, loaded_store, no_rule_parser):
    good = {"metrics": ["revenue"], "filters": [{"field": "region", "value": "华东"}], "window": "2026Q3"}
    direct = answer_spec(loaded_store, build_spec(**{**good, "window": Q3}))
    revenue = float(direct.frame["revenue"].iloc[0])
    stub.enqueue_tool_calls(("query_data", {**good, "metrics": ["profit_margin"]}))
    stub.enqueue_tool_calls(("query_data", good))
    stub.enqueue_text(f"2026年第3季度华东销售额 {revenue:,.2f} 元。")

    turn = run_llm_turn(model_for(stub), "2026Q3 华东的销售额", [], loaded_store, None)

    assert len(stub.chat_requests()) == 3
    (error,) = sent_back(stub, 1)
    assert error["error"].startswith("查询条件有误：未知指标「profit_margin」") and "再调用一次" in error["retry"]
    _error, result = sent_back(stub, 2)
    assert result["table"]["rows"] and "error" not in result
    first, second = turn.tool_runs
    assert not first.ok and second.ok and turn.unanswered is None
    assert turn.flags == [] and revenue in turn.numbers
    assert "查询条件有误" in [s.label for s in turn.steps]


def test_filter_values_are_checked_against_the_data(stub, loaded_store):
    stub.enqueue_tool_calls(
        ("query_data", {"metrics": ["revenue"], "filters": [{"field": "region", "value": "火星"}], "window": "all"})
    )
    stub.enqueue_text("没有火星区域。")

    turn = run_llm_turn(model_for(stub), "火星区的销售额", [], loaded_store, None)

    (run,) = turn.tool_runs
    assert run.error == "查询条件有误：区域没有「火星」（可选：东北、华东、华中、华北、华南、西北、西南）"
    assert turn.numbers == [], "no query ran, so no number is backed"


# ---- (d) invalid twice: the user is told, no numbers ---------------------------------------------------------


def test_an_invalid_spec_twice_ends_the_turn_with_a_chinese_could_not_message(stub, loaded_store):
    stub.enqueue_tool_calls(("query_data", {"metrics": ["profit_margin"], "window": "2026Q3"}))
    stub.enqueue_tool_calls(("query_data", {"metrics": ["revenue"], "dimensions": ["salesperson"], "window": "all"}))
    stub.enqueue_text("华东销售额 123 万元。")  # never requested: the turn ends before a third call

    turn = run_llm_turn(model_for(stub), "上季度的利润率", [], loaded_store, None)

    assert len(stub.chat_requests()) == 2
    assert turn.text.startswith("没能把这个问题转换成数据查询") and "不给出任何数字" in turn.text
    assert "未知维度「salesperson」" in turn.text and "可用维度" not in turn.text and turn.unanswered
    assert turn.numbers == [] and answer_numbers(turn.text) == [] and turn.flags == []
    answer = turn.to_answer("上季度的利润率")
    assert answer.route.intent == "data" and not answer.tables and answer.sql is None
    assert "无法转换为数据查询" in [s.label for s in turn.steps]


# ---- what the data cannot answer is said, not worked around --------------------------------------------------


def test_a_metric_the_data_lacks_and_a_period_without_data_come_back_as_cannot_answer(stub, export_store):
    stub.enqueue_tool_calls(
        ("query_data", {"metrics": ["achievement"], "dimensions": ["partner"], "window": "all"}),
        ("query_data", {"metrics": ["revenue"], "window": {"start": "2026-01-01", "end": "2026-03-31"}}),
    )
    stub.enqueue_text("这份数据没有季度目标，也没有 2026 年的销售。")

    turn = run_llm_turn(model_for(stub), "各客户完成率", [], export_store, None)

    lacking, empty = sent_back(stub, 1)
    assert lacking["cannot_answer"].startswith("这份数据回答不了这个问题（完成率）：缺少「季度目标」")
    assert empty["cannot_answer"].startswith("2026年第1季度没有数据：数据截至 2025-04-16")
    assert all(run.ok and not hasattr(run.result, "frame") for run in turn.tool_runs)


def test_an_attribute_dimension_answers_by_its_values(stub, export_store):
    args = {"metrics": ["revenue", "x_profit"], "dimensions": ["x_status"], "window": "all"}
    stub.enqueue_tool_calls(("query_data", args))
    stub.enqueue_text("Shipped 销售额 1,400，Cancelled 100。")

    turn = run_llm_turn(model_for(stub), "按STATUS看销售额和利润", [], export_store, None)

    frame = turn.tool_runs[0].result.frame
    assert dict(zip(frame["x_status"], frame["revenue"], strict=True)) == {"Shipped": 1400, "Cancelled": 100}
    assert turn.flags == []


# ---- (e) the rule parser is not used on the LLM path ---------------------------------------------------------


def test_the_rule_parser_never_sees_the_question(stub, loaded_store, no_rule_parser):
    stub.enqueue_tool_calls(
        ("query_data", {"metrics": ["achievement"], "dimensions": ["partner"], "window": "last_complete_quarter",
                        "filters": [{"field": "achievement", "op": "lt", "value": 0.9}]})
    )  # fmt: skip
    stub.enqueue_text("见表。")

    turn = run_llm_turn(model_for(stub), "上季度完成率低于90%的伙伴", [], loaded_store, None)

    (run,) = turn.tool_runs
    assert run.ok and (run.result.frame["achievement"] < 0.9).all()
    assert run.result.window.startswith("2026年第3季度")
