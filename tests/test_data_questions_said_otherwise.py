"""Figures and values people name in their own words on an order export: losses, same day shipping, no. of, 大单, a
name two products share, a stock figure or a target the export does not hold. Each is answered as asked, asked
back, or named back; never answered for something else."""

from __future__ import annotations

from datetime import date

import pytest

from advisor.data_questions import Clarification, DataAnswer, answer_data_question, evidence
from advisor.evidence import words as evidence_words
from tests.fixtures import import_lines, make_store, partner, product, sale

HEADER = (
    "Order ID,Order Date,Ship Mode,Customer ID,Customer Name,Segment,Category,Sub-Category,Product ID,Product Name,"
    "DEALSIZE,Sales,Quantity,Profit"
)
LINES = [
    "A-1,2025-01-10,Same Day,AL-1,Ann Lee,Consumer,Furniture,Tables,T-1,Oak Table,Large,500,1,-120",
    "A-2,2025-02-11,Standard Class,BR-2,Bob Ray,Corporate,Furniture,Tables,T-2,Pine Table,Small,300,1,-30",
    "A-3,2025-03-12,Same Day,CM-3,Cid Moe,Consumer,Office Supplies,Binders,B-1,Ring Binder,Small,40,4,12",
    "A-4,2025-04-13,Second Class,AL-1,Ann Lee,Consumer,Furniture,Bookcases,K-1,Tall Bookcase,Medium,200,1,-60",
    "A-5,2025-05-14,Second Class,DF-4,Dee Fox,Home,Technology,Machines,M-1,Cube Printer 2nd Gen Magenta,Large,900,1,90",
    "A-6,2025-06-15,First Class,E-5,Eve Kim,Consumer,Technology,Machines,M-2,Cube Printer 2nd Gen White,Large,950,1,80",
    "A-7,2024-07-16,Same Day,BR-2,Bob Ray,Corporate,Furniture,Tables,T-1,Oak Table,Small,450,1,-10",
]


@pytest.fixture(scope="module")
def orders(tmp_path_factory):
    return import_lines(tmp_path_factory.mktemp("orders"), [HEADER, *LINES], filename="orders.csv")


def test_losses_are_the_lowest_profit_and_which_n_lists_n(orders):
    reply = answer_data_question(orders, "which 2 sub-categories lost the most money in 2025")
    assert isinstance(reply, DataAnswer), reply
    assert reply.frame.iloc[:, 0].tolist() == ["Tables", "Bookcases"], reply.frame
    assert reply.frame.select_dtypes("number").iloc[:, 0].tolist() == [-150.0, -60.0]


def test_a_ship_mode_said_with_shipping_and_no_dot_of_for_number_of(orders):
    same_day = answer_data_question(orders, "same day shipping sales 2025")
    assert isinstance(same_day, DataAnswer) and same_day.frame.select_dtypes("number").iloc[0, 0] == 540.0
    by_mode = answer_data_question(orders, "sales by shipping 2025")
    assert isinstance(by_mode, DataAnswer) and len(by_mode.frame) == 4, by_mode
    buyers = answer_data_question(orders, "no. of customers who bought Tables in 2025")
    assert isinstance(buyers, DataAnswer) and buyers.frame["active_partners"].tolist() == [2], buyers


def test_a_deal_size_asked_in_chinese(orders):
    big = answer_data_question(orders, "2025年大单的销售额")
    assert isinstance(big, DataAnswer) and big.frame.select_dtypes("number").iloc[0, 0] == 2350.0, big


def test_a_name_two_products_share_is_asked_back_by_the_data_side(orders):
    question = "how much did we sell of the Cube Printer 2nd Gen"
    reply = answer_data_question(orders, question)
    assert isinstance(reply, Clarification) and reply.reason == "ambiguous_name", reply
    assert sorted(reply.options) == ["Cube Printer 2nd Gen Magenta", "Cube Printer 2nd Gen White"]
    assert evidence(orders, question) == "ask", "the data side asks which product, not the guides"


@pytest.mark.parametrize(
    ("question", "named"),
    [
        ("inventory of binders at the end of 2025?", "inventory"),
        ("did we hit our 2025 sales target", "target"),
        ("What did we spend on shipping costs in 2025?", "shipping costs"),
    ],
)
def test_what_the_export_does_not_hold_is_named_back(orders, question, named):
    reply = answer_data_question(orders, question)
    assert isinstance(reply, Clarification) and named in reply.question, reply
    assert "查询条件有误" not in reply.question, "an English question gets English, and the missing data first"


def test_which_partners_are_listed_without_a_count_beside_each(tmp_path):
    store = make_store(
        tmp_path,
        partners=[partner("P1", name="甲商行"), partner("P2", name="乙商行"), partner("P3", name="丙商行")],
        products=[product("S1")],
        sales=[sale("P1", "S1", "2026-04-02", 10, 100), sale("P2", "S1", "2026-04-03", 1, 100)],
    )
    which = answer_data_question(store, "2026年4月哪几家销售额超过50")
    assert isinstance(which, DataAnswer) and which.members is None, which
    assert "partner_count" not in which.spec.metrics and which.frame["partner_name"].tolist() == ["甲商行", "乙商行"]
    assert evidence(store, "哪几家经销商销售额超过50") == "answer", "which partners pass a bound: a data question"
    how_many = answer_data_question(store, "2026年4月销售额超过50的有几家")
    assert isinstance(how_many, DataAnswer) and how_many.members == 2, how_many


def test_months_without_a_year_named_together_are_those_of_the_latest_year_the_data_holds(tmp_path):
    rows = [sale("K1", "A", day, 1, 10) for day in ("2018-01-05", "2018-01-09", "2018-02-03")]
    for row in rows:
        row["order_id"] = None
    old = make_store(tmp_path, partners=[partner("K1")], products=[product("A")], sales=rows)
    reply = answer_data_question(old, "1月和2月各有多少单")
    assert isinstance(reply, DataAnswer), reply
    assert reply.frame["order_count"].tolist() == [2, 1] and any("2018" in n for n in reply.notes), reply


def test_a_short_category_name_an_absent_salesperson_or_age_and_typed_shorthand(orders):
    both = answer_data_question(orders, "furniture vs tech profit 2025")
    assert isinstance(both, DataAnswer) and sorted(both.frame.iloc[:, 0]) == ["Furniture", "Technology"], both
    for question, named in (
        ("who's our top salesperson by revenue in 2025?", "salesperson"),
        ("what's the average age of our customers?", "age"),
        ("what is the average age of our customers?", "age"),  # what is … asks a figure here, not a definition
    ):
        reply = answer_data_question(orders, question)
        assert isinstance(reply, Clarification) and named in reply.question, reply
        assert evidence(orders, question) == "ask", question
        assert not evidence_words(question)[1], question
    typed = answer_data_question(orders, "avg ordr value 2025")
    assert isinstance(typed, DataAnswer) and typed.spec.metrics == ["aov"], typed
    per_customer = answer_data_question(orders, "avg spend per customer in 2025")
    assert isinstance(per_customer, DataAnswer) and per_customer.frame.iloc[0, 0] == pytest.approx(2890 / 5), (
        per_customer
    )
    share = answer_data_question(orders, "what pct of 2025 revenue came from Large deals?")
    assert isinstance(share, DataAnswer) and share.spec.share != "none", share


def test_marketing_spend_in_an_export_without_costs_is_named_back_not_a_cost_analysis(orders, tmp_path):
    from advisor.pipeline import Context, answer
    from advisor.settings import Settings

    ctx = Context(store=orders, kb=None, settings=Settings(data_dir=tmp_path / "data"))
    reply = answer("what was our marketing spend in 2025 and the roi on it", ctx)
    assert reply.route.intent == "data" and not reply.tables and "marketing spend" in reply.markdown, reply.markdown


def test_stacked_conditions_exclusions_and_the_whole_a_share_is_of(orders):
    """The risky end: every condition is used, none is dropped, and a share names the whole it is of."""
    rest = answer_data_question(orders, "2025 sales, all sub-categories except Tables and Machines")
    assert isinstance(rest, DataAnswer) and len(rest.frame) == 1, rest
    assert rest.frame.select_dtypes("number").iloc[0, 0] == 240.0, rest.frame
    share = answer_data_question(orders, "what % of Furniture sales in 2025 came from the Consumer segmnt?")
    assert isinstance(share, DataAnswer) and share.spec.share_within == ["category"], share.spec
    assert share.frame.iloc[0]["revenue_share"] == pytest.approx(700 / 1000), share.frame
    second = answer_data_question(orders, "2nd best month of 2025 by sales?")
    assert isinstance(second, DataAnswer) and second.frame.iloc[:, 0].tolist() == ["2025-05"], second.frame
    unit_price = answer_data_question(orders, "avg price per unit for Binders in 2025")
    assert isinstance(unit_price, DataAnswer) and unit_price.frame.iloc[0, 0] == 10.0, unit_price.frame


def test_growth_asked_as_a_figure_is_shown_for_every_group_not_used_as_a_filter(orders):
    reply = answer_data_question(orders, "2025 vs 2024 sales by ship mode - growth %")
    assert isinstance(reply, DataAnswer), reply
    assert not any(f.field.endswith("_change") for f in reply.spec.filters), reply.spec
    assert reply.spec.comparison == "yoy" and "x_ship_mode" in reply.spec.dimensions


def test_a_place_name_that_is_a_state_and_another_states_city_is_asked_back(tmp_path):
    lines = [
        "Order ID,Order Date,Customer ID,Customer Name,Product ID,Product Name,City,State,Sales,Quantity",
        "W-1,2025-01-10,C-1,Ann,P-1,Desk,Seattle,Washington,100,1",
        "W-2,2025-02-10,C-2,Bob,P-1,Desk,Washington,District of Columbia,30,1",
    ]
    store = import_lines(tmp_path, lines, filename="places.csv")
    asked = answer_data_question(store, "washington sales 2025")
    assert isinstance(asked, Clarification) and asked.reason == "ambiguous_name", asked
    answers = [answer_data_question(store, option) for option in asked.options]
    assert sorted(a.frame.select_dtypes("number").iloc[0, 0] for a in answers) == [30.0, 100.0], answers


def test_a_till_asked_in_the_words_of_a_pharmacist(tmp_path):
    """退了几笔货 counts returns, 排第二 is the second row only, 不算退货 is the sales before returns, 哪天 is asked
    back (days are finer than the data questions count)."""
    rows = [
        sale("K1", "A", "2018-01-03", 5, 10),
        sale("K2", "B", "2018-01-04", 3, 10),
        sale("K1", "A", "2018-01-05", -1, 10),
        sale("K2", "C", "2018-01-06", 1, 10),
    ]
    for row in rows:
        row["order_id"] = None
    till = make_store(
        tmp_path,
        partners=[partner("K1"), partner("K2")],
        products=[product("A", name="开博通"), product("B", name="络活喜"), product("C", name="安内真")],
        sales=rows,
    )
    returns = answer_data_question(till, "1月份退了几笔货")
    assert isinstance(returns, DataAnswer) and returns.frame["return_lines"].tolist() == [1], returns
    second = answer_data_question(till, "销量排第二的药是哪个")
    assert isinstance(second, DataAnswer) and second.frame["product_name"].tolist() == ["络活喜"], second.frame
    gross = answer_data_question(till, "1月份不算退货的话，销售额是多少")
    assert isinstance(gross, DataAnswer) and gross.frame["gross_revenue"].tolist() == [90.0], gross.frame
    assert gross.spec.metrics == ["gross_revenue"]
    day = answer_data_question(till, "哪天的销售额最高")
    assert isinstance(day, Clarification) and "按天" in day.question, day
    assert evidence(till, "哪天的销售额最高") == "ask"


def test_everyday_english_for_exclusions_territories_and_what_customers_spend(orders):
    left_out = answer_data_question(orders, "2025 sales by ship mode, leaving out Same Day")
    assert isinstance(left_out, DataAnswer) and "Same Day" not in left_out.frame.iloc[:, 0].tolist(), left_out
    spent = answer_data_question(orders, "On average, how much did each customer spend on Tables in 2025?")
    assert isinstance(spent, DataAnswer) and "cost" not in spent.spec.metrics, spent
    grew = answer_data_question(orders, "How much did sales grow in 2025 compared with 2024, in percent?")
    assert isinstance(grew, DataAnswer) and grew.spec.comparison == "yoy", grew


def test_a_negation_is_never_dropped_and_status_words_in_chinese(tmp_path):
    lines = [
        "ORDERNUMBER,ORDERDATE,CUSTOMERNAME,PRODUCTCODE,QUANTITYORDERED,PRICEEACH,SALES,STATUS",
        "1,1/13/2004,Alpha Toys,S1,10,10,100,Shipped",
        "2,2/14/2004,Alpha Toys,S2,5,20,40,Cancelled",
        "3,3/15/2004,Beta Gifts,S1,30,10,300,On Hold",
    ]
    store = import_lines(tmp_path, lines, filename="dealers.csv")
    not_shipped = answer_data_question(store, "2004年状态不是Shipped的销售额")
    assert isinstance(not_shipped, DataAnswer) and not_shipped.frame["revenue"].tolist() == [340.0], not_shipped
    on_hold = answer_data_question(store, "2004年状态为On Hold的订单金额")
    assert isinstance(on_hold, DataAnswer) and on_hold.spec.metrics == ["revenue"], on_hold
    cancelled = answer_data_question(store, "2004年被取消的订单有多少")
    assert isinstance(cancelled, DataAnswer) and cancelled.frame["order_count"].tolist() == [1], cancelled
    unread = answer_data_question(store, "2004年没有 Alpha 的销售额")
    assert not (isinstance(unread, DataAnswer) and unread.frame["revenue"].tolist() == [440.0]), "never the opposite"


def test_a_quarter_and_the_year_it_belongs_to_are_one_period(orders):
    from company.clock import today

    last = today().year - 1
    for question, year in (
        ("Q1 last year sales by ship mode", last),
        ("sales by ship mode in Q1 of 2025", 2025),
        ("2025's Q1 sales by ship mode", 2025),
    ):
        reply = answer_data_question(orders, question)
        if isinstance(reply, DataAnswer):
            assert reply.spec.window.start == date(year, 1, 1) and reply.spec.window.kind == "quarter", question
        else:  # a quarter the data does not reach is named back, never read as two periods
            assert year != 2025 and "2 periods" not in reply.question, reply
