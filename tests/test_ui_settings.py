"""The 设置 page, first-run panel, language switch, and every page with the sample company and an empty folder."""

from __future__ import annotations

import json

import pytest
from streamlit.testing.v1 import AppTest

from advisor.settings import get_settings, settings_file
from tests.conftest import ROOT
from tests.stub_openai import StubOpenAI
from tests.test_ui_auth import sign_in
from tests.test_ui_data import texts

SETTINGS = str(ROOT / "ui" / "pages" / "settings.py")
PAGES = ["chat.py", "data_center.py", "knowledge_base.py", "plans.py", "settings.py"]


def run(path: str) -> AppTest:
    app = sign_in(AppTest.from_file(path, default_timeout=120))  # settings are the admin's
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    return app


@pytest.mark.parametrize("page", PAGES)
def test_every_page_runs_with_the_sample_company(loaded_store, page):
    run(str(ROOT / "ui" / "pages" / page))


@pytest.mark.parametrize("page", PAGES)
def test_every_page_runs_with_an_empty_data_folder(data_dir, page):
    run(str(ROOT / "ui" / "pages" / page))


def test_whole_app_in_english_after_saving_the_language(data_dir):
    app = run(SETTINGS)
    app.radio(key="ui_language").set_value("en").run()
    app.button(key="save_settings").click().run()
    assert not app.exception
    assert "Saved; in effect now." in texts(app)
    assert get_settings().ui_language == "en"
    chat = run(str(ROOT / "app.py"))
    assert chat.title[0].value == "Channel Advisor"


def test_settings_persist_and_apply_without_restart(data_dir):
    app = run(SETTINGS)
    app.radio(key="llm_backend").set_value("openai").run()
    app.text_input(key="llm_url").input("http://127.0.0.1:9/v1").run()
    app.text_input(key="llm_key").input("sk-secret-123").run()
    app.button(key="save_settings").click().run()
    saved = json.loads(settings_file().read_text(encoding="utf-8"))
    assert saved["llm_backend"] == "openai" and saved["llm_api_key"] == "sk-secret-123"
    settings = get_settings()
    assert settings.llm_base_url == "http://127.0.0.1:9/v1" and "sk-secret-123" not in repr(settings)
    assert "sk-secret-123" not in " ".join(texts(app).split())


def test_invalid_weights_and_missing_url_are_refused(data_dir):
    app = run(SETTINGS)
    app.number_input(key="w-achievement").set_value(0.9).run()
    app.radio(key="llm_backend").set_value("openai").run()
    app.button(key="save_settings").click().run()
    assert not app.exception
    shown = texts(app)
    assert "权重合计为 1.60，必须等于 1" in shown and "没有填写接口地址" in shown
    assert not settings_file().exists()


def test_connection_test_against_the_stub_and_a_wrong_key(data_dir):
    with StubOpenAI(api_key="sk-good") as stub:
        app = run(SETTINGS)
        app.text_input(key="llm_url").input(stub.base_url).run()
        app.text_input(key="llm_model").input(stub.model).run()
        app.text_input(key="llm_key").input("sk-good").run()
        app.button(key="llm_test").click().run()
        assert not app.exception
        assert any(stub.model in s.value for s in app.success)
        app.text_input(key="llm_key").input("sk-wrong").run()
        app.button(key="llm_test").click().run()
        assert app.error and "401" in app.error[0].value
        assert "sk-wrong" not in app.error[0].value
        app.text_input(key="llm_url").input("http://127.0.0.1:9/v1").run()
        app.button(key="llm_test").click().run()
        assert app.error and "sk-wrong" not in app.error[0].value


def test_first_run_panel_explains_what_is_loaded(loaded_store):
    app = run(str(ROOT / "ui" / "pages" / "chat.py"))
    shown = texts(app)
    assert "内置示例公司" in shown and "数据中心" in shown and "知识库" in shown
    assert {"渠道经理：起草方案", "高管：查伙伴数据", "季度计划文档"} <= {c.value for c in app.caption}


def test_a_registered_backend_is_offered_and_saved(data_dir, fake_backend):
    app = run(SETTINGS)
    radio = app.radio(key="llm_backend")
    assert radio.options == ["离线（不用大模型）", "OpenAI 兼容接口", "测试用假模型"]
    radio.set_value("fake").run()
    app.button(key="llm_test").click().run()
    assert any("假模型" in s.value for s in app.success)
    app.button(key="save_settings").click().run()
    assert not app.exception
    assert json.loads(settings_file().read_text(encoding="utf-8"))["llm_backend"] == "fake"
    assert get_settings().llm_backend == "fake"
