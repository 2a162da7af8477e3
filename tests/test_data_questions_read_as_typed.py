"""Questions as users type them on real exports: misspelt values, a city several states have, returns, an order
defined in brackets, 加起来多少钱, （按数量）. Each is answered as asked, said how it was read, or asked back."""

from __future__ import annotations

import pytest

from advisor.data_questions import Clarification, DataAnswer, answer_data_question
from advisor.pipeline import Context, answer
from advisor.settings import Settings
from tests.fixtures import make_store, partner, product, sale


@pytest.fixture(scope="module")
def dealers(tmp_path_factory):
    """Product lines with English names; one city name in two states; a return line; order numbers kept."""
    folder = tmp_path_factory.mktemp("dealers")
    return make_store(
        folder,
        partners=[
            partner("C1", name="Mini Gifts", city="Columbus", province="Ohio", region="East", country="USA"),
            partner("C2", name="Toys4Kids", city="Columbus", province="Georgia", region="South", country="USA"),
            partner("C3", name="Land of Toys", city="Boston", province="Massachusetts", region="East", country="USA"),
        ],
        products=[product("S1", category="Classic Cars"), product("S2", category="Motorcycles")],
        sales=[
            sale("C1", "S1", "2026-03-02", 2, 100, sold_to_province=None, sold_to_region=None),
            sale("C2", "S1", "2026-03-03", 1, 100, sold_to_province=None, sold_to_region=None),
            sale("C3", "S2", "2026-04-01", 3, 50, sold_to_province=None, sold_to_region=None),
            {**sale("C3", "S2", "2026-04-09", -1, 50, sold_to_province=None, sold_to_region=None), "line_no": 2},
        ],
    )


@pytest.fixture(scope="module")
def till(tmp_path_factory):
    """A pharmacy till export: no order numbers (one customer's lines of one day are one purchase), no returns."""
    folder = tmp_path_factory.mktemp("till")
    rows = [
        sale("K1", "A", "2026-04-01", 1, 10),
        sale("K1", "B", "2026-04-01", 2, 10),  # the same customer, the same day: one purchase
        sale("K1", "A", "2026-04-02", 1, 10),
        sale("K2", "A", "2026-04-02", 5, 10),
    ]
    for row in rows:
        row["order_id"] = None
    return make_store(
        folder,
        partners=[partner("K1"), partner("K2")],
        products=[product("A", name="开博通", category="药品"), product("B", name="络活喜", category="药品")],
        sales=rows,
    )


def test_a_misspelt_value_is_read_as_the_one_value_it_is_a_letter_off_and_the_answer_says_so(dealers):
    reply = answer_data_question(dealers, "calssic cars revenue in 2026")
    assert isinstance(reply, DataAnswer), reply
    assert reply.frame["revenue"].tolist() == [300.0]
    assert 'read "calssic" as "classic"' in reply.notes
    moto = answer_data_question(dealers, "motorcyles revenue, all yrs")
    assert isinstance(moto, DataAnswer) and moto.frame["revenue"].tolist() == [100.0], moto


def test_an_unknown_word_next_to_a_metric_word_is_named_back_whole(dealers):
    reply = answer_data_question(dealers, "whats our profit margin on classic cars?")
    assert isinstance(reply, Clarification) and '"profit margin"' in reply.question, reply


def test_a_city_several_states_have_is_asked_back_and_each_option_answers(dealers):
    reply = answer_data_question(dealers, "how much did Columbus buy in 2026?")
    assert isinstance(reply, Clarification) and reply.reason == "ambiguous_name", reply
    assert "Georgia" in reply.question and "Ohio" in reply.question
    assert "how much did Columbus, Ohio buy in 2026?" in reply.options
    ohio = answer_data_question(dealers, "how much did Columbus, Ohio buy in 2026?")
    assert isinstance(ohio, DataAnswer) and ohio.frame["revenue"].tolist() == [200.0], ohio
    both = answer_data_question(dealers, reply.options[-1])  # the two together
    assert isinstance(both, DataAnswer) and both.frame["revenue"].tolist() == [300.0], (reply.options[-1], both)
    # one state named, or a city only one state has: answered at once
    assert isinstance(answer_data_question(dealers, "Columbus in the South, 2026 revenue"), DataAnswer)
    assert isinstance(answer_data_question(dealers, "Boston revenue 2026"), DataAnswer)


def test_returns_are_the_negative_lines_and_a_breakdown_lists_only_periods_with_returns(dealers, till):
    count = answer_data_question(dealers, "退货一共有几笔")
    assert isinstance(count, DataAnswer) and count.frame["return_lines"].tolist() == [1], count
    monthly = answer_data_question(dealers, "2026年各月退货金额")
    assert isinstance(monthly, DataAnswer), monthly
    assert monthly.frame["return_amount"].tolist() == [-50.0] and "占" not in monthly.summary
    lacking = answer_data_question(till, "今年退货金额")
    assert isinstance(lacking, Clarification) and "退货记录" in lacking.question, lacking


def test_an_order_defined_in_brackets_is_counted_that_way_only_when_the_data_counts_so(till, dealers):
    reply = answer_data_question(till, "2026年4月一共多少笔购药（一个人一天算一笔）")
    assert isinstance(reply, DataAnswer), reply
    assert reply.frame["order_count"].tolist() == [3]
    assert any("一个顾客一天算一笔" in n for n in reply.notes)
    with_numbers = answer_data_question(dealers, "2026年一共多少笔订单（一个人一天算一笔）")
    assert isinstance(with_numbers, Clarification) and with_numbers.reason == "unsupported", with_numbers
    assert "订单号" in with_numbers.question


def test_money_added_up_and_a_ranking_basis_in_brackets(till):
    money = answer_data_question(till, "开博通2026年加起来多少钱")
    assert isinstance(money, DataAnswer) and money.spec.metrics == ["revenue"], money
    assert money.frame["revenue"].tolist() == [70.0]
    top = answer_data_question(till, "2026年前两名的药（按数量）")
    assert isinstance(top, DataAnswer), top
    assert top.spec.metrics == ["quantity"] and top.frame["quantity"].tolist() == [7.0, 2.0]


def test_the_chat_answer_shows_how_the_question_was_read(dealers, tmp_path):
    context = Context(store=dealers, kb=None, settings=Settings(data_dir=tmp_path / "data"))
    reply = answer("calssic cars revenue in 2026", context)
    assert reply.route.intent == "data" and 'Notes: read "calssic" as "classic"' in reply.markdown, reply.markdown


def test_an_english_word_typed_in_lower_case_is_not_read_as_part_of_product_names(tmp_path):
    """average is a word of the question even where two product names hold it (Chairmat w/ Average Lip); a name is
    still found by its own word (Tenex), and a singular noun is spelt right (country, not countrie)."""
    store = make_store(
        tmp_path,
        partners=[partner("C1", country="USA"), partner("C2", country="France")],
        products=[product("A", name="Tenex Chairmat w/ Average Lip"), product("B", name="Average Joe Lamp")],
        sales=[sale("C1", "A", "2026-03-02", 2, 100), sale("C2", "B", "2026-03-03", 1, 100)],
    )
    bare = answer_data_question(store, "average revenue in 2026 by country")
    assert isinstance(bare, Clarification) and bare.reason == "missing_dimension", bare  # over what, not which name
    assert isinstance(answer_data_question(store, "average revenue per customer in 2026"), DataAnswer)
    tenex = answer_data_question(store, "Tenex revenue in 2026")
    assert isinstance(tenex, DataAnswer) and tenex.frame["revenue"].tolist() == [200.0], tenex
    top = answer_data_question(store, "which country bought the most in 2026")
    assert isinstance(top, DataAnswer) and "the country with the highest revenue is USA" in top.summary, top.summary
    aov = answer_data_question(store, "average order value in 2026")
    assert isinstance(aov, DataAnswer) and "CNY/order" in aov.summary, aov.summary


def test_an_english_two_digit_year_and_the_value_of_orders(dealers):
    """Q2 '26 is 2026 Q2, not this year's Q2; "the total value of orders" is revenue, the orders are what is valued."""
    aov = answer_data_question(dealers, "avg order value Q2 '26?")
    assert isinstance(aov, DataAnswer), aov
    assert aov.spec.window.start.isoformat() == "2026-04-01" and aov.spec.window.end.isoformat() == "2026-06-30"
    value = answer_data_question(dealers, "What's the total value of orders in 2026?")
    assert isinstance(value, DataAnswer), value
    assert value.spec.metrics == ["revenue"] and value.frame["revenue"].tolist() == [400.0]


def test_a_kind_of_customer_the_data_cannot_tell_apart_is_named_back_not_dropped(till):
    """老年顾客: 年 inside 老年 is no grouping by year, and 老年 is no name: old customers are not told apart."""
    reply = answer_data_question(till, "2026年4月老年顾客消费了多少")
    assert isinstance(reply, Clarification) and "老年顾客" in reply.question, reply
    monthly = answer_data_question(till, "2026年月度销售额")
    assert isinstance(monthly, DataAnswer) and monthly.spec.dimensions == ["month"]
    for question in ("2026年4月老客户消费了多少", "2026年4月大客户消费了多少"):  # one character describes them too
        kind = answer_data_question(till, question)
        assert isinstance(kind, Clarification) and question[7:10] in kind.question, kind
    young = answer_data_question(till, "今年年轻客户的销售额")  # 今年 + 年轻: no streak of years (年年)
    assert isinstance(young, Clarification) and "年轻客户" in young.question, young
    yearly = answer_data_question(till, "历年销售额")  # 历年 is a word, and still a time: by year
    assert isinstance(yearly, DataAnswer) and yearly.spec.dimensions == ["year"], yearly


def test_what_share_of_sales_one_product_makes_and_which_products_had_returns(till, dealers):
    share = answer_data_question(till, "2026年4月开博通占销售额多少")
    assert isinstance(share, DataAnswer), share
    assert "占全部销售额" in share.summary and "77.8%" in share.summary
    for question in ("哪些产品有过退货", "哪些产品退过货"):
        returned = answer_data_question(dealers, question)
        assert isinstance(returned, DataAnswer), (question, returned)
        assert returned.spec.metrics == ["return_amount"] and len(returned.frame) == 1


def test_a_refusal_names_what_was_asked_in_the_users_words(dealers):
    rep = answer_data_question(dealers, "2026年哪个销售代表卖得最多")
    assert isinstance(rep, Clarification) and "销售代表" in rep.question, rep
    target = answer_data_question(dealers, "2026年销售目标完成了多少")
    assert isinstance(target, Clarification) and "销售目标完成 → 完成率" in target.question, target


def test_a_till_asked_in_everyday_english_and_a_half_year_written_without_its_year_character(till):
    visits = answer_data_question(till, "how many different customers came in April 2026")
    assert isinstance(visits, DataAnswer) and visits.spec.metrics == ["active_partners"], visits
    assert visits.frame["active_partners"].tolist() == [2]
    spend = answer_data_question(till, "avg spend per visit in April 2026")  # 90 over three customer-days
    assert isinstance(spend, DataAnswer) and spend.frame["aov"].tolist() == [30.0], spend
    taken = answer_data_question(till, "what did we take in on 开博通 in April 2026")
    assert isinstance(taken, DataAnswer) and taken.frame["revenue"].tolist() == [70.0], taken
    half = answer_data_question(till, "2026上半年销售额")
    assert isinstance(half, DataAnswer) and half.spec.window.start.isoformat() == "2026-01-01", half
    assert half.spec.window.end.isoformat() == "2026-06-30"


def test_an_english_category_asked_in_chinese_and_the_largest_returns_first(dealers, tmp_path):
    moto = answer_data_question(dealers, "2026年摩托车销售额")
    assert isinstance(moto, DataAnswer) and moto.frame["revenue"].tolist() == [100.0], moto
    returns = make_store(
        tmp_path / "returns",
        partners=[partner("K1")],
        products=[product(code, name=name) for code, name in (("A", "开博通"), ("B", "络活喜"), ("C", "安内真"))],
        sales=[
            {**sale("K1", code, "2026-05-0" + str(i + 1), -1, price), "line_no": i + 1}
            for i, (code, price) in enumerate((("A", 10), ("B", 30), ("C", 20)))
        ],
    )
    biggest = answer_data_question(returns, "2026年哪2个药退货金额最大")
    assert isinstance(biggest, DataAnswer), biggest
    assert biggest.frame["return_amount"].tolist() == [-30.0, -20.0] and "最大的 2 个" in biggest.summary


def test_months_named_one_by_one_are_a_row_each_and_what_the_data_lacks_is_named(till):
    each = answer_data_question(till, "2026年3月和4月销售额")
    assert isinstance(each, DataAnswer) and each.spec.dimensions == ["month"], each
    added = answer_data_question(till, "2026年3月和4月一共卖了多少钱")
    assert isinstance(added, DataAnswer) and not added.spec.dimensions and added.frame["revenue"].tolist() == [90.0]
    rate = answer_data_question(till, "2026年4月医保报销比例是多少")  # a rate the data would have to hold
    assert isinstance(rate, Clarification) and "医保报销比例" in rate.question, rate
    doctor = answer_data_question(till, "2026年哪个医生开药最多")  # 开药 names nothing; the data has no doctors
    assert isinstance(doctor, Clarification) and "医生" in doctor.question, doctor


def test_a_month_without_a_year_is_the_latest_one_the_data_holds_and_people_who_bought_are_counted(tmp_path):
    """A 2018 till asked in 2026: 3月份 is March 2018 (said so), not a March the data does not reach; 多少人买过 and
    来了多少人 count the customers that bought; "purchases" are its orders (one customer's day)."""
    days = (("K1", "2018-03-02", 1), ("K2", "2018-03-05", 2), ("K1", "2018-04-01", 1))
    rows = [sale(who, "A", day, units, 10) for who, day, units in days]
    for row in rows:
        row["order_id"] = None
    old = make_store(tmp_path / "old", partners=[partner("K1"), partner("K2")], products=[product("A")], sales=rows)
    march = answer_data_question(old, "3月份卖了多少钱")
    assert isinstance(march, DataAnswer) and march.spec.window.start.isoformat() == "2018-03-01", march
    assert march.frame["revenue"].tolist() == [30.0] and any("2018年3月" in n for n in march.notes)
    people = answer_data_question(old, "2018年有多少人买过药")
    assert isinstance(people, DataAnswer) and people.frame["active_partners"].tolist() == [2], people
    monthly = answer_data_question(old, "2018年每个月来了多少人")
    assert isinstance(monthly, DataAnswer) and monthly.frame["active_partners"].tolist() == [2, 1], monthly
    visits = answer_data_question(old, "How many purchases were there in March 2018?")
    assert isinstance(visits, DataAnswer) and visits.frame["order_count"].tolist() == [2], visits
    future = answer_data_question(old, "下个月销售额多少")  # a relative word keeps its year: no data, said so
    assert isinstance(future, Clarification), future
