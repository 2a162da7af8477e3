"""The pipeline's scenarios through an OpenAI-compatible stub: tool calls, streamed answers, the grounding check."""

from __future__ import annotations

import pytest

from advisor.llm import QUERY_DATA, SEARCH_KNOWLEDGE
from advisor.pipeline import Context, answer
from advisor.settings import Settings
from tests.stub_openai import StubOpenAI
from tools.registry import TOOLS

KEY = "sk-pipeline-test"


@pytest.fixture
def stub():
    with StubOpenAI(api_key=KEY) as server:
        yield server


@pytest.fixture
def ctx(stub, loaded_store, guides_kb, tmp_path):
    settings = Settings(
        data_dir=tmp_path / "data",
        llm_backend="openai",
        llm_base_url=stub.base_url,
        llm_api_key=KEY,
        llm_model=stub.model,
        llm_timeout_s=10,
    )
    return Context(store=loaded_store, kb=guides_kb, settings=settings)


class Events:
    def __init__(self):
        self.tokens: list[str] = []
        self.steps: list[str] = []

    def __call__(self, kind, payload):
        if kind == "token":
            self.tokens.append(payload)
        elif kind == "step":
            self.steps.append(payload.label)


@pytest.mark.parametrize(
    "question, tool, args, figure",
    [
        ("给华东经销商打分分级", "partner_scorecard", {"region": "华东"}, "tier_a_partners"),
        ("做一个渠道费用分析", "cost_analysis", {}, "expense_ratio"),
        ("有没有窜货？", "detect_conflicts", {}, "findings_total"),
        ("设计一个返利方案，预算150万", "simulate_rebate", {"budget": 1_500_000}, "rebate_total"),
        ("做一份下季度的渠道工作计划", "quarterly_work_plan", {}, "revenue_target"),
        (
            "Design a rebate plan with a budget of 1.5 million",
            "simulate_rebate",
            {"budget": 1_500_000},
            "paid_partners",
        ),
    ],
)
def test_tool_scenarios_call_the_tool_and_stream_a_grounded_answer(stub, ctx, question, tool, args, figure):
    result = TOOLS[tool](ctx.store, args)
    value = result.figures[figure]
    text = f"根据工具结果，{result.figure_label(figure).split('(')[0]}为 {value:,}。"
    stub.enqueue_tool_calls((tool, args))
    stub.enqueue_text(text, pieces=[text[:6], text[6:]])
    events = Events()
    reply = answer(question, ctx, events)
    assert reply.backend == "openai" and reply.flags == [], reply.flags
    assert reply.markdown.startswith(text) and events.tokens == [text[:6], text[6:]]
    assert "示例公司" in reply.markdown.rsplit("<sub>", 1)[-1]  # the dataset is named
    assert tool in stub.requests[0].tool_names and "search_knowledge" in stub.requests[0].tool_names
    sent_back = stub.requests[1].tool_messages()
    assert sent_back and str(value).replace(",", "")[:4] in sent_back[0]["content"].replace(",", "")
    assert reply.tables, "the tool's tables reach the answer"
    assert events.steps[0] == "理解问题"


def test_guidance_through_the_model_cites_retrieved_passages(stub, ctx):
    stub.enqueue_tool_calls(("search_knowledge", {"query": "窜货 处理流程", "k": 3}))
    stub.enqueue_text("先核实物流单据，再书面通知违规经销商限期说明[1]。")
    reply = answer("经销商跨区窜货怎么处理？", ctx, Events())
    assert reply.citations and reply.citations[0].number == 1 and reply.flags == []
    chunks = {c.chunk_id for c in ctx.kb.chunks()}
    assert all(c.chunk_id in chunks for c in reply.citations)


def test_data_question_through_query_data_never_uses_the_rule_parser(stub, ctx, monkeypatch):
    import advisor.data_questions as data_questions
    from advisor.data_questions import answer_spec
    from company.semantic import build_spec

    args = {"metrics": ["expense_ratio"], "dimensions": ["partner_type"], "window": "last_complete_quarter"}
    args |= {"sort": {"metric": "expense_ratio", "direction": "desc"}}
    window = {"start": "2026-07-01", "end": "2026-09-30", "kind": "quarter"}
    expected = answer_spec(ctx.store, build_spec(**{**args, "window": window}))
    top = expected.frame.iloc[0]
    text = f"费用率最高的是{top['partner_type']}，为 {top['expense_ratio'] * 100:.1f}%。"

    def refuse(*_args, **_kwargs):
        raise AssertionError("the rule parser answered on the LLM path")

    monkeypatch.setattr(data_questions, "answer_data_question", refuse)
    stub.enqueue_tool_calls(("query_data", args))
    stub.enqueue_text(text)
    reply = answer("各渠道费用率对比", ctx, Events())
    assert reply.backend == "openai" and reply.flags == [] and reply.markdown.startswith(text)
    assert reply.sql == expected.sql and reply.tables and reply.spec["metrics"] == ["expense_ratio"]
    assert reply.period == expected.window


def test_a_query_the_model_cannot_fix_is_reported_without_numbers(stub, ctx):
    stub.enqueue_tool_calls(("query_data", {"metrics": ["net_promoter"], "window": "all"}))
    stub.enqueue_tool_calls(("query_data", {"metrics": ["net_promoter_score"], "window": "all"}))
    reply = answer("各区域销售额和净推荐值", ctx, Events())
    assert (
        reply.markdown.startswith("没能把这个问题转换成数据查询") and "未知指标「net_promoter_score」" in reply.markdown
    )
    assert not reply.tables and reply.sql is None and reply.numbers == [] and len(stub.chat_requests()) == 2


def test_post_check_catches_an_invented_number_and_a_dangling_citation(stub, ctx):
    stub.enqueue_tool_calls(("cost_analysis", {}))
    stub.enqueue_text("整体费用率为 37.19%，详见指南[7]。")
    reply = answer("做一个渠道费用分析", ctx, Events())
    assert any("37.19" in flag for flag in reply.flags)
    assert any("[7]" in flag for flag in reply.flags)


def test_endpoint_down_falls_back_to_the_offline_composer(ctx, tmp_path):
    ctx.settings = Settings(
        data_dir=tmp_path / "data",
        llm_backend="openai",
        llm_base_url="http://127.0.0.1:9/v1",
        llm_model="m",
        llm_timeout_s=2,
    )
    reply = answer("有没有窜货？", ctx, Events())
    assert reply.tables and reply.backend == "offline"
    assert any("大模型调用失败" in flag for flag in reply.flags)
    assert KEY not in " ".join(reply.flags)


def test_a_backend_registered_by_a_test_is_chosen_in_settings_and_answers(
    fake_backend, data_dir, loaded_store, guides_kb
):
    settings = Settings(data_dir=data_dir, llm_backend="fake")
    ctx = Context(store=loaded_store, kb=guides_kb, settings=settings)
    found = TOOLS["detect_conflicts"](ctx.store, {}).figures["findings_total"]
    fake_backend.model.enqueue(tool_calls=[("detect_conflicts", {})])
    fake_backend.model.enqueue(f"共发现 {found} 起疑似窜货。")
    reply = answer("有没有窜货？", ctx, Events())
    assert reply.backend == "fake" and reply.markdown.startswith(f"共发现 {found} 起疑似窜货。") and reply.flags == []
    assert reply.tables, "the tool the fake model called ran on the store"
    first, second = fake_backend.model.requests
    offered = {spec["function"]["name"] for spec in first["tools"]}
    assert {"detect_conflicts", QUERY_DATA, SEARCH_KNOWLEDGE} <= offered
    assert second["messages"][-1].type == "tool"
