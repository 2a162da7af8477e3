"""The semantic layer: metric and dimension definitions, the typed QuerySpec, and its compiler to parameterised SQL.

docs/semantic-layer.md is the contract. Identifiers in the SQL come only from the definitions below (and from a
tool's Scope, written over schema and kept columns); every value (dates, filter values, thresholds, limits) is bound
as a $named parameter. Metrics from different tables are aggregated in separate CTEs per dimension key and joined on
that key, so no total is multiplied by a join. The channel tools' per-partner figures compile from the same
definitions (compile_per_partner): the one owner of every KPI formula, for the data questions and the tools alike.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, replace
from dataclasses import field as dataclass_field
from datetime import date, timedelta
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator

from company.errors import CanmouError
from company.territory import OUTSIDE, places_sql, verdict_sql
from company.units import percent

Language = Literal["zh", "en"]
Source = Literal["sales", "targets", "costs", "rebates", "inventory", "collections", "partners", "surveys"]
Format = Literal["money", "quantity", "ratio", "days", "times", "count", "price", "number"]
WindowKind = Literal["month", "quarter", "year", "months", "ytd", "custom"]

PARTNER_SOURCES: tuple[Source, ...] = (
    "sales", "targets", "costs", "rebates", "inventory", "collections", "partners", "surveys"
)  # fmt: skip
TIME_DIMENSIONS = ("month", "quarter", "year")
MAX_LIMIT = 1000
REBATE_COST_TYPE = "返利"


class QuerySpecError(CanmouError):
    """A QuerySpec that cannot be built or run; the message says what to change, in Chinese."""


# ---------------------------------------------------------------------------------------------------------------
# Definitions
# ---------------------------------------------------------------------------------------------------------------


def product_key_sql(alias: str) -> str:
    """A product's identity: one name under several codes (开博通 sold as three SKUs) is one product, keyed by its
    first code; every place that groups or lists products uses this (the one owner of product identity)."""
    return (
        f"coalesce((SELECT min(p2.sku) FROM products p1 JOIN products p2 ON p2.name = p1.name "
        f"WHERE p1.sku = {alias}.sku), {alias}.sku)"
    )


PRODUCT_KEY = product_key_sql("x")


@dataclass(frozen=True)
class Dimension:
    key: str
    zh: str
    en: str
    synonyms_zh: tuple[str, ...]
    synonyms_en: tuple[str, ...]
    # SQL expression per source table (alias x = the fact table, p = partners, pr = products); a source missing
    # here cannot be grouped or filtered by this dimension. Time dimensions come from the bucket table instead.
    expressions: dict[str, str]
    columns: tuple[str, ...]  # frame columns, canonical keys

    @property
    def column(self) -> str:
        return self.columns[0]

    @property
    def is_time(self) -> bool:
        return self.key in TIME_DIMENSIONS

    def label(self, language: Language) -> str:
        return self.zh if language == "zh" else self.en


def _partner_attr(column: str, costs: str | None = None) -> dict[str, str]:
    expr = {source: f"p.{column}" for source in PARTNER_SOURCES}
    if costs:
        expr["costs"] = expr["rebates"] = costs
    return expr


class _Scoped(dict):
    """The built-in definitions plus those of the dataset in use (its imported attributes), per request.

    A dataset's attribute columns (STATUS, DEALSIZE, Profit …) become dimensions and measures for the
    duration of catalog_scope(); every lookup of DIMENSIONS / METRICS sees them, nothing else does."""

    def __init__(self, base: dict, extra: ContextVar):
        super().__init__(base)
        self._extra = extra

    def _merged(self) -> dict:
        extra = self._extra.get()
        return {**dict(super().items()), **extra} if extra else dict(super().items())

    def __getitem__(self, key):
        extra = self._extra.get()
        if extra and key in extra:
            return extra[key]
        return super().__getitem__(key)

    def __contains__(self, key) -> bool:
        extra = self._extra.get()
        return super().__contains__(key) or bool(extra and key in extra)

    def get(self, key, default=None):
        return self[key] if key in self else default

    def __iter__(self):
        return iter(self._merged())

    def __len__(self) -> int:
        return len(self._merged())

    def keys(self):
        return self._merged().keys()

    def values(self):
        return self._merged().values()

    def items(self):
        return self._merged().items()


_EXTRA_DIMENSIONS: ContextVar[dict | None] = ContextVar("extra_dimensions", default=None)
_EXTRA_METRICS: ContextVar[dict | None] = ContextVar("extra_metrics", default=None)


@contextmanager
def catalog_scope(dimensions: dict, metrics: dict) -> Iterator[None]:
    """Make a dataset's attribute dimensions and measures part of DIMENSIONS / METRICS inside the block."""
    tokens = (_EXTRA_DIMENSIONS.set(dict(dimensions)), _EXTRA_METRICS.set(dict(metrics)))
    try:
        yield
    finally:
        _EXTRA_DIMENSIONS.reset(tokens[0])
        _EXTRA_METRICS.reset(tokens[1])


_BASE_DIMENSIONS: dict[str, Dimension] = {
    d.key: d
    for d in (
        Dimension(
            "partner",
            "伙伴",
            "partner",
            ("伙伴", "经销商", "客户", "代理商", "渠道伙伴", "合作伙伴", "渠道商", "顾客"),
            ("partner", "distributor", "dealer", "customer"),
            {
                "sales": "x.partner_id",
                "targets": "x.partner_id",
                "costs": "x.partner_id",
                "rebates": "x.partner_id",
                "inventory": "x.partner_id",
                "collections": "x.partner_id",
                "surveys": "x.partner_id",
                "partners": "p.partner_id",
            },
            ("partner_id", "partner_name"),
        ),
        Dimension(
            "partner_type",
            "伙伴类型",
            "partner type",
            ("伙伴类型", "渠道类型", "渠道", "类型"),
            ("channel", "partner type", "channel type"),
            _partner_attr("type", costs="x.channel_type"),
            ("partner_type",),
        ),
        Dimension("tier", "级别", "tier", ("级别", "等级", "分级"), ("tier",), _partner_attr("tier"), ("tier",)),
        Dimension(
            "region",
            "区域",
            "region",
            ("区域", "大区", "地区", "片区"),
            ("region",),
            _partner_attr("region", costs="x.region"),
            ("region",),
        ),
        Dimension(
            "province",
            "省份",
            "province",
            ("省份", "省", "州"),
            ("province", "state"),
            _partner_attr("province"),
            ("province",),
        ),
        Dimension("city", "城市", "city", ("城市", "地市"), ("city",), _partner_attr("city"), ("city",)),
        Dimension(
            "country",
            "国家",
            "country",
            ("国家", "国家/地区", "国别"),
            ("country", "countries", "nation"),
            _partner_attr("country"),
            ("country",),
        ),
        Dimension(
            "product",
            "产品",
            "product",
            ("产品", "SKU", "单品", "商品", "产品编码", "商品编码", "药品", "药"),
            ("product", "sku", "item", "product code"),
            # one name under several codes (开博通 sold as three SKUs) is one product: its first code stands for all
            {"sales": PRODUCT_KEY, "inventory": PRODUCT_KEY},
            ("sku", "product_name"),
        ),
        Dimension(
            "category",
            "品类",
            "category",
            ("品类", "产品类别", "类别", "产品线"),
            ("category", "product line"),
            {"sales": "pr.category", "inventory": "pr.category"},
            ("category",),
        ),
        Dimension("month", "月份", "month", ("月", "每月", "按月", "月度"), ("month", "monthly"), {}, ("month",)),
        Dimension(
            "quarter", "季度", "quarter", ("季度", "每季度", "按季度"), ("quarter", "quarterly"), {}, ("quarter",)
        ),
        Dimension("year", "年份", "year", ("年", "每年", "按年"), ("year", "yearly"), {}, ("year",)),
    )
}


@dataclass(frozen=True)
class Metric:
    key: str
    zh: str
    en: str
    fmt: Format
    unit_zh: str
    unit_en: str
    synonyms_zh: tuple[str, ...]
    synonyms_en: tuple[str, ...]
    sources: tuple[Source, ...]
    # Final expression over the joined per-key CTEs ({sales}, {targets}, ... are CTE names, {buckets} the window's
    # bucket table); every CTE has at most one row per key, so sum() is that row's value.
    expression: str
    definition: str
    column: str | None = None  # an imported measure column of sales (attribute), summed in the sales CTE
    of_column: str | None = None  # the imported measure column a ratio divides by revenue (Profit → profit margin)
    negative: bool = False  # negative by definition (returns): its largest is its most negative, ranked by size

    @property
    def is_ratio(self) -> bool:
        return self.fmt == "ratio"

    @property
    def additive(self) -> bool:
        """Whether values of groups add up to the value of their union (a total is meaningful)."""
        return self.column is not None or self.key in {
            "revenue",
            "quantity",
            "gross_profit",
            "cost",
            "rebate",
            "target",
            "partner_count",
            "amount_due",
            "amount_collected",
            "out_of_territory_qty",
            "below_floor_revenue",
            "return_amount",
            "gross_revenue",
        }

    def adds_up_over(self, dim: Dimension) -> bool:
        """Whether the values of dim's members add up to the total, so that total ÷ members is the mean per member:
        additive metrics and order lines over any dimension; orders over time and partners (an order is one
        partner's, on one day) but not over products (one order holds several)."""
        if self.additive or self.key in ("order_lines", "return_lines"):
            return True
        return self.key == "order_count" and (dim.is_time or "partners" in dim.expressions)

    def label(self, language: Language) -> str:
        return self.zh if language == "zh" else self.en

    def unit(self, language: Language) -> str:
        return self.unit_zh if language == "zh" else self.unit_en


_BASE_METRICS: dict[str, Metric] = {
    m.key: m
    for m in (
        Metric(
            "revenue",
            "销售额",
            "revenue",
            "money",
            "元",
            "CNY",
            # 进货: what a partner buys from us is our sale to them (进货破百万); 进货量 is the quantity
            (
                "销售额",
                "营收",
                "收入",
                "销售收入",
                "业绩",
                "销售金额",
                "消费金额",  # what a customer spends (a till or pharmacy export), never our 费用 (expenses)
                "消费额",
                "消费总额",
                "订单金额",  # 状态为On Hold的订单金额: the orders' amount, not how many
                "订单总额",
                "订单额",
                "销售",
                "销额",
                "业级",
                "进货额",
                "进货金额",
                "进货",
                "进了多少货",  # what a partner bought from us, in money (出了多少货 is units shipped)
                "进多少货",
                "出货金额",
                "出货额",
                "发货金额",
            ),
            (
                "revenue",
                "sales",
                "turnover in cny",
                "rev",
                "spent",
                "total value",
                "sales value",
                "value of",
                "take in",
                "took in",
                "taken in",
                "takings",  # what a shop takes in: its till's revenue
            ),
            ("sales",),
            "coalesce(sum({sales}.revenue), 0)",
            "Σ sales.revenue",
        ),
        Metric(
            "quantity",
            "销量",
            "units",
            "quantity",
            "件",
            "units",
            ("销量", "销售量", "出货量", "件数", "销售数量", "出货", "发货量", "多少货", "进货量", "进货数量", "走量"),
            ("units", "volume", "quantity", "units sold", "qty"),
            ("sales",),
            "coalesce(sum({sales}.quantity), 0)",
            "Σ sales.quantity",
        ),
        Metric(
            "target",
            "目标",
            "target",
            "money",
            "元",
            "CNY",
            ("目标", "任务", "指标额", "目标额", "任务额", "销售目标"),
            ("target", "quota", "sales target"),
            ("targets",),
            "sum({targets}.target)",
            "Σ targets.target_revenue，窗口覆盖的季度按天数折算",
        ),
        Metric(
            "achievement",
            "完成率",
            "achievement",
            "ratio",
            "%",
            "%",
            (
                "完成率",
                "达成率",
                "目标完成率",
                "任务完成率",
                "目标达成率",
                "完成度",
                "目标完成情况",
                "完成情况",
                "目标完成了多少",
                "目标完成了几成",
                "目标完成得怎么样",
                "目标完成多少",
                "完成得",  # 谁完成得好 / 完成得最差的
            ),
            (
                "achievement",
                "attainment",
                "target achievement",
                "quota attainment",
                "against target",
                "against their target",
                "vs target",
                "vs. target",
                "versus target",
                "relative to target",
            ),
            ("targets",),
            "sum({targets}.achieved_revenue) / nullif(sum({targets}.target), 0)",
            "有目标伙伴的销售额 ÷ 目标",
        ),
        Metric(
            "gross_profit",
            "毛利",
            "gross profit",
            "money",
            "元",
            "CNY",
            ("毛利", "毛利润", "毛利额"),
            ("gross profit", "gp"),
            ("sales",),
            "coalesce(sum({sales}.gross_profit), 0)",
            "Σ (销售额 − 数量 × 单位成本)",
        ),
        Metric(
            "gross_margin",
            "毛利率",
            "gross margin",
            "ratio",
            "%",
            "%",
            ("毛利率",),
            ("gross margin", "margin", "gm%", "gm"),
            ("sales",),
            "sum({sales}.gross_profit) / nullif(sum({sales}.revenue), 0)",
            "毛利 ÷ 销售额",
        ),
        Metric(
            "cost",
            "费用",
            "cost",
            "money",
            "元",
            "CNY",
            ("费用", "渠道费用", "成本费用", "费用额", "费用金额"),
            ("cost", "costs", "expense", "expenses", "channel cost", "spend"),
            ("costs",),
            "coalesce(sum({costs}.cost), 0)",
            "Σ costs.amount",
        ),
        Metric(
            "expense_ratio",
            "费用率",
            "expense ratio",
            "ratio",
            "%",
            "%",
            ("费用率", "渠道费用率", "费用占比"),
            ("expense ratio", "cost ratio", "cost to sales", "cost-to-sales"),
            ("costs", "sales"),
            "coalesce(sum({costs}.cost), 0) / nullif(sum({sales}.revenue), 0)",
            "费用 ÷ 同组销售额",
        ),
        Metric(
            "rebate",
            "返利",
            "rebate",
            "money",
            "元",
            "CNY",
            ("返利", "返点", "返利金额"),
            ("rebate", "rebates"),
            ("rebates",),
            "coalesce(sum({rebates}.rebate), 0)",
            "Σ costs.amount（费用类型 = 返利）",
        ),
        Metric(
            "inventory",
            "库存",
            "inventory",
            "quantity",
            "件",
            "units",
            ("库存", "库存量", "在库", "库存数量", "渠道库存"),
            ("inventory", "stock", "on hand", "stock on hand"),
            ("inventory",),
            "sum({inventory}.inventory)",
            "窗口内最后一个快照日的 Σ on_hand",
        ),
        Metric(
            "inventory_days",
            "库存天数",
            "days of inventory",
            "days",
            "天",
            "days",
            ("库存天数", "库存周期", "周转天数", "库存可售天数", "库存周转天数"),
            ("days of inventory", "inventory days", "days on hand", "doi", "days of stock"),
            ("inventory", "sales"),
            "sum({inventory}.avg_on_hand) / nullif(sum({sales}.quantity) / any_value({buckets}._days), 0)",
            "平均库存 ÷ (销量 ÷ 天数)",
        ),
        Metric(
            "turnover",
            "库存周转",
            "inventory turnover",
            "times",
            "次/年",
            "turns/yr",
            ("库存周转", "周转率", "周转次数", "周转"),
            ("inventory turnover", "stock turnover", "turnover", "inventory turns", "turns"),
            ("inventory", "sales"),
            "(sum({sales}.cogs) * 365.0 / any_value({buckets}._days)) / nullif(sum({inventory}.avg_on_hand_cost), 0)",
            "(销售成本 × 365 ÷ 天数) ÷ 平均库存成本",
        ),
        Metric(
            "collection_rate",
            "回款率",
            "collection rate",
            "ratio",
            "%",
            "%",
            ("回款率", "收款率", "回款"),
            ("collection rate", "collections rate", "collection"),
            ("collections",),
            "sum({collections}.collected) / nullif(sum({collections}.due), 0)",
            "Σ 实收 ÷ Σ 应收",
        ),
        Metric(
            "partner_count",
            "伙伴数",
            "number of partners",
            "count",
            "家",
            "partners",
            (
                "伙伴数",
                "经销商数",
                "客户数",
                "代理商数",
                "伙伴数量",
                "经销商数量",
                "客户数量",
                "多少家",
                "几家",
                "家数",
            ),
            ("number of partners", "partner count", "number of distributors"),
            ("partners",),
            "coalesce(sum({partners}.partner_count), 0)",
            "符合条件的伙伴数（主数据，不随时间）",
        ),
        Metric(
            "active_partners",
            "活跃伙伴数",
            "active partners",
            "count",
            "家",
            "partners",
            ("活跃伙伴数", "有销售的伙伴", "活跃伙伴", "活跃客户数", "活跃经销商数", "动销伙伴数", "活跃客户"),
            ("active partners", "active partner count", "active distributors", "active customers"),
            ("sales",),
            "coalesce(sum({sales}.active_partners), 0)",
            "窗口内有销售的伙伴数",
        ),
        Metric(
            "active_products",
            "有销售的产品数",
            "products sold",
            "count",
            "种",
            "products",
            ("有销售的产品数", "动销产品数", "动销品种数", "卖出的产品数", "在售品种数", "动销SKU数", "品种数"),
            ("products sold", "number of products sold", "active products", "distinct products sold"),
            ("sales",),
            "coalesce(sum({sales}.active_products), 0)",
            "窗口内有销售的产品数（同名的多个编码算一种）",
        ),
        Metric(
            "order_count",
            "订单数",
            "orders",
            "count",
            "单",
            "orders",
            ("订单数", "订单量", "订单数量", "单量", "订单总数", "订单笔数", "订单", "下单次数", "下单"),
            # a till export's purchase (one customer's lines of one day) is its order
            ("number of orders", "order count", "orders", "purchases", "number of purchases", "transactions"),
            ("sales",),
            "coalesce(sum({sales}.order_count), 0)",
            "窗口内不同订单号的个数（没有订单号的行：同一客户同一天算一单）",
        ),
        Metric(
            "order_lines",
            "订单行数",
            "order lines",
            "count",
            "行",
            "lines",
            ("订单行数", "订单行", "明细行数", "销售明细行数", "订单明细数"),
            ("order lines", "line items", "number of order lines", "order line count"),
            ("sales",),
            "coalesce(sum({sales}.order_lines), 0)",
            "窗口内销售明细的行数",
        ),
        Metric(
            "return_amount",
            "退货金额",
            "returns",
            "money",
            "元",
            "CNY",
            ("退货金额", "退货额", "退款金额", "退款额", "退货", "退款", "退过货", "退了货", "退过款"),
            ("refund amounts", "refund amount", "return amount", "returns amount", "refunds", "returns", "refund"),
            ("sales",),
            "coalesce(sum({sales}.return_amount), 0)",
            "窗口内金额为负的销售明细（退货、退款）之和，为负数",
            negative=True,
        ),
        Metric(
            "gross_revenue",
            "退货前销售额",
            "sales before returns",
            "money",
            "元",
            "CNY",
            ("退货前销售额", "不算退货的销售额", "不含退货的销售额", "不算退货", "不含退货", "不计退货", "扣除退货前"),
            ("sales before returns", "revenue before returns", "gross sales", "excluding returns", "before returns"),
            ("sales",),
            "coalesce(sum({sales}.gross_revenue), 0)",
            "窗口内金额不为负的销售明细之和（不扣退货、退款）；没有退货时等于销售额",
        ),
        Metric(
            "return_lines",
            "退货笔数",
            "return lines",
            "count",
            "笔",
            "lines",
            ("退货笔数", "退货次数", "退款笔数", "退款次数", "退货单数"),
            ("return lines", "number of returns", "refund count", "number of refunds"),
            ("sales",),
            "coalesce(sum({sales}.return_lines), 0)",
            "窗口内金额为负的销售明细行数",
        ),
        Metric(
            "aov",
            "客单价",
            "average order value",
            "price",
            "元/单",
            "CNY/order",
            (
                "客单价",
                "平均订单金额",
                "订单均价",
                "平均每单金额",
                "单均金额",
                "每单平均",
                "平均客单价",
                "平均每单多少钱",
                "平均每单",
                "每单多少钱",
                "平均每笔",
            ),
            (
                "average order value",
                "avg order value",
                "aov",
                "average order size",
                "average order",
                "average spend per purchase",
                "average spend per order",
                "average per order",
                "spend per purchase",
                "spend per visit",  # a till export: one visit is one customer's lines of one day
                "average spend per visit",
                "avg spend per visit",
                "average spend",
                "avg spend",
            ),
            ("sales",),
            "sum({sales}.revenue) / nullif(sum({sales}.order_count), 0)",
            "销售额 ÷ 订单数",
        ),
        Metric(
            "new_partners",
            "新增客户数",
            "new customers",
            "count",
            "家",
            "customers",
            (
                "新增客户数",
                "新增客户",
                "新客户数",
                "新客户",
                "新开客户",
                "新增伙伴",
                "新增经销商",
                "新客",
                "第一次下单的客户",
                "首次下单的客户",
                "第一次购买的客户",
                "首次购买的客户",
                "首单客户",
            ),
            (
                "new customers",
                "new partners",
                "new accounts",
                "customers acquired",
                "new clients",
                "first-time customers",
                "first time customers",
                "first-time buyers",
            ),
            ("sales",),
            "coalesce(sum({sales}.new_partners), 0)",
            "窗口内有销售、且在窗口开始之前从未有过销售的伙伴数",
        ),
        Metric(
            "lost_partners",
            "流失客户数",
            "lost customers",
            "count",
            "家",
            "customers",
            ("流失客户数", "流失客户", "流失的客户", "流失伙伴", "流失经销商", "丢失的客户", "流失了"),
            ("lost customers", "lost partners", "churned customers", "customers lost", "churn"),
            ("sales",),
            "coalesce(sum({lost}.lost_partners), 0)",
            "上一个等长期间有销售、本窗口没有任何销售的伙伴数",
        ),
        Metric(
            "satisfaction",
            "满意度",
            "satisfaction",
            "number",
            "分",
            "points",
            ("满意度", "满意度得分", "满意度评分", "客户满意度", "伙伴满意度"),
            ("satisfaction", "satisfaction score", "csat"),
            ("surveys",),
            "sum({surveys}.satisfaction_sum) / nullif(sum({surveys}.satisfaction_n), 0)",
            "窗口内各季度满意度调查得分的平均值（1-5 分）",
        ),
        Metric(
            "training_hours",
            "培训时长",
            "training hours",
            "number",
            "小时",
            "hours",
            ("培训时长", "培训小时", "培训小时数", "培训时间"),
            ("training hours", "hours of training", "training"),
            ("surveys",),
            # Training is recorded on the survey rows: no row is no record, not 0 hours (never a silent default).
            "sum({surveys}.training_hours)",
            "窗口内各季度培训小时数之和（没有记录时为空，不按 0 计）",
        ),
        Metric(
            "credit_limit",
            "信用额度",
            "credit limit",
            "money",
            "元",
            "CNY",
            ("信用额度", "授信额度", "授信", "赊销额度"),
            ("credit limit", "credit line", "credit"),
            ("partners",),
            "sum({partners}.credit_limit)",
            "伙伴主数据中的信用额度（不随时间）",
        ),
        Metric(
            "avg_price",
            "平均单价",
            "average price",
            "price",
            "元/件",
            "CNY/unit",
            ("平均单价", "单价", "均价", "平均价格", "成交均价"),
            ("average price", "avg price", "asp", "unit price", "average selling price"),
            ("sales",),
            "sum({sales}.revenue) / nullif(sum({sales}.quantity), 0)",
            "销售额 ÷ 销量",
        ),
    )
}

DIMENSIONS: dict[str, Dimension] = _Scoped(_BASE_DIMENSIONS, _EXTRA_DIMENSIONS)
METRICS: dict[str, Metric] = _Scoped(_BASE_METRICS, _EXTRA_METRICS)

# Rules for one sales line that the tools share: its price, and whether it sold below the floor (乱价). The price
# compliance below and the conflict scan's below-floor findings both use them.
FLOOR_TOLERANCE = 1e-6  # a price recomputed as revenue / quantity may miss the floor by float noise


def line_price_sql(line: str) -> str:
    """SQL for the unit price of a sales line (alias `line`): its unit_price, else revenue ÷ quantity."""
    return f"coalesce({line}.unit_price, {line}.revenue / nullif({line}.quantity, 0))"


def floor_checked_sql(floor: str) -> str:
    """SQL: the line's product has a floor price (NULL or 0 is no floor), so its price can be checked."""
    return f"({floor} > 0)"


def below_floor_sql(price: str, floor: str) -> str:
    """SQL: the line sold below its product's floor price."""
    return f"({floor_checked_sql(floor)} AND {price} < {floor} - {FLOOR_TOLERANCE})"


# Per-partner figures the channel tools read (tools.metrics.partner_metrics), defined here so that each has one
# owner. They compile like METRICS (compile_per_partner) but the data-question catalog does not offer them yet:
# offering one means moving it into _BASE_METRICS, with its phrases in tests/test_data_questions.py
# (METRIC_PHRASES) and the data it needs in advisor.data_questions.METRIC_INPUTS.
TOOL_METRICS: dict[str, Metric] = {
    m.key: m
    for m in (
        Metric(
            "amount_due", "应收金额", "amount due", "money", "元", "CNY", ("应收金额", "应收款"), ("amount due",),
            ("collections",), "sum({collections}.due)", "Σ collections.amount_due（月份在窗口内；没有记录时为空）",
        ),
        Metric(
            "amount_collected", "实收金额", "amount collected", "money", "元", "CNY", ("实收金额", "回款金额"),
            ("amount collected", "cash collected"), ("collections",), "sum({collections}.collected)",
            "Σ collections.amount_collected（月份在窗口内；没有记录时为空）",
        ),
        Metric(
            "avg_inventory", "平均库存", "average inventory", "quantity", "件", "units", ("平均库存", "平均库存量"),
            ("average inventory", "average stock"), ("inventory",), "sum({inventory}.avg_on_hand)",
            "窗口内各快照日 Σ on_hand 的平均值（库存天数的分子）",
        ),
        Metric(
            "out_of_territory_qty", "跨区销量", "units sold outside territory", "quantity", "件", "units",
            ("跨区销量", "窜货销量"), ("units sold outside territory", "cross-region units"), ("sales",),
            "coalesce(sum({sales}.out_of_territory_qty), 0)",
            "售达地在授权区域之外的销量（company.territory 的规则）",
        ),
        Metric(
            "territory_compliance", "区域合规率", "territory compliance", "ratio", "%", "%",
            ("区域合规率", "区域合规"), ("territory compliance",), ("sales",),
            "1 - coalesce(sum({sales}.out_of_territory_qty), 0) / nullif(sum({sales}.territory_checked_qty), 0)",
            "1 − 跨区销量 ÷ 能核查售达地的销量（没有能核查的销售时为空，从不按 100% 计）",
        ),
        Metric(
            "below_floor_revenue", "低于限价销售额", "revenue below floor price", "money", "元", "CNY",
            ("低于限价销售额", "乱价销售额"), ("revenue below floor", "below-floor revenue"), ("sales",),
            "coalesce(sum({sales}.below_floor_revenue), 0)",
            "成交价低于产品最低限价的销售额（line_price_sql、below_floor_sql 的规则）",
        ),
        Metric(
            "price_compliance", "价格合规率", "price compliance", "ratio", "%", "%", ("价格合规率", "价格合规"),
            ("price compliance",), ("sales",),
            "1 - coalesce(sum({sales}.below_floor_revenue), 0) / nullif(sum({sales}.floor_checked_revenue), 0)",
            "1 − 低于限价销售额 ÷ 有最低限价的产品的销售额（没有限价时为空，从不按 100% 计）",
        ),
    )
}  # fmt: skip


def definition(key: str) -> Metric:
    """The definition of a metric of the catalog (METRICS) or of the tools (TOOL_METRICS)."""
    return METRICS[key] if key in METRICS else TOOL_METRICS[key]


PROFIT_COLUMN = re.compile(r"profit|利润", re.IGNORECASE)


def attribute_catalog(attributes: list) -> tuple[dict[str, Dimension], dict[str, Metric]]:
    """Dimensions and measures for a dataset's imported attribute columns (company.catalog.AttributeInfo)."""
    dims: dict[str, Dimension] = {}
    metrics: dict[str, Metric] = {}
    for a in attributes:
        names_zh = tuple(dict.fromkeys(n for n in (a.zh, a.header) if n))
        names_en = tuple(dict.fromkeys(n.lower() for n in (a.en, a.header) if n))
        column = f'"{a.column}"'
        if a.kind == "measure" and a.table == "sales":
            metrics[a.column] = Metric(
                a.column, a.zh, a.en, "number", "", "", names_zh, names_en, ("sales",),
                f"coalesce(sum({{sales}}.{column}), 0)", f"Σ sales.{a.header}", column=a.column,
            )  # fmt: skip
            if PROFIT_COLUMN.search(" ".join((*names_zh, *names_en))):  # Superstore's Profit: its margin on sales
                metrics[f"{a.column}_margin"] = Metric(
                    f"{a.column}_margin", f"{a.zh}率" if re.search(r"[\u4e00-\u9fff]", a.zh) else "利润率",
                    f"{a.en} margin", "ratio", "%", "%",
                    tuple(f"{n}率" for n in names_zh), (*(f"{n} margin" for n in names_en), "profit ratio"),
                    ("sales",), f"sum({{sales}}.{column}) / nullif(sum({{sales}}.revenue), 0)",
                    f"Σ sales.{a.header} ÷ 销售额", of_column=a.column,
                )  # fmt: skip
            continue
        if a.kind != "dimension":
            continue
        if a.table == "sales":
            expressions = {"sales": f"x.{column}"}
        elif a.table == "partners":
            expressions = {source: f"p.{column}" for source in PARTNER_SOURCES}
        elif a.table == "products":
            expressions = {"sales": f"pr.{column}", "inventory": f"pr.{column}"}
        else:
            expressions = {a.table: f"x.{column}"} if a.table in PARTNER_SOURCES else {}
        dims[a.column] = Dimension(a.column, a.zh, a.en, names_zh, names_en, expressions, (a.column,))
    return dims, metrics


GEOGRAPHY = ("region", "province", "city", "country")


def row_geography(fields: list[str]) -> dict[str, Dimension]:
    """Where a dataset's partners were made from its sales rows (an order export: Superstore's Region, State and
    City are the order's), a sale's region is the row's own, not the one region given to its customer (the
    region most of the customer's rows name): "West region sales" are the rows marked West. The store's meta
    row_geography (company.importers) lists the fields for which this holds; the base definitions stand otherwise."""
    out = {}
    for key in fields:
        if key in GEOGRAPHY and key in _BASE_DIMENSIONS:
            base = _BASE_DIMENSIONS[key]
            expressions = {**base.expressions, "sales": f"coalesce(x.sold_to_{key}, p.{key})"}
            out[key] = replace(base, expressions=expressions)
    return out


SOURCE_ZH = {
    "sales": "销售",
    "targets": "目标",
    "costs": "费用",
    "rebates": "返利",
    "inventory": "库存",
    "collections": "回款",
    "partners": "伙伴主数据",
    "surveys": "满意度与培训",
}

# ---------------------------------------------------------------------------------------------------------------
# Time windows
# ---------------------------------------------------------------------------------------------------------------


def add_months(day: date, months: int) -> date:
    """The first day of the month `months` after day's month."""
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def month_end(day: date) -> date:
    return add_months(day, 1) - timedelta(days=1)


def quarter_start(day: date) -> date:
    return date(day.year, (day.month - 1) // 3 * 3 + 1, 1)


def shift_date(day: date, months: int) -> date:
    """day moved by whole months; a month's last day stays the last day, other days are clamped."""
    first = add_months(day, months)
    if day == month_end(day):
        return month_end(first)
    return first.replace(day=min(day.day, month_end(first).day))


def _is_month_aligned(start: date, end: date) -> bool:
    return start.day == 1 and end == month_end(end)


_MONTHS_EN = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def range_label(start: date, end: date, language: Language = "zh") -> str:
    """A name for an inclusive date range: 2026年第3季度 / 2026 Q3, 2026年7月 / Jul 2026, 2026年 / 2026, …"""
    zh = language == "zh"
    if _is_month_aligned(start, end):
        months = (end.year - start.year) * 12 + end.month - start.month + 1
        if months == 1:
            return f"{start.year}年{start.month}月" if zh else f"{_MONTHS_EN[start.month - 1]} {start.year}"
        if months == 3 and start.month % 3 == 1:
            q = (start.month - 1) // 3 + 1
            return f"{start.year}年第{q}季度" if zh else f"{start.year} Q{q}"
        if months == 12 and start.month == 1:
            return f"{start.year}年" if zh else str(start.year)
        if start.year == end.year:
            return (
                f"{start.year}年{start.month}-{end.month}月"
                if zh
                else (f"{_MONTHS_EN[start.month - 1]}–{_MONTHS_EN[end.month - 1]} {start.year}")
            )
        return (
            f"{start.year}年{start.month}月-{end.year}年{end.month}月"
            if zh
            else f"{_MONTHS_EN[start.month - 1]} {start.year}–{_MONTHS_EN[end.month - 1]} {end.year}"
        )
    if zh:
        return f"{start.year}年{start.month}月{start.day}日至{end.year}年{end.month}月{end.day}日"
    return f"{start.isoformat()} to {end.isoformat()}"


class TimeWindow(BaseModel):
    """An inclusive date range with the label shown in answers; kind decides the 'previous period'."""

    start: date
    end: date
    label: str = ""
    kind: WindowKind = "custom"

    @model_validator(mode="after")
    def _check(self) -> TimeWindow:
        if self.start > self.end:
            raise ValueError(f"时间窗口的开始日期 {self.start} 晚于结束日期 {self.end}")
        if (self.end - self.start).days > 366 * 20:
            raise ValueError("时间窗口不能超过 20 年")
        if not self.label:
            self.label = range_label(self.start, self.end)
        return self

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def span(self, language: Language = "zh") -> str:
        """`标签（YYYY-MM-DD ~ YYYY-MM-DD）`, as every answer shows its window."""
        if language == "zh":
            return f"{self.label}（{self.start.isoformat()} ~ {self.end.isoformat()}）"
        return f"{self.label} ({self.start.isoformat()} ~ {self.end.isoformat()})"

    def compared(self, comparison: str, language: Language = "zh") -> TimeWindow:
        """The comparison window: yoy = shifted back 12 months; previous = the same length immediately before
        (for a year-to-date window the previous year's same span)."""
        if comparison == "yoy" or (comparison == "previous" and self.kind == "ytd"):
            start, end = shift_date(self.start, -12), shift_date(self.end, -12)
        elif _is_month_aligned(self.start, self.end):
            months = (self.end.year - self.start.year) * 12 + self.end.month - self.start.month + 1
            start, end = add_months(self.start, -months), month_end(add_months(self.start, -1))
        else:
            start, end = self.start - timedelta(days=self.days), self.start - timedelta(days=1)
        if comparison == "yoy":
            label = (
                f"去年同期 {range_label(start, end)}"
                if language == "zh"
                else f"same period last year, {range_label(start, end, 'en')}"
            )
        else:
            label = (
                f"上期 {range_label(start, end)}"
                if language == "zh"
                else f"previous period, {range_label(start, end, 'en')}"
            )
        return TimeWindow(start=start, end=end, label=label, kind=self.kind)


# ---------------------------------------------------------------------------------------------------------------
# QuerySpec
# ---------------------------------------------------------------------------------------------------------------

DIMENSION_OPS = {"eq": "=", "ne": "<>", "in": "IN", "not_in": "NOT IN"}
METRIC_OPS = {"lt": "<", "le": "<=", "gt": ">", "ge": ">=", "eq": "=", "ne": "<>"}
OP_ALIASES = {"=": "eq", "==": "eq", "!=": "ne", "<>": "ne", "<": "lt", "<=": "le", ">": "gt", ">=": "ge"}
OP_ZH = {"eq": "=", "ne": "≠", "in": "属于", "not_in": "不属于", "lt": "<", "le": "≤", "gt": ">", "ge": "≥"}
COMPARISONS = ("none", "yoy", "previous")


def _metric_list() -> str:
    return "、".join(f"{m.key}（{m.zh}）" for m in METRICS.values())


def _dimension_list() -> str:
    return "、".join(f"{d.key}（{d.zh}）" for d in DIMENSIONS.values())


def metric_of(field: str) -> tuple[Metric, str] | None:
    """'revenue' -> (revenue, ''), 'revenue_change' -> (revenue, 'change'), 'revenue_compare' -> (…, 'compare'),
    'revenue_share' -> (revenue, 'share')."""
    if field in METRICS:
        return METRICS[field], ""
    for suffix in ("_change", "_compare", "_share"):
        if field.endswith(suffix) and field[: -len(suffix)] in METRICS:
            return METRICS[field[: -len(suffix)]], suffix[1:]
    return None


class Filter(BaseModel):
    """field = a dimension key (WHERE on rows) or a metric key / <metric>_change (HAVING on groups)."""

    field: str
    op: str = "eq"
    value: Any

    @field_validator("op", mode="before")
    @classmethod
    def _op(cls, value: Any) -> str:
        op = OP_ALIASES.get(str(value).strip(), str(value).strip().lower())
        if op not in DIMENSION_OPS and op not in METRIC_OPS:
            raise ValueError(f"不支持的比较方式「{value}」；可用：eq(=)、ne(≠)、in、not_in、lt(<)、le(≤)、gt(>)、ge(≥)")
        return op

    @model_validator(mode="after")
    def _check(self) -> Filter:
        if self.field in DIMENSIONS:
            dim = DIMENSIONS[self.field]
            if dim.is_time:
                raise ValueError(f"不能按「{dim.zh}」筛选；请用时间窗口（window）限定时间")
            if self.op not in DIMENSION_OPS:
                raise ValueError(f"维度「{dim.zh}」只能用 eq、ne、in、not_in 筛选，不能用「{OP_ZH[self.op]}」")
            if self.op in ("in", "not_in"):
                values = self.value if isinstance(self.value, list | tuple | set) else [self.value]
                if not values or len(values) > MAX_LIMIT:
                    raise ValueError(f"维度「{dim.zh}」的取值列表必须有 1 到 {MAX_LIMIT} 个值")
                self.value = [self._scalar(v, dim) for v in values]
            else:
                self.value = self._scalar(self.value, dim)
            return self
        found = metric_of(self.field)
        if found is None:
            raise ValueError(f"筛选字段「{self.field}」既不是维度也不是指标。可用维度：{_dimension_list()}")
        if self.op not in METRIC_OPS:
            raise ValueError(f"指标「{found[0].zh}」的阈值只能用 <、≤、>、≥、=、≠，不能用「{self.op}」")
        if isinstance(self.value, bool) or not isinstance(self.value, int | float):
            try:
                self.value = float(str(self.value).strip())
            except ValueError:
                raise ValueError(f"指标「{found[0].zh}」的阈值「{self.value}」不是数字") from None
        if not math.isfinite(float(self.value)):
            raise ValueError(f"指标「{found[0].zh}」的阈值必须是有限的数字")
        self.value = float(self.value)
        return self

    @staticmethod
    def _scalar(value: Any, dim: Dimension) -> str:
        if isinstance(value, list | tuple | dict | set) or value is None:
            raise ValueError(f"维度「{dim.zh}」的筛选值必须是单个文字值")
        text = str(value)
        if len(text) > 200:
            raise ValueError(f"维度「{dim.zh}」的筛选值太长（最多 200 个字符）")
        return text

    @property
    def is_threshold(self) -> bool:
        return self.field not in DIMENSIONS


class Sort(BaseModel):
    metric: str
    direction: str = "desc"

    @field_validator("direction", mode="before")
    @classmethod
    def _direction(cls, value: Any) -> str:
        text = str(value).strip().lower()
        if text not in ("asc", "desc"):
            raise ValueError(f"排序方向「{value}」无效；请用 asc（升序）或 desc（降序）")
        return text


class QuerySpec(BaseModel):
    """What to compute: metrics by dimensions over a window, filtered, compared, sorted and limited."""

    metrics: list[str]
    dimensions: list[str] = Field(default_factory=list)
    filters: list[Filter] = Field(default_factory=list)
    window: TimeWindow
    comparison: str = "none"
    sort: Sort | None = None
    limit: int | None = None
    # "each": every row's share of the total; "top": the ranked rows' combined share (前十大客户占比). Without
    # dimensions the share is of the same window without the dimension filters (饮料占销售额的比例).
    share: Literal["none", "each", "top"] = "none"
    # Without dimensions: dimension filters that name the whole rather than the part (华东的销售里乳制品占几成 →
    # ["region"]); the total keeps them.
    share_within: list[str] = Field(default_factory=list)
    # The threshold filters must hold in each of the last `streak` periods of `streak_grain` (连续两个季度未达标).
    streak: int | None = Field(None, ge=2, le=12)
    streak_grain: Literal["month", "quarter"] | None = None
    # The members of the one dimension with nothing booked in the window under the filters (哪些经销商上个月没进货):
    # taken from the master data (partners, products) or, for an attribute of the sales lines, from every line.
    absent: bool = False
    # The mean per member of this dimension (户均销售额, 平均每月销量, average revenue per customer): each metric's
    # total ÷ the number of members with a record in the window under the filters, or for a time dimension every
    # period of the window. One row per group of `dimensions`; sort and limit rank the averages.
    # Sort and limit apply within each group of these dimensions (每个大区卖得最好的客户: dimensions [region, partner],
    # rank_within [region], limit 1): the top rows of every group, not of the whole table.
    rank_within: list[str] = Field(
        default_factory=list,
        description="在这些维度的每个分组内排序取前 limit 名（每个大区销售额最高的客户：dimensions=[region, partner]，"
        "rank_within=[region]，sort 按销售额降序，limit=1）；须是 dimensions 的一部分且不能是全部，"
        "并且要有 sort 和 limit",
    )
    nth: bool = Field(
        False,
        description="只要排在第 limit 名的那一行（第二高的省份：sort 按销售额降序，limit=2，nth=true）；"
        "需要 sort 和 limit",
    )
    per: str | None = Field(
        None,
        description="求平均的维度 key：平均每个成员的指标 = 合计 ÷ 成员数（窗口内有记录的成员；时间维度按窗口内的"
        "期数）。户均销售额 per=partner，平均每月销量 per=month，各区域户均销售额 dimensions=[region] 且 per=partner；"
        "只能用于可相加的指标（销售额、销量、毛利、费用、订单数…），不能与对比、占比、连续期、指标阈值同用",
    )

    @field_validator("metrics")
    @classmethod
    def _metrics(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError(f"至少需要一个指标。可用指标：{_metric_list()}")
        for key in value:
            if key not in METRICS:
                raise ValueError(f"未知指标「{key}」。可用指标：{_metric_list()}")
        if len(set(value)) != len(value):
            raise ValueError("指标重复了")
        if len(value) > 8:
            raise ValueError("一次最多查询 8 个指标")
        return value

    @field_validator("dimensions")
    @classmethod
    def _dimensions(cls, value: list[str]) -> list[str]:
        for key in value:
            if key not in DIMENSIONS:
                raise ValueError(f"未知维度「{key}」。可用维度：{_dimension_list()}")
        if len(set(value)) != len(value):
            raise ValueError("维度重复了")
        if len(value) > 3:
            raise ValueError("一次最多按 3 个维度分组")
        if sum(DIMENSIONS[k].is_time for k in value) > 1:
            raise ValueError("只能按一个时间维度（月、季度或年）分组")
        return value

    @field_validator("comparison", mode="before")
    @classmethod
    def _comparison(cls, value: Any) -> str:
        text = "none" if value is None else str(value).strip().lower()
        if text not in COMPARISONS:
            raise ValueError(f"对比方式「{value}」无效；可用：none（不对比）、yoy（同比）、previous（环比/上期）")
        return text

    @field_validator("limit")
    @classmethod
    def _limit(cls, value: int | None) -> int | None:
        if value is not None and not 1 <= value <= MAX_LIMIT:
            raise ValueError(f"返回行数 limit 必须在 1 到 {MAX_LIMIT} 之间，收到 {value}")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> QuerySpec:
        if self.nth and (self.sort is None or self.limit is None):
            raise ValueError("nth（只要第几名）需要同时给出 sort 和 limit")
        if self.rank_within:
            if not set(self.rank_within) < set(self.dimensions):
                raise ValueError("rank_within 的维度必须是 dimensions 的一部分，且不能是全部维度")
            if self.sort is None or self.limit is None:
                raise ValueError("rank_within（每组内取前几名）需要同时给出 sort 和 limit")
        # Thresholds and the sort key are shown: a metric they use joins the requested ones.
        for field in [f.field for f in self.filters if f.is_threshold] + ([self.sort.metric] if self.sort else []):
            found = metric_of(field)
            if found is None:
                raise ValueError(f"排序字段「{field}」不是指标。可用指标：{_metric_list()}")
            metric, part = found
            if part and self.comparison == "none":
                raise ValueError(f"「{field}」需要对比期：请把 comparison 设为 yoy（同比）或 previous（环比）")
            if metric.key not in self.metrics:
                if len(self.metrics) >= 8:
                    raise ValueError("一次最多查询 8 个指标")
                self.metrics.append(metric.key)
        used = set(self.dimensions) | {f.field for f in self.filters if not f.is_threshold}
        if self.per is not None:
            if self.per not in DIMENSIONS:
                raise ValueError(f"未知维度「{self.per}」（per，求平均的维度）。可用维度：{_dimension_list()}")
            used.add(self.per)
        for key in self.metrics:
            metric = METRICS[key]
            for dim_key in used:
                dim = DIMENSIONS[dim_key]
                if dim.is_time:
                    if "partners" in metric.sources:
                        raise ValueError(f"「{metric.zh}」来自伙伴主数据，不随时间变化，不能按{dim.zh}分组")
                    continue
                missing = [s for s in metric.sources if s not in dim.expressions]
                if missing:
                    raise ValueError(
                        f"「{metric.zh}」的{SOURCE_ZH[missing[0]]}数据没有按{dim.zh}记录，不能按{dim.zh}分组或筛选"
                    )
        if self.absent:
            groups = [d for d in self.dimensions if not DIMENSIONS[d].is_time]
            if len(groups) != 1 or len(self.dimensions) != 1:
                raise ValueError("「没有销售的…」只能按一个维度列出（例如伙伴、产品、品类），不能再按时间分组")
            if (
                self.comparison != "none"
                or self.share != "none"
                or self.streak
                or any(f.is_threshold for f in self.filters)
            ):
                raise ValueError("「没有销售的…」不能同时带对比、占比、连续期或指标条件")
            if any(METRICS[k].sources != ("sales",) for k in self.metrics):
                raise ValueError("「没有销售的…」只能看销售数据里的指标（销售额、销量、订单数）")
        if self.per is not None:
            self._check_per()
        return self

    def _check_per(self) -> None:
        """An average per member: of figures that add up over the members, counted on one kind of record."""
        dim = DIMENSIONS[self.per]  # type: ignore[index]
        each = "平均" + {"month": "每月", "quarter": "每季度", "year": "每年"}.get(dim.key, f"每个{dim.zh}")
        if self.per in self.dimensions:
            raise ValueError(f"已经按{dim.zh}分组，每组只有一个{dim.zh}，不能再求{each}")
        for key in self.metrics:
            metric = METRICS[key]
            if not metric.adds_up_over(dim):
                why = (
                    "是比率或均值"
                    if metric.fmt in ("ratio", "price", "days", "times", "number")
                    else f"在各{dim.zh}之间相加不等于总数"
                )
                raise ValueError(
                    f"「{metric.zh}」{why}，不能求「{each}的{metric.zh}」；可以问{each}的销售额、销量、毛利等能相加的指标"
                )
        if len({METRICS[k].sources for k in self.metrics}) > 1:
            raise ValueError(f"{each}一次只能看同一类数据的指标（例如销售额和毛利），请把费用、目标等分开问")
        if self.comparison != "none" or self.share != "none" or self.streak or self.absent:
            raise ValueError(f"「{each}」暂不能同时带同比/环比、占比、连续期或「没有销售」，请分开问")
        if any(f.is_threshold for f in self.filters):
            raise ValueError(f"「{each}」暂不能再按指标阈值筛选（例如户均销售额超过多少），请去掉阈值再问")
        time = self.time_dimension()
        if dim.is_time and time is not None and TIME_DIMENSIONS.index(time.key) <= TIME_DIMENSIONS.index(dim.key):
            raise ValueError(f"按{time.zh}分组时每组只有一个{time.zh}或更短，不能再求「{each}」")

    def time_dimension(self) -> Dimension | None:
        return next((DIMENSIONS[k] for k in self.dimensions if DIMENSIONS[k].is_time), None)

    def compare_window(self, language: Language = "zh") -> TimeWindow | None:
        return None if self.comparison == "none" else self.window.compared(self.comparison, language)


def build_spec(**data: Any) -> QuerySpec:
    """QuerySpec(**data), with validation problems raised as one QuerySpecError in Chinese."""
    try:
        return QuerySpec(**data)
    except ValidationError as exc:
        raise QuerySpecError(spec_error_message(exc)) from None


def spec_error_message(exc: ValidationError) -> str:
    messages = []
    for error in exc.errors():
        text = str(error.get("msg", ""))
        text = text.removeprefix("Value error, ")
        where = ".".join(str(p) for p in error.get("loc", ()))
        if error.get("type") in ("missing", "int_parsing", "date_parsing", "date_from_datetime_parsing", "int_type"):
            text = f"字段 {where} 缺失或格式不对（{text}）"
        messages.append(text)
    return "查询条件有误：" + "；".join(dict.fromkeys(messages))


# ---------------------------------------------------------------------------------------------------------------
# Compiler
# ---------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CompiledQuery:
    sql: str
    params: dict[str, Any]
    columns: tuple[str, ...]


class _Params:
    """Named parameters: every value goes through here, the SQL only ever holds $names."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}
        self._named: dict[str, str] = {}

    def once(self, key: str, hint: str, value: Any) -> str:
        """The same value used in several CTEs (a filter) is one parameter."""
        if key not in self._named:
            self._named[key] = self.add(hint, value)
        return self._named[key]

    def add(self, hint: str, value: Any) -> str:
        name, n = hint, 1
        while name in self.values:
            n += 1
            name = f"{hint}_{n}"
        self.values[name] = value
        return f"${name}"


def _bucket_label(day: date, grain: str | None) -> str:
    if grain == "month":
        return f"{day.year}-{day.month:02d}"
    if grain == "quarter":
        return f"{day.year}Q{(day.month - 1) // 3 + 1}"
    if grain == "year":
        return str(day.year)
    return "all"


def _grain_start(day: date, grain: str) -> date:
    if grain == "month":
        return date(day.year, day.month, 1)
    if grain == "quarter":
        return quarter_start(day)
    return date(day.year, 1, 1)


def buckets(window: TimeWindow, grain: str | None, shift_months: int = 0) -> list[tuple[str, date, date]]:
    """(label, start, end) of each time bucket in the window (one bucket when grain is None).

    Labels of a comparison window are those of the current period they line up with (shifted by shift_months),
    so comparison values join the current rows on the same label."""
    if grain is None:
        return [("all", window.start, window.end)]
    step = {"month": 1, "quarter": 3, "year": 12}[grain]
    out, current = [], _grain_start(window.start, grain)
    while current <= window.end:
        nxt = add_months(current, step)
        start, end = max(current, window.start), min(nxt - timedelta(days=1), window.end)
        out.append((_bucket_label(add_months(start, shift_months), grain), start, end))
        current = nxt
    return out


def _quarters_between(start: date, end: date) -> list[str]:
    out, current = [], quarter_start(start)
    while current <= end:
        out.append(f"{current.year}Q{(current.month - 1) // 3 + 1}")
        current = add_months(current, 3)
    return out


def target_shares(parts: list[tuple[str, date, date]]) -> list[tuple[str, str, float]]:
    """(quarter key, bucket label, share): a quarter's target counts pro rata by the days it overlaps a bucket."""
    out = []
    for label, start, end in parts:
        q = quarter_start(start)
        while q <= end:
            q_end = add_months(q, 3) - timedelta(days=1)
            overlap = (min(q_end, end) - max(q, start)).days + 1
            if overlap > 0:
                out.append((f"{q.year}Q{(q.month - 1) // 3 + 1}", label, overlap / ((q_end - q).days + 1)))
            q = add_months(q, 3)
    return out


def change_sql(value: str, base: str) -> str:
    """SQL for a change against a comparison period (同比 / 环比, growth): value ÷ base − 1, missing when the base is
    0 or missing."""
    return f"({value} / nullif({base}, 0) - 1)"


def growth(value: Any, base: Any) -> Any:
    """change_sql's rule in Python, for figures a tool re-judges in a what-if: numbers or pandas Series."""
    if hasattr(base, "where"):
        return value / base.where(base != 0) - 1
    if base is None or base == 0 or (isinstance(base, float) and math.isnan(base)):
        return math.nan
    return value / base - 1


# Sales lines with their territory verdict; each partner's territory is split into places once.
_JUDGED_SALES = (
    f"(SELECT s.*, {verdict_sql('pt.terr', 's.sold_to_province', 's.sold_to_region')} AS _territory FROM sales s "
    f"LEFT JOIN (SELECT partner_id, {places_sql('territory')} AS terr FROM partners) pt USING (partner_id))"
)


class _Compiler:
    def __init__(
        self,
        spec: QuerySpec,
        scope: Scope | None = None,
        compared: Mapping[str, Sequence[str]] | None = None,
        every_partner: bool = False,
    ):
        self.spec = spec
        self.params = _Params()
        self.scope = scope or Scope()
        for name, value in self.scope.params.items():  # the tool's own $names, bound as they are
            self.params.values[name] = value
        # Per-partner comparisons (compile_per_partner): comparison kind -> the metrics wanted in its window.
        self.compared = {kind: list(keys) for kind, keys in (compared or {}).items()}
        # Kinds whose windows coincide (a year's previous period is its year-ago period) read it once, under the
        # first one's prefix: prefix -> (window, metrics read there).
        self.compared_prefix: dict[str, str] = {}
        self.compared_reads: dict[str, tuple[TimeWindow, list[str]]] = {}
        for kind, keys in self.compared.items():
            other = spec.window.compared(kind)
            same = [p for p, (w, _k) in self.compared_reads.items() if (w.start, w.end) == (other.start, other.end)]
            prefix = same[0] if same else _COMPARED_PREFIX[kind]
            window, read = self.compared_reads.get(prefix, (other, []))
            self.compared_reads[prefix] = (window, list(dict.fromkeys([*read, *keys])))
            self.compared_prefix[kind] = prefix
        self.every_partner = every_partner
        self.time = spec.time_dimension()
        self.dims = [DIMENSIONS[k] for k in spec.dimensions if not DIMENSIONS[k].is_time]
        self.keys = [d.column for d in self.dims]
        self.row_filters = [f for f in spec.filters if not f.is_threshold]
        self.thresholds = [f for f in spec.filters if f.is_threshold]
        self.sources = self._sources_of(spec.metrics)
        if "lost_partners" in spec.metrics:  # sales of the period before: a CTE of its own, keyed like sales
            self.sources.append("lost")  # type: ignore[arg-type]

    def _sources_of(self, keys: Sequence[str]) -> list[Source]:
        out: list[Source] = []
        for key in keys:
            for source in definition(key).sources:
                if source not in out:
                    out.append(source)
        if self.every_partner:  # sales first: the targets' CTE reads the partners' revenue from it
            out.sort(key=lambda source: source != "sales")
        return out

    @staticmethod
    def _expression(dim: Dimension, source: str) -> str:
        return dim.expressions[source] if source in dim.expressions else dim.expressions["sales"]

    # -- pieces ------------------------------------------------------------------------------------------------
    def _condition(self, f: Filter, expr: str) -> str:
        """One row filter as SQL over expr, its value a named parameter shared by every place that uses it.
        ne / not_in keep rows without a value (an unattributed cost is "not tier A"), as pandas would."""
        i = self.row_filters.index(f)
        name = self.params.once(f"filter{i}", f"f_{f.field}", list(f.value) if f.op in ("in", "not_in") else f.value)
        return {
            "eq": f"{expr} = {name}",
            "ne": f"{expr} IS DISTINCT FROM {name}",
            "in": f"list_contains({name}, {expr})",
            "not_in": f"NOT coalesce(list_contains({name}, {expr}), false)",
        }[f.op]

    def _where(self, source: Source) -> list[str]:
        out = [self._condition(f, self._expression(DIMENSIONS[f.field], source)) for f in self.row_filters]
        if source == "sales":
            out += self.scope.sales
        out += self.scope.partners  # also kept out of the key set; leaving them out here only saves work
        for d in self.dims:  # groups without a key are left out, as a GROUP BY over the raw table would
            out.append(f"{self._expression(d, source)} IS NOT NULL")
        return out

    def _select_keys(self, source: Source) -> list[str]:
        return [f"{self._expression(d, source)} AS {d.column}" for d in self.dims]

    @staticmethod
    def _joins(text: str, fact_partner: str = "x.partner_id") -> str:
        joins = ""
        if re.search(r"\bp\.", text):
            joins += f"\n    LEFT JOIN partners p ON p.partner_id = {fact_partner}"
        if re.search(r"\bpr\.", text):
            joins += "\n    LEFT JOIN products pr ON pr.sku = x.sku"
        return joins

    def _cte(
        self, select: list[str], fact: str, date_col: str, where: list[str], bounds: tuple[str, str], b: str
    ) -> str:
        body = ",\n           ".join(select)
        conditions = [f"x.{date_col} BETWEEN {bounds[0]} AND {bounds[1]}", *where]
        text = body + " " + " ".join(conditions)
        on = f"x.{date_col} BETWEEN {b}._start AND {b}._end"
        if date_col == "month":
            on = f"x.month BETWEEN {b}._mstart AND {b}._end"
        return (
            f"SELECT {body}\n    FROM {fact} x JOIN {b} ON {on}{self._joins(text)}\n"
            f"    WHERE {' AND '.join(conditions)}\n    GROUP BY ALL"
        )

    def _source_ctes(
        self, source: Source, prefix: str, window: TimeWindow, b: str, shift: int, need: set[str] | None = None
    ) -> list[str]:
        need = set(self.spec.metrics) if need is None else need
        keys = self._select_keys(source)
        where = self._where(source)
        name = f"{prefix}_{source}"
        if source == "partners":  # master data, not time-bound
            key_sel = "".join(f"{k}, " for k in keys)
            where_sql = f"\n    WHERE {' AND '.join(where)}" if where else ""
            return [
                f"{name} AS (\n    SELECT {key_sel}{b}._b, count(*) AS partner_count,"
                " sum(p.credit_limit) AS credit_limit\n"
                f"    FROM partners p CROSS JOIN {b}{where_sql}\n    GROUP BY ALL\n)"
            ]
        start = ""
        if source in ("sales", "inventory", "targets"):  # costs and collections are booked per month
            start = self.params.once(f"{prefix}_start", f"{prefix}_start", window.start)
        # surveys are read by quarter label and take no end date (an unused parameter is an error in DuckDB)
        end = self.params.once(f"{prefix}_end", f"{prefix}_end", window.end) if source != "surveys" else ""
        if source == "sales":
            cols = [*keys, f"{b}._b", "sum(x.revenue) AS revenue", "sum(x.quantity) AS quantity"]
            if need & {"gross_profit", "gross_margin"}:
                cols.append("sum(x.revenue - x.quantity * pr.unit_cost) AS gross_profit")
            if "turnover" in need:
                cols.append("sum(x.quantity * pr.unit_cost) AS cogs")
            if "active_partners" in need:
                cols.append("count(DISTINCT x.partner_id) AS active_partners")
            if "active_products" in need:  # one name under several codes is one product (product_key_sql)
                cols.append(f"count(DISTINCT {PRODUCT_KEY}) AS active_products")
            if need & {"order_count", "aov"}:
                # A till or pharmacy export has no order number: one customer's lines of one day are one purchase
                one_purchase = "x.partner_id || '@' || CAST(x.date AS VARCHAR)"
                cols.append(f"count(DISTINCT coalesce(x.order_id, {one_purchase})) AS order_count")
            if "order_lines" in need:
                cols.append("count(*) AS order_lines")
            if "return_amount" in need:  # returns and refunds: the export's negative lines
                cols.append("coalesce(sum(x.revenue) FILTER (WHERE x.revenue < 0), 0) AS return_amount")
            if "return_lines" in need:
                cols.append("count(*) FILTER (WHERE x.revenue < 0) AS return_lines")
            if "gross_revenue" in need:  # 不算退货: the lines sold, the export's negative lines left out
                cols.append("coalesce(sum(x.revenue) FILTER (WHERE x.revenue >= 0), 0) AS gross_revenue")
            if "new_partners" in need:
                cols.append(
                    "count(DISTINCT x.partner_id) FILTER (WHERE NOT EXISTS (SELECT 1 FROM sales s0 "
                    f"WHERE s0.partner_id = x.partner_id AND s0.date < {b}._start)) AS new_partners"
                )
            for key in need:
                measure = METRICS.get(key)
                summed = measure and (measure.column or measure.of_column)
                if summed and f'AS "{summed}"' not in " ".join(cols):
                    cols.append(f'sum(x."{summed}") AS "{summed}"')
            if need & {"price_compliance", "below_floor_revenue"}:
                cols += [
                    f"sum(CASE WHEN {floor_checked_sql('pr.floor_price')} THEN x.revenue END) AS floor_checked_revenue",
                    f"sum(CASE WHEN {below_floor_sql(line_price_sql('x'), 'pr.floor_price')} THEN x.revenue ELSE 0 END)"
                    " AS below_floor_revenue",
                ]
            fact = "sales"
            if need & {"territory_compliance", "out_of_territory_qty"}:
                # Inside, outside or not checkable (NULL): company.territory's rule, judged once per line.
                fact = _JUDGED_SALES
                cols += [
                    "sum(CASE WHEN x._territory IS NOT NULL THEN x.quantity END) AS territory_checked_qty",
                    f"sum(CASE WHEN x._territory = '{OUTSIDE}' THEN x.quantity ELSE 0 END) AS out_of_territory_qty",
                ]
            return [f"{name} AS (\n    {self._cte(cols, fact, 'date', where, (start, end), b)}\n)"]
        if source == "surveys":  # quarterly survey rows: a bucket takes the quarters it overlaps
            cols = [
                *keys,
                f"{b}._b",
                "sum(x.satisfaction) AS satisfaction_sum",
                "count(x.satisfaction) AS satisfaction_n",
                "sum(x.training_hours) AS training_hours",
            ]
            quarters = self.params.add(f"{prefix}_survey_quarters", _quarters_between(window.start, window.end))
            body = ",\n           ".join(cols)
            text = body + " " + " ".join(where)
            first = f"strftime({b}._start, '%Y') || 'Q' || CAST(quarter({b}._start) AS VARCHAR)"
            last = f"strftime({b}._end, '%Y') || 'Q' || CAST(quarter({b}._end) AS VARCHAR)"
            where_sql = f"\n    WHERE {' AND '.join(where)}" if where else ""
            return [
                f"{name} AS (\n    SELECT {body}\n    FROM surveys x JOIN {b} ON list_contains({quarters}, x.quarter) "
                f"AND x.quarter BETWEEN {first} AND {last}{self._joins(text)}{where_sql}\n    GROUP BY ALL\n)"
            ]
        if source == "lost":
            # Partners with sales in the equally long period just before the bucket and none in the bucket, both
            # under the question's filters: lost Motorcycles customers stopped buying Motorcycles.
            active = f"{name}_active"
            filtered = " AND ".join(where) or "true"
            cols = [*keys, f"{b}._b", "count(DISTINCT x.partner_id) AS lost_partners"]
            body = ",\n           ".join(cols)
            conditions = [
                *where,
                f"NOT EXISTS (SELECT 1 FROM {active} a WHERE a.partner_id = x.partner_id AND a._b = {b}._b)",
            ]
            text = body + " " + " ".join(conditions)
            return [
                f"{active} AS (\n    SELECT DISTINCT x.partner_id, {b}._b FROM sales x JOIN {b} ON x.date BETWEEN "
                f"{b}._start AND {b}._end{self._joins(filtered)}\n    WHERE {filtered}\n)",
                f"{name} AS (\n    SELECT {body}\n    FROM sales x JOIN {b} ON x.date BETWEEN {b}._pstart AND {b}._pend"
                f"{self._joins(text)}\n    WHERE {' AND '.join(conditions)}\n    GROUP BY ALL\n)",
            ]
        if source in ("costs", "rebates"):
            cols = [*keys, f"{b}._b", f"sum(x.amount) AS {'cost' if source == 'costs' else 'rebate'}"]
            if source == "rebates":
                where = [f"x.cost_type = {self.params.once('rebate', 'rebate_type', REBATE_COST_TYPE)}", *where]
            mstart = self.params.once(
                f"{prefix}_mstart", f"{prefix}_month_start", date(window.start.year, window.start.month, 1)
            )
            return [f"{name} AS (\n    {self._cte(cols, 'costs', 'month', where, (mstart, end), b)}\n)"]
        if source == "collections":
            cols = [*keys, f"{b}._b", "sum(x.amount_due) AS due", "sum(x.amount_collected) AS collected"]
            mstart = self.params.once(
                f"{prefix}_mstart", f"{prefix}_month_start", date(window.start.year, window.start.month, 1)
            )
            return [f"{name} AS (\n    {self._cte(cols, 'collections', 'month', where, (mstart, end), b)}\n)"]
        if source == "inventory":
            cols = [*keys, f"{b}._b", "x.date AS _snapshot", "sum(x.on_hand) AS on_hand"]
            cols.append("sum(x.on_hand * pr.unit_cost) AS on_hand_cost")
            snap = f"{name}_snapshots"
            last = f"{name}_last"
            key_list = "".join(f"{k}, " for k in self.keys)
            snapshots = f"{snap} AS (\n    {self._cte(cols, 'inventory', 'date', where, (start, end), b)}\n)"
            if "inventory" not in need:  # only the averages: no last snapshot to find
                return [
                    snapshots,
                    f"{name} AS (\n    SELECT {key_list}_b, avg(on_hand) AS avg_on_hand, avg(on_hand_cost) AS "
                    f"avg_on_hand_cost\n    FROM {snap}\n    GROUP BY ALL\n)",
                ]
            return [
                snapshots,
                f"{last} AS (SELECT _b, max(_snapshot) AS _snapshot FROM {snap} GROUP BY _b)",
                f"{name} AS (\n    SELECT {key_list}{snap}._b,\n"
                f"           sum(CASE WHEN {snap}._snapshot = {last}._snapshot THEN on_hand END) AS inventory,\n"
                f"           avg(on_hand) AS avg_on_hand, avg(on_hand_cost) AS avg_on_hand_cost\n"
                f"    FROM {snap} JOIN {last} ON {last}._b = {snap}._b\n    GROUP BY ALL\n)",
            ]
        if source == "targets":
            shares = target_shares(buckets(window, self.time.key if self.time else None, shift))
            quarters = self.params.add(f"{prefix}_target_quarters", [s[0] for s in shares])
            labels = self.params.add(f"{prefix}_target_buckets", [s[1] for s in shares])
            weights = self.params.add(f"{prefix}_target_shares", [s[2] for s in shares])
            share_cte, partner_target, partner_sales = f"{name}_shares", f"{name}_by_partner", f"{name}_sales"
            text = " ".join(keys + where)
            key_sel = "".join(f"{k}, " for k in keys)
            where_sql = f"\n    WHERE {' AND '.join(where)}" if where else ""
            # A tool's scope on sales lines (STATUS = Shipped) counts only those lines toward the target.
            achieved = " AND ".join([f"x.date BETWEEN {start} AND {end}", *self.scope.sales])
            ctes = [
                f"{share_cte} AS (SELECT unnest({quarters}) AS quarter, unnest({labels}) AS _b, "
                f"unnest({weights}) AS _share)",
                f"{partner_target} AS (\n    SELECT x.partner_id, s._b, sum(x.target_revenue * s._share) AS target\n"
                f"    FROM targets x JOIN {share_cte} s ON s.quarter = x.quarter\n    GROUP BY ALL\n)",
            ]
            if self.every_partner and "sales" in self._sources_of(sorted(need)):
                partner_sales = f"{prefix}_sales"  # already one row per partner and bucket, under the same scope
            else:
                ctes.append(
                    f"{partner_sales} AS (\n    SELECT x.partner_id, {b}._b, sum(x.revenue) AS revenue\n"
                    f"    FROM sales x JOIN {b} ON x.date BETWEEN {b}._start AND {b}._end\n"
                    f"    WHERE {achieved}\n    GROUP BY ALL\n)"
                )
            return [
                *ctes,
                # Achievement counts only partners with a target: revenue is taken over the target rows.
                f"{name} AS (\n    SELECT {key_sel}x._b, sum(x.target) AS target,"
                f" sum(coalesce(ps.revenue, 0)) AS achieved_revenue\n"
                f"    FROM {partner_target} x LEFT JOIN {partner_sales} ps"
                f" ON ps.partner_id = x.partner_id AND ps._b = x._b{self._joins(text)}{where_sql}\n    GROUP BY ALL\n)",
            ]
        raise AssertionError(source)

    def _bucket_cte(self, name: str, window: TimeWindow, shift: int) -> str:
        parts = buckets(window, self.time.key if self.time else None, shift)
        labels = self.params.add(f"{name}_label", [p[0] for p in parts])
        starts = self.params.add(f"{name}_start", [p[1] for p in parts])
        ends = self.params.add(f"{name}_end", [p[2] for p in parts])
        mstarts = self.params.add(f"{name}_month_start", [date(p[1].year, p[1].month, 1) for p in parts])
        days = self.params.add(f"{name}_days", [(p[2] - p[1]).days + 1 for p in parts])
        before = [TimeWindow(start=p[1], end=p[2]).compared("previous") for p in parts]
        pstarts = self.params.add(f"{name}_prev_start", [w.start for w in before])
        pends = self.params.add(f"{name}_prev_end", [w.end for w in before])
        return (
            f"{name} AS (SELECT unnest({labels}) AS _b, unnest({starts}) AS _start, unnest({ends}) AS _end, "
            f"unnest({mstarts}) AS _mstart, unnest({days}) AS _days, unnest({pstarts}) AS _pstart, "
            f"unnest({pends}) AS _pend)"
        )

    def _expr(self, metric: Metric, prefix: str) -> str:
        names = {s: f"{prefix}_{s}" for s in (*PARTNER_SOURCES, "lost")}
        return "(" + metric.expression.format(buckets=f"{prefix}_buckets", **names) + ")"

    def _dim_column(self, key: str) -> str:
        """The output column of a dimension (the time dimension's bucket column for month / quarter / year)."""
        return self.time.column if DIMENSIONS[key].is_time and self.time is not None else DIMENSIONS[key].column

    def _field_expr(self, field: str) -> str:
        metric, part = metric_of(field)  # type: ignore[misc]
        if part == "compare":
            return self._expr(metric, "cmp")
        if part == "change":
            return change_sql(self._expr(metric, "cur"), self._expr(metric, "cmp"))
        return self._expr(metric, "cur")

    def _single_row(self) -> list[str]:
        """A question without dimensions always gets its one row (0 when nothing was booked), as long as the
        filters name partners and products that exist; a filter naming nobody gives no row at all."""
        if self.spec.dimensions:
            return []
        checks = []
        partner_filters = [f for f in self.row_filters if "partners" in DIMENSIONS[f.field].expressions]
        product_filters = [f for f in self.row_filters if f.field in ("product", "category")]
        for table, alias, found in (("partners", "p", partner_filters), ("products", "pr", product_filters)):
            if not found:
                continue
            conditions = []
            for f in found:
                expr = (
                    "pr.sku"
                    if f.field == "product"
                    else ("pr.category" if f.field == "category" else DIMENSIONS[f.field].expressions["partners"])
                )
                conditions.append(self._condition(f, expr))
            checks.append(f"EXISTS (SELECT 1 FROM {table} {alias} WHERE {' AND '.join(conditions)})")
        where = f" WHERE {' AND '.join(checks)}" if checks else ""
        return [f"SELECT _b FROM cur_buckets{where}"]

    def _universe(self) -> str:
        """Every member of the one grouping dimension, for 没有销售的…: partners and their attributes from the
        partner master, products and categories from the product master, other attributes from every sales line.
        Only the filters that describe the members themselves narrow it (华南的伙伴); the others (饮料, 上个月)
        say what they did not buy."""
        dim = self.dims[0]
        if "partners" in dim.expressions:
            table, alias, expr = "partners", "p", dim.expressions["partners"]

            def own(d: Dimension) -> str | None:
                return d.expressions.get("partners")
        elif dim.key in ("product", "category"):
            # members are products as the sales group them (one per name); a filter still names codes
            members = {"product": product_key_sql("pr"), "category": "pr.category"}
            table, alias, expr = "products", "pr", members[dim.key]

            def own(d: Dimension) -> str | None:
                return {"product": "pr.sku", "category": "pr.category"}.get(d.key)
        else:
            table, alias, expr = "sales", "x", dim.expressions["sales"]

            def own(d: Dimension) -> str | None:
                sales = d.expressions.get("sales", "")
                return sales if sales and not re.search(r"\b(?:p|pr)\.", sales) else None

        conditions = [f"{expr} IS NOT NULL"]
        for f in self.row_filters:
            column = own(DIMENSIONS[f.field])
            if column is not None:
                conditions.append(self._condition(f, column))
        return (
            f"universe AS (\n    SELECT DISTINCT {expr} AS {dim.column}, b._b FROM {table} {alias} "
            f"CROSS JOIN cur_buckets b\n    WHERE {' AND '.join(conditions)}\n)"
        )

    # -- whole statement ---------------------------------------------------------------------------------------
    def compile(self) -> CompiledQuery:
        spec = self.spec
        ctes = [self._bucket_cte("cur_buckets", spec.window, 0)]
        for source in self.sources:
            ctes += self._source_ctes(source, "cur", spec.window, "cur_buckets", 0)
        compare = spec.compare_window()
        if compare is not None:
            shift = (spec.window.start.year - compare.start.year) * 12 + spec.window.start.month - compare.start.month
            ctes.append(self._bucket_cte("cmp_buckets", compare, shift))
            for source in self.sources:
                ctes += self._source_ctes(source, "cmp", compare, "cmp_buckets", shift)
        for prefix, (other, keys) in self.compared_reads.items():  # compile_per_partner's comparison windows
            shift = (spec.window.start.year - other.start.year) * 12 + spec.window.start.month - other.start.month
            ctes.append(self._bucket_cte(f"{prefix}_buckets", other, shift))
            for source in self._sources_of(keys):
                ctes += self._source_ctes(source, prefix, other, f"{prefix}_buckets", shift, need=set(keys))
        key_cols = [*self.keys, "_b"]
        if self.every_partner:  # every partner of the master data (under the tool's scope), in every bucket
            where = f"\n    WHERE {' AND '.join(self.scope.partners)}" if self.scope.partners else ""
            every = f"SELECT p.partner_id, b._b FROM partners p CROSS JOIN cur_buckets b{where}"
            ctes.append(f"keyset AS (\n    {every}\n)")
        elif spec.absent:  # every member, then only those with nothing booked (HAVING below)
            ctes.append(self._universe())
            ctes.append(f"keyset AS (SELECT {', '.join(key_cols)} FROM universe)")
        else:
            ctes.append(
                "keyset AS (\n    "
                + "\n    UNION\n    ".join(
                    [f"SELECT {', '.join(key_cols)} FROM cur_{s}" for s in self.sources] + self._single_row()
                )
                + "\n)"
            )

        select, columns = [], []
        if self.time is None:
            select.append("k._b AS _bucket")  # always group: an empty key set must give no row, not one of NULLs
        for dim_key in spec.dimensions:
            dim = DIMENSIONS[dim_key]
            if dim.is_time:
                select.append("CAST(k._b AS INTEGER) AS year" if dim.key == "year" else f"k._b AS {dim.column}")
            elif dim.key == "partner":
                select += ["k.partner_id", "pn.name AS partner_name"]
            elif dim.key == "product":
                select += ["k.sku", "pd.name AS product_name"]
            else:
                select.append(f"k.{dim.column}")
            columns += dim.columns
        for key in spec.metrics:
            select.append(f"{self._expr(definition(key), 'cur')} AS {key}")
            columns.append(key)
        for kind, keys in self.compared.items():
            prefix = self.compared_prefix[kind]
            for key in keys:
                metric = definition(key)
                value = self._expr(metric, prefix)
                # No record in the comparison window is no value (a new partner), not 0.
                recorded = " + ".join(f"count({prefix}_{s}._b)" for s in metric.sources)
                select.append(f"CASE WHEN {recorded} > 0 THEN {value} END AS {key}_{kind}")
                select.append(f"{change_sql(self._expr(metric, 'cur'), value)} AS {key}_{kind}_change")
                columns += [f"{key}_{kind}", f"{key}_{kind}_change"]
        if compare is not None:
            for key in spec.metrics:
                select.append(f"{self._expr(METRICS[key], 'cmp')} AS {key}_compare")
                select.append(f"{self._field_expr(key + '_change')} AS {key}_change")
                columns += [f"{key}_compare", f"{key}_change"]

        using = ", ".join(key_cols)
        joins = ["JOIN cur_buckets USING (_b)"]
        joins += [f"LEFT JOIN cur_{s} USING ({using})" for s in self.sources]
        if compare is not None:
            joins.append("LEFT JOIN cmp_buckets USING (_b)")
            joins += [f"LEFT JOIN cmp_{s} USING ({using})" for s in self.sources]
        for prefix, (_window, keys) in self.compared_reads.items():
            joins.append(f"LEFT JOIN {prefix}_buckets USING (_b)")
            joins += [f"LEFT JOIN {prefix}_{s} USING ({using})" for s in self._sources_of(keys)]
        if "partner" in spec.dimensions:
            joins.append("LEFT JOIN partners pn ON pn.partner_id = k.partner_id")
        if "product" in spec.dimensions:
            joins.append("LEFT JOIN products pd ON pd.sku = k.sku")

        having = [
            f"{self._field_expr(f.field)} {METRIC_OPS[f.op]} {self.params.add(f'threshold_{f.field}', f.value)}"
            for f in self.thresholds
        ]
        if spec.absent:
            having += [f"coalesce({self._expr(METRICS[k], 'cur')}, 0) = 0" for k in spec.metrics]
        order = []
        if spec.sort is not None:
            order.append(f"{spec.sort.metric} {spec.sort.direction.upper()} NULLS LAST")
        if self.time is not None:
            order.append(f"{self.time.column} ASC")
        if spec.sort is None and self.dims and not spec.absent and not self.every_partner:
            order.append(f"{spec.metrics[0]} DESC NULLS LAST")
        order += [d.column for d in self.dims]

        sql = "WITH " + ",\n".join(ctes)
        sql += "\nSELECT " + ",\n       ".join(select)
        sql += "\nFROM keyset k\n" + "\n".join(joins)
        sql += "\nGROUP BY ALL"
        if having:
            sql += "\nHAVING " + "\n   AND ".join(having)
        limit = self.params.add("limit", spec.limit) if spec.limit is not None else None
        if limit is not None and spec.sort is not None and (self.time is None or spec.rank_within):
            # 哪个省的经销商最多 with two provinces at the top: both are the answer (ties at the cut are kept);
            # 每个大区卖得最好的客户: the top of every region (rank_within)
            ranked = f"{spec.sort.metric} {spec.sort.direction.upper()} NULLS LAST"
            within = [self._dim_column(d) for d in spec.rank_within]
            partition = f"PARTITION BY {', '.join(within)} " if within else ""
            cut = "=" if spec.nth else "<="  # 第二高的省份: the second row only (ties kept)
            sql = f"SELECT * FROM (\n{sql}\n) ranked\nQUALIFY rank() OVER ({partition}ORDER BY {ranked}) {cut} {limit}"
            if within:
                order = [*within, *[o for o in order if o not in within]]
            limit = str(MAX_LIMIT)
        if order:
            sql += "\nORDER BY " + ", ".join(order)
        if limit is not None and spec.nth and spec.sort is not None and self.time is not None and not spec.rank_within:
            sql += f"\nLIMIT 1 OFFSET {limit} - 1"  # the second-best month: one row, the limit-th
        elif limit is not None:
            sql += f"\nLIMIT {limit}"
        return CompiledQuery(sql, self.params.values, tuple(columns))


def compile_spec(spec: QuerySpec) -> CompiledQuery:
    """The SQL (with $named placeholders) and its parameters for a validated QuerySpec."""
    return _Compiler(spec).compile()


Comparison = Literal["previous", "yoy"]
_COMPARED_PREFIX: dict[str, str] = {"previous": "prev", "yoy": "ago"}


@dataclass(frozen=True)
class Scope:
    """The rows a channel tool narrows its figures to (its filters by column name): SQL conditions on the partner
    master (alias p) and on sales lines (alias x), written by the tool over schema columns and kept attribute
    columns, every value a $name bound in params. Sales conditions apply to every figure read from sales lines,
    including the revenue counted toward a target."""

    partners: tuple[str, ...] = ()
    sales: tuple[str, ...] = ()
    params: dict[str, Any] = dataclass_field(default_factory=dict)


def compile_per_partner(
    metrics: Sequence[str],
    window: TimeWindow,
    *,
    grain: Literal["month", "quarter", "year"] | None = None,
    compared: Mapping[Comparison, Sequence[str]] | None = None,
    scope: Scope | None = None,
) -> CompiledQuery:
    """The channel tools' per-partner figures, compiled from the same definitions as the data questions.

    One row per partner of the master data that scope.partners keeps (per time bucket of `grain` if given), partners
    without any record included, with each metric (METRICS or TOOL_METRICS) over the window as its definition
    computes it (0 revenue, no achievement without a target). compared = {"previous" | "yoy": [metric keys]} adds
    each listed metric over that comparison window as `<key>_<kind>` (missing when the partner has no record there)
    and its change as `<key>_<kind>_change` (change_sql). Columns: partner_id, partner_name, the grain, the metrics,
    then the comparisons; ordered by the grain and partner_id."""
    compared = dict(compared or {})
    keys = list(dict.fromkeys(metrics))
    asked = [*keys, *(k for wanted in compared.values() for k in wanted)]
    unknown = [k for k in asked if k not in METRICS and k not in TOOL_METRICS]
    if unknown:
        raise QuerySpecError(f"未知指标「{'、'.join(unknown)}」。可用指标：{_metric_list()}")
    odd = [k for k in compared if k not in _COMPARED_PREFIX]
    if odd:
        raise QuerySpecError(f"对比方式「{'、'.join(odd)}」无效；可用：yoy（同比）、previous（环比/上期）")
    if not keys:
        raise QuerySpecError(f"至少需要一个指标。可用指标：{_metric_list()}")
    # Validated above; QuerySpec's own limits (8 metrics, comparisons one at a time) are for questions, not tools.
    spec = QuerySpec.model_construct(
        metrics=keys, dimensions=["partner", *([grain] if grain else [])], filters=[], window=window
    )
    return _Compiler(spec, scope, compared, every_partner=True).compile()


# ---------------------------------------------------------------------------------------------------------------
# Display
# ---------------------------------------------------------------------------------------------------------------


def format_value(fmt: Format | str, value: Any, *, signed: bool = False) -> str:
    """A number as shown in tables and summaries: 1,234,567.89 元 → '1,234,567.89'; 0.853 → '85.3%'."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    v = float(value)
    if math.isinf(v):  # a change from zero
        return "+∞" if v > 0 else "−∞"
    if fmt == "ratio":
        return f"{v * 100:+.1f}%" if signed else percent(v)
    if fmt in ("money", "price"):
        return f"{v:+,.2f}" if signed else f"{v:,.2f}"
    if fmt in ("quantity", "count"):
        return f"{v:+,.0f}" if signed else f"{v:,.0f}"
    if fmt == "days":
        return f"{v:,.1f}"
    return f"{v:,.2f}"


def wan(value: Any) -> str:
    """元 → 万元 with two decimals."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"{float(value) / 10_000:,.2f}"
