"""The 数据中心 page through streamlit.testing: overview, empty folder, upload → check → import."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from tests.conftest import ROOT
from tests.test_ui_auth import sign_in
from tests.test_ui_auth import texts as page_texts

APP = str(ROOT / "app.py")
PAGE = str(ROOT / "ui" / "pages" / "data_center.py")


def run_page(path=PAGE) -> AppTest:
    app = sign_in(AppTest.from_file(path, default_timeout=60))  # the admin, who may import
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    return app


def texts(app: AppTest) -> str:
    """The page's text without headings (the tests that import this one look for messages, not titles)."""
    return page_texts(app, headings=False)


def test_app_entry_opens_the_chat_page(loaded_store):
    app = run_page(APP)
    assert app.title[0].value == "渠道参谋" and app.chat_input, "signed in: the chat page, not the sign-in form"


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


SALES_CSV = (
    "订单号,订单日期,客户名称,产品编码,产品线,数量,单价,销售额,国家,订单状态\n"
    "A1,2026-07-03,甲商贸,SKU-1,饮料,10,50,500,中国,已发货\n"
    "A2,2026-08-15,乙超市,SKU-2,零食,4,25,100,中国,已取消\n"
)


def test_upload_goes_into_a_new_dataset_and_leaves_the_sample_alone(loaded_store):
    sample_sales = len(loaded_store.table("sales"))
    app = run_page()
    app.file_uploader[0].upload("华东经销商.csv", SALES_CSV.encode("gbk"), "text/csv")
    app.run()
    assert not app.exception
    shown = texts(app)
    assert "识别为：销售明细（sales）" in shown and "有效 2 行" in shown
    assert "保留其它列 1 个" in shown and "订单状态（维度）" in shown
    assert app.selectbox(key="import_target").value == "new:华东经销商"
    app.button(key="commit_import").click()
    app.run()
    assert not app.exception
    shown = texts(app)
    assert "新增 2 行" in shown and "已新建数据集「华东经销商」" in shown
    assert "当前数据集：「华东经销商」" in shown
    assert not [b for b in app.button if b.key == "commit_import"], "a finished import cannot be submitted twice"
    assert len(loaded_store.table("sales")) == sample_sales

    # A second file goes into the (now active) company dataset.
    # A second file goes into the (now active) company dataset; partners may be named instead of numbered.
    targets = "客户名称,季度,目标销售额\n甲商贸,2026Q3,1000\n丙公司,2026Q3,500\n"
    app.file_uploader[0].upload("目标.csv", targets.encode(), "text/csv")
    app.run()
    assert "伙伴「丙公司」不在当前数据集的伙伴表中" in texts(app)
    app.file_uploader[0].upload("目标.csv", targets.replace("丙公司", "乙超市").encode(), "text/csv")
    app.run()
    assert app.selectbox(key="import_target").value == "company"  # the active company dataset, not a new one
    app.button(key="commit_import").click()
    app.run()
    assert "新增 2 行" in texts(app) and "新建数据集" not in texts(app)


def test_bad_upload_shows_the_problem_and_imports_nothing(loaded_store):
    app = run_page()
    before = sorted(p.name for p in (loaded_store.folder.parent).iterdir())
    bad = SALES_CSV.replace(",10,50,500,", ",十个,50,,")
    app.file_uploader[0].upload("订单.csv", bad.encode(), "text/csv")
    app.run()
    assert not app.exception
    assert "值「十个」不是数字" in texts(app)
    assert not [b for b in app.button if b.key == "commit_import"]
    assert sorted(p.name for p in (loaded_store.folder.parent).iterdir()) == before


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


def test_an_ambiguous_date_column_gets_a_select_and_kept_columns_can_be_renamed(loaded_store):
    app = run_page()
    ambiguous = (
        "订单号,日期,客户名称,产品编码,数量,单价,渠道备注\n"
        "A1,03/04/2026,甲商贸,S1,1,10,线上\nA2,05/06/2026,乙超市,S1,2,10,线下\n"
    )
    app.file_uploader[0].upload("订单.csv", ambiguous.encode(), "text/csv")
    app.run()
    assert "无法判断日期是 月/日/年 还是 日/月/年" in texts(app)
    assert not [b for b in app.button if b.key == "commit_import"]
    app.selectbox(key="import_date_order_pick").set_value("dmy")
    app.button(key="apply_date_order").click()
    app.run()
    assert "日期列「日期」按 日/月/年 解析（按您的选择）" in texts(app)
    app.button(key="commit_import").click()
    app.run()
    assert not app.exception and "新增 2 行" in texts(app)
    from advisor.workspace import workspaces

    store = workspaces().active_store()
    assert sorted(str(d)[:10] for d in store.table("sales")["date"]) == ["2026-04-03", "2026-06-05"]
    # The kept column is listed and can be renamed.
    editor = app.get("arrow_data_editor") or app.get("data_editor")
    assert editor, "the kept-columns editor is shown"
    from company.catalog import attributes, relabel

    relabel(store, "sales.x_col", zh="销售渠道", en="sales channel")
    assert [(a.zh, a.en) for a in attributes(store)] == [("销售渠道", "sales channel")]
