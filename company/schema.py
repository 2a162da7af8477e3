"""The company data model: every table and field, once, with Chinese and English names.

Importers map columns through the synonyms here, the store creates its tables from it,
docs/data-model.md is generated from it, and the semantic layer reads units from it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Kind = Literal["text", "int", "float", "date", "month", "quarter"]

PARTNER_TYPES = ("经销商", "代理商", "批发商", "零售商", "电商平台", "直营")
TIERS = ("A", "B", "C", "D")
TIER_NAMES = {"A": "战略", "B": "核心", "C": "一般", "D": "观察"}
COST_TYPES = ("物流", "促销", "返利", "培训", "人员", "市场推广", "其他")
REGIONS = ("华东", "华南", "华北", "华中", "西南", "西北", "东北")
NATIONWIDE = "全国"
TERRITORY_SEPARATORS = "、;；,，/|"
# What other systems write for the values of choice columns (matched lower-cased).
CHOICE_ALIASES: dict[str, dict[str, str]] = {
    "partner_type": {
        "distributor": "经销商",
        "dealer": "经销商",
        "经销": "经销商",
        "agent": "代理商",
        "代理": "代理商",
        "wholesaler": "批发商",
        "wholesale": "批发商",
        "批发": "批发商",
        "retailer": "零售商",
        "retail": "零售商",
        "零售": "零售商",
        "e-commerce": "电商平台",
        "ecommerce": "电商平台",
        "online": "电商平台",
        "marketplace": "电商平台",
        "电商": "电商平台",
        "direct": "直营",
        "own store": "直营",
        "直销": "直营",
    },
    "tier": {"a": "A", "b": "B", "c": "C", "d": "D", "战略": "A", "核心": "B", "一般": "C", "观察": "D"},
    "cost_type": {
        "logistics": "物流",
        "freight": "物流",
        "运费": "物流",
        "promotion": "促销",
        "rebate": "返利",
        "返点": "返利",
        "training": "培训",
        "personnel": "人员",
        "staff": "人员",
        "人工": "人员",
        "marketing": "市场推广",
        "advertising": "市场推广",
        "广告": "市场推广",
        "other": "其他",
        "others": "其他",
    },
}


@dataclass(frozen=True)
class Column:
    name: str
    zh: str
    kind: Kind
    description: str
    unit: str = ""
    required: bool = False
    synonyms: tuple[str, ...] = ()
    choices: tuple[str, ...] = ()
    non_negative: bool = False

    @property
    def sql_type(self) -> str:
        return {
            "text": "VARCHAR",
            "int": "BIGINT",
            "float": "DOUBLE",
            "date": "DATE",
            "month": "DATE",
            "quarter": "VARCHAR",
        }[self.kind]


@dataclass(frozen=True)
class Table:
    name: str
    zh: str
    description: str
    columns: tuple[Column, ...]
    key: tuple[str, ...] = ()
    # Groups of alternatives: at least one column of each group must be present.
    one_of: tuple[tuple[str, ...], ...] = ()
    date_column: str | None = None
    extra: dict = field(default_factory=dict)

    def column(self, name: str) -> Column:
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(name)

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]


def _c(name, zh, kind, description, unit="", required=False, synonyms=(), choices=(), non_negative=False):
    return Column(name, zh, kind, description, unit, required, tuple(synonyms), tuple(choices), non_negative)


PARTNERS = Table(
    "partners",
    "渠道伙伴",
    "经销商、代理商、批发商、零售商、电商平台与直营网点的主数据。",
    (
        _c(
            "partner_id",
            "伙伴编号",
            "text",
            "伙伴的唯一编号",
            required=True,
            synonyms=(
                "经销商编号",
                "经销商代码",
                "客户编号",
                "客户代码",
                "伙伴代码",
                "代理商编号",
                "customer id",
                "customerid",
                # a till or pharmacy export names its customer by card: 社保卡号 / 会员卡号 is who bought
                "会员卡号",
                "会员编号",
                "会员号",
                "社保卡号",
                "医保卡号",
                "顾客编号",
                "member id",
                "card number",
                "customer code",
                "customernumber",
                "dealer id",
                "distributor id",
                "partner code",
            ),
        ),
        _c(
            "name",
            "伙伴名称",
            "text",
            "伙伴的全称",
            required=True,
            synonyms=(
                "经销商名称",
                "客户名称",
                "经销商",
                "客户",
                "代理商名称",
                "伙伴",
                "公司名称",
                "customername",
                "customer name",
                "customer",
                "partner",
                "partner name",
                "dealer",
                "dealer name",
                "distributor",
                "distributor name",
                "account name",
            ),
        ),
        _c(
            "type",
            "伙伴类型",
            "text",
            "渠道类型",
            choices=PARTNER_TYPES,
            synonyms=("类型", "渠道类型", "客户类型", "partner type", "channel type", "customer type"),
        ),
        _c(
            "tier",
            "级别",
            "text",
            "伙伴分级 A/B/C/D（战略/核心/一般/观察）",
            choices=TIERS,
            synonyms=("等级", "分级", "伙伴级别", "客户等级", "level", "grade", "partner tier"),
        ),
        _c(
            "channel_level",
            "渠道层级",
            "int",
            "厂家到消费者之间的中间层级：0=直营/直销，1=一级（厂家→零售终端或平台→消费者），"
            "2=二级（厂家→经销/代理/批发→零售→消费者）",
            unit="级",
            synonyms=("层级", "渠道长度", "channel length", "levels"),
            non_negative=True,
        ),
        _c(
            "parent_id",
            "上级伙伴编号",
            "text",
            "二级网点的上级经销商编号（可空）",
            synonyms=("上级经销商", "上级客户", "parent", "parent id"),
        ),
        _c(
            "region",
            "区域",
            "text",
            "所属大区（华东、华南、华北、华中、西南、西北、东北，或导入文件中的区域代码如 NA、EMEA）",
            synonyms=("大区", "销售区域", "所属区域", "片区", "sales region", "area", "region"),
        ),
        _c(
            "province",
            "省份",
            "text",
            "所在省份（简称，如 江苏、广东）",
            synonyms=("省", "所在省份", "省份名称", "state", "province"),
        ),
        _c("city", "城市", "text", "所在城市", synonyms=("所在城市", "地市", "城市名称", "city")),
        _c("country", "国家", "text", "所在国家或地区（国内伙伴为 中国）", synonyms=("国家", "国家/地区", "country")),
        _c(
            "territory",
            "授权区域",
            "text",
            "合同授权的销售区域：省份（简称或全称，如 江苏、上海市）或大区（如 华东），多个用顿号分隔；或 全国",
            synonyms=(
                "授权区域",
                "授权范围",
                "销售区域授权",
                "经营区域",
                "authorized territory",
                "authorised territory",
                "sales territory",
            ),
        ),
        _c(
            "contract_start",
            "合同开始日期",
            "date",
            "合作协议生效日期",
            synonyms=("合同开始", "签约日期", "合作开始日期", "contract start", "start date"),
        ),
        _c(
            "contract_end",
            "合同结束日期",
            "date",
            "合作协议到期日期",
            synonyms=("合同结束", "合同到期日", "到期日期", "contract end", "end date"),
        ),
        _c(
            "credit_limit",
            "信用额度",
            "float",
            "给予伙伴的赊销信用额度",
            unit="元",
            synonyms=("授信额度", "信用额", "credit", "credit limit"),
            non_negative=True,
        ),
    ),
    key=("partner_id",),
    date_column="contract_start",
)

PRODUCTS = Table(
    "products",
    "产品",
    "产品（SKU）主数据与价格体系。",
    (
        _c(
            "sku",
            "产品编码",
            "text",
            "SKU 编码",
            required=True,
            synonyms=(
                "sku编码",
                "商品编号",
                "商品代码",
                "存货编码",
                "物料号",
                "stockcode",
                "stock code",
                "article",
                "article no",
                "material",
                "产品代码",
                "商品编码",
                "物料编码",
                "货号",
                "productcode",
                "product code",
                "product id",
                "item code",
                "item",
            ),
        ),
        _c(
            "name",
            "产品名称",
            "text",
            "产品名称与规格",
            synonyms=("商品名称", "品名", "产品", "product name", "product", "item name", "description"),
        ),
        _c(
            "category",
            "品类",
            "text",
            "产品品类",
            synonyms=("产品类别", "类别", "品类名称", "产品线", "productline", "product line", "category"),
        ),
        _c(
            "list_price",
            "出厂指导价",
            "float",
            "对渠道的标准供货价（每件）",
            unit="元/件",
            synonyms=("指导价", "标准价", "出厂价", "价格", "msrp", "list price", "price list"),
            non_negative=True,
        ),
        _c(
            "floor_price",
            "最低限价",
            "float",
            "渠道供货/成交不得低于的价格（每件），低于即乱价",
            unit="元/件",
            synonyms=("限价", "最低价", "底价", "floor price", "minimum price", "min price"),
            non_negative=True,
        ),
        _c(
            "unit_cost",
            "单位成本",
            "float",
            "每件产品的生产成本",
            unit="元/件",
            synonyms=("成本", "成本价", "单件成本", "unit cost", "cost"),
            non_negative=True,
        ),
    ),
    key=("sku",),
)

SALES = Table(
    "sales",
    "销售明细",
    "销售（出库/订单）行：每行一个伙伴在某日购买某 SKU 的数量与金额，以及实际售达地区（用于窜货判断）。",
    (
        _c(
            "order_id",
            "订单号",
            "text",
            "订单或出库单号（可空；与行号一起唯一标识一行，重复导入时按此更新）",
            synonyms=(
                "订单编号",
                "单号",
                "出库单号",
                "单据号",
                "单据编号",
                "销售单号",
                "ordernumber",
                "order number",
                "order id",
                "order no",
                "invoice no",
                "invoice number",
            ),
        ),
        _c(
            "line_no",
            "行号",
            "int",
            "订单内的行号（没有时视为 1）",
            synonyms=(
                "订单行号",
                "单据行号",
                "明细行号",
                "orderlinenumber",
                "order line number",
                "line number",
                "line no",
                "line",
            ),
            non_negative=True,
        ),
        _c(
            "date",
            "日期",
            "date",
            "发货或下单日期",
            required=True,
            synonyms=(
                "销售日期",
                "交易日期",
                "交易时间",
                "销售时间",
                "下单时间",
                "购买时间",
                "购药时间",
                "开单日期",
                "业务日期",
                "transaction date",
                "订单日期",
                "下单日期",
                "出库日期",
                "发货日期",
                "单据日期",
                "orderdate",
                "order date",
                "sale date",
                "invoice date",
                "date",
            ),
        ),
        _c("partner_id", "伙伴编号", "text", "购买方伙伴编号", synonyms=PARTNERS.columns[0].synonyms),
        _c(
            "partner_name",
            "伙伴名称",
            "text",
            "购买方名称（没有伙伴编号时按名称匹配或新建伙伴）",
            synonyms=PARTNERS.columns[1].synonyms,
        ),
        _c("sku", "产品编码", "text", "SKU 编码", required=True, synonyms=PRODUCTS.columns[0].synonyms),
        _c(
            "quantity",
            "数量",
            "float",
            "销售数量",
            unit="件",
            required=True,
            synonyms=(
                "销量",
                "销售数量",
                "件数",
                "出库数量",
                "quantityordered",
                "quantity ordered",
                "qty",
                "quantity",
                "units",
            ),
            non_negative=True,
        ),
        _c(
            "unit_price",
            "成交单价",
            "float",
            "实际成交单价（每件）",
            unit="元/件",
            synonyms=("单价", "成交价", "售价", "priceeach", "price each", "unit price", "price"),
            non_negative=True,
        ),
        _c(
            "revenue",
            "销售额",
            "float",
            "该行销售金额（含折扣后）",
            unit="元",
            synonyms=(
                "销售金额",
                "金额",
                "营收",
                "收入",
                "实收金额",
                "成交金额",
                "实付金额",
                "订单金额",
                "价税合计",
                "sales",
                "revenue",
                "amount",
                "sales amount",
                "net sales",
                "line total",
            ),
            non_negative=True,
        ),
        _c(
            "sold_to_region",
            "售达区域",
            "text",
            "货物实际销往的大区或区域代码",
            synonyms=("销往区域", "售达大区", "收货区域", "territory", "region", "sales territory"),
        ),
        _c(
            "sold_to_province",
            "售达省份",
            "text",
            "货物实际销往的省份（与授权区域比对以识别窜货）",
            synonyms=("销往省份", "收货省份", "售达省", "state", "ship to state", "province"),
        ),
        _c(
            "sold_to_city",
            "售达城市",
            "text",
            "货物实际销往的城市",
            synonyms=("销往城市", "收货城市", "city", "ship to city"),
        ),
        _c(
            "sold_to_country",
            "售达国家",
            "text",
            "货物实际销往的国家或地区",
            synonyms=("销往国家", "国家", "country", "ship to country"),
        ),
    ),
    key=("order_id", "line_no"),
    one_of=(("partner_id", "partner_name"),),
    date_column="date",
)

TARGETS = Table(
    "targets",
    "季度目标",
    "每个伙伴每季度的销售额目标。",
    (
        _c("partner_id", "伙伴编号", "text", "伙伴编号", required=True, synonyms=PARTNERS.columns[0].synonyms),
        _c(
            "quarter",
            "季度",
            "quarter",
            "目标所属季度，格式 2025Q1",
            required=True,
            synonyms=("目标季度", "考核季度", "期间", "quarter", "period"),
        ),
        _c(
            "target_revenue",
            "目标销售额",
            "float",
            "该季度的销售额目标",
            unit="元",
            required=True,
            synonyms=("目标", "销售目标", "目标金额", "任务额", "target", "target revenue", "sales target"),
            non_negative=True,
        ),
    ),
    key=("partner_id", "quarter"),
)

INVENTORY = Table(
    "inventory",
    "渠道库存",
    "伙伴库存快照（通常为月末）。",
    (
        _c(
            "date",
            "快照日期",
            "date",
            "盘点或快照日期",
            required=True,
            synonyms=("日期", "盘点日期", "库存日期", "snapshot date", "date"),
        ),
        _c("partner_id", "伙伴编号", "text", "伙伴编号", required=True, synonyms=PARTNERS.columns[0].synonyms),
        _c("sku", "产品编码", "text", "SKU 编码", required=True, synonyms=PRODUCTS.columns[0].synonyms),
        _c(
            "on_hand",
            "库存数量",
            "float",
            "期末在库数量",
            unit="件",
            required=True,
            synonyms=("库存", "在库数量", "库存量", "结存", "on hand", "stock", "inventory", "qty on hand"),
            non_negative=True,
        ),
    ),
    key=("date", "partner_id", "sku"),
    date_column="date",
)

COSTS = Table(
    "costs",
    "渠道费用",
    "按月记录的渠道费用；可归属到具体伙伴，或只归属到渠道类型/区域。",
    (
        _c(
            "month",
            "月份",
            "month",
            "费用所属月份",
            required=True,
            synonyms=("期间", "费用月份", "会计期间", "月", "month", "period"),
        ),
        _c("partner_id", "伙伴编号", "text", "费用归属伙伴（可空）", synonyms=PARTNERS.columns[0].synonyms),
        _c(
            "channel_type",
            "渠道类型",
            "text",
            "费用归属的渠道类型（未归属到伙伴时使用）",
            choices=PARTNER_TYPES,
            synonyms=("渠道", "伙伴类型", "channel", "channel type"),
        ),
        _c("region", "区域", "text", "费用归属区域（可空）", synonyms=("大区", "区域", "region")),
        _c(
            "cost_type",
            "费用类型",
            "text",
            "物流/促销/返利/培训/人员/市场推广/其他",
            required=True,
            choices=COST_TYPES,
            synonyms=("费用类别", "费用项目", "科目", "类型", "cost type", "expense type", "category"),
        ),
        _c(
            "amount",
            "金额",
            "float",
            "费用金额",
            unit="元",
            required=True,
            synonyms=("费用金额", "费用", "amount", "cost", "expense"),
            non_negative=True,
        ),
    ),
    one_of=(("partner_id", "channel_type"),),
    date_column="month",
)

COLLECTIONS = Table(
    "collections",
    "回款",
    "每个伙伴每月的应收与实收货款。",
    (
        _c("partner_id", "伙伴编号", "text", "伙伴编号", required=True, synonyms=PARTNERS.columns[0].synonyms),
        _c(
            "month",
            "月份",
            "month",
            "应收所属月份",
            required=True,
            synonyms=("期间", "回款月份", "月", "month", "period"),
        ),
        _c(
            "amount_due",
            "应收金额",
            "float",
            "当月应回款金额",
            unit="元",
            required=True,
            synonyms=("应收", "应收款", "应回款", "amount due", "due"),
            non_negative=True,
        ),
        _c(
            "amount_collected",
            "实收金额",
            "float",
            "当月实际回款金额",
            unit="元",
            required=True,
            synonyms=("实收", "回款", "回款金额", "已收", "amount collected", "collected", "received"),
            non_negative=True,
        ),
    ),
    key=("partner_id", "month"),
    date_column="month",
)

SURVEYS = Table(
    "surveys",
    "满意度与培训",
    "每个伙伴每季度的满意度调查得分与接受培训的小时数。",
    (
        _c("partner_id", "伙伴编号", "text", "伙伴编号", required=True, synonyms=PARTNERS.columns[0].synonyms),
        _c(
            "quarter",
            "季度",
            "quarter",
            "调查所属季度，格式 2025Q1",
            required=True,
            synonyms=("调查季度", "期间", "quarter", "period"),
        ),
        _c(
            "satisfaction",
            "满意度",
            "float",
            "满意度调查得分（1-5 分）",
            unit="分",
            synonyms=("满意度得分", "满意度评分", "满意度", "satisfaction", "satisfaction score", "csat"),
            non_negative=True,
        ),
        _c(
            "training_hours",
            "培训时长",
            "float",
            "本季度伙伴人员接受培训的小时数",
            unit="小时",
            synonyms=("培训小时", "培训时长", "培训", "training hours", "training"),
            non_negative=True,
        ),
    ),
    key=("partner_id", "quarter"),
    one_of=(("satisfaction", "training_hours"),),
)

TABLES: dict[str, Table] = {
    t.name: t for t in (PARTNERS, PRODUCTS, SALES, TARGETS, INVENTORY, COSTS, COLLECTIONS, SURVEYS)
}

# Tables whose partner_id must refer to a known partner.
PARTNER_FK_TABLES = ("sales", "targets", "inventory", "costs", "collections", "surveys")


def split_territory(territory: str | None) -> list[str]:
    """'江苏、上海' -> ['江苏', '上海']; empty -> []."""
    if not territory:
        return []
    parts = [territory]
    for sep in TERRITORY_SEPARATORS:
        parts = [p for chunk in parts for p in chunk.split(sep)]
    return [p.strip() for p in parts if p.strip()]


def create_table_sql(table: Table) -> str:
    cols = ",\n  ".join(f'"{c.name}" {c.sql_type}' for c in table.columns)
    return f'CREATE TABLE IF NOT EXISTS "{table.name}" (\n  {cols}\n)'


def data_model_markdown() -> str:
    """The data model as a Markdown document (docs/data-model.md is written from this)."""
    lines = [
        "# 数据模型 / Data model",
        "",
        "本文件由 `python -m advisor data model > docs/data-model.md` 生成，来源是 company/schema.py。",
        "导入时列名按下表的中文名、英文名与同义词自动识别，也可以用 `--mapping` 显式指定。",
        "",
        "Generated from company/schema.py. Importers recognise a column by its Chinese name, its",
        "English name or any synonym below; `--mapping` overrides.",
        "",
    ]
    for table in TABLES.values():
        lines += [f"## {table.zh} `{table.name}`", "", table.description, ""]
        if table.key:
            lines += [f"主键 / key: {', '.join(table.key)}", ""]
        for group in table.one_of:
            lines += [f"至少需要其中一列 / at least one of: {', '.join(group)}", ""]
        lines += [
            "| 字段 field | 中文名 | 类型 | 单位 | 必填 | 含义 | 同义词 (部分) |",
            "|---|---|---|---|---|---|---|",
        ]
        for c in table.columns:
            desc = c.description + (f"（取值：{'/'.join(c.choices)}）" if c.choices else "")
            syn = ", ".join(c.synonyms[:6])
            lines.append(f"| {c.name} | {c.zh} | {c.kind} | {c.unit} | {'是' if c.required else ''} | {desc} | {syn} |")
        lines.append("")
    return "\n".join(lines)
