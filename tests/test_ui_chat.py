"""The 对话 page through streamlit.testing: starters, a question with steps, a draft with download, history."""

from __future__ import annotations

import json

from streamlit.testing.v1 import AppTest

from advisor.workspace import open_knowledge
from tests.conftest import ROOT
from tests.test_knowledge_base import DOC
from tests.test_ui_auth import sign_in
from tests.test_ui_data import texts

PAGE = str(ROOT / "ui" / "pages" / "chat.py")


def run_page() -> AppTest:
    app = sign_in(AppTest.from_file(PAGE, default_timeout=120))
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

    reloaded = reload(app)  # the same window, reloaded, reopens the conversation from the sidebar
    next(b for b in reloaded.button if b.key and b.key.startswith("conv-")).click().run()
    assert not reloaded.exception
    assert "预算：150.00 万元 → 200.00 万元" in texts(reloaded) and "一、适用对象" in texts(reloaded)


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

    fresh = reload(app)
    next(b for b in fresh.button if b.key and b.key.startswith("conv-")).click().run()
    assert not fresh.exception, [e.value for e in fresh.exception]
    assert shown(fresh) == before
    assert "三百人" in texts(fresh)


def test_the_history_is_the_accounts_in_every_window_and_nobody_elses(loaded_store):
    mine = run_page()
    mine.chat_input[0].set_value("各大区销售额").run()
    window = reload(mine)  # the same person in another browser window: their conversations
    assert [b.label for b in history_buttons(window)] == ["各大区销售额"]
    theirs = sign_in(AppTest.from_file(PAGE, default_timeout=120), name="zhao", role="executive")
    theirs.run()  # another person
    assert not history_buttons(theirs)
    theirs.chat_input[0].set_value("有没有窜货？").run()
    assert [b.label for b in history_buttons(theirs)] == ["▸ 有没有窜货？"]
    assert [b.label for b in history_buttons(reload(mine))] == ["各大区销售额"]


def test_deleting_a_conversation_asks_first_and_removes_only_it(loaded_store):
    app = run_page()
    app.chat_input[0].set_value("各大区销售额").run()
    app.button(key="new_chat").click().run()
    app.chat_input[0].set_value("有没有窜货？").run()
    assert [b.label for b in history_buttons(app)] == ["▸ 有没有窜货？", "各大区销售额"]

    app.button(key="delete_chat").click().run()
    assert "确定删除对话「有没有窜货？」吗" in texts(app)
    app.button(key="delete_chat_no").click().run()  # changed my mind: nothing is removed
    assert len(history_buttons(app)) == 2 and "确定删除" not in texts(app)

    app.button(key="delete_chat").click().run()
    app.button(key="delete_chat_yes").click().run()
    assert not app.exception, [e.value for e in app.exception]
    assert [b.label for b in history_buttons(app)] == ["各大区销售额"]
    assert "已删除对话「有没有窜货？」" in texts(app)
    assert any(b.label == "有没有窜货？" for b in app.button), "back on the welcome page with its starters"
    assert [b.label for b in history_buttons(reload(app))] == ["各大区销售额"]


def test_a_data_answer_shows_its_table_once(loaded_store):
    app = run_page()
    app.chat_input[0].set_value("各大区销售额").run()
    assert not app.exception, [e.value for e in app.exception]
    assert len(app.dataframe) == 1
    assert list(app.dataframe[0].value.columns) == ["区域", "销售额（元）", "销售额（万元）"]
    assert len(app.dataframe[0].value) == 7
    answer = "\n".join(m.value for m in app.markdown)
    assert "| 区域" not in answer and "<sub>" not in answer, "no Markdown copy of the rows, no raw tags"
    assert "数据集：「示例公司」" in texts(app)
    assert len(app.get("plotly_chart")) == 1


def test_which_is_highest_shows_the_ranking_with_the_answer_first(loaded_store):
    """哪个区域最高 answers with one row; its chart is the ranking around it, not one lonely bar."""
    app = run_page()
    app.chat_input[0].set_value("上季度哪个区域销售额最高").run()
    assert not app.exception, [e.value for e in app.exception]
    assert "销售额最高的区域是" in texts(app)
    assert len(app.dataframe) == 1 and len(app.dataframe[0].value) == 1  # the answer's own row
    (chart,) = app.get("plotly_chart")
    (bars,) = json.loads(chart.proto.spec)["data"]
    colors = bars["marker"]["color"]
    assert len(colors) > 1 and colors[0] != colors[1] and len(set(colors[1:])) == 1
    assert bars["x"][0] == app.dataframe[0].value["区域"].iloc[0], "the highlighted bar is the answer"


def test_a_top_three_ranking_highlights_its_three_among_the_first_ten(loaded_store):
    app = run_page()
    app.chat_input[0].set_value("销售额前3的经销商").run()
    assert not app.exception, [e.value for e in app.exception]
    (chart,) = app.get("plotly_chart")
    (bars,) = json.loads(chart.proto.spec)["data"]
    colors = bars["marker"]["color"]
    assert len(colors) == 10 and len(set(colors[:3])) == 1 and len(set(colors[3:])) == 1 and colors[0] != colors[3]
    assert list(bars["x"][:3]) == list(app.dataframe[0].value["伙伴名称"]), "the highlighted bars are the answer"


def history_buttons(app: AppTest) -> list:
    return [b for b in app.button if b.key and b.key.startswith("conv-")]


def reload(app: AppTest) -> AppTest:
    """The same user after a reload (or in another window): a new session, signed in as the same account."""
    again = sign_in(AppTest.from_file(PAGE, default_timeout=120), name=app.session_state["auth_user"])
    again.run()
    assert not again.exception, [e.value for e in again.exception]
    return again


def shown(app: AppTest) -> dict:
    """What a user sees of the answers: table contents, chart count, expander labels."""
    return {
        "tables": [d.value.to_dict("split") for d in app.dataframe],
        "charts": len(app.get("plotly_chart")),
        "expanders": [e.label for e in app.expander],
    }
