"""The 知识库 page through streamlit.testing: metrics, upload with progress, search console, removal."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from advisor.workspace import open_knowledge
from tests.conftest import ROOT
from tests.test_knowledge_base import DOC
from tests.test_ui_auth import sign_in
from tests.test_ui_data import texts

PAGE = str(ROOT / "ui" / "pages" / "knowledge_base.py")


def run_page() -> AppTest:
    app = sign_in(AppTest.from_file(PAGE, default_timeout=120))  # the admin, who may add and remove
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    return app


def test_empty_knowledge_base_explains_itself(data_dir):
    app = run_page()
    assert {m.label: m.value for m in app.metric}["文档"] == "0"
    assert "知识库是空的" in texts(app)


def test_upload_search_and_remove(data_dir):
    app = run_page()
    app.file_uploader(key="kb_upload").upload("年会.txt", DOC.encode("gbk"), "text/plain")
    app.run()
    app.button(key="kb_add").click()
    app.run()
    assert not app.exception
    assert "已加入「经销商年度大会筹备要点」" in texts(app)
    assert {m.label: m.value for m in app.metric}["文档"] == "1"
    assert app.dataframe[0].value["标题"].tolist() == ["经销商年度大会筹备要点"]

    app.text_input(key="kb_query").input("年会会场怎么布置")
    app.run()
    assert not app.exception
    first = app.expander[0]
    assert "二、会场布置" in first.label
    assert "年会.txt" in texts(app) and "语义" in texts(app)

    doc_id = open_knowledge().documents()[0].doc_id
    app.selectbox(key="kb_remove_choice").select(doc_id)
    app.run()
    app.button(key="kb_remove").click()
    app.run()
    assert not app.exception
    assert "已删除「经销商年度大会筹备要点」" in texts(app)
    assert open_knowledge().documents() == []


def test_bad_upload_is_reported_and_others_still_added(data_dir):
    app = run_page()
    app.file_uploader(key="kb_upload").set_value(
        [("坏.pdf", b"not a pdf", "application/pdf"), ("年会.txt", DOC.encode(), "text/plain")]
    )
    app.run()
    app.button(key="kb_add").click()
    app.run()
    assert not app.exception
    assert "坏.pdf：坏.pdf 不是有效的 PDF 文件" in texts(app)
    assert "已加入「经销商年度大会筹备要点」" in texts(app)


def test_off_topic_search_says_nothing_was_found(data_dir):
    open_knowledge().add("年会.txt", DOC.encode())
    app = run_page()
    app.text_input(key="kb_query").input("红烧肉怎么做")
    app.run()
    assert "知识库中没有找到相关依据" in texts(app)
