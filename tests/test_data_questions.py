"""Data questions as an executive asks them: parsing, hand-checked numbers, clarifications, injection, CLI."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from datetime import date
from functools import partial

import pandas as pd
import pytest
from pydantic import ValidationError

from advisor.data_questions import (
    Clarification,
    DataAnswer,
    answer_data_question,
    answer_spec,
    context_for,
    evidence,
    language_of,
    parse,
    resolve_window,
)
from company.semantic import METRICS, QuerySpec, QuerySpecError, TimeWindow, build_spec, compile_spec
from tests.conftest import ROOT
from tests.fixtures import import_dealer_export, import_lines, make_store, one_value, partner, product, sale

L = date(2026, 9, 30)  # the sample company's latest sales date, as in docs/semantic-layer.md


@pytest.fixture(scope="module", autouse=True)
def _today():
    """Relative periods resolve against today: the hand-made company's last sale is today, 2026-06-30."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CANMOU_TODAY", "2026-06-30")
        yield


Q2 = TimeWindow(start=date(2026, 4, 1), end=date(2026, 6, 30))


# ---------------------------------------------------------------------------------------------------------------
# A small company whose answers can be worked out by hand. Latest sale 2026-06-30, so 本季度 = 2026Q2.
#   P1 南京恒通商贸有限公司  经销商 华东 江苏 南京 A   target Q2 20,000
#   P2 杭州恒通食品有限公司  经销商 华东 浙江 杭州 B   target Q2 20,000
#   P3 广州鑫源超市          零售商 华南 广东 广州 C   target Q2  5,000
#   P4 深圳瑞丰食品代理有限公司 代理商 华南 广东 深圳 B   no target
# ---------------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def company(tmp_path_factory):
    folder = tmp_path_factory.mktemp("dq")
    return make_store(
        folder,
        partners=[
            partner("P1", name="南京恒通商贸有限公司", tier="A"),
            partner("P2", name="杭州恒通食品有限公司", province="浙江", city="杭州"),
            partner("P3", name="广州鑫源超市", type="零售商", tier="C", region="华南", province="广东", city="广州"),
            partner("P4", name="深圳瑞丰食品代理有限公司", type="代理商", region="华南", province="广东", city="深圳"),
        ],
        products=[
            product("BEV-001", name="清泉矿泉水 550ml×24", category="饮料", unit_cost=60.0),
            product("SNK-001", name="原味薯片 70g×30", category="休闲食品", unit_cost=50.0),
        ],
        sales=[
            sale("P1", "BEV-001", "2026-04-10", 100, 100),  # 10,000
            sale("P1", "SNK-001", "2026-05-15", 50, 80),  # 4,000
            sale("P2", "BEV-001", "2026-06-30", 200, 90),  # 18,000
            sale("P3", "BEV-001", "2026-04-20", 30, 100),  # 3,000
            sale("P4", "SNK-001", "2026-05-05", 100, 70),  # 7,000 (no target)
            sale("P1", "BEV-001", "2026-02-10", 80, 100),  # Q1 8,000
            sale("P3", "SNK-001", "2026-03-01", 10, 80),  # Q1 800
            sale("P1", "BEV-001", "2025-05-10", 60, 100),  # Q2 2025 6,000
            sale("P2", "BEV-001", "2025-06-01", 100, 100),  # Q2 2025 10,000
        ],
        targets=[
            {"partner_id": "P1", "quarter": "2026Q2", "target_revenue": 20_000},
            {"partner_id": "P2", "quarter": "2026Q2", "target_revenue": 20_000},
            {"partner_id": "P3", "quarter": "2026Q2", "target_revenue": 5_000},
            {"partner_id": "P1", "quarter": "2026Q1", "target_revenue": 10_000},
        ],
        costs=[
            {
                "month": "2026-04-01",
                "partner_id": "P1",
                "channel_type": "经销商",
                "region": "华东",
                "cost_type": "物流",
                "amount": 1000,
            },
            {
                "month": "2026-05-01",
                "partner_id": "P2",
                "channel_type": "经销商",
                "region": "华东",
                "cost_type": "返利",
                "amount": 2000,
            },
            {
                "month": "2026-06-01",
                "partner_id": None,
                "channel_type": "零售商",
                "region": "华南",
                "cost_type": "市场推广",
                "amount": 500,
            },
            {
                "month": "2026-05-01",
                "partner_id": "P4",
                "channel_type": "代理商",
                "region": "华南",
                "cost_type": "促销",
                "amount": 700,
            },
            {
                "month": "2026-01-01",
                "partner_id": "P1",
                "channel_type": "经销商",
                "region": "华东",
                "cost_type": "物流",
                "amount": 300,
            },
        ],
        inventory=[
            {"date": "2026-04-30", "partner_id": "P1", "sku": "BEV-001", "on_hand": 300},
            {"date": "2026-04-30", "partner_id": "P2", "sku": "BEV-001", "on_hand": 100},
            {"date": "2026-05-31", "partner_id": "P1", "sku": "BEV-001", "on_hand": 200},
            {"date": "2026-05-31", "partner_id": "P2", "sku": "BEV-001", "on_hand": 250},
            {"date": "2026-06-30", "partner_id": "P1", "sku": "BEV-001", "on_hand": 100},
            {"date": "2026-06-30", "partner_id": "P2", "sku": "BEV-001", "on_hand": 200},
        ],
        collections=[
            {"partner_id": "P1", "month": "2026-04-01", "amount_due": 10_000, "amount_collected": 9_000},
            {"partner_id": "P1", "month": "2026-05-01", "amount_due": 5_000, "amount_collected": 5_000},
            {"partner_id": "P3", "month": "2026-06-01", "amount_due": 2_000, "amount_collected": 1_000},
            {"partner_id": "P1", "month": "2026-03-01", "amount_due": 1_000, "amount_collected": 0},
        ],
    )


@pytest.fixture(scope="module")
def ctx(company):
    return context_for(company)


def ask(store, question) -> DataAnswer:
    result = answer_data_question(store, question)
    assert isinstance(result, DataAnswer), getattr(result, "question", result)
    return result


def spec_of(ctx, question) -> QuerySpec:
    result = parse(question, ctx)
    assert isinstance(result, QuerySpec), getattr(result, "question", result)
    return result


def value(answer: DataAnswer, column: str, **where) -> float:
    frame = answer.frame
    for key, wanted in where.items():
        frame = frame[frame[key] == wanted]
    assert len(frame) == 1, answer.frame
    return float(frame[column].iloc[0])


# ---------------------------------------------------------------------------------------------------------------
# Time expressions, resolved against the data's latest date (never today)
# ---------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, start, end",
    [
        ("本月", "2026-09-01", "2026-09-30"),
        ("this month", "2026-09-01", "2026-09-30"),
        ("上月", "2026-08-01", "2026-08-31"),
        ("上个月", "2026-08-01", "2026-08-31"),
        ("last month", "2026-08-01", "2026-08-31"),
        ("本季度", "2026-07-01", "2026-09-30"),
        ("这个季度", "2026-07-01", "2026-09-30"),
        ("this quarter", "2026-07-01", "2026-09-30"),
        ("上季度", "2026-04-01", "2026-06-30"),
        ("上个季度", "2026-04-01", "2026-06-30"),
        ("last quarter", "2026-04-01", "2026-06-30"),
        ("今年", "2026-01-01", "2026-09-30"),
        ("本年", "2026-01-01", "2026-09-30"),
        ("this year", "2026-01-01", "2026-09-30"),
        ("YTD", "2026-01-01", "2026-09-30"),
        ("去年", "2025-01-01", "2025-12-31"),
        ("last year", "2025-01-01", "2025-12-31"),
        ("近3个月", "2026-07-01", "2026-09-30"),
        ("最近三个月", "2026-07-01", "2026-09-30"),
        ("过去6个月", "2026-04-01", "2026-09-30"),
        ("近十二个月", "2025-10-01", "2026-09-30"),
        ("last 3 months", "2026-07-01", "2026-09-30"),
        ("past six months", "2026-04-01", "2026-09-30"),
        ("2025年Q3", "2025-07-01", "2025-09-30"),
        ("2025年第三季度", "2025-07-01", "2025-09-30"),
        ("2025Q3", "2025-07-01", "2025-09-30"),
        ("Q3 2025", "2025-07-01", "2025-09-30"),
        ("2025年3月", "2025-03-01", "2025-03-31"),
        ("2025-03", "2025-03-01", "2025-03-31"),
        ("March 2025", "2025-03-01", "2025-03-31"),
        ("2024年2月", "2024-02-01", "2024-02-29"),
        ("2025年", "2025-01-01", "2025-12-31"),
        ("2025", "2025-01-01", "2025-12-31"),
        ("in 2025", "2025-01-01", "2025-12-31"),
        ("截至2026年6月", "2026-01-01", "2026-06-30"),
        ("截至6月底", "2026-01-01", "2026-06-30"),
        ("through June 2026", "2026-01-01", "2026-06-30"),
        ("各区域销售额", "2026-07-01", "2026-09-30"),  # no time expression: 本季度
    ],
)
def test_time_expressions_resolve_against_the_latest_sales_date(text, start, end):
    window = resolve_window(text, L)
    assert (window.start.isoformat(), window.end.isoformat()) == (start, end)


def test_window_is_shown_with_its_dates_and_the_data_latest_date_not_today(company):
    answer = ask(company, "上季度销售额")
    assert answer.window == "2026年第1季度（2026-01-01 ~ 2026-03-31）"
    assert ask(company, "last quarter revenue").window == "2026 Q1 (2026-01-01 ~ 2026-03-31)"


@pytest.mark.parametrize(
    "text, comparison, start, end",
    [
        ("本季度", "yoy", "2025-07-01", "2025-09-30"),
        ("本季度", "previous", "2026-04-01", "2026-06-30"),
        ("上月", "previous", "2026-07-01", "2026-07-31"),
        ("近3个月", "previous", "2026-04-01", "2026-06-30"),
        ("近3个月", "yoy", "2025-07-01", "2025-09-30"),
        ("今年", "previous", "2025-01-01", "2025-09-30"),  # YTD: the previous year's same span
        ("2024年2月", "yoy", "2023-02-01", "2023-02-28"),
    ],
)
def test_comparison_windows(text, comparison, start, end):
    other = resolve_window(text, L).compared(comparison)
    assert (other.start.isoformat(), other.end.isoformat()) == (start, end)


# ---------------------------------------------------------------------------------------------------------------
# Metrics, dimensions, thresholds, rankings, filters, comparisons: the parse
# ---------------------------------------------------------------------------------------------------------------

METRIC_PHRASES = {
    "revenue": ["销售额", "营收", "收入", "销售收入", "业绩", "销售金额", "revenue", "sales"],
    "quantity": ["销量", "销售量", "出货量", "件数", "units", "volume", "quantity"],
    "target": ["目标", "任务", "指标额", "target"],
    "achievement": ["完成率", "达成率", "目标完成率", "achievement", "attainment"],
    "gross_profit": ["毛利", "毛利润", "gross profit"],
    "gross_margin": ["毛利率", "gross margin"],
    "cost": ["费用", "渠道费用", "成本费用", "cost", "expense"],
    "expense_ratio": ["费用率", "expense ratio", "cost ratio"],
    "rebate": ["返利", "返点", "rebate"],
    "inventory": ["库存", "库存量", "inventory", "stock"],
    "inventory_days": ["库存天数", "库存周期", "days of inventory"],
    "turnover": ["周转", "库存周转", "周转率", "inventory turnover"],
    "collection_rate": ["回款率", "收款率", "collection rate"],
    "partner_count": ["伙伴数", "客户数", "number of partners"],
    "active_partners": ["活跃伙伴数", "有销售的伙伴", "active partners"],
    "active_products": ["有销售的产品数", "动销品种数", "products sold"],
    "avg_price": ["单价", "平均单价", "均价", "average price"],
    "order_count": ["订单数", "订单量", "number of orders"],
    "order_lines": ["订单行数", "order lines"],
    "return_amount": ["退货金额", "退款", "refunds", "returns"],
    "return_lines": ["退货笔数", "退货次数", "number of returns"],
    "gross_revenue": ["退货前销售额", "不算退货的销售额", "sales before returns"],
    "aov": ["客单价", "average order value"],
    "new_partners": ["新增客户数", "new customers"],
    "lost_partners": ["流失客户", "lost customers"],
    "satisfaction": ["满意度", "satisfaction"],
    "training_hours": ["培训时长", "training hours"],
    "credit_limit": ["信用额度", "credit limit"],
}


@pytest.mark.parametrize("key, phrase", [(k, p) for k, phrases in METRIC_PHRASES.items() for p in phrases])
def test_each_metric_synonym(ctx, key, phrase):
    question = f"本季度{phrase}" if any("\u4e00" <= c <= "\u9fff" for c in phrase) else f"{phrase} this quarter"
    assert spec_of(ctx, question).metrics == [key]


def test_partner_count_words_that_name_a_type_also_filter_it(ctx):
    for question in ("经销商数", "华东有多少家经销商", "How many distributors are in East China?"):
        spec = spec_of(ctx, question)
        assert spec.metrics == ["partner_count"] and spec.dimensions == []
        assert ("partner_type", "eq", "经销商") in [(f.field, f.op, f.value) for f in spec.filters]


@pytest.mark.parametrize(
    "question, dimension",
    [
        ("各伙伴销售额", "partner"),
        ("各客户销售额", "partner"),
        ("各经销商销售额", "partner"),
        ("各代理商销售额", "partner"),
        ("各伙伴类型销售额", "partner_type"),
        ("各渠道类型销售额", "partner_type"),
        ("各渠道销售额", "partner_type"),
        ("各级别销售额", "tier"),
        ("按等级看销售额", "tier"),
        ("各区域销售额", "region"),
        ("各大区销售额", "region"),
        ("各省份销售额", "province"),
        ("各省销售额", "province"),
        ("各城市销售额", "city"),
        ("各产品销售额", "product"),
        ("各SKU销售额", "product"),
        ("各单品销售额", "product"),
        ("各品类销售额", "category"),
        ("各产品类别销售额", "category"),
        ("今年每月销售额", "month"),
        ("今年按月销售额", "month"),
        ("今年月度销售额", "month"),
        ("今年每季度销售额", "quarter"),
        ("按季度销售额", "quarter"),
        ("每年销售额", "year"),
        ("按年销售额", "year"),
        ("revenue by partner", "partner"),
        ("revenue by distributor", "partner"),
        ("revenue by dealer", "partner"),
        ("revenue by customer", "partner"),
        ("revenue by channel", "partner_type"),
        ("revenue by partner type", "partner_type"),
        ("revenue by tier", "tier"),
        ("revenue by region", "region"),
        ("revenue by province", "province"),
        ("revenue by city", "city"),
        ("revenue by product", "product"),
        ("revenue by SKU", "product"),
        ("revenue by category", "category"),
        ("monthly revenue this year", "month"),
        ("revenue by month", "month"),
        ("quarterly revenue", "quarter"),
        ("revenue by year", "year"),
    ],
)
def test_each_dimension_synonym(ctx, question, dimension):
    assert spec_of(ctx, question).dimensions == [dimension]


@pytest.mark.parametrize(
    ("question", "dimension"),
    [("上季度销售额超过3000元的药", "product"), ("今年销售额超过1万的省", "province"), ("销量大于5的药？", "product")],
)
def test_a_one_character_word_ending_the_question_after_de_names_what_is_listed(ctx, question, dimension):
    """…超过3000元的药 lists the products above 3000, not the total with a condition on it."""
    spec = spec_of(ctx, question)
    assert spec.dimensions == [dimension] and any(f.is_threshold for f in spec.filters), spec
    assert spec_of(ctx, "全国的销售额").dimensions == [], "的 + a word inside the question is not a listing"


def test_biggest_first_sorts_the_whole_list_instead_of_keeping_the_biggest(ctx):
    for question, direction in [
        ("revenue by region this year, biggest first", "desc"),
        ("revenue by region this year, smallest first", "asc"),
        ("今年各区域销售额，大的排前面", "desc"),
    ]:
        spec = spec_of(ctx, question)
        assert spec.dimensions == ["region"] and spec.sort.direction == direction and spec.limit is None, question
    assert spec_of(ctx, "which region had the biggest revenue this year").limit == 1


def test_politeness_is_not_read_as_a_name(ctx):
    plain = spec_of(ctx, "今年每个季度的销售额")
    polite_forms = ["麻烦帮我查一下今年每个季度的销售额，谢谢", "帮忙看下今年每个季度的销售额"]
    for polite in [*polite_forms, "请帮我算一下今年每个季度的销售额"]:
        assert spec_of(ctx, polite) == plain, polite


def test_the_most_customers_counts_customers_per_group(ctx):
    spec = spec_of(ctx, "which region had the most dealers this year")  # with a period: the dealers that bought
    assert spec.metrics == ["active_partners"] and spec.dimensions == ["region"] and spec.limit == 1, spec
    assert spec_of(ctx, "which region has the most dealers").metrics == ["partner_count"]


def test_a_partner_type_word_filters_and_when_listed_also_groups_by_partner(ctx):
    filtered = spec_of(ctx, "华东的经销商销售额")
    assert filtered.dimensions == [] and ("partner_type", "经销商") in [(f.field, f.value) for f in filtered.filters]
    listed = spec_of(ctx, "完成率最低的5个经销商")
    assert listed.dimensions == ["partner"] and listed.limit == 5
    assert ("partner_type", "经销商") in [(f.field, f.value) for f in listed.filters]
    which = spec_of(ctx, "哪些代理商销售额超过1万")
    assert which.dimensions == ["partner"] and ("partner_type", "代理商") in [(f.field, f.value) for f in which.filters]


@pytest.mark.parametrize("phrase", ["80%", "0.8", "八成", "百分之八十", "80"])
def test_ratio_thresholds_in_every_form_mean_point_eight(ctx, phrase):
    spec = spec_of(ctx, f"完成率低于{phrase}的伙伴")
    threshold = next(f for f in spec.filters if f.field == "achievement")
    assert threshold.op == "lt" and threshold.value == pytest.approx(0.8)
    assert spec.dimensions == ["partner"]


@pytest.mark.parametrize(
    "question, op",
    [
        ("回款率低于90%的区域", "lt"),
        ("回款率不到90%的区域", "lt"),
        ("回款率小于90%的区域", "lt"),
        ("回款率不足90%的区域", "lt"),
        ("回款率90%以下的区域", "le"),
        ("回款率高于90%的区域", "gt"),
        ("回款率超过90%的区域", "gt"),
        ("回款率大于90%的区域", "gt"),
        ("回款率90%以上的区域", "ge"),
        ("回款率不低于90%的区域", "ge"),
        ("regions with collection rate under 90%", "lt"),
        ("regions with collection rate below 90%", "lt"),
        ("regions with collection rate above 90%", "gt"),
        ("regions with collection rate over 90%", "gt"),
        ("regions with collection rate more than 90%", "gt"),
        ("regions with collection rate at least 90%", "ge"),
    ],
)
def test_threshold_words(ctx, question, op):
    spec = spec_of(ctx, question)
    threshold = next(f for f in spec.filters if f.field == "collection_rate")
    assert (threshold.op, threshold.value) == (op, pytest.approx(0.9))
    assert spec.dimensions == ["region"]


def test_money_and_day_thresholds_keep_their_units(ctx):
    money = next(f for f in spec_of(ctx, "销售额超过1.5万的客户").filters if f.field == "revenue")
    assert (money.op, money.value) == ("gt", 15_000)
    days = next(f for f in spec_of(ctx, "库存天数高于60天的伙伴").filters if f.field == "inventory_days")
    assert (days.op, days.value) == ("gt", 60)


@pytest.mark.parametrize(
    "question, direction, limit, dimension",
    [
        ("销售额最高的区域", "desc", 1, "region"),
        ("哪个区域销售额最高", "desc", 1, "region"),
        ("销售额最低的3个省份", "asc", 3, "province"),
        ("销售额前十的客户", "desc", 10, "partner"),
        ("销量排名前五的产品", "desc", 5, "product"),
        ("完成率最低的五个经销商", "asc", 5, "partner"),
        ("各品类销量排名", "desc", None, "category"),
        ("top 5 partners by revenue this year", "desc", 5, "partner"),
        ("bottom 3 regions by collection rate", "asc", 3, "region"),
        ("the five lowest regions by revenue", "asc", 5, "region"),
        ("which region has the highest revenue", "desc", 1, "region"),
    ],
)
def test_rankings_and_limits(ctx, question, direction, limit, dimension):
    spec = spec_of(ctx, question)
    assert spec.sort is not None and spec.sort.direction == direction
    assert spec.limit == limit and spec.dimensions == [dimension]


@pytest.mark.parametrize(
    "question, field, value",
    [
        ("华东销售额", "region", "华东"),
        ("华东区销售额", "region", "华东"),
        ("revenue in East China", "region", "华东"),
        ("江苏省销售额", "province", "江苏"),
        ("revenue of Jiangsu", "province", "江苏"),
        ("南京销售额", "city", "南京"),
        ("零售商销售额", "partner_type", "零售商"),
        ("A类伙伴销售额", "tier", "A"),
        ("饮料销售额", "category", "饮料"),
        ("鑫源的销售额", "partner", "P3"),
        ("P4 销售额同比", "partner", "P4"),
        ("南京恒通商贸有限公司的销售额", "partner", "P1"),
        ("矿泉水销量", "product", "BEV-001"),
        ("SNK-001 销量", "product", "SNK-001"),
    ],
)
def test_filters_from_data_values_and_names(ctx, question, field, value):
    spec = spec_of(ctx, question)
    assert (field, "eq", value) in [(f.field, f.op, f.value) for f in spec.filters]
    assert spec.dimensions == []


def test_a_name_that_swallowed_a_city_is_still_found(ctx):
    spec = spec_of(ctx, "杭州恒通的销量")
    assert [(f.field, f.value) for f in spec.filters] == [("partner", "P2")]


def test_two_values_of_one_dimension_are_compared_side_by_side(ctx):
    spec = spec_of(ctx, "华东和华南销售额对比")
    assert spec.dimensions == ["region"]
    assert [(f.field, f.op, f.value) for f in spec.filters] == [("region", "in", ["华东", "华南"])]


@pytest.mark.parametrize(
    "question, comparison",
    [
        ("销售额同比", "yoy"),
        ("销售额和去年同期相比", "yoy"),
        ("revenue YoY", "yoy"),
        ("revenue year over year", "yoy"),
        ("销售额环比", "previous"),
        ("销售额比上期", "previous"),
        ("revenue QoQ", "previous"),
        ("revenue vs previous period", "previous"),
        ("销售额", "none"),
    ],
)
def test_comparisons(ctx, question, comparison):
    assert spec_of(ctx, question).comparison == comparison


def test_growth_threshold_and_ranking_use_the_change_column(ctx):
    spec = spec_of(ctx, "销售额同比增长超过10%的经销商")
    assert spec.comparison == "yoy"
    assert ("revenue_change", "gt", pytest.approx(0.1)) in [(f.field, f.op, f.value) for f in spec.filters]
    fastest = spec_of(ctx, "销售额增长最快的3个区域")
    assert fastest.sort.metric == "revenue_change" and fastest.sort.direction == "desc" and fastest.limit == 3


def test_english_questions(ctx):
    spec = spec_of(ctx, "Which distributors in East China were below 80% of target last quarter?")
    assert spec.metrics == ["achievement"] and spec.dimensions == ["partner"]
    fields = {(f.field, f.op, f.value) for f in spec.filters}
    assert {("achievement", "lt", 0.8), ("region", "eq", "华东"), ("partner_type", "eq", "经销商")} <= fields
    assert (spec.window.start, spec.window.end) == (date(2026, 1, 1), date(2026, 3, 31))
    missed = spec_of(ctx, "Which distributors missed target last quarter?")
    assert ("achievement", "lt", 1.0) in {(f.field, f.op, f.value) for f in missed.filters}
    assert language_of("top 5 partners by revenue this year") == "en"
    assert language_of("华东销售额'; DROP TABLE sales; --") == "zh"
    assert language_of("P0001 销售额同比") == "zh"


# ---------------------------------------------------------------------------------------------------------------
# Compiled SQL: parameters only
# ---------------------------------------------------------------------------------------------------------------


def test_compiled_sql_binds_every_value_as_a_parameter():
    spec = build_spec(
        metrics=["revenue", "achievement"],
        dimensions=["partner"],
        filters=[
            {"field": "region", "op": "eq", "value": "华东"},
            {"field": "partner_type", "op": "in", "value": ["经销商", "代理商"]},
            {"field": "achievement", "op": "lt", "value": 0.8},
        ],
        window=Q2,
        comparison="yoy",
        sort={"metric": "achievement", "direction": "asc"},
        limit=5,
    )
    compiled = compile_spec(spec)
    for literal in ("华东", "经销商", "0.8", "2026-04-01", "2026Q2", "LIMIT 5"):
        assert literal not in compiled.sql
    assert "HAVING" in compiled.sql and "$limit" in compiled.sql and "$f_region" in compiled.sql
    assert compiled.params["f_region"] == "华东" and compiled.params["limit"] == 5
    assert compiled.params["f_partner_type"] == ["经销商", "代理商"]
    assert 0.8 in compiled.params.values()
    # the threshold filters groups, the region filter rows
    assert compiled.sql.index("$f_region") < compiled.sql.index("HAVING")
    assert compiled.sql.split("HAVING")[1].count("$threshold_achievement") == 1


# ---------------------------------------------------------------------------------------------------------------
# Hand-computed numbers on the small company
# ---------------------------------------------------------------------------------------------------------------


def test_revenue_total_region_and_yoy(company):
    total = ask(company, "本季度销售额同比")
    assert value(total, "revenue") == 42_000
    assert value(total, "revenue_compare") == 16_000
    assert value(total, "revenue_change") == pytest.approx(42_000 / 16_000 - 1)
    assert "42,000.00 元" in total.summary and "同比增长 162.5%" in total.summary
    by_region = ask(company, "本季度各区域销售额")
    assert list(by_region.frame.columns) == ["region", "revenue"]
    assert value(by_region, "revenue", region="华东") == 32_000
    assert value(by_region, "revenue", region="华南") == 10_000
    assert "占 76.2%" in by_region.summary  # 32,000 of 42,000


def test_achievement_counts_only_partners_with_a_target(company):
    # P4 sold 7,000 without a target: 35,000 / 45,000, not 42,000 / 45,000.
    assert value(ask(company, "本季度完成率"), "achievement") == pytest.approx(35_000 / 45_000)
    per_partner = ask(company, "本季度各伙伴完成率")
    assert value(per_partner, "achievement", partner_id="P1") == pytest.approx(0.7)
    assert value(per_partner, "achievement", partner_id="P2") == pytest.approx(0.9)
    assert value(per_partner, "achievement", partner_id="P3") == pytest.approx(0.6)
    assert "P4" not in set(per_partner.frame["partner_id"])
    assert value(ask(company, "本季度华东完成率"), "achievement") == pytest.approx(32_000 / 40_000)


def test_achievement_of_a_month_uses_the_quarter_target_pro_rata(company):
    # May: 31 of the quarter's 91 days of the 45,000 target; only P1 (4,000) of the target holders sold.
    answer = ask(company, "2026年5月完成率")
    assert value(answer, "achievement") == pytest.approx(4_000 / (45_000 * 31 / 91))
    assert value(ask(company, "2026年5月目标"), "target") == pytest.approx(45_000 * 31 / 91)


def test_below_80_percent_lists_only_distributors_under_the_line(company):
    answer = ask(company, "本季度完成率<80%的经销商")
    assert list(answer.frame["partner_id"]) == ["P1"]
    assert list(answer.frame.columns) == ["partner_id", "partner_name", "achievement"]
    everyone = ask(company, "本季度完成率低于80%的伙伴")
    assert list(everyone.frame["partner_id"]) == ["P3", "P1"]  # sorted worst first
    assert "共有 2 个伙伴满足 完成率 < 80.0%" in everyone.summary


def test_expense_ratio_by_channel_type_uses_the_cost_channel(company):
    answer = ask(company, "本季度各渠道费用率对比")
    assert value(answer, "expense_ratio", partner_type="经销商") == pytest.approx(3_000 / 32_000)
    assert value(answer, "expense_ratio", partner_type="零售商") == pytest.approx(500 / 3_000)  # unattributed cost
    assert value(answer, "expense_ratio", partner_type="代理商") == pytest.approx(700 / 7_000)
    assert value(ask(company, "本季度费用率"), "expense_ratio") == pytest.approx(4_200 / 42_000)
    assert value(ask(company, "本季度返利"), "rebate") == 2_000
    by_partner = ask(company, "本季度各伙伴费用")
    assert value(by_partner, "cost", partner_id="P1") == 1_000  # Q1's 300 is outside the window


def test_inventory_inventory_days_and_turnover(company):
    # snapshots hold 400, 450 and 300 units: the latest is 300, the mean 383.3
    assert value(ask(company, "本季度库存"), "inventory") == 300
    mean = (400 + 450 + 300) / 3
    east = ask(company, "本季度华东库存天数")
    assert value(east, "inventory_days") == pytest.approx(mean / (350 / 91))  # 350 units sold in 91 days
    assert value(ask(company, "本季度库存天数"), "inventory_days") == pytest.approx(mean / (480 / 91))
    turnover = ask(company, "本季度华东库存周转")
    assert value(turnover, "turnover") == pytest.approx((20_500 * 365 / 91) / (mean * 60))
    monthly = ask(company, "本季度各月库存")
    assert list(monthly.frame["month"]) == ["2026-04", "2026-05", "2026-06"]
    assert list(monthly.frame["inventory"]) == [400, 450, 300]
    assert monthly.chart.kind == "line"


def test_collection_rate_overall_and_by_region(company):
    assert value(ask(company, "本季度回款率"), "collection_rate") == pytest.approx(15_000 / 17_000)
    by_region = ask(company, "本季度各区域回款率")
    assert value(by_region, "collection_rate", region="华东") == pytest.approx(14_000 / 15_000)
    assert value(by_region, "collection_rate", region="华南") == pytest.approx(0.5)
    assert "最高的是 华东（93.3%），最低的是 华南（50.0%）" in by_region.summary


def test_margin_counts_prices_and_activity(company):
    assert value(ask(company, "本季度毛利率"), "gross_margin") == pytest.approx((42_000 - 27_300) / 42_000)
    assert value(ask(company, "本季度毛利"), "gross_profit") == pytest.approx(14_700)
    assert value(ask(company, "本季度平均单价"), "avg_price") == pytest.approx(42_000 / 480)
    assert value(ask(company, "上季度活跃伙伴数"), "active_partners") == 2
    assert value(ask(company, "华东伙伴数"), "partner_count") == 2
    by_type = ask(company, "各渠道伙伴数")
    assert value(by_type, "partner_count", partner_type="经销商") == 2


def test_metrics_from_several_tables_are_not_multiplied_by_joins(company):
    combined = ask(company, "本季度各区域销售额、费用、回款率、库存和完成率")
    assert combined.spec.metrics == ["revenue", "cost", "collection_rate", "inventory", "achievement"]
    assert value(combined, "revenue", region="华东") == 32_000
    assert value(combined, "cost", region="华东") == 3_000
    assert value(combined, "collection_rate", region="华东") == pytest.approx(14_000 / 15_000)
    assert value(combined, "inventory", region="华东") == 300
    assert value(combined, "achievement", region="华南") == pytest.approx(3_000 / 5_000)
    assert combined.frame["revenue"].sum() == 42_000


def test_rankings_are_sorted_and_limited(company):
    answer = ask(company, "本季度销售额最高的2个客户")
    assert list(answer.frame["partner_id"]) == ["P2", "P1"]
    assert list(answer.frame["revenue"]) == [18_000, 14_000]
    assert answer.chart.kind == "bar" and answer.chart.x == "partner_name" and answer.chart.y == "revenue"
    single = ask(company, "本季度哪个区域销售额最低")
    assert list(single.frame["region"]) == ["华南"] and "销售额最低的区域是 华南（10,000.00 元）" in single.summary


def test_comparison_columns_per_group(company):
    answer = ask(company, "本季度各区域销售额同比")
    assert list(answer.frame.columns) == ["region", "revenue", "revenue_compare", "revenue_change"]
    assert value(answer, "revenue_change", region="华东") == pytest.approx(1.0)  # 32,000 vs 16,000
    south = answer.frame[answer.frame.region == "华南"].iloc[0]
    assert south["revenue_compare"] == 0 and pd.isna(south["revenue_change"])  # no growth from nothing
    assert answer.compare_window == "去年同期 2025年第2季度（2025-04-01 ~ 2025-06-30）"


def test_answers_speak_the_question_language(company):
    english = ask(company, "revenue by region this quarter")
    assert english.language == "en" and list(english.table.columns)[:2] == ["Region", "Revenue (CNY)"]
    assert english.summary.startswith("2026 Q2 (2026-04-01 ~ 2026-06-30): 2 regions; revenue totals 42,000.00 CNY")
    chinese = ask(company, "本季度各区域销售额")
    assert list(chinese.table.columns) == ["区域", "销售额（元）", "销售额（万元）"]
    assert list(chinese.table["销售额（元）"]) == ["32,000.00", "10,000.00"]
    assert list(chinese.table["销售额（万元）"]) == ["3.20", "1.00"]
    ratio = ask(company, "本季度各区域回款率")
    assert list(ratio.table["回款率"]) == ["93.3%", "50.0%"]
    assert ask(company, "本季度销售额").chart.kind == "none"


def test_a_single_number_is_zero_when_nothing_was_booked(company):
    answer = ask(company, "2026年6月返利")
    assert value(answer, "rebate") == 0 and "返利 0.00 元" in answer.summary


# ---------------------------------------------------------------------------------------------------------------
# Clarifications instead of guesses
# ---------------------------------------------------------------------------------------------------------------


def test_no_metric_asks_which_one(company):
    result = answer_data_question(company, "华东的经销商怎么样")
    assert isinstance(result, Clarification) and result.reason == "missing_metric"
    # Each option is the whole question with the figure filled in, so choosing it answers what was asked.
    assert {f"华东的经销商怎么样的{m}" for m in ("销售额", "完成率", "费用率", "回款率", "库存天数")} <= set(
        result.options
    )
    english = answer_data_question(company, "how are distributors in East China doing")
    assert isinstance(english, Clarification) and "how are distributors in East China doing: revenue" in english.options


@pytest.mark.parametrize("question", ["华东哪些经销商低于80%", "East China distributors below 80%?"])
def test_a_bound_in_percent_without_a_rate_asks_which_rate_never_revenue(company, question):
    result = answer_data_question(company, question)
    assert isinstance(result, Clarification) and result.reason == "missing_metric", result
    chosen = answer_data_question(company, result.options[0])  # the option re-runs the whole question
    assert isinstance(chosen, DataAnswer), chosen
    bound = [f for f in chosen.spec.filters if f.field in METRICS]
    assert [(f.field, f.op) for f in bound] == [("achievement", "lt")] and bound[0].value == pytest.approx(0.8)


def test_ambiguous_partner_name_offers_the_candidates(company):
    result = answer_data_question(company, "恒通的销售额")
    assert isinstance(result, Clarification) and result.reason == "ambiguous_name"
    assert sorted(result.options) == ["南京恒通商贸有限公司", "杭州恒通食品有限公司"]
    # choosing an option answers
    assert value(ask(company, f"本季度{result.options[0]}的销售额"), "revenue") in (14_000, 18_000)


def test_unknown_name_says_it_was_not_found(company):
    result = answer_data_question(company, "宏发贸易的销售额")
    assert isinstance(result, Clarification) and result.reason == "unknown_name" and "宏发贸易" in result.question
    unknown_id = answer_data_question(company, "P0099 销售额")
    assert isinstance(unknown_id, Clarification) and "P0099" in unknown_id.question


def test_ranking_without_anything_to_rank_asks_by_what(company):
    result = answer_data_question(company, "销售额最高的")
    assert isinstance(result, Clarification) and result.reason == "missing_dimension"


def test_an_impossible_combination_is_explained_in_chinese(company):
    result = answer_data_question(company, "各产品完成率")
    assert isinstance(result, Clarification) and result.reason == "unsupported"
    assert "目标数据没有按产品记录" in result.question


# ---------------------------------------------------------------------------------------------------------------
# Injection: nothing changes, nothing extra comes back
# ---------------------------------------------------------------------------------------------------------------


def _snapshot(store) -> dict[str, pd.DataFrame]:
    return {t: store.table(t) for t in ("partners", "sales", "targets", "costs", "inventory", "collections")}


@pytest.mark.parametrize(
    "question",
    [
        "华东销售额'; DROP TABLE sales; --",
        "revenue of partner \"x' OR '1'='1\"",
        '华东销售额"; DELETE FROM partners; --',
        "「1' UNION SELECT * FROM partners --」的销售额",
    ],
)
def test_injection_in_questions_changes_nothing(company, question):
    before = _snapshot(company)
    result = answer_data_question(company, question)
    assert isinstance(result, Clarification) and result.reason == "unknown_name"
    after = _snapshot(company)
    for name, frame in before.items():
        pd.testing.assert_frame_equal(frame, after[name])


def test_injection_in_spec_values_returns_no_rows_and_says_so(company):
    before = _snapshot(company)
    for filters in (
        [{"field": "partner", "op": "eq", "value": "x' OR '1'='1"}],
        [{"field": "region", "op": "eq", "value": "华东' OR '1'='1"}],
        [{"field": "partner", "op": "in", "value": ["P1') OR ('1'='1", "'; DROP TABLE sales; --"]}],
    ):
        for dims in ([], ["partner"]):
            spec = build_spec(metrics=["revenue", "collection_rate"], dimensions=dims, filters=filters, window=Q2)
            answer = answer_spec(company, spec)
            assert answer.frame.empty
            assert "没有符合条件的数据" in answer.summary
    answer = answer_spec(
        company,
        build_spec(metrics=["revenue"], filters=[{"field": "partner", "op": "eq", "value": "x' OR '1'='1"}], window=Q2),
    )
    assert "没有找到编号为「x' OR '1'='1」的伙伴或产品" in answer.summary
    after = _snapshot(company)
    for name, frame in before.items():
        pd.testing.assert_frame_equal(frame, after[name])


def test_spec_validation_errors_are_in_chinese():
    cases = [
        ({"metrics": ["revenue; DROP TABLE sales"]}, "未知指标"),
        ({"metrics": ["revenue"], "dimensions": ["region) UNION SELECT"]}, "未知维度"),
        ({"metrics": ["revenue"], "filters": [{"field": "region", "op": "LIKE", "value": "%"}]}, "不支持的比较方式"),
        ({"metrics": ["revenue"], "filters": [{"field": "region", "op": "lt", "value": "华东"}]}, "只能用 eq"),
        ({"metrics": ["revenue"], "filters": [{"field": "achievement", "op": "lt", "value": "0.8; DROP"}]}, "不是数字"),
        ({"metrics": ["revenue"], "limit": 0}, "1 到 1000"),
        ({"metrics": ["revenue"], "limit": 5000}, "1 到 1000"),
        ({"metrics": ["achievement"], "dimensions": ["product"]}, "没有按产品记录"),
        ({"metrics": ["revenue"], "comparison": "wow"}, "对比方式"),
        ({"metrics": ["revenue"], "sort": {"metric": "revenue_change"}}, "需要对比期"),
    ]
    for data, message in cases:
        with pytest.raises(QuerySpecError, match=message):
            build_spec(window=Q2, **data)
        with pytest.raises(ValidationError):
            QuerySpec(window=Q2, **data)


# ---------------------------------------------------------------------------------------------------------------
# The sample company
# ---------------------------------------------------------------------------------------------------------------


def test_lowest_achievement_distributors_in_east_china_last_quarter(loaded_store):
    answer = ask(loaded_store, "上季度华东区完成率最低的5个经销商")
    frame = answer.frame
    assert 0 < len(frame) <= 5 and list(frame["achievement"]) == sorted(frame["achievement"])
    partners = loaded_store.table("partners").set_index("partner_id")
    assert set(partners.loc[frame["partner_id"], "region"]) == {"华东"}
    assert set(partners.loc[frame["partner_id"], "type"]) == {"经销商"}
    latest = loaded_store.query("SELECT max(date) AS d FROM sales")["d"].iloc[0]
    quarter_start = date(latest.year, (latest.month - 1) // 3 * 3 + 1, 1)
    assert answer.spec.window.end.isoformat() < quarter_start.isoformat()
    # cross-check one partner by hand
    pid = frame["partner_id"].iloc[0]
    w = answer.spec.window
    revenue = loaded_store.query(
        "SELECT sum(revenue) AS r FROM sales WHERE partner_id = ? AND date BETWEEN ? AND ?", [pid, w.start, w.end]
    )["r"].iloc[0]
    target = loaded_store.query(
        "SELECT sum(target_revenue) AS t FROM targets WHERE partner_id = ? AND quarter = ?",
        [pid, f"{w.start.year}Q{(w.start.month - 1) // 3 + 1}"],
    )["t"].iloc[0]
    assert frame["achievement"].iloc[0] == pytest.approx(revenue / target)


def test_sample_company_totals_add_up(loaded_store):
    by_region = ask(loaded_store, "本季度各区域销售额")
    total = ask(loaded_store, "本季度销售额")
    assert by_region.frame["revenue"].sum() == pytest.approx(value(total, "revenue"))
    channel = ask(loaded_store, "本季度各渠道费用率对比")
    assert len(channel.frame) == loaded_store.query("SELECT count(DISTINCT type) AS n FROM partners")["n"].iloc[0]
    assert channel.frame["expense_ratio"].between(0, 1).all()
    top = ask(loaded_store, "top 5 partners by revenue this year")
    assert top.language == "en" and len(top.frame) == 5
    assert list(top.frame["revenue"]) == sorted(top.frame["revenue"], reverse=True)
    assert top.table.columns[0] == "Partner ID"


def test_lookups_are_cached_per_data_file(loaded_store, small_company):
    first = context_for(loaded_store)
    assert context_for(loaded_store) is first
    loaded_store.replace_all(small_company.tables, meta={"source": "sample"})
    assert context_for(loaded_store) is not first


def test_cli_ask_data(loaded_store, data_dir):
    import os

    env = {**os.environ, "CANMOU_DATA_DIR": str(data_dir)}

    def run(*args):
        return subprocess.run(
            [sys.executable, "-m", "advisor", "ask-data", *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )

    result = run("各区域回款率", "--json")
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert {"spec", "window", "rows", "summary", "sql", "params"} <= set(payload)
    assert payload["spec"]["dimensions"] == ["region"] and "collection_rate" in payload["rows"][0]
    assert "$" in payload["sql"] and payload["window"].endswith("）")
    text = run("上季度华东区完成率最低的5个经销商")
    assert text.returncode == 0 and "时间：" in text.stdout and "完成率" in text.stdout and "SELECT" in text.stdout
    unclear = run("华东的经销商", "--json")
    assert unclear.returncode == 0 and json.loads(unclear.stdout)["options"]


def test_metric_definitions_cover_the_contract():
    assert set(METRICS) == set(METRIC_PHRASES)
    assert all(math.isfinite(len(m.definition)) and m.definition for m in METRICS.values())


# ---------------------------------------------------------------------------------------------------------------
# Time against today, the data's span, imported attributes, and inputs the data lacks (issue: real company data)
# ---------------------------------------------------------------------------------------------------------------


def test_without_a_period_totals_cover_all_data_and_kpis_the_latest_complete_quarter(company):
    total = ask(company, "各区域销售额")
    assert total.window == "全部数据（2025-05-10 ~ 2026-06-30）"
    assert value(total, "revenue", region="华东") == 32_000 + 8_000 + 16_000
    assert "未指定时间：合计与排名覆盖全部数据（2025-05-10 ~ 2026-06-30）" in total.notes
    # Today is 2026-06-30, so 2026Q2 has not ended: the latest complete quarter is 2026Q1.
    kpi = ask(company, "完成率")
    assert kpi.window.startswith("2026年第1季度") and value(kpi, "achievement") == pytest.approx(8_000 / 10_000)


def test_a_period_without_data_is_named_and_the_latest_complete_one_offered(company):
    result = answer_data_question(company, "2024年第3季度华东销售额")
    assert isinstance(result, Clarification) and result.reason == "no_data"
    assert result.question.startswith("2024年第3季度没有数据：数据截至 2026-06-30（数据从 2025-05-10 开始）")
    assert result.options == ["2026年第1季度华东销售额"]
    assert value(ask(company, result.options[0]), "revenue") == 8_000


@pytest.fixture(scope="module")
def export_company(tmp_path_factory):
    """A dealer export as a user imports it: customers by name, countries, a status column, a profit column."""
    return import_dealer_export(tmp_path_factory.mktemp("export"))


def test_countries_attributes_and_measures_of_an_export_answer_by_name(export_company):
    germany = ask(export_company, "德国的销售额")
    assert value(germany, "revenue") == 200 and "国家 = Germany" in germany.summary
    by_status = ask(export_company, "按STATUS统计销售额")
    assert dict(zip(by_status.frame["x_status"], by_status.frame["revenue"], strict=True)) == {
        "Shipped": 1400,
        "Cancelled": 100,
    }
    cancelled = ask(export_company, "status 为 Cancelled 的销售额")
    assert value(cancelled, "revenue") == 100
    profit = ask(export_company, "Profit by country")
    assert dict(zip(profit.frame["country"], profit.frame["x_profit"], strict=True)) == {
        "USA": 100,
        "Japan": 60,
        "Germany": 15,
    }


def test_a_metric_the_data_lacks_is_named_with_the_file_that_adds_it(export_company):
    result = answer_data_question(export_company, "完成率最低的5个客户")
    assert isinstance(result, Clarification) and result.reason == "unsupported"
    assert result.question.startswith("这份数据回答不了这个问题（完成率）：缺少「季度目标」。补充方法：导入季度目标表")
    costs = answer_data_question(export_company, "各国家费用率")
    assert isinstance(costs, Clarification) and "缺少「渠道费用」" in costs.question


# ---- issue 12: shares of a named whole, exclusions, 累计, follow-ups, what the data lacks ----------------------
def test_a_share_keeps_the_whole_the_question_names(company):
    # 华东 = P1 + P2: 56,000 in all; 饮料 there 52,000 (P1 24,000, P2 28,000)
    result = answer_data_question(company, "华东的销售里饮料占几成")
    assert not isinstance(result, Clarification)
    assert result.frame["revenue_share"].iloc[0] == pytest.approx(52_000 / 56_000)
    assert "占华东的销售额" in result.summary


def test_an_exclusion_after_the_value_is_a_filter_not_a_grouping(company):
    # everything but 华东: P3 3,800 + P4 7,000 = 10,800 of 66,800
    result = answer_data_question(company, "华东以外的区域占总销售额多少")
    assert not isinstance(result, Clarification)
    assert result.spec.dimensions == [] and len(result.frame) == 1
    assert result.frame["revenue_share"].iloc[0] == pytest.approx(10_800 / 66_800)


def test_cumulative_means_all_the_data(company):
    result = answer_data_question(company, "累计卖了多少")
    assert result.window.startswith("累计（全部数据）") and result.frame["revenue"].iloc[0] == 66_800


def test_ranking_follow_ups_keep_the_previous_frame(company):
    first = answer_data_question(company, "2026年各城市销售额")
    top = answer_data_question(company, "前两名呢", first.spec)
    assert list(top.frame["city"]) == ["南京", "杭州"] and top.spec.limit == 2
    provinces = answer_data_question(company, "2026年各省销售额")
    dealers = answer_data_question(company, "只看经销商呢", provinces.spec)
    assert dealers.spec.dimensions == ["province"] and set(dealers.frame["province"]) == {"江苏", "浙江"}
    best = answer_data_question(company, "2026年卖得最好的1个产品")
    by_volume = answer_data_question(company, "按销量排呢", best.spec)
    assert by_volume.spec.sort.metric == "quantity" and by_volume.spec.limit == 1


def test_a_month_without_a_year_follows_the_year_being_discussed(company):
    may = answer_data_question(company, "What was revenue in May 2025?")
    june = answer_data_question(company, "and June?", may.spec)
    assert june.frame["revenue"].iloc[0] == 10_000  # June 2025, not June 2026 (18,000)


@pytest.mark.parametrize(
    "question, named",
    [("哪些客户的合同快到期了", "合同"), ("What's the headcount of each distributor?", "headcount")],
)
def test_a_thing_the_data_does_not_have_is_named_not_dropped(company, question, named):
    result = answer_data_question(company, question)
    assert isinstance(result, Clarification) and result.reason == "unanswerable"
    assert named in result.question


def test_evidence_levels(company):
    assert evidence(company, "华东上季度销售额") == "answer"
    assert evidence(company, "返利一般分几档") in ("weak", "none")
    assert evidence(company, "评优秀经销商，直接按销量排名可以吗") == "partial"  # 优秀 / 直接 mean nothing to the data
    assert evidence(company, "哪些客户的合同快到期了") == "ask"


def test_a_range_is_two_bounds_on_one_figure(company):
    # 2026 revenue: P1 22,000, P2 18,000, P3 3,800, P4 7,000
    for question in ("2026年销售额在5000到20000之间的伙伴", "partners with 2026 revenue between 5000 and 20000"):
        result = answer_data_question(company, question)
        assert not isinstance(result, Clarification), question
        assert set(result.frame["partner_id"]) == {"P2", "P4"}


def test_staff_questions_are_named_not_answered(company):
    result = answer_data_question(company, "各区域销售人员的人均业绩")
    assert isinstance(result, Clarification) and result.reason == "unanswerable" and "销售人员" in result.question


def test_a_city_and_a_type_that_begin_several_names_ask_which(tmp_path):
    store = make_store(
        tmp_path,
        partners=[
            partner("S1", name="深圳直营2号店", type="直营", region="华南", province="广东", city="深圳"),
            partner("S2", name="深圳直营体验店", type="直营", region="华南", province="广东", city="深圳"),
            partner("S3", name="深圳瑞丰食品代理有限公司", type="代理商", region="华南", province="广东", city="深圳"),
        ],
        products=[product("BEV-001", name="清泉矿泉水 550ml×24", category="饮料", unit_cost=60.0)],
        sales=[sale(p, "BEV-001", "2026-05-10", 10, 100) for p in ("S1", "S2", "S3")],
    )
    result = answer_data_question(store, "深圳直营店上季度业绩怎么样")
    assert isinstance(result, Clarification) and result.reason == "ambiguous_name"
    assert set(result.options) >= {"深圳直营2号店", "深圳直营体验店"}
    typed = answer_data_question(store, "深圳代理商的销售额")  # one partner type in a city is a filter, not a name
    assert not isinstance(typed, Clarification) and typed.frame["revenue"].iloc[0] == 1_000


# ---------------------------------------------------------------------------------------------------------------
# Nothing booked (没进货 / 一件都没卖出去), two periods named, lost customers between two named periods
# ---------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("question", "column", "expected"),
    [
        ("上季度哪些伙伴没买过饮料", "partner_id", ["P2", "P3", "P4"]),  # Q1: only P1 bought 饮料
        ("Which partners haven't bought anything in Q1 2026?", "partner_id", ["P2", "P4"]),
        ("4月哪个产品一件都没卖出去", "sku", ["SNK-001"]),
        ("华南哪些客户一季度一单都没下", "partner_id", ["P4"]),  # the region narrows who, not what they bought
    ],
)
def test_members_with_nothing_booked_are_listed(company, question, column, expected):
    answer = answer_data_question(company, question)
    assert isinstance(answer, DataAnswer), answer
    assert answer.spec.absent
    assert sorted(answer.frame[column]) == expected
    assert str(len(expected)) in answer.summary


def test_nothing_missing_says_everyone_bought(company):
    answer = answer_data_question(company, "本季度哪些伙伴没进货")
    assert isinstance(answer, DataAnswer)
    assert answer.frame.empty
    assert "都有" in answer.summary


def test_bought_in_one_period_and_not_the_next_is_lost_customers(company):
    answer = answer_data_question(company, "2025年二季度买过、2025年三季度一单都没下的客户")
    assert isinstance(answer, DataAnswer), answer
    assert answer.spec.metrics[0] == "lost_partners"
    assert answer.spec.window.start == date(2025, 7, 1)
    assert sorted(answer.frame["partner_id"]) == ["P1", "P2"]
    far = answer_data_question(company, "2025年二季度买过、2026年二季度没下单的客户")
    assert isinstance(far, Clarification) and far.reason == "unsupported"


def test_two_adjacent_periods_get_a_row_each_and_others_are_asked_back(company):
    both = answer_data_question(company, "2025年和2026年的销售额")
    assert isinstance(both, DataAnswer), both
    assert dict(zip(both.frame["year"], both.frame["revenue"], strict=True)) == {2025: 16_000, 2026: 50_800}
    assert "2025" in both.summary and "2025.0" not in both.summary
    versus = answer_data_question(company, "Q2 2026 revenue versus Q2 2025")
    assert isinstance(versus, DataAnswer), versus
    assert versus.spec.comparison == "yoy"
    assert versus.frame["revenue"].iloc[0] == 42_000
    assert versus.frame["revenue_compare"].iloc[0] == 16_000
    apart = answer_data_question(company, "2023年和2025年的销售额")
    assert isinstance(apart, Clarification) and apart.reason == "unsupported"
    assert "2023" in apart.question and "2025" in apart.question


def test_years_beside_chinese_words_are_not_codes():
    assert language_of("2016年买过、2017年却一单都没下的 Home Office 客户") == "zh"


def test_an_exclusion_covers_every_name_joined_to_it(company):
    answer = answer_data_question(company, "除了江苏和浙江，二季度其他省份的销售额")
    assert isinstance(answer, DataAnswer), answer
    assert answer.frame["revenue"].sum() == 10_000  # 广东: P3 3,000 + P4 7,000
    after = answer_data_question(company, "江苏、浙江以外二季度卖了多少")
    assert isinstance(after, DataAnswer) and after.frame["revenue"].sum() == 10_000


def test_only_after_a_single_figure_narrows_it(company):
    first = answer_data_question(company, "二季度销售额是多少")
    narrowed = answer_data_question(company, "只看经销商呢", first.spec)
    assert isinstance(narrowed, DataAnswer), narrowed
    assert narrowed.spec.dimensions == []
    assert narrowed.frame["revenue"].iloc[0] == 32_000  # P1 14,000 + P2 18,000


def test_a_metric_typed_with_one_character_wrong_is_read_and_said(company):
    answer = answer_data_question(company, "二季度回宽率最低的伙伴")
    assert isinstance(answer, DataAnswer), answer
    assert answer.spec.metrics[0] == "collection_rate"
    assert any("回宽率" in note and "回款率" in note for note in answer.notes)
    other = answer_data_question(company, "华东的客户二季度买了多少")  # 的客户 is not 新客户
    assert isinstance(other, DataAnswer) and other.spec.metrics == ["revenue"]


def test_two_digit_years_before_a_month(company):
    answer = answer_data_question(company, "26年4月的销售额")
    assert isinstance(answer, DataAnswer), answer
    assert answer.spec.window.start == date(2026, 4, 1)
    assert answer.frame["revenue"].iloc[0] == 13_000


def test_what_percent_came_from_a_region(company):
    answer = answer_data_question(company, "What % of Q2 2026 revenue came from 华南?")
    assert isinstance(answer, DataAnswer), answer
    assert answer.frame["revenue_share"].iloc[0] == pytest.approx(10_000 / 42_000)
    assert "% of" in answer.summary and "CNY. That" in answer.summary.replace("元", "CNY")


def test_lost_customers_under_a_product_filter_stopped_buying_that_product(company):
    answer = answer_data_question(company, "一季度买过休闲食品、二季度没再买的客户")
    assert isinstance(answer, DataAnswer), answer
    assert list(answer.frame["partner_id"]) == ["P3"]  # P3 still bought 饮料 in Q2


def test_one_product_name_under_several_codes_means_all_of_them(tmp_path):
    store = make_store(
        tmp_path,
        partners=[partner("P1")],
        products=[product("A-1", name="开博通"), product("A-2", name="开博通"), product("B-1", name="高特灵")],
        sales=[
            sale("P1", "A-1", "2026-05-10", 1, 100),
            sale("P1", "A-2", "2026-05-11", 2, 100),
            sale("P1", "B-1", "2026-05-12", 1, 300),
        ],
    )
    answer = answer_data_question(store, "5月开博通的销售额")
    assert isinstance(answer, DataAnswer), answer
    assert answer.spec.dimensions == []
    assert answer.frame["revenue"].iloc[0] == 300


def test_a_product_ranking_counts_one_name_under_several_codes_once(tmp_path):
    # 开博通 sold under two codes: 200 in all, ahead of 高特灵's 150 (each code alone is behind it)
    store = make_store(
        tmp_path,
        partners=[partner("P1")],
        products=[product("A-1", name="开博通"), product("A-2", name="开博通"), product("B-1", name="高特灵")],
        sales=[
            sale("P1", "A-1", "2026-05-10", 1, 100),
            sale("P1", "A-2", "2026-05-11", 1, 100),
            sale("P1", "B-1", "2026-05-12", 1, 150),
        ],
    )
    answer = answer_data_question(store, "5月卖得最好的2个产品")
    assert isinstance(answer, DataAnswer), answer
    assert list(answer.frame["product_name"]) == ["开博通", "高特灵"]
    assert list(answer.frame["revenue"]) == [200, 150]


# ---------------------------------------------------------------------------------------------------------------
# Averages per member (户均 / 平均每月 / average revenue per customer): total ÷ members, with both stated.
# Q2 2026 revenue 42,000 from four partners (P1 14,000, P2 18,000, P3 3,000, P4 7,000): 10,500 per partner.
# By month 13,000 (Apr) + 11,000 (May) + 18,000 (Jun); Q1 8,800 with nothing booked in January.
# ---------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "question",
    [
        "二季度平均每家客户贡献了多少销售额",
        "二季度户均销售额",
        "二季度客户人均消费多少",
        "average revenue per customer in Q2 2026",
        "on average how much did each customer buy in Q2 2026",
    ],
)
def test_average_per_partner_is_revenue_over_the_partners_with_sales(company, question):
    answer = ask(company, question)
    assert answer.spec.per == "partner" and answer.spec.dimensions == []
    row = answer.frame.iloc[0]
    assert (row["revenue_avg"], row["revenue"], row["members"]) == (10_500, 42_000, 4)
    assert "10,500.00" in answer.summary and "42,000.00" in answer.summary and "4" in answer.summary


def test_average_per_month_counts_every_month_of_the_window_even_an_empty_one(company):
    quarter = ask(company, "二季度平均每月卖多少")
    assert quarter.spec.per == "month"
    assert quarter.frame["revenue_avg"].iloc[0] == pytest.approx(14_000)
    assert "共 3 个月" in quarter.summary
    half = ask(company, "今年上半年月均销售额")  # January booked nothing and still counts
    assert half.frame["members"].iloc[0] == 6
    assert half.frame["revenue_avg"].iloc[0] == pytest.approx(50_800 / 6)
    by_quarter = ask(company, "今年上半年各季度月均销售额")
    assert by_quarter.frame.set_index("quarter")["revenue_avg"].to_dict() == pytest.approx(
        {"2026Q1": 8_800 / 3, "2026Q2": 14_000}
    )


def test_average_per_partner_by_group_gives_each_groups_own_average(company):
    answer = ask(company, "二季度各区域户均销售额")
    assert answer.spec.dimensions == ["region"] and answer.spec.per == "partner"
    rows = answer.frame.set_index("region")
    assert rows["revenue_avg"].to_dict() == {"华东": 16_000, "华南": 5_000}  # 32,000 ÷ 2, 10,000 ÷ 2
    assert rows["members"].to_dict() == {"华东": 2, "华南": 2}
    top = ask(company, "二季度户均销售额最高的区域")  # ranked by the average, not the total
    assert list(top.frame["region"]) == ["华东"] and "最高" in top.summary


@pytest.mark.parametrize("question", ["二季度平均每家经销商卖多少", "二季度经销商平均每家多少销售额"])
def test_a_partner_type_named_with_the_average_narrows_the_members(company, question):
    answer = ask(company, question)
    assert ("partner_type", "经销商") in [(f.field, f.value) for f in answer.spec.filters]
    assert answer.frame["revenue_avg"].iloc[0] == 16_000  # P1 14,000 + P2 18,000 over two


def test_an_amount_booked_to_no_partner_is_said_not_averaged(company):
    answer = ask(company, "二季度户均费用")
    row = answer.frame.iloc[0]  # P1 1,000, P2 2,000, P4 700; the 500 of 市场推广 has no partner
    assert (row["cost"], row["members"]) == (3_700, 3)
    assert row["cost_avg"] == pytest.approx(3_700 / 3)
    assert any("500.00" in note for note in answer.notes)


def test_averages_that_cannot_be_taken_are_refused_or_asked_never_guessed(company, ctx):
    for question in ("二季度销售额中位数", "二季度人均业绩"):
        refused = answer_data_question(company, question)
        assert isinstance(refused, Clarification) and refused.reason == "unanswerable"
    assert "中位数" in answer_data_question(company, "二季度销售额中位数").question
    ratio = answer_data_question(company, "二季度户均完成率")
    assert isinstance(ratio, Clarification) and "完成率" in ratio.question
    bare = answer_data_question(company, "二季度平均销售额")  # an average over what?
    assert isinstance(bare, Clarification) and bare.reason == "missing_dimension"
    assert [spec_of(ctx, option).per for option in bare.options] == ["partner", "month"]
    with pytest.raises(QuerySpecError, match="已经按伙伴分组"):
        build_spec(metrics=["revenue"], dimensions=["partner"], per="partner", window=Q2)
    with pytest.raises(QuerySpecError, match="同比"):
        build_spec(metrics=["revenue"], per="partner", comparison="yoy", window=Q2)


def test_metrics_named_with_average_stay_those_metrics(ctx):
    assert spec_of(ctx, "二季度平均单价").metrics == ["avg_price"]
    assert spec_of(ctx, "二季度平均客单价").metrics == ["aov"]
    assert spec_of(ctx, "二季度单均").metrics == ["aov"]
    by_region = spec_of(ctx, "average order value by region in Q2 2026")
    assert (by_region.metrics, by_region.dimensions, by_region.per) == (["aov"], ["region"], None)


def test_a_follow_up_keeps_the_average_for_another_sum_but_not_for_a_ratio(company):
    first = ask(company, "二季度户均销售额")
    again = answer_data_question(company, "毛利呢", first.spec)
    assert isinstance(again, DataAnswer) and again.spec.per == "partner"
    assert again.frame["gross_profit_avg"].iloc[0] == pytest.approx(again.frame["gross_profit"].iloc[0] / 4)
    ratio = answer_data_question(company, "回款率呢", first.spec)
    assert isinstance(ratio, DataAnswer) and ratio.spec.per is None


def test_an_average_per_month_is_a_question_for_the_data(company):
    assert evidence(company, "一般每月卖多少") == "answer"
    assert evidence(company, "今年平均销售额") == "ask"


def test_one_period_compared_with_another_by_bi(company):
    answer = answer_data_question(company, "5月销售额比4月少了多少")
    assert isinstance(answer, DataAnswer), answer
    assert answer.spec.comparison == "previous" and answer.spec.window.start == date(2026, 5, 1)
    assert answer.frame["revenue"].iloc[0] == 11_000  # P1 4,000 + P4 7,000
    assert answer.frame["revenue_compare"].iloc[0] == 13_000  # April: P1 10,000 + P3 3,000


def test_contribution_means_revenue(company):
    answer = answer_data_question(company, "哪个区域贡献最大")
    assert isinstance(answer, DataAnswer), answer
    assert answer.spec.metrics == ["revenue"] and list(answer.frame["region"]) == ["华东"]


def test_a_part_in_a_named_whole_is_a_share_of_that_whole(company):
    answer = answer_data_question(company, "饮料在华东的占比")
    assert isinstance(answer, DataAnswer), answer
    # 华东 (P1, P2) all data: 56,000, of which 饮料 52,000
    assert answer.frame["revenue_share"].iloc[0] == pytest.approx(52_000 / 56_000)


def test_same_period_last_year_on_its_own_is_last_years_figure(company):
    answer = answer_data_question(company, "去年同期华东的销售额是多少")
    assert isinstance(answer, DataAnswer), answer
    # today 2026-06-30: the latest complete quarter is 2026Q1 (华东 8,000); a year before it, 2025Q1, sold nothing
    assert answer.spec.comparison == "none" and answer.spec.window.start == date(2025, 1, 1)
    assert answer.frame["revenue"].iloc[0] == 0


def test_chinese_direction_words_name_an_english_exports_regions(tmp_path):
    store = make_store(
        tmp_path,
        partners=[partner("W1", region="West", province="CA", city="LA"), partner("E1", region="East")],
        products=[product("BEV-001")],
        sales=[sale("W1", "BEV-001", "2026-05-10", 10, 100), sale("E1", "BEV-001", "2026-05-11", 5, 100)],
    )
    answer = answer_data_question(store, "西部地区的销售额")
    assert isinstance(answer, DataAnswer), answer
    assert answer.frame["revenue"].iloc[0] == 1_000


def test_customers_who_bought_the_most_are_ranked_not_counted(company):
    answer = answer_data_question(company, "Which customers bought the most in Q2 2026?")
    assert isinstance(answer, DataAnswer), answer
    assert answer.spec.metrics == ["revenue"] and answer.spec.sort is not None
    assert answer.frame["partner_id"].iloc[0] == "P2"  # 18,000


def test_an_english_follow_up_that_narrows_the_previous_ranking_stays_with_the_data(loaded_store, guides_kb, tmp_path):
    from advisor.pipeline import Context, answer
    from advisor.settings import Settings

    context = Context(store=loaded_store, kb=guides_kb, settings=Settings(data_dir=tmp_path / "data"))
    first = answer("Top 5 partners by revenue last quarter", context)
    context.history = [
        {"role": "user", "content": "Top 5 partners by revenue last quarter"},
        {"role": "assistant", "content": first.markdown, "spec": first.spec},
    ]
    reply = answer("same thing but only 电商平台", context)
    assert reply.route.intent == "data", reply.markdown
    assert reply.spec is not None and reply.spec["dimensions"] == ["partner"] and len(reply.tables[0].frame) > 0
    assert reply.spec["window"] == first.spec["window"]
    assert any(f["field"] == "partner_type" for f in reply.spec["filters"]), reply.spec


def test_a_product_sold_under_another_code_of_its_name_is_not_unsold(tmp_path):
    store = make_store(
        tmp_path,
        partners=[partner("P1")],
        products=[
            product("A-1", name="开博通"),
            product("A-2", name="开博通"),
            product("B-1", name="高特灵"),
            product("C-1", name="清凉茶"),
        ],
        sales=[
            sale("P1", "A-1", "2026-05-10", 1, 100),
            sale("P1", "A-2", "2026-05-11", 1, 100),
            sale("P1", "B-1", "2026-05-12", 1, 150),
            sale("P1", "A-1", "2026-04-12", 1, 150),
            sale("P1", "C-1", "2026-04-12", 1, 150),
        ],
    )
    answer = answer_data_question(store, "5月没有卖出去的产品")
    assert isinstance(answer, DataAnswer), answer
    assert list(answer.frame["product_name"]) == ["清凉茶"]


def test_the_rates_offered_for_a_bound_in_percent_fit_what_is_listed(company):
    result = answer_data_question(company, "哪些产品低于10%")
    assert isinstance(result, Clarification) and result.reason == "missing_metric", result
    assert result.options == ["哪些产品低于10%的毛利率"]  # 完成率 / 回款率 / 费用率 are a partner's, not a product's


# ---- words found in questions nobody here wrote (dev sets 4 and 5) ------------------------------------------------
@pytest.fixture(scope="module")
def pharmacy(tmp_path_factory):
    """Two codes share one drug name; brands sit in the names' brackets, the way a pharmacy export writes them."""
    folder = tmp_path_factory.mktemp("pharmacy")
    amlodipine = "苯磺酸氨氯地平片(安内真)"
    return make_store(
        folder,
        partners=[partner("C1", name="门店一", type="零售商"), partner("C2", name="门店二", type="零售商")],
        products=[
            product("861507", name=amlodipine, category="药品"),
            product("875120", name=amlodipine, category="药品"),
            product("861405", name="苯磺酸氨氯地平片(络活喜)", category="药品"),
            product("900001", name="感冒灵颗粒", category="药品"),
        ],
        sales=[
            sale("C1", "861507", "2026-06-03", 2, 30),  # 安内真 60
            sale("C2", "875120", "2026-06-04", 1, 30),  # 安内真 30, under its second code
            sale("C1", "861405", "2026-06-05", 3, 50),  # 络活喜 150
            sale("C2", "900001", "2026-06-06", 5, 10),  # 50
        ],
    )


def test_a_drug_is_asked_for_by_its_brand_and_two_names_joined_by_he(pharmacy):
    one = ask(pharmacy, "6月安内真的销售额")
    assert one.frame["revenue"].tolist() == [90.0], "both codes of the name, asked by the brand in its brackets"
    two = ask(pharmacy, "6月安内真和络活喜销售额")
    got = dict(zip(two.frame["product_name"], two.frame["revenue"], strict=True))
    assert got == {"苯磺酸氨氯地平片(安内真)": 90.0, "苯磺酸氨氯地平片(络活喜)": 150.0}, got


def test_shipments_purchases_and_buying_partners_are_read_as_their_metrics(ctx):
    assert spec_of(ctx, "6月华东出了多少货").metrics == ["quantity"]
    assert spec_of(ctx, "去年华东进货量").metrics == ["quantity"]
    both = spec_of(ctx, "上季度进货破百万、回款率却不到八成的客户")
    assert [(f.field, f.op, f.value) for f in both.filters if f.is_threshold] == [
        ("revenue", "gt", 1_000_000.0),
        ("collection_rate", "lt", 0.8),
    ]
    monthly = spec_of(ctx, "今年零售商每个月有多少家在进货")
    assert monthly.metrics == ["active_partners"] and monthly.dimensions == ["month"]
    assert spec_of(ctx, "老板刚问我，今年华东一共做了多少业绩").metrics == ["revenue"]
    assert spec_of(ctx, "GM% by cat, Q2").dimensions == ["category"]


def test_a_metric_the_data_cannot_compute_is_named_in_the_refusal(tmp_path):
    store = make_store(
        tmp_path,
        partners=[partner("P1")],
        products=[product("A", unit_cost=None)],
        sales=[sale("P1", "A", "2026-05-01", 1, 10)],
    )
    reply = answer_data_question(store, "今年各品类毛利")
    assert isinstance(reply, Clarification) and "（毛利）" in reply.question and "单位成本" in reply.question


def test_a_nationality_names_its_country(tmp_path):
    store = make_store(
        tmp_path,
        partners=[
            partner("D1", name="Berlin GmbH", country="Germany"),
            partner("F1", name="Lyon SA", country="France"),
        ],
        products=[product("A")],
        sales=[sale("D1", "A", "2026-05-01", 1, 10), sale("F1", "A", "2026-05-02", 1, 20)],
    )
    reply = answer_data_question(store, "revenue from German customers in May 2026")
    assert isinstance(reply, DataAnswer) and reply.frame["revenue"].tolist() == [10.0], reply
    assert [(f.field, f.value) for f in reply.spec.filters] == [("country", "Germany")]


@pytest.fixture(scope="module")
def countries(tmp_path_factory):
    folder = tmp_path_factory.mktemp("countries")
    return make_store(
        folder,
        partners=[
            partner("D1", name="Berlin GmbH", country="Germany"),
            partner("D2", name="Hamburg AG", country="Germany"),
            partner("D3", name="Munich KG", country="Germany"),
            partner("A1", name="Australian Collectors, Co.", country="Australia"),
            partner("A2", name="Australian Gift Network, Co", country="Australia"),
            partner("F1", name="Lyon SA", country="France"),
        ],
        products=[product("A")],
        sales=[
            *(sale(p, "A", "2026-05-0" + str(i + 1), 1, 10) for i, p in enumerate(["D1", "D2", "D3", "A1", "F1"])),
            sale("A2", "A", "2025-05-01", 1, 10),  # bought last year only
        ],
    )


def test_more_than_n_customers_counts_the_customers_that_bought(countries):
    for question in ("Which countries had more than 1 customer buying in 2026?", "2026年客户超过1家的国家"):
        reply = answer_data_question(countries, question)
        assert isinstance(reply, DataAnswer), (question, reply)
        assert reply.spec.metrics == ["active_partners"] and reply.frame["country"].tolist() == ["Germany"], question


def test_a_nationality_that_begins_customer_names_is_looked_up_as_a_name(countries):
    reply = answer_data_question(countries, "How many orders has Australian placed in total?")
    assert isinstance(reply, Clarification) and reply.reason == "ambiguous_name", reply
    assert {"Australian Collectors, Co.", "Australian Gift Network, Co"} <= set(reply.options)
    german = answer_data_question(countries, "revenue from German customers in 2026")
    assert german.frame["revenue"].tolist() == [30.0]


def test_words_that_only_say_how_to_show_it_are_not_left_over(company, ctx):
    previous = ask(company, "今年各区域销售额").spec
    follow = answer_data_question(company, "华东按季度展开看看", previous)
    assert isinstance(follow, DataAnswer) and "quarter" in follow.spec.dimensions, follow
    assert spec_of(ctx, "今年哪些经销商一次饮料都没进过").absent


def test_partners_counted_per_group_with_ties_at_the_top(tmp_path):
    """哪个省的经销商最多 counts 经销商 per province, and two provinces tied at the top are both the answer."""
    store = make_store(
        tmp_path,
        partners=[
            partner("P1", province="江苏"),
            partner("P2", province="江苏"),
            partner("P3", province="浙江", city="杭州"),
            partner("P4", province="浙江", city="杭州"),
            partner("P5", province="广东", city="广州", region="华南"),
            partner("R1", province="广东", city="广州", region="华南", type="零售商"),
            partner("R2", province="广东", city="广州", region="华南", type="零售商"),
        ],
        products=[product("A")],
        sales=[sale("P5", "A", "2026-05-01", 100, 100)],  # 广东 sells the most
    )
    reply = answer_data_question(store, "哪个省的经销商最多")
    assert isinstance(reply, DataAnswer) and reply.spec.metrics == ["partner_count"], reply
    assert sorted(reply.frame["province"]) == ["江苏", "浙江"] and "并列" in reply.summary, reply.summary
    english = answer_data_question(store, "Which province has the most dealers?")
    assert sorted(english.frame["province"]) == ["江苏", "浙江"] and "tie" in english.summary


def test_an_exclusion_covers_every_type_joined_to_it_and_lists_nobody(ctx):
    for question in ("revenue last quarter excluding 经销商 and 代理商", "上季度除了经销商和代理商的销售额"):
        spec = spec_of(ctx, question)
        assert spec.dimensions == [], question
        assert sorted((f.field, f.op, f.value) for f in spec.filters) == [
            ("partner_type", "ne", "代理商"),
            ("partner_type", "ne", "经销商"),
        ], question


def test_recent_days_and_a_count_range(ctx):
    window = spec_of(ctx, "近30天的销售额").window
    assert (window.end - window.start).days == 29 and window.end == ctx.latest
    spec = spec_of(ctx, "今年客户数在2到3个之间的省份")
    assert spec.limit is None and sorted((f.op, f.value) for f in spec.filters if f.is_threshold) == [
        ("ge", 2.0),
        ("le", 3.0),
    ]


def test_an_excluded_name_is_left_out_not_answered_alone(pharmacy):
    for question in ("除了安内真，6月其他药一共卖了多少钱", "6月除了络活喜以外的销售额"):
        reply = answer_data_question(pharmacy, question)
        assert isinstance(reply, DataAnswer), reply
        excluded = [f for f in reply.spec.filters if f.op == "not_in"]
        assert len(excluded) == 1 and excluded[0].field == "product", reply.spec
    assert answer_data_question(pharmacy, "除了安内真，6月其他药一共卖了多少钱").frame["revenue"].tolist() == [200.0]
    assert answer_data_question(pharmacy, "6月除了络活喜以外的销售额").frame["revenue"].tolist() == [140.0]


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("过亿", 1e8),
        ("破万", 1e4),
        ("过千万", 1e7),
        ("超过一万二", 12_000.0),
        ("高于三千五", 3_500.0),
        ("不到两百五", 250.0),
    ],
)
def test_colloquial_chinese_amounts_in_bounds(ctx, text, value):
    spec = spec_of(ctx, f"今年销售额{text}的省份")
    assert [f.value for f in spec.filters if f.is_threshold] == [value]


def test_the_best_partner_of_each_region_is_ranked_within_each_region(company):
    """每个大区卖得最好的客户: one partner per region, not the one region that sold most."""
    for question in ("每个区域二季度卖得最好的客户分别是谁", "top customer in each region in Q2 2026 by revenue"):
        reply = answer_data_question(company, question)
        assert isinstance(reply, DataAnswer) and reply.spec.rank_within == ["region"], (question, reply)
        best = dict(zip(reply.frame["region"], reply.frame["partner_name"], strict=True))
        assert best == {"华东": "杭州恒通食品有限公司", "华南": "深圳瑞丰食品代理有限公司"}, best
    assert "华东" in reply.summary and "华南" in reply.summary
    two = answer_data_question(company, "各区域二季度销售额前2的客户")
    assert two.frame.groupby("region").size().to_dict() == {"华东": 2, "华南": 2}
    assert answer_data_question(company, "哪个区域二季度销售额最高").spec.rank_within == []


def test_a_spec_ranked_within_groups_is_checked():
    window = {"start": "2026-04-01", "end": "2026-06-30", "label": "Q2", "kind": "quarter"}
    with pytest.raises(ValidationError):
        QuerySpec.model_validate(
            {
                "metrics": ["revenue"],
                "dimensions": ["region"],
                "rank_within": ["region"],
                "sort": {"metric": "revenue", "direction": "desc"},
                "limit": 1,
                "window": window,
            }
        )
    with pytest.raises(ValidationError):
        QuerySpec.model_validate(
            {"metrics": ["revenue"], "dimensions": ["region", "partner"], "rank_within": ["region"], "window": window}
        )


def test_every_period_of_a_window_is_a_streak_over_it(tmp_path):
    """Which customers ordered in every quarter / 每个月都比上个月低: the condition in each period of the window."""
    store = make_store(
        tmp_path,
        partners=[
            partner("P1", name="Always Co"),
            partner("P2", name="Sometimes Co"),
            partner("P3", name="Falling Co"),
        ],
        products=[product("A")],
        sales=[
            *(sale("P1", "A", f"2025-{m:02d}-05", 1, 10) for m in (1, 4, 7, 10)),
            sale("P2", "A", "2025-01-05", 1, 10),
            sale("P2", "A", "2025-07-05", 1, 10),
            *(sale("P3", "A", f"2025-{m:02d}-05", 1, price) for m, price in ((8, 50), (9, 40), (10, 30), (11, 20))),
            *(sale("P1", "A", f"2025-{m:02d}-06", 1, price) for m, price in ((8, 5), (9, 50), (11, 5))),
        ],
    )
    every = answer_data_question(store, "Which customers ordered in every quarter of 2025?")
    assert isinstance(every, DataAnswer) and every.spec.streak == 4, every
    assert every.frame["partner_name"].tolist() == ["Always Co"]
    falling = answer_data_question(store, "2025年9月到11月销售额每个月都比上个月低的客户")
    assert falling.spec.streak == 3 and falling.frame["partner_name"].tolist() == ["Falling Co"], falling.summary


def test_a_figure_by_something_the_data_lacks_stays_with_the_data_side(company):
    """gross margin by sales rep: the data side says it has no sales reps (the knowledge base has no answer)."""
    assert evidence(company, "What's the gross margin by sales rep?") == "ask"
    reply = answer_data_question(company, "What's the gross margin by sales rep?")
    assert isinstance(reply, Clarification) and "sales rep" in reply.question


def test_first_time_buyers_are_new_customers(ctx):
    assert spec_of(ctx, "今年第一次下单的客户有多少个").metrics == ["new_partners"]
    assert spec_of(ctx, "how many first-time customers this year").metrics == ["new_partners"]


def test_a_figure_per_customer_is_the_average_per_customer(ctx):
    spec = spec_of(ctx, "revenue per customer in Q2 2026")
    assert spec.per == "partner" and spec.dimensions == [], spec
    assert spec_of(ctx, "revenue per region in Q2 2026").dimensions == ["region"], "per region is a grouping"


def test_how_many_customers_stopped_buying_is_a_number(countries):
    reply = answer_data_question(countries, "How many customers bought in 2025 but not in 2026?")
    assert isinstance(reply, DataAnswer) and reply.spec.dimensions == [] and reply.spec.metrics == ["lost_partners"]
    assert reply.frame["lost_partners"].tolist() == [1], reply.frame
    listed = answer_data_question(countries, "Which customers bought in 2025 but not in 2026?")
    assert listed.frame["partner_name"].tolist() == ["Australian Gift Network, Co"]


def test_two_tiers_written_together_are_both_read(ctx):
    for question in ("今年A/B级客户的销售额", "A+B tier partners: revenue this year", "今年A、B级客户的销售额"):
        spec = spec_of(ctx, question)
        tiers = [f.value for f in spec.filters if f.field == "tier"]
        assert tiers == [["A", "B"]], (question, spec.filters)


def test_months_named_one_by_one_are_one_period_only_when_they_follow_each_other(ctx):
    window = spec_of(ctx, "2026年4、5、6三个月的销售额").window
    assert (window.start, window.end) == (date(2026, 4, 1), date(2026, 6, 30))
    assert spec_of(ctx, "2026年4月、5月和6月的销售额").window.start == date(2026, 4, 1)
    gap = parse("2026年1、3月的销售额", ctx)
    assert isinstance(gap, Clarification), "1月和3月 is not one period: asked back, never the whole year"


def test_how_many_products_sold_counts_them_with_one_name_once(pharmacy, ctx):
    for question in ("6月卖出了多少种药", "how many products did we sell in June 2026", "6月动销品种数"):
        reply = answer_data_question(pharmacy, question)
        assert isinstance(reply, DataAnswer) and reply.spec.metrics == ["active_products"], (question, reply)
        assert reply.frame["active_products"].tolist() == [3], "安内真 under two codes is one product"
    assert spec_of(ctx, "今年各区域卖出了几种产品").dimensions == ["region"]


def test_the_most_customers_in_a_period_counts_the_ones_that_bought_in_it(countries):
    """Australia has two customers on the books but only one bought in 2026; France and Australia tie at one."""
    reply = answer_data_question(countries, "which country had the fewest customers in 2026?")
    assert reply.spec.metrics == ["active_partners"], reply.spec
    assert sorted(reply.frame["country"]) == ["Australia", "France"]
    books = answer_data_question(countries, "which country has the fewest customers?")
    assert books.spec.metrics == ["partner_count"] and books.frame["country"].tolist() == ["France"]


def test_values_named_as_one_group_are_summed_not_listed(company, ctx):
    """Q2 2026: tier A 14,000, tier B 25,000, tier C 3,000. A+B together is 39,000 of 42,000, one figure."""
    for question in ("2026年第二季度A+B级客户的销售额占百分之几", "A+B tier partners: what % of Q2 2026 sales?"):
        reply = ask(company, question)
        assert reply.spec.dimensions == [] and reply.spec.share == "each", (question, reply.spec)
        assert reply.frame["revenue_share"].tolist() == pytest.approx([39_000 / 42_000]), reply.frame
    assert ask(company, "2026年第二季度华东和华南一共卖了多少").frame["revenue"].tolist() == [42_000.0]
    assert spec_of(ctx, "2026年第二季度A、B级客户的销售额").dimensions == ["tier"], "without 合计: a row each"


@pytest.mark.parametrize(
    "question, bound",
    [
        ("上季度哪些A级客户的完成率低于所在大区的整体完成率", "低于所在大区的整体完成率"),
        ("上季度完成率低于平均水平的经销商", "低于平均水平"),
        ("which partners were below average achievement last quarter", "below average"),
        ("partners whose sales were higher than the regional average", "higher than the regional average"),
    ],
)
def test_a_bound_that_is_another_aggregate_is_asked_back_by_name(company, question, bound):
    """A bound that is a group's average is not a number: answering without it would list a different set."""
    reply = answer_data_question(company, question)
    assert isinstance(reply, Clarification) and bound in reply.question, reply
    assert evidence(company, question) == "ask", "the data side says what it cannot compare, not the guides"


def test_how_many_members_meet_a_condition_is_answered_with_their_number(company, tmp_path):
    """Q2 2026 dealers above 5,000: P1 (14,000) and P2 (18,000)."""
    from advisor.pipeline import Context, answer
    from advisor.settings import Settings

    reply = ask(company, "2026年第二季度销售额超过5000的经销商有几家")
    assert reply.members == 2
    assert sorted(reply.frame["partner_name"]) == ["南京恒通商贸有限公司", "杭州恒通食品有限公司"]
    assert ask(company, "2026年第二季度销售额超过5000的经销商").members is None, "a list asked for is a list"
    english = ask(company, "how many partners missed target two quarters in a row")
    assert english.spec.streak == 2 and english.members == len(english.frame), english.spec
    context = Context(store=company, kb=None, settings=Settings(data_dir=tmp_path / "data"))
    piped = answer("2026年第二季度销售额超过5000的经销商有几家", context)
    values = next(t.frame for t in piped.tables if t.name == "数值")
    assert values.shape == (1, 1) and values.iloc[0, 0] == 2, values
    assert next(t.frame for t in piped.tables if t.name == "结果").shape[0] == 2, "the rows still say who"


def test_products_sold_in_every_month_are_counted_as_products(tmp_path):
    store = make_store(
        tmp_path,
        partners=[partner("C1", type="零售商")],
        products=[product("A", name="感冒灵"), product("B", name="板蓝根"), product("C", name="阿司匹林")],
        sales=[
            *(sale("C1", "A", f"2026-{m:02d}-03", 1, 10) for m in (4, 5, 6)),
            *(sale("C1", "B", f"2026-{m:02d}-03", 1, 10) for m in (4, 6)),
            sale("C1", "C", "2026-05-03", 1, 10),
        ],
    )
    for question in ("2026年4、5、6三个月每个月都有卖出的药有几种", "how many drugs sold in every month of Q2 2026"):
        reply = ask(store, question)
        assert reply.spec.dimensions == ["product"] and reply.members == 1, (question, reply.spec)
        assert reply.frame["product_name"].tolist() == ["感冒灵"]
    assert evidence(store, "2026年4、5、6三个月每个月都有卖出的药有几种") == "answer"
    assert ask(store, "how many different drugs were sold in May 2026?").frame["active_products"].tolist() == [2]


def test_which_members_is_a_list_even_when_their_buying_is_counted(tmp_path):
    store = make_store(
        tmp_path,
        partners=[partner("C1", name="Always Co"), partner("C2", name="Once Co")],
        products=[product("A")],
        sales=[
            *(sale("C1", "A", f"2025-{m:02d}-05", 1, 10) for m in (1, 4, 7, 10)),
            sale("C2", "A", "2025-01-05", 1, 9),
        ],
    )
    listed = ask(store, "Which customers ordered in every quarter of 2025?")
    assert listed.members is None and listed.frame["partner_name"].tolist() == ["Always Co"]
    assert ask(store, "How many customers ordered in every quarter of 2025?").members == 1


def test_the_second_highest_is_one_row_ranked_second(company):
    """Q2 2026 by partner: P2 18,000, P1 14,000, P4 7,000, P3 3,000."""
    second = ask(company, "2026年第二季度销售额第二高的客户")
    assert second.spec.nth and second.frame["partner_name"].tolist() == ["南京恒通商贸有限公司"], second.frame
    assert "第2高" in second.summary and "最高" not in second.summary
    third = ask(company, "which partner had the third lowest revenue in Q2 2026")
    assert third.frame["partner_name"].tolist() == ["南京恒通商贸有限公司"] and "3rd lowest" in third.summary
    months = ask(company, "2026年上半年销售额第二高的月份")
    assert months.frame["month"].tolist() == ["2026-04"], months.frame  # 6月 18,000, 4月 13,000, 5月 11,000


def test_a_bound_on_a_share_is_asked_back_never_applied_to_the_figure(company):
    for question in ("今年销售额占比超过5%的省份", "share of revenue above 10% by region this year"):
        reply = answer_data_question(company, question)
        assert isinstance(reply, Clarification) and ("占比" in reply.question or "share" in reply.question), reply


def test_how_many_products_above_a_bound_counts_the_products(company):
    """Q2 2026 gross margin: 清泉矿泉水 (cost 60) sells at 90–100, 原味薯片 (cost 50) at 70–80."""
    reply = ask(company, "How many SKUs had a GM above 35% in Q2 2026?")
    assert reply.spec.dimensions == ["product"] and reply.members == 1, reply.frame


def test_the_best_months_are_months_ranked_not_a_three_month_period(company):
    """2026 H1 by month: 6月 18,000, 4月 13,000, 5月 11,000, 2月 8,000, 3月 800."""
    reply = ask(company, "2026年上半年销售额最高的三个月")
    assert reply.spec.dimensions == ["month"] and reply.spec.limit == 3, reply.spec
    assert reply.frame["month"].tolist() == ["2026-06", "2026-04", "2026-05"]
    low = ask(company, "the worst 2 months by revenue in H1 2026")
    assert low.frame["month"].tolist() == ["2026-03", "2026-02"], low.frame


def test_the_top_ranked_summed_together_is_one_figure(company):
    reply = ask(company, "2026年第二季度前两大客户一共贡献了多少销售额")
    assert reply.spec.share == "top" and reply.frame["revenue"].tolist() == [32_000.0], reply.frame
    assert "伙伴合计 32,000.00" in reply.summary, reply.summary


def test_a_share_column_has_a_header_of_its_own(company):
    table = ask(company, "2026年第二季度各区域销售额占比").table
    assert "销售额占比" in table.columns and "销售额（元）" in table.columns, table.columns
    assert table["销售额（元）"].tolist()[0].replace(",", "").startswith("32000"), "the figure is not overwritten"


def test_a_share_of_each_groups_own_total(company):
    """Q2 2026: 华东 32,000 (dealers P1, P2: all of it); 华南 10,000 (dealer none: P3 retailer, P4 agent)."""
    reply = ask(company, "2026年第二季度各区域的销售额里，经销商分别占多少")
    assert reply.spec.share_within == ["region"], reply.spec
    shares = dict(zip(reply.frame["region"], reply.frame["revenue_share"], strict=True))
    assert shares == {"华东": pytest.approx(1.0)}, shares
    typed = ask(company, "What share of 经销商 revenue came from 华东 in Q2 2026?")
    assert typed.frame["revenue_share"].tolist() == pytest.approx([1.0]) and typed.spec.share_within == ["partner_type"]


def test_a_count_a_partner_has_is_named_back_not_read_as_buying_partners(company):
    for question in (
        "Which 零售商 with more than 10 stores bought under 500k last quarter?",
        "客户有超过5家门店的有哪些",
    ):
        reply = answer_data_question(company, question)
        assert isinstance(reply, Clarification), (question, reply)
    counted = ask(company, "2026年第二季度客户超过1家的省份")
    assert counted.spec.metrics[0] == "active_partners", "a place with more than N customers is still counted"
    assert evidence(company, "哪些经销商的货款逾期超过90天了") == "ask", "a listing of the dealers the data half names"


def test_a_month_named_without_its_year_takes_the_year_the_question_names(ctx):
    spec = spec_of(ctx, "2025年5月销售额环比4月下降了多少")
    assert (spec.window.start, spec.comparison) == (date(2025, 5, 1), "previous"), spec
    ranged = spec_of(ctx, "revenue from April to June 2025")
    assert (ranged.window.start, ranged.window.end) == (date(2025, 4, 1), date(2025, 6, 30)), ranged.window
    assert spec_of(ctx, "3月的销售额").window.start.year == 2026, "no year anywhere: the latest one"


def test_bought_in_the_later_period_but_not_the_earlier_is_asked_back(ctx):
    """9月下了单、8月没下单 mixes new and returning customers: never answered as customers idle in both months."""
    assert isinstance(parse("2026年5月下了单、4月却没下单的客户有多少个", ctx), Clarification)
    lost = spec_of(ctx, "2026年4月下了单、5月却没下单的客户有多少个")
    assert lost.metrics == ["lost_partners"] and lost.dimensions == [], "how many lost: a number"
    per_region = parse("Which regions bought in Q1 2026 but not in Q2 2026?", ctx)
    assert isinstance(per_region, Clarification), "lost is counted per customer, never as regions with a lost one"


def test_rising_every_month_from_one_month_to_another_starts_from_the_first(tmp_path):
    """From April to June: the rises are in May and June; a month with no sales is 0, and a rise from 0 counts."""
    store = make_store(
        tmp_path,
        partners=[partner("C1")],
        products=[product("A", name="甲"), product("B", name="乙"), product("C", name="丙")],
        sales=[
            *(sale("C1", "A", f"2025-{m:02d}-03", 1, p) for m, p in ((3, 90), (4, 10), (5, 20), (6, 30))),
            *(sale("C1", "B", f"2025-{m:02d}-03", 1, p) for m, p in ((5, 20), (6, 30))),
            *(sale("C1", "C", f"2025-{m:02d}-03", 1, p) for m, p in ((4, 10), (5, 30), (6, 20))),
        ],
    )
    reply = ask(store, "products whose revenue rose every month from April to June 2025")
    assert sorted(reply.frame["product_name"]) == ["乙", "甲"], reply.frame
    assert "+∞" in reply.table.to_string(), "乙 rose from nothing in April"


def test_conditions_on_each_customers_purchases_and_on_years_in_a_row_are_named_back(ctx):
    """Never answered as lines filtered: 买过A、没买过B is a combination per customer; 年年下滑 a streak over years."""
    for question in (
        "2026年买过饮料、却没买过休闲食品的客户有几个",
        "Which customers bought 饮料 in 2026 but no 休闲食品?",
        "2025年以来销售额年年下滑的品类",
        "categories in the red two years running",
    ):
        reply = parse(question, ctx)
        assert isinstance(reply, Clarification), (question, reply)
    assert spec_of(ctx, "2026年买过饮料的客户有几个").metrics == ["active_partners"]


def test_since_a_year_runs_to_the_latest_data_and_against_target_is_achievement(ctx):
    window = spec_of(ctx, "2025年以来的销售额").window
    assert (window.start, window.end >= date(2026, 6, 30)) == (date(2025, 1, 1), True), window
    assert spec_of(ctx, "How did 南京恒通 do against target in Q2 2026?").metrics == ["achievement"]
    assert spec_of(ctx, "2026年第二季度华东目标完成情况").metrics == ["achievement"]


def test_how_much_more_one_group_sold_than_another_is_their_difference(company, tmp_path):
    """Q2 2026: 华东 32,000 (P1 14,000 + P2 18,000), 华南 10,000 (P3 3,000 + P4 7,000)."""
    from advisor.pipeline import Context, answer
    from advisor.settings import Settings

    reply = answer_data_question(company, "2026年第二季度华东比华南多卖了多少钱")
    assert reply.difference == 22_000.0 and reply.summary.startswith("华东比华南销售额多 22,000.00"), reply.summary
    english = answer_data_question(company, "how much more revenue did 华南 make than 华东 in Q2 2026?")
    assert english.difference == -22_000.0 and "less revenue than 华东" in english.summary, english.summary
    assert answer_data_question(company, "2026年第二季度华东和华南的销售额").difference is None
    piped = answer("2026年第二季度华东比华南多卖了多少钱", Context(company, None, Settings(data_dir=tmp_path / "d")))
    values = next(t.frame for t in piped.tables if t.name == "数值")
    assert values.shape == (1, 1) and values.iloc[0, 0] == 22_000.0, values


def test_an_english_metric_word_one_letter_off_is_read_and_said(company):
    reply = ask(company, "On average, how many oders did each partner place in Q2 2026?")
    assert reply.spec.metrics == ["order_count"] and reply.spec.per == "partner", reply.spec
    assert any("oders" in n for n in reply.notes), reply.notes


def test_a_bound_counted_in_goods_is_on_the_quantity_and_new_words_are_read(company, ctx):
    """more than 7,000 units is never 7,000 yuan; 走量 is the quantity; topped 1M is more than 1M; outside is
    an exclusion."""
    units = spec_of(ctx, "Which 华东 partners took more than 100 units of 饮料 in Q2 2026?")
    assert [(f.field, f.op, f.value) for f in units.filters if f.is_threshold] == [("quantity", "gt", 100.0)]
    assert [(f.field, f.value) for f in spec_of(ctx, "2026年第二季度销量超过50箱的客户").filters if f.is_threshold] == [
        ("quantity", 50.0)
    ]
    assert spec_of(ctx, "2026年第二季度华东走量最大的单品").metrics == ["quantity"]
    topped = spec_of(ctx, "华东 partners whose Q2 2026 sales topped 10000")
    assert [(f.field, f.op) for f in topped.filters if f.is_threshold] == [("revenue", "gt")]
    outside = spec_of(ctx, "Q2 2026 revenue from outside 华东")
    assert [(f.field, f.op, f.value) for f in outside.filters] == [("region", "ne", "华东")]


def test_the_rest_after_an_exclusion_is_grouped_and_who_means_the_place_named(ctx):
    rest = spec_of(ctx, "除了华东，其他大区2026年第二季度谁的销售额最高")
    assert rest.dimensions == ["region"] and [(f.field, f.op) for f in rest.filters] == [("region", "ne")], rest
    ranked = spec_of(ctx, "Excluding 零售商, rank channel types by Q2 2026 revenue")
    assert ranked.dimensions == ["partner_type"] and ranked.filters[0].op == "ne", ranked
    assert spec_of(ctx, "除了华东，其他大区2026年第二季度的销售额").dimensions == ["region"]
    assert spec_of(ctx, "2026年第二季度谁的销售额最高").dimensions == ["partner"]
    best = spec_of(ctx, "Best month of 2026 for revenue")
    assert best.dimensions == ["month"] and best.limit == 1, best
    assert spec_of(ctx, "2026年第二季度整体出货金额多少").metrics == ["revenue"]


def test_a_ranking_or_figure_of_something_the_data_lacks_stays_with_the_data_and_names_it(company):
    for question, missing in (
        ("Which sales rep had the best gross margin in Q2 2026?", "sales rep"),
        ("What was the conversion rate of website visits in Q2 2026?", "conversion rate"),
    ):
        reply = answer_data_question(company, question)
        assert isinstance(reply, Clarification) and missing in reply.question, reply
        assert evidence(company, question) == "ask", question


def test_the_rest_summed_together_is_one_total(company):
    reply = ask(company, "除了华南，2026年第二季度其他大区一共卖了多少")
    assert reply.spec.dimensions == [] and reply.frame["revenue"].tolist() == [32_000.0], reply.frame


def test_dev9_wordings_are_read_as_asked(company, ctx):
    """Q2 2026: 华东 饮料 28,000 and 休闲食品 4,000; 华南 饮料 3,000 and 休闲食品 7,000. All data 华东: 56,000."""
    best = ask(company, "2026年第二季度每个大区卖得最好的品类是哪个，销售额多少")
    assert best.spec.rank_within == ["region"], best.spec
    assert dict(zip(best.frame["region"], best.frame["category"], strict=True)) == {"华东": "饮料", "华南": "休闲食品"}
    share = ask(company, "2026年第二季度华东客户的销售额里饮料占几成")
    assert share.spec.share_within == ["region"], share.spec
    assert share.frame["revenue_share"].tolist() == pytest.approx([28_000 / 32_000]), share.frame
    assert spec_of(ctx, "2026年第二季度华东进了多少货").metrics == ["revenue"], "进货 is what they bought, in money"
    assert spec_of(ctx, "2026年第二季度华东出了多少货").metrics == ["quantity"], "出货 is units shipped"
    total = ask(company, "华东历年累计的销售额")
    assert total.spec.dimensions == [] and total.frame["revenue"].tolist() == [56_000.0], total.frame
    for question in ("华南的零售商和代理商加起来有多少家", "2026年四个季度按销售额排一下"):
        assert evidence(company, question) == "answer", question
    assert spec_of(ctx, "2026年四个季度按销售额排一下").dimensions == ["quarter"]
    assert spec_of(ctx, "最近四个季度的销售额").dimensions == [], "a rolling window, not the year's quarters"
    lost = spec_of(ctx, "2026年第二季度流失了多少个客户（第一季度下过单的）")
    assert "lost_partners" in lost.metrics and lost.dimensions == [], lost
    assert (lost.window.start.isoformat(), lost.window.end.isoformat()) == ("2026-04-01", "2026-06-30")


def test_a_partial_name_read_counts_as_read_and_an_unordered_ranking_runs_high_to_low(company, ctx):
    """恒通食品 is 杭州恒通食品有限公司 and 鑫源超市 is 广州鑫源超市: read as names, the question stays the data's
    (it went to the guides as words the data did not know). 排一下 with no direction ranks from the highest."""
    assert evidence(company, "恒通食品和鑫源超市2026年第二季度各进了多少货") == "answer"
    ranked = spec_of(ctx, "2026年上半年各月按销售额排一下")
    assert ranked.sort is not None and ranked.sort.direction == "desc", ranked
    assert spec_of(ctx, "2026年上半年各月按销售额从低到高排一下").sort.direction == "asc", "a direction said wins"


def test_round2_dev_wordings_over_a_till_export_are_read_as_asked(tmp_path):
    """A pharmacy till export (no order number; the customer is a 社保卡号): one customer's lines of one day are
    one purchase (客单价), 顾客 and the card column name the customer, 消费金额 is what they spent (not 费用),
    来了多少顾客 counts who came in the month, 1月买过、2月没再来 is the customers lost, and $ before a figure
    is the amount."""

    rows = [  # card, date, product, amount
        ("C1", "2018-01-03", "A", 10.0),
        ("C1", "2018-01-03", "B", 30.0),  # the same purchase as the line above
        ("C1", "2018-02-05", "A", 20.0),
        ("C2", "2018-01-09", "A", 50.0),
        ("C3", "2018-02-11", "B", 70.0),
    ]
    lines = ["购药时间,社保卡号,商品编码,商品名称,销售数量,应收金额,实收金额"]
    lines += [f"{d},{c},{p},药品{p},1,{v},{v}" for c, d, p, v in rows]
    store = import_lines(tmp_path / "till", lines, "till.csv")
    value = partial(one_value, store)

    assert value("2018年客单价多少") == pytest.approx(180 / 4)  # 4 purchases: C1 twice, C2, C3
    assert value("2018年1月订单数") == 2
    assert value("一共有多少个顾客") == 3
    assert value("2018年2月来了多少顾客") == 2
    assert value("2018年1月买过、2月没再来的顾客有多少") == 1  # C2
    top = answer_data_question(store, "消费金额最高的2个社保卡号")
    assert top.spec.metrics == ["revenue"] and top.spec.dimensions == ["partner"], top.spec
    assert top.frame["revenue"].tolist() == [70.0, 60.0]
    spent = answer_data_question(store, "customers with more than $55 in sales in 2018")
    assert isinstance(spent, DataAnswer) and spent.spec.filters[0].value == 55, spent


def test_a_bare_average_of_a_rate_is_the_rate_itself(company, ctx):
    """平均完成率 with nothing to average over: a rate is already an average over its window (it was refused as
    a word the data has nothing for); 平均销售额 is still asked back (per customer or per month)."""
    assert spec_of(ctx, "2026年第二季度平均完成率").metrics == ["achievement"]
    assert isinstance(parse("今年平均销售额", ctx), Clarification)


def test_dev11_wordings_over_an_order_export_are_read_as_asked(tmp_path):
    """Round-2 dev11 over an order export with states, categories and customers: 14年 alone is 2014 (18年经验 is
    not), 增长了百分之几 is the change in %, 多少个不同客户下过单 counts the buyers, 加州 is California, 所有年份里
    is all the data (not a breakdown by year), and 年龄段 / 男顾客 / 医生 are named back, never answered without."""

    rows = [  # order, date, customer, state, category, sales
        ("O1", "2014-03-02", "Ann", "California", "Furniture", 100.0),
        ("O2", "2014-07-09", "Bob", "Texas", "Technology", 300.0),
        ("O3", "2015-02-11", "Ann", "California", "Technology", 50.0),
        ("O4", "2015-05-20", "Cid", "California", "Furniture", 250.0),
        ("O5", "2015-09-01", "Bob", "Texas", "Furniture", 200.0),
    ]
    lines = ["Order ID,Order Date,Customer Name,State,Category,Product ID,Quantity,Sales"]
    lines += [f"{o},{d},{c},{s},{g},{g[:3]}-1,1,{v}" for o, d, c, s, g, v in rows]
    store = import_lines(tmp_path / "orders", lines, "orders.csv")
    value = partial(one_value, store)

    assert value("14年一共卖了多少") == 400
    assert value("15年加州Furniture卖了多少钱啊") == 250
    assert value("15年有多少个不同客户下过单") == 3
    growth = answer_data_question(store, "15年销售额比14年增长了百分之几")
    assert isinstance(growth, DataAnswer) and growth.spec.comparison == "yoy", growth
    assert growth.spec.window.start.year == 2015
    pair = answer_data_question(store, "2015年 Ann 跟 Cid 谁买的多？")
    assert pair.spec.metrics == ["revenue"] and pair.frame["revenue"].tolist() == [250.0, 50.0], pair.spec
    which = answer_data_question(store, "2015: Furniture vs Technology, which brought in more?")
    assert which.spec.metrics == ["revenue"] and which.spec.dimensions == ["category"], which.spec
    more = answer_data_question(store, "how much more did we sell in May 2015 than in May 2014?")
    assert isinstance(more, DataAnswer) and more.spec.comparison == "yoy" and more.difference == 250.0, more
    gap = answer_data_question(store, "Q1 2015 vs Q1 2014 sales, how much higher or lower in dollars?")
    assert isinstance(gap, DataAnswer) and gap.difference == -50.0, gap
    states = answer_data_question(store, "15年销售额超过200的州有哪几个")
    assert states.spec.dimensions == ["province"] and states.frame["province"].tolist() == ["California"], states
    small = answer_data_question(store, "which customers bought under 220 from us in 2015?")
    assert small.spec.metrics == ["revenue"] and small.spec.dimensions == ["partner"], small.spec
    assert sorted(small.frame["revenue"].tolist()) == [50.0, 200.0], small.frame
    top = answer_data_question(store, "所有年份里消费最多的前两个客户")
    assert top.spec.dimensions == ["partner"] and top.frame["revenue"].tolist() == [500.0, 250.0], top.spec
    future = answer_data_question(store, "下季度加州销售额多少")  # was all the data, per quarter
    assert not isinstance(future, DataAnswer) and future.reason == "no_data" and "季度没有数据" in future.question
    for question, missing in [
        ("不同年龄段的客户分别消费多少", "年龄段"),
        ("男顾客和女顾客各花了多少钱", "男顾客"),
        ("哪个医生开的处方最多", "医生"),
    ]:
        reply = answer_data_question(store, question)
        assert not isinstance(reply, DataAnswer) and missing in reply.question, (question, reply)


def test_a_two_digit_year_is_a_year_only_where_it_cannot_be_a_number_of_years():
    from advisor.data_questions import _normalise

    assert _normalise("04年比03年") == "2004年比2003年"
    for text in ("18年经验的经销商", "12年老客户", "合作了12年的客户", "近10年销售额", "10年以上", "合作12年"):
        assert _normalise(text) == text


def test_dev11_fillers_units_and_period_differences_over_a_till_export(tmp_path):
    """卖出去 / 单子 / pls / got are how people talk, not names; 平均每单多少钱 and average spend per purchase are
    客单价; 哪些药 groups by product; 4月比3月多了多少钱 is April minus March, said first."""

    rows = [  # card, date, product, quantity, amount
        ("C1", "2018-03-03", "A", 2, 30.0),
        ("C2", "2018-03-09", "B", 1, 20.0),
        ("C1", "2018-04-05", "A", 5, 80.0),
        ("C3", "2018-04-11", "B", 1, 10.0),
    ]
    lines = ["购药时间,社保卡号,商品编码,商品名称,销售数量,应收金额,实收金额"]
    lines += [f"{d},{c},{p},药品{p},{n},{v},{v}" for c, d, p, n, v in rows]
    store = import_lines(tmp_path / "till", lines, "till.csv")
    value = partial(one_value, store)

    assert value("18年总共卖出去多少件？") == 9
    assert value("2018年一共有多少个不同的社保卡号来买过药") == 3
    assert value("2018年4月平均每单多少钱") == 45
    assert value("average spend per purchase in April 2018 pls") == 45
    more = answer_data_question(store, "2018年4月比3月实收多了多少钱")
    assert isinstance(more, DataAnswer) and more.difference == pytest.approx(40.0), more
    assert more.summary.startswith("2018年4月比"), more.summary
    drugs = answer_data_question(store, "2018年4月哪些药卖出去超过3盒")
    assert isinstance(drugs, DataAnswer) and drugs.spec.dimensions == ["product"], drugs
    assert drugs.frame["quantity"].tolist() == [5]
