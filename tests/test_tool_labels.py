"""Tool results carry canonical snake_case table, column and headline-figure names; each tool declares their Chinese
and English labels once, and only the renderers (chat answer, plan documents, the LLM's view, the command line) apply
them, in the answer's language. No code reads a tool result by its display label."""

from __future__ import annotations

import ast
import json
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml

from advisor import drafts
from advisor.cli import main as cli_main
from advisor.history import dump_answer, load_answer
from advisor.llm import LLMTurn, ToolRun, _tool_payload
from advisor.pipeline import Context, answer
from advisor.plans import PlanLibrary
from advisor.settings import Settings
from company.sample import generate
from company.store import Profile, Store
from company.units import localise_text
from documents.builders import build_incentive_plan, build_strategy
from documents.docx import render_docx
from documents.markdown import render_markdown
from documents.model import PlanDocument
from tools import conflict, scorecard
from tools.base import Labels
from tools.registry import TOOLS

ROOT = Path(__file__).resolve().parent.parent
CANONICAL = re.compile(r"^[a-z][a-z0-9_]*$")
CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")

RUNS = [
    ("partner_scorecard", {}),
    ("cost_analysis", {}),
    ("cost_analysis", {"group_by": "partner"}),
    ("simulate_rebate", {"budget": 100_000}),
    ("fit_rebate_budget", {"budget": 50_000}),
    ("fit_rebate_budget", {"budget": 50_000, "method": "raise_entry_threshold"}),
    ("rebate_sensitivity", {}),
    ("detect_conflicts", {}),
    ("quarterly_work_plan", {}),
]


@pytest.fixture(scope="module")
def store(tmp_path_factory, _loaded_template) -> Store:
    """A private copy of the small sample company that the tools here only read."""
    folder = tmp_path_factory.mktemp("labels") / "company"
    shutil.copytree(_loaded_template, folder)
    return Store(folder / "sample")


@pytest.fixture(scope="module")
def results(store):
    return {f"{name}{args}": TOOLS[name](store, args) for name, args in RUNS}


# ---- the results: canonical names, each with a Chinese and an English label ---------------------------------------
@pytest.mark.parametrize(("name", "args"), RUNS)
def test_every_table_and_column_has_a_canonical_name_and_both_labels(results, name, args):
    result = results[f"{name}{args}"]
    assert result.tables
    columns = {str(c) for frame in result.tables.values() for c in frame.columns}
    for key in [*result.tables, *columns]:
        assert CANONICAL.match(key), f"{name}: {key!r} is not a canonical snake_case name"
    assert result.labels.unlabelled(result.tables) == [], name
    assert not set(result.tables) & columns, "a table and a column must not share a name (one label each)"
    for table, frame in result.tables.items():
        for column in frame.columns:
            zh, en = (result.label(column, lang, table) for lang in ("zh", "en"))
            assert CJK.search(zh), f"{table}.{column}: the Chinese label is {zh!r}"
            assert not CJK.search(en) and en != column, f"{table}.{column}: the English label is {en!r}"
            # A unit stays in the label, never in the name, and money is labelled so localise_text can convert it.
            assert zh.endswith("(元)") == en.endswith("(CNY)"), (zh, en)
            assert not re.search(r"(yuan|cny|pct|percent)", column), column


def test_labelled_tables_keep_the_values_and_follow_the_language(results):
    result = results["simulate_rebate{'budget': 100000}"]
    zh, en = result.labelled("zh"), result.labelled("en")
    assert list(zh) == ["返利明细", "按档位汇总", "按区域汇总", "临近下一档", "返利方案", "预算对比"]
    assert list(en)[:2] == ["Rebate detail", "By tier"]
    detail = result.tables["rebate_detail"]
    assert list(zh["返利明细"].columns[:5]) == ["伙伴编号", "伙伴名称", "区域", "类型", "销售额(元)"]
    assert list(en["Rebate detail"].columns[:5]) == ["Partner ID", "Partner", "Region", "Type", "Revenue (CNY)"]
    assert zh["返利明细"]["返利(元)"].tolist() == en["Rebate detail"]["Rebate (CNY)"].tolist()
    assert zh["返利明细"]["返利(元)"].tolist() == detail["rebate_amount"].tolist()
    assert list(detail.columns[:2]) == ["partner_id", "name"], "labelling never renames the result's own frame"


def test_a_conflict_findings_evidence_rows_have_canonical_labelled_columns(results):
    findings = results["detect_conflicts{}"].data
    assert {f.kind for f in findings} >= {"cross_region", "below_floor", "stock_buildup"}
    for finding in findings:
        for column in finding.evidence.columns:
            assert CANONICAL.match(column) and column in conflict.LABELS, (finding.kind, column)
    cross = next(f for f in findings if f.kind == "cross_region")
    shown = conflict.LABELS.frame(cross.evidence, "zh")
    assert {"订单号", "售达省份", "授权区域", "销售额(元)"} <= set(shown.columns)


def test_without_targets_the_labels_say_the_tiers_measure_growth(tmp_path):
    """No targets: the tiers measure this period ÷ a year earlier; the columns keep their names, the labels say so."""
    company = generate(partners=20, months=24, seed=5)
    tables = dict(company.tables)
    tables["targets"] = tables["targets"].iloc[0:0]
    growth = Store(tmp_path / "company" / "sample")
    growth.replace_all(tables, meta={"source": "sample"})
    growth.save_profile(Profile(name="无目标公司", kind="company"))
    result = TOOLS["simulate_rebate"](growth, {})
    assert {"target", "achievement"} <= set(result.tables["rebate_detail"].columns)
    assert result.label("target", "zh", "rebate_detail") == "去年同期销售额(元)"
    assert result.label("achievement", "zh", "rebate_detail") == "同比达成率(%)"
    assert result.label("threshold", "zh", "schedule") == "门槛同比达成率(%)"
    assert result.label("achievement", "en", "rebate_detail") == "Year-on-year ratio (%)"
    assert "去年同期无销售" in set(result.tables["by_tier"]["tier"])
    document = build_incentive_plan(growth, None)
    example = next(t for t in document.tables() if t.caption == "示例伙伴的返利计算").frame
    assert {"去年同期销售额(元)", "同比达成率(%)"} <= set(example.columns)
    assert "同比达成率" in document.section("计算示例").paragraphs[0].text


def test_the_scorecard_kpi_names_in_english_are_the_settings_page_names():
    text = yaml.safe_load((ROOT / "ui" / "text.yaml").read_text(encoding="utf-8"))
    kpis = text["settings"]["scorecard"]["kpi"]
    assert {k: v["en"] for k, v in kpis.items()} == scorecard.KPI_EN
    assert {k: v["zh"] for k, v in kpis.items()} == {k: v[0] for k, v in scorecard.KPIS.items()}


# ---- the headline figures: canonical names, each with a Chinese and an English label -----------------------------
# Every branch that adds a figure: no budget, a budget, a schedule that already fits (how far the rates could rise),
# rates raised to use the budget, an entry threshold that cannot meet the budget (RUNS), and a two-year company whose
# conflict scan has a year-on-year quarter.
FIGURE_RUNS = [
    *RUNS,
    ("simulate_rebate", {}),
    ("fit_rebate_budget", {"budget": 1e12}),
    ("fit_rebate_budget", {"budget": 1e12, "allow_increase": True}),
]


@pytest.fixture(scope="module")
def two_years(tmp_path_factory) -> Store:
    company = generate(partners=20, months=24, seed=5)
    store = Store(tmp_path_factory.mktemp("two-years") / "company" / "sample")
    store.replace_all(company.tables, meta={"source": "sample"})
    store.save_profile(Profile(name="两年公司", kind="sample"))
    return store


@pytest.fixture(scope="module")
def figure_results(store, results, two_years):
    out = dict(results) | {f"{name}{args}": TOOLS[name](store, args) for name, args in FIGURE_RUNS[len(RUNS) :]}
    return out | {"detect_conflicts (two years)": TOOLS["detect_conflicts"](two_years, {})}


FIGURE_KEYS = [f"{name}{args}" for name, args in FIGURE_RUNS] + ["detect_conflicts (two years)"]


@pytest.mark.parametrize("key", FIGURE_KEYS)
def test_every_figure_has_a_canonical_name_and_both_labels(figure_results, key):
    result = figure_results[key]
    assert result.figures and result.unlabelled_figures() == [], key
    for name in result.figures:
        assert CANONICAL.match(name), f"{key}: figure {name!r} is not a canonical snake_case name"
        assert not re.search(r"(yuan|cny|pct|percent)", name), name
        zh, en = result.figure_label(name, "zh"), result.figure_label(name, "en")
        assert CJK.search(zh) or zh == en == "HHI", f"{key}.{name}: the Chinese label is {zh!r}"
        assert not CJK.search(en) and en != name, f"{key}.{name}: the English label is {en!r}"
        assert zh.endswith("(元)") == en.endswith("(CNY)"), (zh, en)
    for language in ("zh", "en"):
        labelled = result.labelled_figures(language)
        assert list(labelled.values()) == list(result.figures.values()), f"{key}: two figures share a {language} label"


# What a user read in Chinese before the figures had canonical names (they were keyed by these labels).
CHINESE_FIGURES = {
    "partner_scorecard{}": [
        "A级伙伴数", "B级伙伴数", "C级伙伴数", "D级伙伴数", "伙伴数", "平均得分", "升级数", "降级数",
    ],
    "cost_analysis{}": [
        "销售额(元)", "渠道费用(元)", "费用率(%)", "毛利(元)", "毛利率(%)", "贡献(元)", "贡献率(%)", "前N名销售占比(%)",
        "HHI", "集中度判断", "费用率最高分组", "费用率最高(%)", "费用率最低分组", "费用率最低(%)", "未分摊费用(元)",
        "激励投入(元)", "激励投入产出比(倍)",
    ],
    "simulate_rebate{'budget': 100000}": [
        "伙伴数", "获返利伙伴数", "不符合条件伙伴数", "返利合计(元)", "销售额合计(元)", "返利费用率(%)",
        "因不符合条件取消的返利(元)", "封顶扣减合计(元)", "临近下一档伙伴数", "临近下一档增加返利(元)", "预算(元)",
        "预算差额(元)", "预算使用率(%)",
    ],
    "fit_rebate_budget{'budget': 1000000000000.0}": [
        "预算(元)", "原方案返利合计(元)", "缩放系数", "可上调倍数", "新方案返利合计(元)", "预算结余(元)",
        "原获返利伙伴数", "新获返利伙伴数", "失去返利伙伴数", "可满足预算",
    ],
    "fit_rebate_budget{'budget': 50000, 'method': 'raise_entry_threshold'}": [
        "预算(元)", "原方案返利合计(元)", "最高入门门槛下返利合计(元)", "新入门门槛(%)", "新方案返利合计(元)",
        "预算结余(元)", "原获返利伙伴数", "新获返利伙伴数", "失去返利伙伴数", "可满足预算",
    ],
    "rebate_sensitivity{}": ["当前方案返利合计(元)", "最低情景返利(元)", "最高情景返利(元)", "情景数"],
    "detect_conflicts (two years)": [
        "发现总数", "高严重度项数", "中严重度项数", "低严重度项数", "窜货项数", "乱价项数", "压货项数", "持续下滑项数",
        "扫描开始", "扫描结束", "同比截至季度",
    ],
    "quarterly_work_plan{}": [
        "销售额目标", "达标伙伴占比目标", "费用率目标", "回款率目标", "高严重度渠道冲突目标", "A/B级伙伴占比目标",
        "销售额基线", "达标伙伴占比基线", "费用率基线", "回款率基线", "高严重度渠道冲突基线", "A/B级伙伴占比基线",
    ],
}  # fmt: skip


@pytest.mark.parametrize("key", list(CHINESE_FIGURES))
def test_the_chinese_labels_of_the_figures_are_what_users_read_before(figure_results, key):
    assert list(figure_results[key].labelled_figures("zh")) == CHINESE_FIGURES[key]


def test_the_english_labels_of_the_figures_are_english(figure_results):
    card = figure_results["partner_scorecard{}"].labelled_figures("en")
    assert list(card)[:5] == ["Tier A partners", "Tier B partners", "Tier C partners", "Tier D partners", "Partners"]
    rebate = figure_results["simulate_rebate{'budget': 100000}"]
    assert rebate.figure_label("rebate_total", "en") == "Total rebate (CNY)"
    assert rebate.figure_label("budget_gap", "en") == "Budget gap (CNY)"
    assert rebate.figure_label("partners", "en") == "Partners", "the figure's own label, not the column's"
    plan = figure_results["quarterly_work_plan{}"]
    assert plan.figure_label("revenue_target", "en") == "Revenue target"
    assert plan.figure_label("expense_ratio_baseline", "en") == "Expense ratio baseline"


def test_a_figure_reads_as_the_column_of_the_same_quantity_unless_it_has_its_own_label(figure_results):
    rebate = figure_results["simulate_rebate{'budget': 100000}"]
    comparison = rebate.tables["budget_comparison"].iloc[0]
    for name in ("rebate_total", "budget", "budget_use"):
        assert rebate.figures[name] == comparison[name]
        assert rebate.figure_label(name) == rebate.label(name, "zh", "budget_comparison")
    assert rebate.figures["budget_gap"] == comparison["budget_gap"]
    assert (rebate.figure_label("budget_gap"), rebate.label("budget_gap", "zh", "budget_comparison")) == (
        "预算差额(元)",
        "差额(元)（正数为超出）",
    )
    cost = figure_results["cost_analysis{}"]
    assert cost.figures["revenue"] == pytest.approx(cost.tables["by_channel_type"]["revenue"].sum())
    assert cost.figure_label("revenue") == cost.label("revenue", "zh", "by_channel_type") == "销售额(元)"


# ---- the renderers: the answer's language, the dataset's currency -----------------------------------------------
@pytest.fixture
def dollar_ctx(loaded_store, tmp_path):
    loaded_store.save_profile(Profile(name="Demo Inc", kind="sample", currency="USD"))
    return Context(store=loaded_store, kb=None, settings=Settings(data_dir=tmp_path / "data"))


@pytest.mark.parametrize(
    ("question", "language", "tool", "first"),
    [
        ("Score our partners", "en", "partner_scorecard", "scorecard"),
        ("给伙伴打分", "zh", "partner_scorecard", "scorecard"),
        ("Are there any cross-region sales?", "en", "detect_conflicts", "findings"),
        ("有没有窜货？", "zh", "detect_conflicts", "findings"),
    ],
)
def test_a_tool_answer_shows_its_tables_in_the_question_language_and_currency(
    dollar_ctx, question, language, tool, first
):
    reply = answer(question, dollar_ctx)
    assert reply.route.language == language and reply.tables
    result = TOOLS[tool](dollar_ctx.store, {"lookback_quarters": 4} if tool == "detect_conflicts" else {})
    shown = {t.name: list(t.frame.columns) for t in reply.tables}
    for name, frame in result.labelled(language).items():
        if name in shown:
            assert shown[name] == [localise_text(c, "USD") for c in frame.columns]
    headers = list(reply.tables[0].frame.columns)
    assert reply.tables[0].name == result.label(first, language)
    assert all(not CJK.search(h) for h in headers) if language == "en" else all(CJK.search(h) for h in headers[:3])
    header_line = next(line for line in reply.markdown.splitlines() if line.startswith("|"))
    assert all(h in header_line for h in headers), "the Markdown table shows the same headers"
    for chart in reply.charts:  # drawn from a table of the answer, by the headers it shows
        frame = next(t.frame for t in reply.tables if t.name == chart.table)
        assert chart.x in frame.columns and chart.y in frame.columns
    money = [h for t in reply.tables for h in t.frame.columns if "USD" in h or "美元" in h]
    assert money and not [h for t in reply.tables for h in t.frame.columns if "元)" in h and "美元" not in h]


def test_the_llm_reads_and_the_user_sees_the_labels_of_the_answer_language(results):
    result = results["partner_scorecard{}"]
    english, chinese = _tool_payload(result, "en"), _tool_payload(result, "zh")
    assert list(english["tables"]) == ["Scorecard", "Tier distribution", "Tier changes", "Weights"]
    assert english["tables"]["Scorecard"]["columns"][:3] == ["Partner ID", "Partner", "Region"]
    assert chinese["tables"]["记分卡"]["columns"][:3] == ["伙伴编号", "伙伴名称", "区域"]
    assert english["tables"]["Scorecard"]["rows"] == chinese["tables"]["记分卡"]["rows"]
    run = ToolRun(name="partner_scorecard", args={}, call_id="c1", result=result)
    reply = LLMTurn(text="…", tool_runs=[run]).to_answer("Score our partners", language="en")
    assert [t.name for t in reply.tables][:2] == [f"{result.title}·Scorecard", f"{result.title}·Tier distribution"]
    assert list(reply.tables[0].frame.columns[:2]) == ["Partner ID", "Partner"]


def test_the_tool_command_prints_labels_in_the_chosen_language(loaded_store, capsys):
    assert cli_main(["tool", "partner_scorecard", "--args", '{"top": 3}', "--json", "--lang", "en"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert len(payload["tables"]["Scorecard"]) == 3 and "Partner ID" in payload["tables"]["Scorecard"][0]
    assert cli_main(["tool", "partner_scorecard", "--args", '{"top": 3}']) == 0
    text = capsys.readouterr().out
    assert "【记分卡】" in text and "伙伴编号" in text and "partner_id" not in text


def test_plan_documents_store_the_tools_chinese_labels(store):
    document = build_strategy(store, None)
    cost = TOOLS["cost_analysis"](store, {"period": "latest"})
    table = next(t for t in document.tables() if t.caption == "各渠道类型销售、费用与贡献")
    assert list(table.frame.columns) == [cost.label(c, "zh", "by_channel_type") for c in cost.tables["by_channel_type"]]
    chart = next(c for c in document.charts() if c.title == "各渠道类型销售额")
    assert (chart.x, chart.y) == ("渠道类型", ["销售额(元)"])
    assert "channel_type" not in render_markdown(document) and "by_channel_type" not in render_markdown(document)


def test_the_llm_reads_the_figures_under_the_labels_of_the_answer_language(results):
    result = results["simulate_rebate{'budget': 100000}"]
    english, chinese = _tool_payload(result, "en")["figures"], _tool_payload(result, "zh")["figures"]
    assert english["Total rebate (CNY)"] == chinese["返利合计(元)"] == result.figures["rebate_total"]
    assert english["Budget gap (CNY)"] == chinese["预算差额(元)"] == result.figures["budget_gap"]
    assert not [k for k in english if CJK.search(k)] and list(chinese.values()) == list(english.values())


def test_the_tool_command_prints_canonical_figures_with_their_labels(loaded_store, capsys):
    arguments = ["tool", "simulate_rebate", "--args", '{"budget": 100000}', "--json"]
    assert cli_main([*arguments, "--lang", "en"]) == 0
    english = json.loads(capsys.readouterr().out)
    expected = TOOLS["simulate_rebate"](loaded_store, {"budget": 100000}).figures
    assert english["figures"] == pytest.approx(expected), "a script reads the figures by their canonical names"
    assert english["figure_labels"]["rebate_total"] == "Total rebate (CNY)"
    assert set(english["figure_labels"]) == set(expected)
    assert cli_main(arguments) == 0
    chinese = json.loads(capsys.readouterr().out)
    assert chinese["figures"] == english["figures"] and chinese["figure_labels"]["budget_gap"] == "预算差额(元)"
    loaded_store.save_profile(Profile(name="Demo Inc", kind="sample", currency="USD"))
    assert cli_main([*arguments, "--lang", "en"]) == 0
    assert json.loads(capsys.readouterr().out)["figure_labels"]["rebate_total"] == "Total rebate (USD)"


def test_plan_documents_keep_canonical_figures_with_their_chinese_labels(store, loaded_store):
    document = build_incentive_plan(store, None, {"budget": 100000})
    result = TOOLS["simulate_rebate"](store, {"budget": 100000})
    assert document.figures == pytest.approx(result.figures)
    assert document.figure_labels == {k: result.figure_label(k, "zh") for k in result.figures}
    assert PlanDocument.from_json(document.to_json()).figure_labels["budget_gap"] == "预算差额(元)"
    plan = drafts.build("work_plan", store, drafts.initial_args("work_plan", {}), None).draft.document
    assert plan.figure_labels["revenue_target"] == "销售额目标" and "revenue_target" in plan.figures
    strategy = build_strategy(store, None)
    assert strategy.figure_labels["expense_ratio"] == "费用率(%)" and "expense_ratio" in strategy.figures
    loaded_store.save_profile(Profile(name="Demo Inc", kind="sample", currency="USD"))
    dollars = build_incentive_plan(loaded_store, None, {"budget": 100000})
    assert dollars.figure_labels["rebate_total"] == "返利合计(美元)" and dollars.figure_labels["partners"] == "伙伴数"


# ---- what was saved before this change still opens ---------------------------------------------------------------
ARGS = {
    "period": "latest",
    "schedule": {
        "tiers": [
            {"threshold": 0.9, "rate": 0.015},
            {"threshold": 1.0, "rate": 0.03},
            {"threshold": 1.1, "rate": 0.04},
        ],
        "mode": "full",
        "max_achievement": 1.3,
        "min_collection_rate": 0.9,
    },
    "region": None,
    "budget": 150000,
}
# fmt: off
# A chat draft as the history stored it before tool results had canonical names (written by that version, trimmed):
# its answer table and its document's table and chart hold the labels the user read.
SAVED_ANSWER = {
    "question": "设计一个返利方案，预算15万",
    "route": {"intent": "incentive", "confidence": 1.0},
    "markdown": "（略）",
    "tables": [
        {
            "name": "返利档位与返点",
            "columns": ["档位", "完成率区间", "门槛完成率(%)", "返点(%)"],
            "rows": [["90%档", "90% 至不足 100%", 90.0, 1.5], ["100%档", "100% 至不足 110%", 100.0, 3.0]],
        }
    ],
    "draft": {
        "kind": "incentive",
        "title": "全国渠道返利方案",
        "args": ARGS,
        "markdown": "",
        "figures": {"伙伴数": 40, "返利合计(元)": 446394.13, "预算(元)": 150000.0, "预算差额(元)": 296394.13},
        "version": 1,
        "document": {
            "kind": "incentive",
            "title": "全国渠道返利方案",
            "metadata": {
                "company": "示例公司（演示数据）", "period": "2026年第3季度（2026-07-01 ~ 2026-09-30）",
                "scope": "全国", "author": "渠道管理部", "date": "2026-11-30", "version": 1, "basis": "",
            },
            "sections": [
                {
                    "heading": "各档位测算",
                    "level": 1,
                    "paragraphs": [{"text": "2026年第3季度共 40 家伙伴参与测算，22 家获得返利，合计 44.64 万元。"}],
                    "tables": [
                        {
                            "caption": "各档位伙伴数与返利",
                            "frame": {
                                "columns": ["档位", "完成率区间", "返点(%)", "伙伴数(家)", "销售额(元)", "返利(元)"],
                                "records": [
                                    {"档位": "未达门槛", "完成率区间": "低于 90%", "返点(%)": 0.0, "伙伴数(家)": 13,
                                     "销售额(元)": 9357441.12, "返利(元)": 0.0},
                                    {"档位": "90%档", "完成率区间": "90% 至不足 100%", "返点(%)": 1.5, "伙伴数(家)": 15,
                                     "销售额(元)": 13749374.95, "返利(元)": 163552.49},
                                ],
                            },
                            "note": "金额单位：元；比例单位：%。",
                            "source": "simulate_rebate",
                        }
                    ],
                    "charts": [
                        {
                            "kind": "bar",
                            "title": "各档位返利",
                            "data": {
                                "columns": ["档位", "返利(元)"],
                                "records": [
                                    {"档位": "未达门槛", "返利(元)": 0.0}, {"档位": "90%档", "返利(元)": 163552.49}
                                ],
                            },
                            "x": "档位",
                            "y": ["返利(元)"],
                        }
                    ],
                }
            ],
            "args": ARGS,
        },
    },
}
# fmt: on


def test_a_draft_saved_before_the_change_opens_renders_and_revises(loaded_store, tmp_path):
    reply = load_answer(json.loads(json.dumps(SAVED_ANSWER)))  # as History reads a stored row
    assert [t.name for t in reply.tables] == ["返利档位与返点"]
    assert list(reply.tables[0].frame.columns) == ["档位", "完成率区间", "门槛完成率(%)", "返点(%)"]
    document = reply.draft.document
    markdown = render_markdown(document)
    assert "| 档位" in markdown and "返利(元)" in markdown and "163,552.49" in markdown
    assert render_docx(document).startswith(b"PK")  # the Word download of the old draft
    assert dump_answer(reply)["tables"] == SAVED_ANSWER["tables"], "it saves back unchanged"

    revised, changes = drafts.revise(loaded_store, reply.draft, {"budget": 200_000}, None)
    assert changes[0] == "预算：15.00 万元 → 20.00 万元"
    assert "预算差额：29.64 万元 → 24.64 万元" in changes, "the old draft's headline figures are compared"
    assert revised.draft.version == 2 and revised.draft.document is not None


@pytest.mark.parametrize("saved", ["before the change", "after it"])
def test_a_revision_reports_moved_figures_by_their_labels_in_the_datasets_currency(loaded_store, saved):
    """Money is written in the dataset's currency; an old draft's figures (keyed 预算差额(元)) are matched to the new
    document's through its labels, whose unit is now 美元."""
    loaded_store.save_profile(Profile(name="Demo Inc", kind="sample", currency="USD"))
    if saved == "before the change":
        draft = load_answer(json.loads(json.dumps(SAVED_ANSWER))).draft
    else:
        draft = drafts.build("incentive", loaded_store, ARGS, None).draft
        assert draft.figures["budget_gap"] == pytest.approx(296394.13)
    revised, changes = drafts.revise(loaded_store, draft, {"budget": 200_000}, None)
    assert "预算差额：29.64 万美元 → 24.64 万美元" in changes
    assert not [c for c in changes if c.startswith("预算差额") and "万元" in c]
    assert revised.draft.figures["budget_gap"] == pytest.approx(246394.13)


def test_a_plan_saved_before_the_change_is_listed_and_opens(tmp_path):
    folder = tmp_path / "plans"
    folder.mkdir()
    (folder / "20260101-090000-000000.json").write_text(
        json.dumps(SAVED_ANSWER["draft"]["document"], ensure_ascii=False), encoding="utf-8"
    )
    library = PlanLibrary(folder)
    assert [p.title for p in library.list()] == ["全国渠道返利方案"]
    document = library.load("20260101-090000-000000")
    assert isinstance(document, PlanDocument)
    table = document.tables()[0].frame
    assert table["返利(元)"].tolist() == [0.0, 163552.49]
    assert "各档位伙伴数与返利" in render_markdown(document) and render_docx(document).startswith(b"PK")


# ---- no code reads a tool result by its display label -------------------------------------------------------------
SCANNED = ("advisor", "documents", "ui", "tools", "eval")
# Data-question answers build their own frames from the semantic layer (canonical fields, labelled there).
NOT_SCANNED = {"advisor/data_questions.py"}
# Methods that take column or table names: a Chinese literal there is a read by display label.
BY_NAME = {"get", "table", "pop", "sort_values", "set_index", "groupby", "drop", "pivot", "pivot_table", "reindex",
           "nlargest", "nsmallest", "drop_duplicates", "dropna", "filter", "rename", "assign"}  # fmt: skip


def _chinese(node: ast.AST) -> bool:
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str) and bool(CJK.search(node.value))
    if isinstance(node, ast.List | ast.Tuple | ast.Set):
        return any(_chinese(e) for e in node.elts)
    if isinstance(node, ast.Dict):
        return any(k is not None and _chinese(k) for k in node.keys)
    return False


def _exempt(target: ast.AST) -> bool:
    """Not a tool result or frame: a Literal type, or a module constant (an alias or lookup table keyed by Chinese
    words)."""
    head = target.id if isinstance(target, ast.Name) else target.attr if isinstance(target, ast.Attribute) else ""
    return head == "Literal" or (head.isupper() and len(head) > 1)


def label_reads(source: str, path: str = "<source>") -> list[str]:
    """Every place in the source that indexes or looks up a table, frame or result by a Chinese literal."""
    found = []
    for node in ast.walk(ast.parse(source)):
        target = None
        if isinstance(node, ast.Subscript) and _chinese(node.slice):
            target = node.value
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in BY_NAME:
            named = ("by", "columns", "keys", "subset", None)  # None: **{"列": …}
            keys = node.args[:1] + [k.value for k in node.keywords if k.arg in named]
            if any(_chinese(k) for k in keys):
                target = node.func.value
        elif isinstance(node, ast.Compare) and _chinese(node.left):
            for op, right in zip(node.ops, node.comparators, strict=True):
                if isinstance(op, ast.In | ast.NotIn) and isinstance(right, ast.Attribute):
                    if right.attr in ("columns", "tables", "index"):
                        target = right
        if target is not None and not _exempt(target):
            found.append(f"{path}:{node.lineno}: {ast.unparse(node)[:100]}")
    return found


def test_no_code_reads_a_tool_result_or_frame_by_a_display_label():
    found = []
    for folder in SCANNED:
        for file in sorted((ROOT / folder).rglob("*.py")):
            relative = file.relative_to(ROOT).as_posix()
            if relative not in NOT_SCANNED:
                found += label_reads(file.read_text(encoding="utf-8"), relative)
    assert found == [], "read these by canonical name (the tool's Labels show them to users):\n" + "\n".join(found)


@pytest.mark.parametrize(
    "planted",
    [
        'detail = result.tables["返利明细"]',
        'paid = detail[detail["返利(元)"] > 0]',
        'length = cost.tables.get("渠道长度对比")',
        'ranked = frame.sort_values("费用率(%)", ascending=False)',
        'rows = frame.loc[frame["tier"] == "A", ["伙伴名称", "得分"]]',
        "text = f\"{row['伙伴名称']}：{row['销售额(元)']}\"",
        'basis = "目标(元)" in detail.columns',
        'first = result.table("记分卡")',
        'ranked = main.assign(**{"费用率(%)": math.nan})',
        'total = result.figures["返利合计(元)"]',
        'high = cost.figures.get("费用率最高分组")',
        "text = f\"{figures['发现总数']} 条\"",
    ],
)
def test_the_scan_catches_a_planted_label_read(planted):
    assert label_reads(planted), planted


@pytest.mark.parametrize(
    "allowed",
    [
        'total = result.figures["rebate_total"]',
        'paid = detail[detail["tier_reached"] == "无目标"]',
        'mode = MODE_ALIASES["全额累进"]',
        'raise ToolError(f"没有区域「{region}」。")',
        'table = pd.DataFrame({"阶段": names, "开始": starts})',
        'Severity = Literal["低", "中", "高"]',
    ],
)
def test_the_scan_leaves_text_values_and_canonical_reads_alone(allowed):
    assert label_reads(allowed) == [], allowed


def test_labels_of_names_it_does_not_know_show_the_name():
    labels = Labels(
        {"revenue": ("销售额(元)", "Revenue (CNY)"), "roi.revenue": ("本期销售额(元)", "Revenue now (CNY)")}
    )
    frame = pd.DataFrame({"revenue": [1.0], "other": [2.0]})
    assert list(labels.frame(frame, "en").columns) == ["Revenue (CNY)", "other"]
    assert list(labels.frame(frame, "zh", "roi").columns) == ["本期销售额(元)", "other"]
    assert labels.text("revenue", "en", "roi") == "Revenue now (CNY)"
    assert labels.text("revenue", "en", "other") == "Revenue (CNY)"
    assert labels.unlabelled({"roi": frame}) == ["roi", "roi.other"]
