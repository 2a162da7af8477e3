"""The 对话 page through streamlit.testing: starters, a question with steps, a draft with download, history."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from advisor.workspace import open_knowledge
from tests.conftest import ROOT
from tests.test_knowledge_base import DOC
from tests.test_ui_data import texts

PAGE = str(ROOT / "ui" / "pages" / "chat.py")


def run_page() -> AppTest:
    app = AppTest.from_file(PAGE, default_timeout=120)
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    return app


def test_welcome_shows_starter_questions(loaded_store):
    app = run_page()
    labels = [b.label for b in app.button]
    assert "设计一个返利方案，预算300万" in labels and "有没有窜货？" in labels


def test_question_answer_draft_and_history(loaded_store):
    open_knowledge().add("年会.txt", DOC.encode())
    app = run_page()
    app.chat_input[0].set_value("设计一个返利方案，预算150万").run()
    assert not app.exception, [e.value for e in app.exception]
    assert "一、适用对象" in texts(app)
    labels = [b.label for b in app.get("download_button")]
    assert "下载方案（Markdown）" in labels and "下载方案（Word）" in labels
    app.chat_input[0].set_value("预算改成200万").run()
    assert not app.exception
    assert "预算：150.00 万元 → 200.00 万元" in texts(app)
    conversations = [b for b in app.button if b.key and b.key.startswith("conv-")]
    assert len(conversations) == 1

    fresh = run_page()  # a new session reopens the conversation from the sidebar
    next(b for b in fresh.button if b.key and b.key.startswith("conv-")).click().run()
    assert not fresh.exception
    assert "预算：150.00 万元 → 200.00 万元" in texts(fresh) and "一、适用对象" in texts(fresh)


def test_unclear_question_offers_buttons_that_work(loaded_store):
    app = run_page()
    app.chat_input[0].set_value("今天天气怎么样").run()
    options = [b for b in app.button if b.key and b.key.startswith("opt-")]
    assert len(options) >= 5
    next(b for b in options if b.label == "窜货乱价排查").click().run()
    assert not app.exception
    assert "渠道冲突排查" in texts(app)


def test_empty_data_folder_still_answers_guidance(data_dir):
    app = run_page()
    assert "还没有公司数据" in texts(app)
    app.chat_input[0].set_value("有没有窜货？").run()
    assert not app.exception
    assert "还没有公司数据" in texts(app)


def test_a_reopened_conversation_shows_its_tables_chart_and_sources(loaded_store):
    open_knowledge().add("年会.txt", DOC.encode())
    app = run_page()
    app.chat_input[0].set_value("各大区销售额").run()
    assert not app.exception, [e.value for e in app.exception]
    app.chat_input[0].set_value("年会会场怎么布置？").run()
    assert not app.exception, [e.value for e in app.exception]
    before = shown(app)
    assert before["tables"] and before["charts"] and any(label.startswith("出处（") for label in before["expanders"])

    fresh = run_page()
    next(b for b in fresh.button if b.key and b.key.startswith("conv-")).click().run()
    assert not fresh.exception, [e.value for e in fresh.exception]
    assert shown(fresh) == before
    assert "三百人" in texts(fresh)


def shown(app: AppTest) -> dict:
    """What a user sees of the answers: table contents, chart count, expander labels."""
    return {
        "tables": [d.value.to_dict("split") for d in app.dataframe],
        "charts": len(app.get("plotly_chart")),
        "expanders": [e.label for e in app.expander],
    }
