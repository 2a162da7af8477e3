"""Exports as real systems write them, imported the way a user does: into a fresh install (the sample
company present and active), with no flags. Totals must equal pandas' sums of the same rows, the import
must land in its own dataset, and every tool and plan must answer (or say what data it lacks).

The shapes are made in tests/exports.py. Real third-party exports are not committed (their rows are not
ours): point CANMOU_REAL_EXPORTS at a folder of exports, one sub-folder each with the file and an
expected.json computed with pandas (rows, revenue_total, revenue_by_year), and the last test runs them too.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from advisor.settings import reset_settings
from advisor.workspace import import_into_workspace, workspaces
from company.errors import ImportRejected
from company.workspaces import SAMPLE_ID
from tests import exports
from tests.conftest import ROOT
from tools.base import ToolError
from tools.registry import TOOLS

SHAPES = {
    "us_dealer": exports.us_dealer,
    "superstore_eu": exports.superstore_eu,
    "till": exports.till_export,
    "chinese_erp": exports.chinese_erp,
}


def _import(export: exports.Export, **options):
    return import_into_workspace(export.content, filename=export.name, **options)


def _check_totals(store, export: exports.Export) -> None:
    sales = store.table("sales")
    assert len(sales) == export.rows
    assert round(float(sales["revenue"].sum()), 2) == pytest.approx(export.revenue, abs=0.01)
    by_year = sales.groupby(pd.to_datetime(sales["date"]).dt.year)["revenue"].sum().round(2)
    assert {int(k): float(v) for k, v in by_year.items()} == pytest.approx(export.by_year, abs=0.01)
    assert len(store.table("partners")) == export.customers


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_an_export_imports_with_no_flags_into_its_own_dataset_with_exact_totals(loaded_store, shape):
    export = SHAPES[shape]()
    sample_sales = len(loaded_store.table("sales"))
    report = _import(export)
    assert report.committed and report.dataset_created and report.table == "sales"
    spaces = workspaces()
    assert spaces.active_id() == report.dataset_id != SAMPLE_ID
    store = spaces.get(report.dataset_id).store
    _check_totals(store, export)
    assert len(loaded_store.table("sales")) == sample_sales, "the sample company is never touched"
    assert [y["year"] for y in report.yearly] == sorted(export.by_year)
    assert report.date_min and report.date_max


def test_us_dealer_export_keeps_every_column_and_states_how_dates_were_read(loaded_store):
    export = exports.us_dealer()
    report = _import(export)
    kept = {a["header"]: a["kind"] for a in report.attributes}
    assert kept == {"STATUS": "dimension", "PHONE": "dimension", "DEALSIZE": "dimension"}
    assert "日期列「ORDERDATE」按 月/日/年 解析" in "\n".join(report.notes)
    assert any("销售额与 数量 × 单价 相差超过 1%" in p.message for p in report.warnings)
    store = workspaces().get(report.dataset_id).store
    products = store.table("products").set_index("sku")
    # product line → category: each code's most frequent line in the file, ties to the smallest (same on every import)
    raw = pd.read_csv(io.BytesIO(export.content), encoding="cp1252")
    counts = raw.groupby(["PRODUCTCODE", "PRODUCTLINE"]).size().reset_index(name="n")
    expected = (
        counts.sort_values(["PRODUCTCODE", "n", "PRODUCTLINE"], ascending=[True, False, True])
        .groupby("PRODUCTCODE")["PRODUCTLINE"]
        .first()
    )
    assert products.loc[expected.index, "category"].to_dict() == expected.to_dict()
    partners = store.table("partners")
    assert "Berguvsvägen Handel" in set(partners["name"]) and partners["territory"].isna().all()


def test_decimal_commas_in_a_semicolon_file(loaded_store):
    export = exports.superstore_eu()
    report = _import(export)
    assert report.decimal_comma and any("逗号作小数点" in n for n in report.notes)
    assert any("日/月/年" in n for n in report.notes)
    profit = {a["header"]: a for a in report.attributes}["Profit"]
    assert profit["kind"] == "measure"


def test_an_ambiguous_date_column_is_asked_about_never_skipped(loaded_store):
    export = exports.till_export(ambiguous=True)
    with pytest.raises(ImportRejected) as caught:
        _import(export)
    message = caught.value.message
    assert "--date-order mdy" in message and "跳过" not in message
    assert caught.value.report.needs_date_order == {"InvoiceDate": caught.value.report.needs_date_order["InvoiceDate"]}
    assert [d.id for d in workspaces().list()] == [SAMPLE_ID], "a refused import leaves no dataset behind"
    report = _import(export, date_order="mdy")
    assert "按 月/日/年 解析（按您的选择）" in "\n".join(report.notes)
    _check_totals(workspaces().get(report.dataset_id).store, export)


@pytest.fixture
def sales_only(loaded_store):
    """A company that has only a sales export: no targets, costs, inventory, prices, territories or types."""
    report = _import(exports.us_dealer(lines=600))
    return workspaces().get(report.dataset_id).store


TOOL_ARGS = {
    "partner_scorecard": {},
    "cost_analysis": {},
    "simulate_rebate": {},
    "fit_rebate_budget": {"budget": 1000},
    "rebate_sensitivity": {},
    "detect_conflicts": {},
    "quarterly_work_plan": {},
}


@pytest.mark.parametrize("tool", sorted(TOOL_ARGS))
def test_every_tool_on_sales_only_data_names_what_it_lacks(sales_only, tool):
    result = TOOLS[tool](sales_only, TOOL_ARGS[tool])
    lines = result.missing_lines()
    assert lines, f"{tool} must say which inputs it did without"
    assert all(line.startswith("缺少「") and "补充方法：导入" in line for line in lines)
    if tool in ("simulate_rebate", "fit_rebate_budget", "rebate_sensitivity"):
        assert lines[0].startswith("缺少「季度目标」：档位改按同比达成率")
    if tool == "partner_scorecard":
        weights = result.tables["weights"].set_index("kpi")
        assert weights.loc["完成率", "weight"] == 0 and weights.loc["销售规模", "weight"] > 0
        assert abs(weights["weight"].sum() - 100) < 0.01
        card = result.tables["scorecard"]
        assert (
            "price_compliance" not in card.columns and "territory_compliance" not in card.columns
        )  # never a silent 100 %


@pytest.mark.parametrize("kind", ["work_plan", "incentive", "strategy"])
def test_every_plan_on_sales_only_data_marks_the_data_it_needs(sales_only, kind):
    from advisor.plans import generate

    document = generate(kind, {}, sales_only, None)
    needed = [s for s in document.appendix if s.heading == "需要补充的数据"]  # an unnumbered appendix
    assert needed and any("补充方法：导入" in p.text for p in needed[0].paragraphs)


def run_cli(data_dir, *args):
    env = {**os.environ, "CANMOU_DATA_DIR": str(data_dir)}
    return subprocess.run(
        [sys.executable, "-m", "advisor", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )


def test_every_tool_and_plan_command_exits_cleanly_on_an_export(tmp_path):
    data = tmp_path / "data"
    export = exports.superstore_eu(lines=400)
    path = tmp_path / export.name
    path.write_bytes(export.content)
    assert run_cli(data, "data", "import", str(path)).returncode == 0
    commands = [["tool", name, "--args", json.dumps(args)] for name, args in TOOL_ARGS.items()]
    commands += [["plan", kind, "--out", str(tmp_path / kind)] for kind in ("quarterly", "incentive", "strategy")]
    for command in commands:
        result = run_cli(data, *command)
        assert result.returncode in (0, 2), (command, result.stderr)
        assert "Traceback" not in result.stderr and "内部错误" not in result.stderr, (command, result.stderr)
        if result.returncode == 2:
            assert result.stderr.strip(), command


# ---- real third-party exports, from a folder outside the repository ------------------------------------------
def _real_folder() -> Path | None:
    for candidate in (os.environ.get("CANMOU_REAL_EXPORTS"), ROOT.parent / "shared" / "exports"):
        if candidate and Path(candidate).is_dir():
            return Path(candidate)
    return None


REAL = _real_folder()
REAL_SETS = sorted(p for p in REAL.iterdir() if (p / "expected.json").exists()) if REAL else []


@pytest.mark.skipif(not REAL_SETS, reason="no real exports folder (set CANMOU_REAL_EXPORTS to run these)")
@pytest.mark.parametrize("folder", REAL_SETS, ids=lambda p: p.name)
def test_real_third_party_export(folder, tmp_path, monkeypatch):
    expected = json.loads((folder / "expected.json").read_text(encoding="utf-8"))
    source = folder / expected["file"]
    monkeypatch.setenv("CANMOU_DATA_DIR", str(tmp_path / "data"))
    reset_settings()
    try:
        report = import_into_workspace(source)
    except ImportRejected as exc:
        if exc.report.needs_date_order:  # a column whose order no value decides: the user is asked
            assert "--date-order" in exc.message and "跳过" not in exc.message
            report = import_into_workspace(source, date_order="mdy")
        else:  # rows that are wrong in the file itself (an impossible date): named, and skippable on request
            assert exc.report.error_rows and "跳过有问题的行" in exc.message
            report = import_into_workspace(source, skip_bad_rows=True)
            assert report.rows_valid == expected["rows"] - report.rows_skipped
            return
    store = workspaces().get(report.dataset_id).store
    sales = store.table("sales")
    assert len(sales) == expected["rows"]
    assert round(float(sales["revenue"].sum()), 2) == pytest.approx(expected["revenue_total"], abs=0.02)
    by_year = sales.groupby(pd.to_datetime(sales["date"]).dt.year)["revenue"].sum()
    for year, total in expected.get("revenue_by_year", {}).items():
        if year.isdigit():
            assert by_year[int(year)] == pytest.approx(total, abs=0.02), year
    for name, args in TOOL_ARGS.items():
        try:
            TOOLS[name](store, args)
        except ToolError as exc:
            assert exc.message


def test_tools_filter_by_the_names_of_kept_columns_and_partner_fields(sales_only):
    card = TOOLS["partner_scorecard"](sales_only, {"filters": {"国家": "France"}})
    french = set(sales_only.query("SELECT partner_id FROM partners WHERE country = 'France'")["partner_id"])
    assert set(card.data["partner_id"]) == french and french
    period = card.period.split("（")[1].rstrip("）").split(" ~ ")
    shipped = sales_only.query(
        "SELECT sum(revenue) AS r FROM sales WHERE x_status = 'Shipped' AND date BETWEEN ? AND ?", period
    )["r"].iloc[0]
    rebate = TOOLS["simulate_rebate"](sales_only, {"filters": {"STATUS": "Shipped"}})
    assert rebate.figures["revenue"] == pytest.approx(round(float(shipped), 2))
    with pytest.raises(ToolError, match="没有名为「颜色」的列可以筛选"):
        TOOLS["partner_scorecard"](sales_only, {"filters": {"颜色": "红"}})


def test_a_split_customer_gets_the_region_of_most_lines_ties_to_the_smallest(tmp_path):
    """A customer who buys in several regions gets the region of most of their lines; a tie goes to the smallest
    value, so every import of one file gives the same partners and products (DuckDB's mode() and any_value()
    pick the first value they meet)."""
    from company.importers import import_file
    from company.store import Store

    rows = [
        ("O1", "2024-01-05", "Acme", "West", "P-1", "Planes"),
        ("O2", "2024-01-06", "Acme", "West", "P-1", "Planes"),
        ("O3", "2024-01-07", "Acme", "East", "P-1", "Cars"),
        ("O4", "2024-01-08", "Acme", "East", "P-1", "Cars"),
        ("O5", "2024-01-09", "Bolt", "South", "P-2", "Ships"),
        ("O6", "2024-01-10", "Bolt", "South", "P-2", "Ships"),
        ("O7", "2024-01-11", "Bolt", "East", "P-2", "Ships"),
    ]
    lines = ["Order ID,Order Date,Customer Name,Region,Product ID,Category,Sales,Quantity"]
    lines += [f"{o},{d},{c},{r},{p},{cat},100,1" for o, d, c, r, p, cat in rows]
    content = ("\n".join(lines) + "\n").encode()
    store = Store(tmp_path / "store")
    import_file(store, content, filename="orders.csv")
    regions = dict(zip(store.table("partners")["name"], store.table("partners")["region"], strict=True))
    assert regions == {"Acme": "East", "Bolt": "South"}
    categories = dict(zip(store.table("products")["sku"], store.table("products")["category"], strict=True))
    assert categories == {"P-1": "Cars", "P-2": "Ships"}


def test_a_region_asked_of_an_order_export_is_the_rows_region_until_a_partner_master_is_imported(tmp_path):
    """In an order export (Superstore: Region, State, City per order) "West region sales" are the rows marked
    West, not the sales of customers whose most frequent region is West (Acme bought 200 in West and 300 in
    East, and was counted 500 in East); a partner master imported later gives each partner its region again."""
    from advisor.data_questions import answer_data_question
    from company.importers import import_file
    from tests.fixtures import import_lines, one_value

    rows = [
        ("O1", "2016-01-05", "Acme", "West", "Seattle", 200),
        ("O2", "2016-02-06", "Acme", "East", "Boston", 100),
        ("O3", "2016-03-07", "Acme", "East", "Boston", 100),
        ("O4", "2016-04-08", "Acme", "East", "New York City", 100),
        ("O5", "2016-05-09", "Bolt", "West", "Seattle", 40),
        ("O6", "2016-06-10", "Bolt", "West", "Seattle", 60),
    ]
    lines = ["Order ID,Order Date,Customer Name,Region,City,Product ID,Sales,Quantity"]
    lines += [f"{o},{d},{c},{r},{city},P-1,{v},1" for o, d, c, r, city, v in rows]
    store = import_lines(tmp_path / "store", lines, "orders.csv")
    assert one_value(store, "West region sales 2016") == 300
    assert one_value(store, "2016年Boston的销售额") == 200
    by_region = answer_data_question(store, "2016年各区域销售额").frame.set_index("region")["revenue"]
    assert by_region.to_dict() == {"West": 300, "East": 300}
    partners = store.table("partners")[["partner_id", "name"]].assign(region=["North", "North"], type="经销商")
    import_file(store, partners.to_csv(index=False).encode(), filename="partners.csv", table="partners")
    assert one_value(store, "North region sales 2016") == 600


def test_lines_written_under_another_products_name_count_for_that_product(tmp_path):
    """A pharmacy export writes code 2367010 as 高特灵 on most lines and 开博通 on one, and 开博通 is what code 2367011
    is called: the 开博通 line counts for 开博通 (whoever asks about 开博通 means the lines that say so), and the import
    report says which lines moved. A code's own most frequent name stays with it; a name no code owns becomes a
    product of its own (2367010·无名药)."""
    from advisor.data_questions import answer_data_question
    from company.importers import import_file
    from company.store import Store

    lines = ["订单号,日期,客户,商品编码,商品名称,实收金额,销售数量"]
    lines += [f"O{i},2018-01-0{i},C{i},2367010,高特灵,10,1" for i in range(1, 4)]
    lines += ["O4,2018-01-04,C4,2367010,无名药,7,1"]
    lines += ["O8,2018-01-08,C8,2367010,开博通,28,1", "O9,2018-01-09,C9,2367011,开博通,30,1"]
    store = Store(tmp_path / "store")
    report = import_file(store, ("\n".join(lines) + "\n").encode("utf-8"), filename="药店.csv")
    text = "\n".join(report.notes)
    assert "产品编号 2367010 有 1 行写作「开博通」" in text and "计入「开博通」（编号 2367011）" in text, text
    assert "产品编号 2367010 有 1 行写作「无名药」" in text and "编号 2367010·无名药" in text, "a name no code owns"
    totals = store.query("SELECT sku, sum(revenue) AS r FROM sales GROUP BY sku ORDER BY sku")
    by_code = dict(zip(totals["sku"], totals["r"], strict=True))
    assert by_code == {"2367010": 30.0, "2367010·无名药": 7.0, "2367011": 58.0}
    names = dict(zip(store.table("products")["sku"], store.table("products")["name"], strict=True))
    assert names == {"2367010": "高特灵", "2367010·无名药": "无名药", "2367011": "开博通"}
    share = answer_data_question(store, "18年1月开博通占了多少销售额")
    assert "58" in share.summary and "61.1%" in share.summary, share.summary


def test_the_rate_of_a_kept_profit_column_is_its_margin_on_sales_never_the_profit_itself(tmp_path):
    """利润率 / profit margin where the export keeps Profit: Σ Profit ÷ Σ Sales (never 利润 < 10%); 毛利率 still needs
    unit costs, and is refused by name."""
    from advisor.data_questions import Clarification, DataAnswer, answer_data_question
    from company.importers import import_file
    from company.store import Store

    lines = ["Order ID,Order Date,Customer Name,Product ID,Sub-Category,Quantity,Sales,Profit"]
    lines += [  # Chairs earn 5% on sales, Tables 15%
        f"O{i},2017-0{i}-05,C{i},P{i},{'Chairs' if i % 2 else 'Tables'},1,{1000 * i},{(50 if i % 2 else 150) * i}"
        for i in range(1, 7)
    ]
    store = Store(tmp_path / "store")
    import_file(store, ("\n".join(lines) + "\n").encode(), filename="superstore.csv")
    low = answer_data_question(store, "2017年销售额超过2000、利润率却低于10%的子品类")
    assert isinstance(low, DataAnswer), low
    assert low.frame.iloc[:, 0].tolist() == ["Chairs"]
    margin = answer_data_question(store, "profit margin by sub-category in 2017")
    assert isinstance(margin, DataAnswer), margin
    assert dict(zip(margin.frame.iloc[:, 0], margin.frame.iloc[:, -1], strict=True)) == {"Chairs": 0.05, "Tables": 0.15}
    profit = answer_data_question(store, "2017年各子品类利润")
    assert isinstance(profit, DataAnswer) and sorted(profit.frame.iloc[:, -1].tolist()) == [450.0, 1800.0]
    gross = answer_data_question(store, "2017年毛利率")
    assert isinstance(gross, Clarification) and "毛利率" in gross.question and "单位成本" in gross.question


def test_us_as_a_pronoun_is_no_country(tmp_path):
    from advisor.data_questions import answer_data_question
    from company.importers import import_file
    from company.store import Store

    lines = ["Order ID,Order Date,Customer Name,Country,Product ID,Quantity,Sales"]
    lines += ["O1,2004-01-05,Acme,USA,P1,1,100", "O2,2004-02-05,Bolt,France,P1,1,50"]
    store = Store(tmp_path / "store")
    import_file(store, ("\n".join(lines) + "\n").encode(), filename="orders.csv")
    assert answer_data_question(store, "give us the revenue in 2004").frame["revenue"].tolist() == [150.0]
    assert answer_data_question(store, "revenue from US customers in 2004").frame["revenue"].tolist() == [100.0]


def test_a_figure_asked_by_the_files_own_column_name_is_read(loaded_store):
    """The ERP export's 实收金额 became revenue and its 销售数量 quantity: asked by those names, they are the figures
    (实收金额 used to be an unknown name, and the question was asked back)."""
    from advisor.data_questions import DataAnswer, answer_data_question

    export = exports.chinese_erp()
    report = _import(export)
    store = workspaces().get(report.dataset_id).store
    reply = answer_data_question(store, "2018年实收金额合计是多少")
    assert isinstance(reply, DataAnswer) and reply.spec.metrics == ["revenue"], reply
    assert float(reply.frame["revenue"].iloc[0]) == pytest.approx(export.by_year[2018], abs=0.01)
    assert answer_data_question(store, "2018年1月各客户的实收金额").spec.dimensions == ["partner"]
    assert answer_data_question(store, "2018年实收是多少").spec.metrics == ["revenue"], "实收 for 实收金额"
    assert answer_data_question(store, "2018年销售是多少").spec.metrics == ["revenue"], "销售 of 销售数量 stays 销售额"
    # one figure bounded by another (实收 below 85% of 应收) cannot be expressed: named, never answered without it
    bounded = answer_data_question(store, "2018年实收不到应收85%的客户")
    assert not isinstance(bounded, DataAnswer) and "不到应收" in bounded.question, bounded
    # the kept measure 应收金额 answers to 应收; 实收占应收的比例 is the one figure over the other (it was once
    # answered as each figure's share of its own total, 100%, then asked back), and 差了多少 their difference
    assert answer_data_question(store, "2018年应收是多少").spec.metrics[0].startswith("x_")
    for question in ("2018年实收占应收的比例", "2018: received amount as % of receivable"):
        ratio = answer_data_question(store, question)
        assert isinstance(ratio, DataAnswer) and ratio.ratio, (question, ratio)
        received, billed = (float(ratio.frame[m].iloc[0]) for m in ratio.spec.metrics)
        assert ratio.spec.metrics[0] == "revenue" and ratio.difference == pytest.approx(received / billed * 100)
    gap = answer_data_question(store, "2018年应收和实收差了多少")
    billed, received = (float(gap.frame[m].iloc[0]) for m in gap.spec.metrics)
    assert not gap.ratio and gap.difference == pytest.approx(billed - received) and "多" in gap.summary


def test_a_column_named_as_one_word_is_asked_with_spaces_and_the_other_way_round(tmp_path):
    """DEALSIZE asked as "deal size", Ship Mode as "shipmode", Sub-Category as "sub category": each is the file's own
    dimension (deal / size are stop words: "by deal size" was dropped and the total given for every deal size)."""
    from advisor.data_questions import DataAnswer, answer_data_question
    from company.importers import import_file
    from company.store import Store

    lines = ["ORDERNUMBER,ORDERDATE,CUSTOMERNAME,PRODUCTCODE,Sub-Category,Ship Mode,DEALSIZE,QUANTITYORDERED,SALES"]
    lines += [
        f"{i},2005-0{i}-05,C{i},P{i},{'Chairs' if i % 2 else 'Tables'},{'First' if i < 4 else 'Second'},"
        f"{'Small' if i < 3 else 'Large'},1,{1000 * i}"
        for i in range(1, 7)
    ]
    store = Store(tmp_path / "store")
    import_file(store, ("\n".join(lines) + "\n").encode(), filename="orders.csv")
    for question, rows in (
        ("revenue by deal size for 2005", [3000.0, 18000.0]),
        ("sales by shipmode 2005", [6000.0, 15000.0]),
        ("sales by sub category 2005", [9000.0, 12000.0]),
    ):
        reply = answer_data_question(store, question)
        assert isinstance(reply, DataAnswer) and len(reply.spec.dimensions) == 1, (question, reply)
        assert sorted(reply.frame["revenue"].tolist()) == rows, (question, reply.frame)
