"""The 数据中心 page through streamlit.testing: overview, empty folder, upload → check → import."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from tests.conftest import ROOT

APP = str(ROOT / "app.py")
PAGE = str(ROOT / "ui" / "pages" / "data_center.py")


def run_page(path=PAGE) -> AppTest:
    app = AppTest.from_file(path, default_timeout=60)
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    return app


def texts(app: AppTest) -> str:
    parts = [m.value for m in app.markdown] + [c.value for c in app.caption] + [i.value for i in app.info]
    parts += [e.value for e in app.error] + [s.value for s in app.success] + [w.value for w in app.warning]
    return "\n".join(str(p) for p in parts)


def test_app_entry_opens_the_chat_page(loaded_store):
    app = run_page(APP)
    assert app.title[0].value == "渠道参谋"


def test_overview_shows_counts_and_charts(loaded_store, small_company):
    app = run_page()
    metrics = {m.label: m.value for m in app.metric}
    assert metrics["伙伴"] == f"{len(small_company.tables['partners']):,}"
    assert metrics["销售明细行"] == f"{len(small_company.tables['sales']):,}"
    status = app.dataframe[0].value
    assert dict(zip(status["表名"], status["行数"], strict=True))["targets"] == len(small_company.tables["targets"])
    charts = app.get("plotly_chart")
    assert len(charts) == 2
    assert "内置示例公司" in texts(app)


def test_empty_data_folder_explains_next_steps(empty_store):
    app = run_page()
    assert "还没有公司数据" in texts(app)
    assert not app.metric
    assert any(b.label == "生成示例公司" for b in app.button)


def test_upload_check_and_import(loaded_store):
    app = run_page()
    before = len(loaded_store.table("targets"))
    csv = "经销商编号,季度,目标销售额\nP0001,2031Q1,100000\nP0002,2031Q1,200000\n".encode("gbk")
    app.file_uploader[0].upload("目标.csv", csv, "text/csv")
    app.run()
    assert not app.exception
    assert "识别为：季度目标（targets）" in texts(app)
    assert "有效 2 行" in texts(app)
    app.button(key="commit_import").click()
    app.run()
    assert not app.exception
    assert "新增 2 行" in texts(app)
    assert len(loaded_store.table("targets")) == before + 2
    assert not [b for b in app.button if b.key == "commit_import"], "a finished import cannot be submitted twice"
    assert "内置示例公司 + 已导入的数据" in texts(app)


def test_bad_upload_shows_the_problem_and_imports_nothing(loaded_store):
    app = run_page()
    path_before = loaded_store.path()
    csv = "经销商编号,季度,目标销售额\nP0001,2031Q1,十万\n".encode()
    app.file_uploader[0].upload("目标.csv", csv, "text/csv")
    app.run()
    assert not app.exception
    assert "值「十万」不是数字" in texts(app)
    assert not [b for b in app.button if b.key == "commit_import"]
    assert loaded_store.path() == path_before


def test_empty_upload_is_explained(loaded_store):
    app = run_page()
    app.file_uploader[0].upload("空.csv", b"", "text/csv")
    app.run()
    assert not app.exception
    assert "是空的" in texts(app)


def test_generate_sample_from_empty_folder(empty_store):
    app = run_page()
    app.number_input[0].set_value(30)
    app.number_input[1].set_value(12)
    app.button(key="make_sample").click()
    app.run()
    assert not app.exception
    assert "已生成示例公司：30 个伙伴" in texts(app)
    assert len(empty_store.table("partners")) == 30
