"""The command line as a user types it: python -m advisor data sample|import|status|model."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT


def run(data_dir, *args):
    env = {**os.environ, "CANMOU_DATA_DIR": str(data_dir)}
    return subprocess.run(
        [sys.executable, "-m", "advisor", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )


def test_status_on_an_empty_folder_says_what_to_do(tmp_path):
    result = run(tmp_path / "data", "data", "status", "--json")
    assert result.returncode == 0
    assert json.loads(result.stdout)["exists"] is False
    assert "data sample" in run(tmp_path / "data", "data", "status").stdout


def test_sample_then_status_then_import_report(tmp_path):
    data = tmp_path / "data"
    made = run(data, "data", "sample", "--partners", "30", "--months", "12", "--json")
    assert made.returncode == 0, made.stderr
    made = json.loads(made.stdout)
    assert {t["table"]: t["rows"] for t in made["tables"]}["partners"] == 30

    status = json.loads(run(data, "data", "status", "--json").stdout)
    assert status["kind"] == "sample" and status["dataset"] == "sample"
    rows = {t["table"]: t for t in status["tables"]}
    assert rows["sales"]["rows"] > 1000 and rows["sales"]["date_min"] < rows["sales"]["date_max"]

    # The company's own data never goes into the fictional sample: the first import makes a dataset.
    partners = tmp_path / "经销商.csv"
    partners.write_text("经销商编号,经销商名称,大区\nP0001,甲商贸,华东\nP0002,乙商贸,华南\n", encoding="utf-8")
    result = run(data, "data", "import", str(partners))
    assert result.returncode == 0, result.stderr
    assert "已新建数据集「经销商」" in result.stdout and "示例公司保持不变" in result.stdout
    listed = json.loads(run(data, "data", "datasets", "--json").stdout)
    assert [(d["id"], d["active"]) for d in listed] == [("sample", False), ("company", True)]
    sample_rows = {t["table"]: t["rows"] for t in made["tables"]}
    assert run(data, "data", "use", "sample").returncode == 0
    again = {t["table"]: t["rows"] for t in json.loads(run(data, "data", "status", "--json").stdout)["tables"]}
    assert again == sample_rows
    refused = run(data, "data", "import", str(partners), "--dataset", "sample")
    assert refused.returncode == 2 and "虚构的演示数据" in refused.stderr
    assert run(data, "data", "use", "company").returncode == 0

    good = tmp_path / "targets.csv"
    good.write_text("经销商编号,季度,目标\nP0001,2030Q1,120000\n", encoding="utf-8")
    result = run(data, "data", "import", str(good), "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["ok"] and report["report"]["table"] == "targets"
    assert report["report"]["mapping"] == {"经销商编号": "partner_id", "季度": "quarter", "目标": "target_revenue"}

    bad = tmp_path / "bad.csv"
    bad.write_text("经销商编号,季度,目标\nP0001,2030Q1,很多\n", encoding="utf-8")
    result = run(data, "data", "import", str(bad))
    assert result.returncode == 2
    assert "第2行" in result.stderr and "值「很多」不是数字" in result.stderr and "原有数据保持不变" in result.stderr
    result = run(data, "data", "import", str(bad), "--json")
    assert result.returncode == 2 and json.loads(result.stdout)["ok"] is False

    mapped = tmp_path / "mapped.csv"
    mapped.write_text("客户,Q,金额\nP0002,2030Q2,5000\n", encoding="utf-8")
    result = run(
        data,
        "data",
        "import",
        str(mapped),
        "--table",
        "targets",
        "--mapping",
        '{"客户": "partner_id", "Q": "quarter", "金额": "target_revenue"}',
    )
    assert result.returncode == 0, result.stderr
    assert "新增 1 行" in result.stdout


def test_missing_file_and_model_doc(tmp_path):
    result = run(tmp_path / "data", "data", "import", str(tmp_path / "nope.csv"))
    assert result.returncode == 2 and "找不到文件" in result.stderr
    model = run(tmp_path / "data", "data", "model")
    assert model.returncode == 0 and "## 销售明细 `sales`" in model.stdout and "sold_to_province" in model.stdout
    assert (ROOT / "docs" / "data-model.md").read_text(encoding="utf-8") == model.stdout


def test_kb_add_list_search_remove(tmp_path):
    from tests.test_knowledge_base import DOC

    data = tmp_path / "data"
    doc = tmp_path / "年会.txt"
    doc.write_text(DOC, encoding="gbk")
    added = run(data, "kb", "add", str(doc), str(tmp_path / "missing.pdf"))
    assert added.returncode == 2
    assert "✓ 年会.txt" in added.stdout and "找不到文件" in added.stderr
    listed = json.loads(run(data, "kb", "list", "--json").stdout)
    assert [d["title"] for d in listed] == ["经销商年度大会筹备要点"]
    found = json.loads(run(data, "kb", "search", "年会会场怎么布置", "--k", "2", "--json").stdout)
    first = found["passages"][0]
    assert found["found"] and first["rank"] == 1 and first["source"] == "年会.txt"
    assert {"rank", "score", "source", "title", "location", "text"} <= set(first)
    assert "三百人" in first["text"] and first["location"]["paragraph"] >= 1
    removed = run(data, "kb", "remove", listed[0]["doc_id"])
    assert removed.returncode == 0 and "已删除" in removed.stdout
    missing = run(data, "kb", "remove", listed[0]["doc_id"])
    assert missing.returncode == 2 and "没有编号为" in missing.stderr


def test_tool_command_lists_runs_and_explains_errors(tmp_path):
    data = tmp_path / "data"
    assert run(data, "data", "sample", "--partners", "30", "--months", "12").returncode == 0
    listing = run(data, "tool")
    assert "partner_scorecard" in listing.stdout and "quarterly_work_plan" in listing.stdout
    result = run(data, "tool", "partner_scorecard", "--args", '{"top": 3}', "--json")
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert len(payload["tables"]["记分卡"]) == 3 and payload["period"].endswith("）")
    text = run(data, "tool", "detect_conflicts")
    assert text.returncode == 0 and "计算方法" in text.stdout
    bad = run(data, "tool", "cost_analysis", "--args", '{"top_n": 0}')
    assert bad.returncode == 2 and "参数 top_n：应不小于 1" in bad.stderr
    assert run(data, "tool", "no_such_tool").returncode == 2
    assert "不是有效的 JSON" in run(data, "tool", "cost_analysis", "--args", "{period}").stderr


def test_ask_answers_and_continues_a_conversation(tmp_path):
    data = tmp_path / "data"
    assert run(data, "data", "sample", "--partners", "30", "--months", "12").returncode == 0
    first = run(data, "ask", "设计一个返利方案，预算100万", "--json")
    assert first.returncode == 0, first.stderr
    payload = json.loads(first.stdout)
    assert payload["route"]["intent"] == "incentive" and payload["draft"]["args"]["budget"] == 1_000_000
    second = run(data, "ask", "预算改成120万", "--conversation", payload["conversation"])
    assert second.returncode == 0, second.stderr
    assert "预算：100.00 万元 → 120.00 万元" in second.stdout
    outside = json.loads(run(data, "ask", "今天天气怎么样", "--json").stdout)
    assert outside["route"]["intent"] is None and "不在渠道参谋的范围内" in outside["markdown"]
    assert outside["markdown"].count("\n") == 0  # one line
    by_region = json.loads(run(data, "ask", "各大区销售额", "--json").stdout)
    table = by_region["tables"][0]  # the history's format: name, columns, rows
    assert table["name"] == "结果" and "区域" in table["columns"][0]
    assert len(table["rows"]) >= 2 and all(len(row) == len(table["columns"]) for row in table["rows"])


def test_ask_in_a_conversation_that_does_not_exist_says_so(tmp_path):
    from advisor.history import History

    data = tmp_path / "data"
    result = run(data, "ask", "华南呢", "--conversation", "nonexistent")
    assert result.returncode == 2, result.stderr
    assert "没有编号为「nonexistent」的对话" in result.stderr and "内部错误" not in result.stderr
    assert result.stdout == "" and History(data / "history.sqlite").conversations() == []


def test_a_setting_that_cannot_be_read_names_itself(tmp_path):
    env_run = subprocess.run(
        [sys.executable, "-m", "advisor", "ask", "返利分几档"],
        cwd=ROOT,
        env={**os.environ, "CANMOU_DATA_DIR": str(tmp_path / "data"), "CANMOU_BUILTIN_GUIDES": "maybe"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert env_run.returncode == 2
    assert "设置有误：CANMOU_BUILTIN_GUIDES = 'maybe'" in env_run.stderr and "内部错误" not in env_run.stderr


def test_ask_in_an_unknown_conversation_names_the_conversations_there_are(tmp_path):
    data = tmp_path / "data"
    first = json.loads(run(data, "ask", "今天天气怎么样", "--json").stdout)
    result = run(data, "ask", "华南呢", "--conversation", "nonexistent")
    assert result.returncode == 2 and "内部错误" not in result.stderr and result.stdout == ""
    assert f"现有的对话（最近 1 个）：{first['conversation']}（今天天气怎么样）" in result.stderr
    assert "不指定对话编号即可开始新对话" in result.stderr


def test_audit_lists_filters_and_exports_what_was_done(tmp_path):
    data = tmp_path / "data"
    assert run(data, "ask", "今天天气怎么样").returncode == 0
    listed = json.loads(run(data, "audit", "--event", "question", "--json").stdout)
    (row,) = listed
    assert (row["user"], row["event"], row["details"]["question"]) == ("local", "question", "今天天气怎么样")
    assert "没有符合条件的审计记录" in run(data, "audit", "--since", "2999-01-01").stdout
    refused = run(data, "audit", "--event", "login")
    assert refused.returncode == 2 and "审计日志里没有「login」这种事件；可选：question（提问）" in refused.stderr
    out = tmp_path / "审计.csv"
    done = run(data, "audit", "--user", "local", "--csv", str(out))
    assert done.returncode == 0 and "已导出 1 条审计记录" in done.stdout
    assert out.read_text(encoding="utf-8-sig").startswith("时间,用户,事件,详情") and (out.stat().st_mode & 0o077) == 0


def test_an_evaluation_set_that_is_missing_or_broken_is_named_with_what_to_fix(tmp_path):
    from eval.questions import load

    with pytest.raises(SystemExit, match="读不了题集文件"):
        load(tmp_path / "missing.jsonl")
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"id": "q1"}\n{"id": \n', encoding="utf-8")
    with pytest.raises(SystemExit, match="第 2 行不是有效的 JSON"):
        load(broken)


def test_the_guidance_judge_reads_answers_as_they_render():
    """A key phrase is stated when the rendered text states it: Markdown escapes (\\| \\_), citation marks, emphasis
    and spaces do not hide it; a different phrase is still not stated."""
    from eval.guidance import answer_body, normalise

    markdown = "资料库：accessLevel: 'all' \\| 'gold' \\| 'silver'[2]，编号 S18\\_3232。\n\n**出处**\n\n- [2] 评审报告"
    body = normalise(answer_body(markdown))
    assert normalise("'gold'|'silver'") in body and normalise("S18_3232") in body
    assert normalise("'gold'|'bronze'") not in body and "评审报告" not in body
