"""The audit log of a shared deployment: what it records (questions, tool runs, imports, exports, settings changes,
deletions), who did it, that it can only grow, that two processes writing at once lose nothing, and the filters."""

from __future__ import annotations

import dataclasses
import inspect
import json
import sqlite3
import stat
import subprocess
import sys
from datetime import date, timedelta

import pandas as pd
import pytest

from advisor import audit
from advisor.accounts import LOCAL as ACCOUNTS_LOCAL
from advisor.accounts import User
from advisor.audit import EVENTS, LOCAL, AuditError, AuditLog, Filters
from advisor.conversation import Conversation, Deps
from advisor.history import History
from advisor.plans import PlanLibrary, export
from advisor.settings import Settings, save_settings
from advisor.workspace import import_into_workspace
from documents.model import Metadata, Paragraph, PlanDocument, Section
from tests.conftest import ROOT
from tests.fixtures import make_store, partner, product, sale


def rows(folder, **filters) -> list[dict]:
    frame = AuditLog(folder).read(Filters(**filters))
    return [{**row, "details": json.loads(row["details"])} for row in frame.to_dict(orient="records")]


# ---- the log itself ------------------------------------------------------------------------------------------


def test_rows_are_read_back_with_filters_and_exported_for_excel(tmp_path):
    log = AuditLog(tmp_path)
    log.record("question", "li", conversation="c1", question="华东上季度销售额")
    log.record("tool", "li", conversation="c1", tool="query_data", args={"metrics": ["revenue"]})
    log.record("export", "wang", title="2026年第1季度渠道工作计划", files=["计划.docx"])
    log.record("delete", None, target="plan", id="p1", title="旧方案")  # nobody signed in: "local"

    assert [r["event"] for r in rows(tmp_path)] == ["question", "tool", "export", "delete"]
    assert [r["details"]["question"] for r in rows(tmp_path, user="li", event="question")] == ["华东上季度销售额"]
    assert rows(tmp_path, event="tool")[0]["details"]["args"] == {"metrics": ["revenue"]}
    assert [r["user"] for r in rows(tmp_path, event="delete")] == [LOCAL] and LOCAL == ACCOUNTS_LOCAL
    today = date.today()
    assert len(rows(tmp_path, since=today.isoformat(), until=today)) == 4
    assert rows(tmp_path, since=today + timedelta(days=1)) == [] and rows(tmp_path, until=today - timedelta(1)) == []

    exported = log.export_csv(tmp_path / "out" / "审计.csv", Filters(user="li"))
    assert exported.read_bytes().startswith("\ufeff时间,用户,事件,详情".encode())  # a BOM: Excel reads the Chinese
    table = pd.read_csv(exported, encoding="utf-8-sig")
    assert list(table["事件"]) == ["提问", "运行工具"] and "华东上季度销售额" in table["详情"][0]
    assert stat.S_IMODE(exported.stat().st_mode) == 0o600 and stat.S_IMODE(log.path.stat().st_mode) == 0o600
    english = pd.read_csv(log.export_csv(tmp_path / "audit-en.csv", language="en"), encoding="utf-8-sig")
    assert list(english.columns) == ["Time", "User", "Event", "Details"] and english["Event"][0] == "question"


def test_filters_that_cannot_be_used_say_what_to_write(tmp_path):
    with pytest.raises(AuditError, match="审计日志里没有「login」这种事件；可选：question（提问）"):
        AuditLog(tmp_path).read(Filters(event="login"))
    with pytest.raises(AuditError, match="起始日期「昨天」不是日期：请写成 YYYY-MM-DD"):
        AuditLog(tmp_path).read(Filters(since="昨天"))
    with pytest.raises(ValueError, match="unknown audit event"):
        AuditLog(tmp_path).record("edit", "li")
    assert AuditLog(tmp_path / "never").read().empty  # nothing recorded yet: an empty table, no file made
    assert not (tmp_path / "never").exists()


def test_the_log_can_only_grow(tmp_path):
    public = [name for name in dir(audit) if not name.startswith("_")]
    public += [name for name, _ in inspect.getmembers(AuditLog) if not name.startswith("_")]
    changing = [n for n in public if any(w in n.lower() for w in ("update", "delete", "remove", "clear", "purge"))]
    assert changing == [] and {"record", "read", "export_csv"} <= set(public)

    log = AuditLog(tmp_path)
    log.record("settings", "admin", changed={"llm_model": "deepseek-chat"})
    db = sqlite3.connect(log.path)
    for statement in ("UPDATE events SET user = 'someone'", "DELETE FROM events"):
        with pytest.raises(sqlite3.DatabaseError, match="审计日志只能追加"):
            db.execute(statement)
    db.close()
    assert rows(tmp_path)[0]["user"] == "admin"


WRITER = """
import sys
from advisor.audit import AuditLog
log = AuditLog(sys.argv[1])
for n in range(int(sys.argv[3])):
    log.record("question", sys.argv[2], n=n)
"""


def test_two_processes_appending_at_once_lose_nothing(tmp_path):
    count = 120
    writers = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path), name, str(count)], cwd=ROOT)
        for name in ("first", "second")
    ]
    assert [w.wait(timeout=300) for w in writers] == [0, 0]
    written = rows(tmp_path)
    assert len(written) == 2 * count
    for name in ("first", "second"):
        assert [r["details"]["n"] for r in written if r["user"] == name] == list(range(count))


# ---- where it is recorded ------------------------------------------------------------------------------------


@pytest.fixture
def deps(tmp_path, monkeypatch) -> Deps:
    monkeypatch.setenv("CANMOU_TODAY", "2026-06-30")
    store = make_store(
        tmp_path,
        partners=[partner("P1"), partner("P2", region="华南", province="广东", city="广州")],
        products=[product("BEV-001")],
        sales=[
            sale("P1", "BEV-001", "2026-04-10", 100, 100),
            sale("P2", "BEV-001", "2026-05-10", 30, 100, sold_to_region="华南", sold_to_province="广东"),
        ],
    )
    settings = Settings(data_dir=tmp_path / "data")
    return Deps(store=store, kb=None, settings=settings, history=History(tmp_path / "data" / "history.sqlite"))


def test_a_question_and_the_query_it_ran_are_recorded_as_the_users(deps):
    wang = dataclasses.replace(deps, user=User("wang", "admin"))
    conversation = Conversation.start(wang, "2026年第2季度各区域销售额")
    reply = conversation.ask("2026年第2季度各区域销售额")
    question, tool = rows(deps.settings.data_dir)
    assert question["user"] == "wang" and question["event"] == "question"
    assert question["details"] == {
        "conversation": conversation.id,
        "question": "2026年第2季度各区域销售额",
        "intent": "data",
        "backend": "offline",
    }
    assert tool["event"] == "tool" and tool["details"]["tool"] == "query_data"
    assert tool["details"]["args"] == reply.spec and tool["details"]["args"]["dimensions"] == ["region"]


def test_an_offline_draft_is_recorded_with_its_arguments(loaded_store, tmp_path):
    settings = Settings(data_dir=tmp_path / "data")
    deps = Deps(store=loaded_store, kb=None, settings=settings, history=History(tmp_path / "data" / "h.sqlite"))
    Conversation.start(deps, "设计一个返利方案").ask("设计一个返利方案，预算100万")
    (draft,) = rows(settings.data_dir, user=LOCAL, event="tool")
    assert draft["details"]["tool"] == "plan:incentive" and draft["details"]["args"]["budget"] == 1_000_000


def test_the_tools_a_model_called_are_recorded_with_their_arguments(fake_backend, loaded_store, tmp_path):
    settings = Settings(llm_backend="fake", data_dir=tmp_path / "data")
    deps = Deps(store=loaded_store, kb=None, settings=settings, history=History(tmp_path / "data" / "h.sqlite"))
    fake_backend.model.enqueue(tool_calls=[("partner_scorecard", {"region": "华东"})])
    fake_backend.model.enqueue("华东伙伴的记分卡见表。")
    Conversation.start(deps, "给华东伙伴打分").ask("给华东伙伴打分")
    (tool,) = rows(settings.data_dir, event="tool")
    assert tool["details"]["tool"] == "partner_scorecard" and tool["details"]["args"] == {"region": "华东"}
    assert rows(settings.data_dir, event="question")[0]["details"]["backend"] == "fake"


def test_settings_changes_are_recorded_without_the_key(data_dir):
    save_settings(
        {"llm_backend": "openai", "llm_base_url": "http://127.0.0.1:9/v1", "llm_api_key": "sk-audit-0123456789"}
    )
    save_settings({"llm_model": "deepseek-chat"}, user="admin")
    first, second = rows(data_dir, event="settings")
    assert first["user"] == LOCAL and first["details"]["changed"] == {
        "llm_backend": "openai",
        "llm_base_url": "http://127.0.0.1:9/v1",
        "llm_api_key": "（已更换，值不记录）",
    }
    assert second["user"] == "admin" and second["details"]["changed"] == {"llm_model": "deepseek-chat"}
    assert b"sk-audit" not in (data_dir / "audit.sqlite").read_bytes()


def test_imports_exports_and_deletions_are_recorded(data_dir, tmp_path):
    partners = tmp_path / "经销商.csv"
    partners.write_text("经销商编号,经销商名称,大区\nP0001,甲商贸,华东\nP0002,乙商贸,华南\n", encoding="utf-8")
    report = import_into_workspace(partners, user="li")
    (imported,) = rows(data_dir, event="import")
    assert imported["user"] == "li" and imported["details"]["file"] == "经销商.csv"
    assert imported["details"]["dataset"] == report.dataset_id and imported["details"]["inserted"] == 2

    document = PlanDocument(
        kind="strategy",
        title="华东渠道策略",
        metadata=Metadata(company="甲公司", period="2026年第1季度"),
        sections=[Section(heading="目标", paragraphs=[Paragraph(text="提高覆盖率。")])],
    )
    written = export(document, tmp_path / "策略.md", user="li")
    library = PlanLibrary(data_dir / "plans")
    plan_id = library.save(document)
    library.delete(plan_id, user="wang")
    history = History(data_dir / "history.sqlite", owner="li")
    conversation = history.start("华东销售额")
    assert history.delete(conversation)

    exported, deleted_plan, deleted_conversation = rows(data_dir, event="export") + rows(data_dir, event="delete")
    assert exported["details"] == {"title": "华东渠道策略", "kind": "strategy", "files": [str(written[0])]}
    assert (deleted_plan["user"], deleted_plan["details"]) == (
        "wang",
        {"target": "plan", "id": plan_id, "title": "华东渠道策略"},
    )
    assert deleted_conversation["user"] == "li" and deleted_conversation["details"]["title"] == "华东销售额"


def test_the_command_line_records_knowledge_removal_and_shows_the_log(data_dir, capsys):
    from advisor.cli import main
    from advisor.workspace import open_knowledge

    outcome = open_knowledge().add("返利制度.txt", "返利制度\n\n返利按季度核算，季度结束后30天内兑现。\n".encode())
    assert outcome.ok
    assert main(["kb", "remove", outcome.document.doc_id]) == 0
    (removed,) = rows(data_dir, event="delete")
    assert removed["user"] == LOCAL and removed["details"]["target"] == "document"
    assert removed["details"]["title"] == outcome.document.title

    capsys.readouterr()
    assert main(["audit", "--event", "delete"]) == 0
    shown = capsys.readouterr().out
    assert "删除" in shown and outcome.document.doc_id in shown
    assert main(["audit", "--user", "nobody"]) == 0 and "没有符合条件的审计记录" in capsys.readouterr().out
    assert main(["audit", "--since", "明天"]) == 2 and "请写成 YYYY-MM-DD" in capsys.readouterr().err
    assert main(["audit", "--event", "delete", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["details"]["id"] == outcome.document.doc_id
    csv = data_dir.parent / "审计.csv"
    assert main(["audit", "--csv", str(csv)]) == 0 and "已导出 1 条审计记录" in capsys.readouterr().out
    assert list(pd.read_csv(csv, encoding="utf-8-sig")["事件"]) == [EVENTS["delete"][0]] == ["删除"]
