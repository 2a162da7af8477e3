"""The data-question evaluation set: executives' short questions on the sample company, each with its answer
computed independently with pandas on the raw tables, following docs/semantic-layer.md (never the engine's code).

A case's `expected(tables, latest)` returns an Expected: the shape to compare (one number, a set of keys,
an ordered ranking, or a group table), the key columns and the values, under the canonical column names of
the answer frame. Clarification cases carry no expectation, only the name fragment whose candidates the
clarifying question should offer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import pandas as pd

Kind = Literal["ranking", "filter", "threshold", "comparison", "time", "total", "group", "clarify"]
Shape = Literal["number", "set", "ranking", "table"]
KINDS: tuple[str, ...] = ("ranking", "filter", "threshold", "comparison", "time", "total", "group", "clarify")

# Dimension key -> the column that carries it in the answer frame (and in the frames below).
DIMENSION_COLUMN = {
    "partner": "partner_id",
    "partner_type": "partner_type",
    "tier": "tier",
    "region": "region",
    "province": "province",
    "city": "city",
    "product": "sku",
    "category": "category",
    "month": "month",
    "quarter": "quarter",
    "year": "year",
}
PARTNER_COLUMNS = ("partner_id", "partner_type", "tier", "region", "province", "city")
TIME_COLUMNS = ("month", "quarter", "year")
# Costs carry their own channel type and region; only these three dimensions apply to them.
COST_COLUMNS = ("partner_id", "partner_type", "region")
SALES_METRICS = ("revenue", "quantity", "gross_profit", "gross_margin", "avg_price")
RATIO_METRICS = ("achievement", "gross_margin", "expense_ratio", "collection_rate")


# ---------------------------------------------------------------------------------------------------------------
# Time windows, resolved against the data's latest sales date L
# ---------------------------------------------------------------------------------------------------------------


def _day(value) -> pd.Timestamp:
    return pd.Timestamp(value).normalize()


def _month_end(ts: pd.Timestamp) -> pd.Timestamp:
    return ts.to_period("M").end_time.normalize()


@dataclass(frozen=True)
class Window:
    """An inclusive date range; `months` is its length for 环比, `ytd` marks 今年 (whose 环比 is a year back)."""

    start: pd.Timestamp
    end: pd.Timestamp
    months: int
    ytd: bool = False

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def shift(self, months: int) -> Window:
        start = (self.start.to_period("M") - months).start_time
        if self.end == _month_end(self.end):
            end = _month_end((self.end.to_period("M") - months).start_time)
        else:
            end = _day(self.end - pd.DateOffset(months=months))
        return Window(start, end, self.months, self.ytd)

    def year_ago(self) -> Window:
        return self.shift(12)

    def previous(self) -> Window:
        return self.shift(12) if self.ytd else self.shift(self.months)

    def __str__(self) -> str:
        return f"{self.start.date()}~{self.end.date()}"


WindowOf = Callable[[pd.Timestamp], Window]


def _period_window(period: pd.Period, months: int) -> Window:
    return Window(period.start_time, period.end_time.normalize(), months)


def this_month(latest: pd.Timestamp) -> Window:
    return _period_window(latest.to_period("M"), 1)


def last_month(latest: pd.Timestamp) -> Window:
    return _period_window(latest.to_period("M") - 1, 1)


def this_quarter(latest: pd.Timestamp) -> Window:
    return _period_window(latest.to_period("Q"), 3)


def last_quarter(latest: pd.Timestamp) -> Window:
    return _period_window(latest.to_period("Q") - 1, 3)


def this_year(latest: pd.Timestamp) -> Window:
    return Window(pd.Timestamp(latest.year, 1, 1), _day(latest), latest.month, ytd=True)


def last_year(latest: pd.Timestamp) -> Window:
    return _period_window(pd.Period(str(latest.year - 1), "Y"), 12)


def last_months(n: int) -> WindowOf:
    def window(latest: pd.Timestamp) -> Window:
        end = latest.to_period("M")
        return Window((end - (n - 1)).start_time, end.end_time.normalize(), n)

    return window


def quarter(year: int, q: int) -> WindowOf:
    return lambda latest: _period_window(pd.Period(f"{year}Q{q}", "Q"), 3)


def month(year: int, m: int) -> WindowOf:
    return lambda latest: _period_window(pd.Period(f"{year}-{m:02d}", "M"), 1)


def year(y: int) -> WindowOf:
    return lambda latest: _period_window(pd.Period(str(y), "Y"), 12)


def through(m: int, y: int | None = None) -> WindowOf:
    def window(latest: pd.Timestamp) -> Window:
        yy = y or latest.year
        return Window(pd.Timestamp(yy, 1, 1), _month_end(pd.Timestamp(yy, m, 1)), m)

    return window


# ---------------------------------------------------------------------------------------------------------------
# The raw tables, joined once: every fact row carries its partner's and product's attributes
# ---------------------------------------------------------------------------------------------------------------


def _text(series: pd.Series) -> pd.Series:
    """Plain Python strings (None for missing) so group keys compare as str."""
    return series.astype(object).where(series.notna(), None)


def _with_time_keys(frame: pd.DataFrame, column: str) -> pd.DataFrame:
    stamp = frame[column]
    frame["month"] = stamp.dt.strftime("%Y-%m").astype(object)
    frame["quarter"] = (stamp.dt.year.astype(str) + "Q" + stamp.dt.quarter.astype(str)).astype(object)
    frame["year"] = stamp.dt.year.astype(str).astype(object)
    return frame


class Facts:
    """Joined copies of the raw tables, under canonical column names."""

    def __init__(self, tables: dict[str, pd.DataFrame]):
        p = tables["partners"]
        self.partners = pd.DataFrame(
            {
                "partner_id": _text(p["partner_id"]),
                "partner_name": _text(p["name"]),
                "partner_type": _text(p["type"]),
                "tier": _text(p["tier"]),
                "region": _text(p["region"]),
                "province": _text(p["province"]),
                "city": _text(p["city"]),
            }
        )
        g = tables["products"]
        self.products = pd.DataFrame(
            {
                "sku": _text(g["sku"]),
                "product_name": _text(g["name"]),
                "category": _text(g["category"]),
                "unit_cost": g["unit_cost"].astype(float),
            }
        )
        s = tables["sales"]
        sales = pd.DataFrame(
            {
                "date": pd.to_datetime(s["date"]).dt.normalize(),
                "partner_id": _text(s["partner_id"]),
                "sku": _text(s["sku"]),
                "quantity": s["quantity"].astype(float),
                "revenue": s["revenue"].astype(float),
            }
        )
        sales = sales.merge(self.partners, on="partner_id", how="left").merge(self.products, on="sku", how="left")
        sales["cogs"] = sales["quantity"] * sales["unit_cost"]
        self.sales = _with_time_keys(sales, "date")
        self.latest = self.sales["date"].max()

        i = tables["inventory"]
        inventory = pd.DataFrame(
            {
                "date": pd.to_datetime(i["date"]).dt.normalize(),
                "partner_id": _text(i["partner_id"]),
                "sku": _text(i["sku"]),
                "on_hand": i["on_hand"].astype(float),
            }
        )
        inventory = inventory.merge(self.partners, on="partner_id", how="left").merge(
            self.products, on="sku", how="left"
        )
        inventory["stock_value"] = inventory["on_hand"] * inventory["unit_cost"]
        self.inventory = inventory

        c = tables["collections"]
        collections = pd.DataFrame(
            {
                "month_start": pd.to_datetime(c["month"]).dt.normalize(),
                "partner_id": _text(c["partner_id"]),
                "due": c["amount_due"].astype(float),
                "collected": c["amount_collected"].astype(float),
            }
        ).merge(self.partners, on="partner_id", how="left")
        self.collections = _with_time_keys(collections, "month_start")

        k = tables["costs"]
        costs = pd.DataFrame(
            {
                "month_start": pd.to_datetime(k["month"]).dt.normalize(),
                "partner_id": _text(k["partner_id"]),
                "partner_type": _text(k["channel_type"]),
                "region": _text(k["region"]),
                "cost_type": _text(k["cost_type"]),
                "amount": k["amount"].astype(float),
            }
        )
        self.costs = _with_time_keys(costs, "month_start")

        t = tables["targets"]
        targets = pd.DataFrame(
            {
                "partner_id": _text(t["partner_id"]),
                "quarter_key": _text(t["quarter"]),
                "target_revenue": t["target_revenue"].astype(float),
            }
        )
        targets = targets[targets["target_revenue"].notna()]
        periods = pd.PeriodIndex(targets["quarter_key"].str.replace("-", "", regex=False), freq="Q")
        targets["q_start"] = periods.start_time
        targets["q_end"] = periods.end_time.normalize()
        self.targets = targets.merge(self.partners, on="partner_id", how="left")

    # ---- names used in questions -----------------------------------------------------------------------
    def partner_id(self, name: str) -> str:
        hits = self.partners[self.partners["partner_name"] == name]
        if len(hits) != 1:
            raise ValueError(f"evaluation set names partner {name!r}, which matches {len(hits)} partners")
        return hits["partner_id"].iloc[0]

    def sku(self, fragment: str) -> str:
        hits = self.products[self.products["product_name"].str.contains(fragment, regex=False)]
        if len(hits) != 1:
            raise ValueError(f"evaluation set names product {fragment!r}, which matches {len(hits)} products")
        return hits["sku"].iloc[0]

    def candidates(self, fragment: str) -> list[tuple[str, str]]:
        """(id, name) of the partners, else the products, whose name contains fragment."""
        hits = self.partners[self.partners["partner_name"].str.contains(fragment, regex=False)]
        if len(hits):
            return list(zip(hits["partner_id"], hits["partner_name"], strict=True))
        hits = self.products[self.products["product_name"].str.contains(fragment, regex=False)]
        return list(zip(hits["sku"], hits["product_name"], strict=True))


_FACTS: dict[str, tuple[dict, Facts]] = {}


def facts_of(tables: dict[str, pd.DataFrame]) -> Facts:
    cached = _FACTS.get("last")
    if cached is None or cached[0] is not tables:
        _FACTS["last"] = (tables, Facts(tables))
    return _FACTS["last"][1]


# ---------------------------------------------------------------------------------------------------------------
# Metrics over a window, with filters, grouped by dimension columns (docs/semantic-layer.md "Metrics")
# ---------------------------------------------------------------------------------------------------------------


def _in_days(frame: pd.DataFrame, column: str, w: Window) -> pd.DataFrame:
    return frame[(frame[column] >= w.start) & (frame[column] <= w.end)]


def _in_months(frame: pd.DataFrame, w: Window) -> pd.DataFrame:
    """Rows of a monthly table (month_start) whose month lies in the window."""
    first = w.start.to_period("M").start_time
    return frame[(frame["month_start"] >= first) & (frame["month_start"] <= w.end)]


def _filter(frame: pd.DataFrame, where: dict, allowed: tuple[str, ...] | None = None) -> pd.DataFrame:
    for column, value in where.items():
        if allowed is not None and column not in allowed:
            raise ValueError(f"filter {column} does not apply here")
        values = value if isinstance(value, list | tuple | set) else [value]
        frame = frame[frame[column].isin(values)]
    return frame


def _sums(frame: pd.DataFrame, keys: list[str], columns: list[str]) -> pd.DataFrame:
    if keys:
        return frame.groupby(keys, dropna=True)[columns].sum().reset_index()
    return pd.DataFrame([{c: frame[c].sum() for c in columns}])


def _join(left: pd.DataFrame, right: pd.DataFrame, keys: list[str], how: str) -> pd.DataFrame:
    if keys:
        return left.merge(right, on=keys, how=how)
    return pd.concat([left.reset_index(drop=True), right.reset_index(drop=True)], axis=1)


def _ratio(numerator: pd.Series, denominator: pd.Series) -> pd.Series:
    num, den = numerator.astype(float), denominator.astype(float)
    return (num / den).where(den != 0)


def measure(f: Facts, metric: str, w: Window, where: dict, keys: list[str]) -> pd.DataFrame:
    """keys + [metric]: the metric over window w, filtered by where (canonical columns), grouped by keys."""
    if metric in SALES_METRICS:
        d = _filter(_in_days(f.sales, "date", w), where)
        out = _sums(d, keys, ["revenue", "quantity", "cogs"])
        out["gross_profit"] = out["revenue"] - out["cogs"]
        out["gross_margin"] = _ratio(out["gross_profit"], out["revenue"])
        out["avg_price"] = _ratio(out["revenue"], out["quantity"])
        return out[[*keys, metric]]

    if metric == "active_partners":
        d = _filter(_in_days(f.sales, "date", w), where)
        if keys:
            return d.groupby(keys)["partner_id"].nunique().rename(metric).reset_index()
        return pd.DataFrame([{metric: d["partner_id"].nunique()}])

    if metric in ("target", "achievement"):
        if set(keys) & set(TIME_COLUMNS):
            raise ValueError("targets by time dimension are not in this set")
        t = _filter(f.targets, where, PARTNER_COLUMNS)
        lo = t["q_start"].where(t["q_start"] > w.start, w.start)
        hi = t["q_end"].where(t["q_end"] < w.end, w.end)
        overlap = (hi - lo).dt.days + 1
        q_days = (t["q_end"] - t["q_start"]).dt.days + 1
        t = t.assign(target=t["target_revenue"] * overlap / q_days)[overlap > 0]
        targets = _sums(t, keys, ["target"])
        if metric == "target":
            return targets
        # Achievement: revenue and target both over the partners that have a target in the window.
        d = _filter(_in_days(f.sales, "date", w), where)
        d = d[d["partner_id"].isin(set(t["partner_id"]))]
        out = _join(targets, _sums(d, keys, ["revenue"]), keys, "left")
        out["revenue"] = out["revenue"].fillna(0.0)
        out["achievement"] = _ratio(out["revenue"], out["target"])
        return out[[*keys, "achievement"]]

    if metric in ("cost", "rebate", "expense_ratio"):
        c = _filter(_in_months(f.costs, w), where, COST_COLUMNS)
        if metric == "rebate":
            c = c[c["cost_type"] == "返利"]
        if set(keys) - set(COST_COLUMNS) - set(TIME_COLUMNS):
            raise ValueError(f"costs cannot be grouped by {keys}")
        cost = _sums(c, keys, ["amount"]).rename(columns={"amount": "cost"})
        if metric != "expense_ratio":
            return cost.rename(columns={"cost": metric})[[*keys, metric]]
        d = _filter(_in_days(f.sales, "date", w), where)
        out = _join(cost, _sums(d, keys, ["revenue"]), keys, "outer")
        out[["cost", "revenue"]] = out[["cost", "revenue"]].fillna(0.0)
        out["expense_ratio"] = _ratio(out["cost"], out["revenue"])
        return out[[*keys, "expense_ratio"]]

    if metric == "inventory":
        if set(keys) & set(TIME_COLUMNS):
            raise ValueError("inventory by time dimension is not in this set")
        d = _filter(_in_days(f.inventory, "date", w), where)
        d = d[d["date"] == d["date"].max()]
        return _sums(d, keys, ["on_hand"]).rename(columns={"on_hand": "inventory"})

    if metric in ("inventory_days", "turnover"):
        if set(keys) & set(TIME_COLUMNS):
            raise ValueError("inventory by time dimension is not in this set")
        snapshots = _in_days(f.inventory, "date", w)
        dates = snapshots["date"].nunique()
        # Mean over the window's snapshot dates of the per-date totals = total over dates / number of dates.
        stock = _sums(_filter(snapshots, where), keys, ["on_hand", "stock_value"])
        stock[["on_hand", "stock_value"]] = stock[["on_hand", "stock_value"]] / dates
        sold = _sums(_filter(_in_days(f.sales, "date", w), where), keys, ["quantity", "cogs"])
        out = _join(stock, sold, keys, "outer")
        if metric == "inventory_days":
            out[metric] = _ratio(out["on_hand"], out["quantity"] / w.days)
        else:
            out[metric] = _ratio(out["cogs"] * 365 / w.days, out["stock_value"])
        return out[[*keys, metric]]

    if metric == "collection_rate":
        d = _filter(_in_months(f.collections, w), where, PARTNER_COLUMNS)
        out = _sums(d, keys, ["due", "collected"])
        out["collection_rate"] = _ratio(out["collected"], out["due"])
        return out[[*keys, "collection_rate"]]

    if metric == "partner_count":
        d = _filter(f.partners, where, PARTNER_COLUMNS)
        if keys:
            return d.groupby(keys)["partner_id"].count().rename(metric).reset_index()
        return pd.DataFrame([{metric: len(d)}])

    raise ValueError(f"unknown metric {metric}")


# ---------------------------------------------------------------------------------------------------------------
# Expected answers
# ---------------------------------------------------------------------------------------------------------------


@dataclass
class Expected:
    shape: Shape
    keys: list[str]
    frame: pd.DataFrame  # keys + value columns
    window: str = ""

    @property
    def values(self) -> list[str]:
        return [c for c in self.frame.columns if c not in self.keys]


_OPS = {
    "<": lambda s, v: s < v,
    "<=": lambda s, v: s <= v,
    ">": lambda s, v: s > v,
    ">=": lambda s, v: s >= v,
}


@dataclass(frozen=True)
class Spec:
    """What a question asks, in the doc's terms; calling it computes the expected answer with pandas.

    where: canonical filter columns, plus `partner` (an exact partner name) and `product` (a unique
    product-name fragment), resolved to partner_id / sku on the data.
    """

    metric: str
    window: WindowOf = this_quarter
    by: tuple[str, ...] = ()
    where: dict = field(default_factory=dict)
    order: Literal["desc", "asc"] | None = None
    limit: int | None = None
    having: tuple[str, float] | None = None
    compare: Literal["yoy", "previous"] | None = None

    def __call__(self, tables: dict[str, pd.DataFrame], latest: pd.Timestamp) -> Expected:
        f = facts_of(tables)
        latest = _day(latest)
        where = dict(self.where)
        if "partner" in where:
            where["partner_id"] = f.partner_id(where.pop("partner"))
        if "product" in where:
            where["sku"] = f.sku(where.pop("product"))
        keys = [DIMENSION_COLUMN[d] for d in self.by]
        w = self.window(latest)
        frame = measure(f, self.metric, w, where, keys)
        label = str(w)
        if self.compare:
            cw = w.year_ago() if self.compare == "yoy" else w.previous()
            label += f" vs {cw}"
            before = measure(f, self.metric, cw, where, keys).rename(columns={self.metric: f"{self.metric}_compare"})
            frame = _join(frame, before, keys, "left")
            frame[f"{self.metric}_change"] = _ratio(frame[self.metric], frame[f"{self.metric}_compare"]) - 1
        if self.having:
            op, value = self.having
            frame = frame[_OPS[op](frame[self.metric], value)]
            return Expected("set", keys, frame.reset_index(drop=True), label)
        if self.order:
            frame = frame[frame[self.metric].notna()]
            ascending = self.order == "asc"
            frame = frame.sort_values([self.metric, *keys], ascending=[ascending] + [True] * len(keys))
            frame = frame.head(self.limit or 1).reset_index(drop=True)
            return Expected("ranking", keys, frame, label)
        if keys:
            return Expected("table", keys, frame.reset_index(drop=True), label)
        return Expected("number", [], frame.reset_index(drop=True), label)


@dataclass(frozen=True)
class Case:
    id: str
    question: str
    lang: Literal["zh", "en"]
    kind: Kind
    expected: Spec | None = None  # None: the engine must ask a clarifying question
    ambiguous: str = ""  # for clarifications: the name fragment whose candidates must be among the options
    note: str = ""


def _case(id_, question, kind, spec=None, lang="zh", ambiguous="", note=""):
    return Case(id_, question, lang, kind, spec, ambiguous, note)


S = Spec
DESC, ASC = "desc", "asc"

# Names below were read from the generated sample company (seed 7) and are checked on every run:
# a full partner name must match exactly one partner, a product fragment exactly one product.
CASES: list[Case] = [
    # ---- rankings ------------------------------------------------------------------------------------
    _case(
        "z-r01", "本季度销售额最高的5个伙伴", "ranking", S("revenue", this_quarter, ("partner",), order=DESC, limit=5)
    ),
    _case(
        "z-r02",
        "上季度销量最低的3个经销商",
        "ranking",
        S("quantity", last_quarter, ("partner",), {"partner_type": "经销商"}, ASC, 3),
    ),
    _case("z-r03", "今年毛利最高的品类", "ranking", S("gross_profit", this_year, ("category",), order=DESC)),
    _case(
        "z-r04",
        "完成率最低的5个经销商",
        "ranking",
        S("achievement", this_quarter, ("partner",), {"partner_type": "经销商"}, ASC, 5),
    ),
    _case("z-r05", "2025年销售额前十的产品", "ranking", S("revenue", year(2025), ("product",), order=DESC, limit=10)),
    _case(
        "z-r06",
        "近6个月回款率最低的10个客户",
        "ranking",
        S("collection_rate", last_months(6), ("partner",), order=ASC, limit=10),
    ),
    _case(
        "z-r07",
        "华东销售额最高的三个城市",
        "ranking",
        S("revenue", this_quarter, ("city",), {"region": "华东"}, DESC, 3),
    ),
    _case("z-r08", "费用率最高的渠道", "ranking", S("expense_ratio", this_quarter, ("partner_type",), order=DESC)),
    _case("z-r09", "上个月库存最多的5个伙伴", "ranking", S("inventory", last_month, ("partner",), order=DESC, limit=5)),
    _case("z-r10", "去年返利最多的前5个伙伴", "ranking", S("rebate", last_year, ("partner",), order=DESC, limit=5)),
    _case(
        "z-r11", "本月毛利率最低的3个产品", "ranking", S("gross_margin", this_month, ("product",), order=ASC, limit=3)
    ),
    _case(
        "z-r12",
        "A级伙伴里今年销售额最低的5个",
        "ranking",
        S("revenue", this_year, ("partner",), {"tier": "A"}, ASC, 5),
    ),
    _case(
        "z-r13", "库存周转率最低的3个品类", "ranking", S("turnover", this_quarter, ("category",), order=ASC, limit=3)
    ),
    _case(
        "z-r14",
        "广东销售额末5名的伙伴",
        "ranking",
        S("revenue", this_quarter, ("partner",), {"province": "广东"}, ASC, 5),
    ),
    _case("z-r15", "本季度毛利最多的省份", "ranking", S("gross_profit", this_quarter, ("province",), order=DESC)),
    _case(
        "z-r16",
        "去年销售额最低的两个区域",
        "ranking",
        S("revenue", last_year, ("region",), order=ASC, limit=2),
    ),
    # ---- filters -------------------------------------------------------------------------------------
    _case("z-f01", "华东销售额", "filter", S("revenue", this_quarter, where={"region": "华东"})),
    _case("z-f02", "广东省上个月的销量", "filter", S("quantity", last_month, where={"province": "广东"})),
    _case(
        "z-f03",
        "杭州裕丰贸易有限公司本季度的销售额",
        "filter",
        S("revenue", this_quarter, where={"partner": "杭州裕丰贸易有限公司"}),
    ),
    _case("z-f04", "京东自营今年的毛利", "filter", S("gross_profit", this_year, where={"partner": "京东自营"})),
    _case("z-f05", "饮料品类上季度销售额", "filter", S("revenue", last_quarter, where={"category": "饮料"})),
    _case("z-f06", "全脂纯牛奶近3个月的销量", "filter", S("quantity", last_months(3), where={"product": "全脂纯牛奶"})),
    _case("z-f07", "A级伙伴本季度的完成率", "filter", S("achievement", this_quarter, where={"tier": "A"})),
    _case("z-f08", "电商平台的毛利率", "filter", S("gross_margin", this_quarter, where={"partner_type": "电商平台"})),
    _case(
        "z-f09",
        "华东的经销商今年的销售额",
        "filter",
        S("revenue", this_year, where={"region": "华东", "partner_type": "经销商"}),
    ),
    _case("z-f10", "P0102去年的回款率", "filter", S("collection_rate", last_year, where={"partner_id": "P0102"})),
    _case("z-f11", "直营渠道本月的费用", "filter", S("cost", this_month, where={"partner_type": "直营"})),
    _case("z-f12", "杭州的销售额", "filter", S("revenue", this_quarter, where={"city": "杭州"})),
    _case("z-f13", "华南区域去年的返利", "filter", S("rebate", last_year, where={"region": "华南"})),
    _case("z-f14", "乳制品本季度的库存", "filter", S("inventory", this_quarter, where={"category": "乳制品"})),
    _case("z-f15", "天猫超市上季度的平均单价", "filter", S("avg_price", last_quarter, where={"partner": "天猫超市"})),
    _case("z-f16", "调味品今年的库存天数", "filter", S("inventory_days", this_year, where={"category": "调味品"})),
    _case("z-f17", "西南区域本季度的库存周转率", "filter", S("turnover", this_quarter, where={"region": "西南"})),
    _case(
        "z-f18",
        "B级代理商上个月的销售额",
        "filter",
        S("revenue", last_month, where={"tier": "B", "partner_type": "代理商"}),
    ),
    _case("z-f19", "红烧牛肉面去年的销售额", "filter", S("revenue", last_year, where={"product": "红烧牛肉面"})),
    # ---- thresholds ----------------------------------------------------------------------------------
    _case(
        "z-t01",
        "本季度完成率低于80%的伙伴",
        "threshold",
        S("achievement", this_quarter, ("partner",), having=("<", 0.8)),
    ),
    _case(
        "z-t02",
        "回款率不到九成的客户",
        "threshold",
        S("collection_rate", this_quarter, ("partner",), having=("<", 0.9)),
    ),
    _case(
        "z-t03", "费用率超过10%的伙伴", "threshold", S("expense_ratio", this_quarter, ("partner",), having=(">", 0.1))
    ),
    _case(
        "z-t04",
        "上季度完成率不足百分之八十的经销商",
        "threshold",
        S("achievement", last_quarter, ("partner",), {"partner_type": "经销商"}, having=("<", 0.8)),
    ),
    _case(
        "z-t05",
        "今年回款率低于0.85的伙伴",
        "threshold",
        S("collection_rate", this_year, ("partner",), having=("<", 0.85)),
    ),
    _case(
        "z-t06",
        "毛利率高于40%的产品",
        "threshold",
        S("gross_margin", this_quarter, ("product",), having=(">", 0.4)),
    ),
    _case(
        "z-t07",
        "费用率12%以上的渠道",
        "threshold",
        S("expense_ratio", this_quarter, ("partner_type",), having=(">=", 0.12)),
    ),
    _case(
        "z-t08",
        "完成率八成以下的B级伙伴",
        "threshold",
        S("achievement", this_quarter, ("partner",), {"tier": "B"}, having=("<=", 0.8)),
    ),
    _case(
        "z-t09",
        "华东回款率不低于95%的经销商",
        "threshold",
        S(
            "collection_rate",
            this_quarter,
            ("partner",),
            {"region": "华东", "partner_type": "经销商"},
            having=(">=", 0.95),
        ),
    ),
    _case(
        "z-t10",
        "去年完成率超过110%的伙伴",
        "threshold",
        S("achievement", last_year, ("partner",), having=(">", 1.1)),
    ),
    _case(
        "z-t11",
        "本月毛利率小于40%的品类",
        "threshold",
        S("gross_margin", this_month, ("category",), having=("<", 0.4)),
    ),
    _case(
        "z-t12",
        "近3个月费用率大于15%的客户",
        "threshold",
        S("expense_ratio", last_months(3), ("partner",), having=(">", 0.15)),
    ),
    # ---- comparisons ---------------------------------------------------------------------------------
    _case("z-c01", "本季度销售额同比", "comparison", S("revenue", this_quarter, compare="yoy")),
    _case("z-c02", "各区域销售额环比", "comparison", S("revenue", this_quarter, ("region",), compare="previous")),
    _case("z-c03", "本月销量环比增长多少", "comparison", S("quantity", this_month, compare="previous")),
    _case("z-c04", "今年销售额和去年同期比", "comparison", S("revenue", this_year, compare="yoy")),
    _case(
        "z-c05",
        "华东本季度毛利同比",
        "comparison",
        S("gross_profit", this_quarter, where={"region": "华东"}, compare="yoy"),
    ),
    _case(
        "z-c06",
        "各品类上季度销售额同比",
        "comparison",
        S("revenue", last_quarter, ("category",), compare="yoy"),
    ),
    _case("z-c07", "近3个月回款率环比", "comparison", S("collection_rate", last_months(3), compare="previous")),
    _case("z-c08", "各渠道本季度费用同比", "comparison", S("cost", this_quarter, ("partner_type",), compare="yoy")),
    _case("z-c09", "上个月毛利率同比", "comparison", S("gross_margin", last_month, compare="yoy")),
    _case("z-c10", "今年销售额环比", "comparison", S("revenue", this_year, compare="previous")),
    _case("z-c11", "本季度销售额比上期", "comparison", S("revenue", this_quarter, compare="previous")),
    # ---- time expressions ----------------------------------------------------------------------------
    _case("z-m01", "本月销售额", "time", S("revenue", this_month)),
    _case("z-m02", "上月销售额", "time", S("revenue", last_month)),
    _case("z-m03", "上个月的毛利", "time", S("gross_profit", last_month)),
    _case("z-m04", "本季度销量", "time", S("quantity", this_quarter)),
    _case("z-m05", "这个季度的回款率", "time", S("collection_rate", this_quarter)),
    _case("z-m06", "上季度的费用", "time", S("cost", last_quarter)),
    _case("z-m07", "上个季度的完成率", "time", S("achievement", last_quarter)),
    _case("z-m08", "今年的销售额", "time", S("revenue", this_year)),
    _case("z-m09", "本年毛利率", "time", S("gross_margin", this_year)),
    _case("z-m10", "去年的销售额", "time", S("revenue", last_year)),
    _case("z-m11", "近3个月的销售额", "time", S("revenue", last_months(3))),
    _case("z-m12", "最近6个月销量", "time", S("quantity", last_months(6))),
    _case("z-m13", "过去十二个月的毛利", "time", S("gross_profit", last_months(12))),
    _case("z-m14", "近四个月的回款率", "time", S("collection_rate", last_months(4))),
    _case("z-m15", "2025年Q3销售额", "time", S("revenue", quarter(2025, 3))),
    _case("z-m16", "2025年第三季度的目标", "time", S("target", quarter(2025, 3))),
    _case("z-m17", "2025Q4毛利率", "time", S("gross_margin", quarter(2025, 4))),
    _case("z-m18", "2025年3月的销售额", "time", S("revenue", month(2025, 3))),
    _case("z-m19", "2025-03的销量", "time", S("quantity", month(2025, 3))),
    _case("z-m20", "2025年的费用", "time", S("cost", year(2025))),
    _case("z-m21", "截至2026年6月的销售额", "time", S("revenue", through(6, 2026))),
    _case("z-m22", "截至6月底的完成率", "time", S("achievement", through(6))),
    _case("z-m23", "本月的目标是多少", "time", S("target", this_month)),
    _case("z-m24", "上月完成率", "time", S("achievement", last_month)),
    _case(
        "z-m25",
        "今年的目标完成率",
        "time",
        S("achievement", this_year),
        note="7 partners have no 2026Q3 target: the doc's reading counts their whole-window revenue "
        "(they have targets in Q1-Q2), against targets of the quarters they have",
    ),
    _case("z-m26", "过去三个月的费用", "time", S("cost", last_months(3))),
    # ---- totals --------------------------------------------------------------------------------------
    _case("z-o01", "总销售额是多少", "total", S("revenue", this_quarter)),
    _case("z-o02", "今年的返利总额", "total", S("rebate", this_year)),
    _case("z-o03", "一共有多少家伙伴", "total", S("partner_count")),
    _case(
        "z-o04", "华东有多少家经销商", "total", S("partner_count", where={"region": "华东", "partner_type": "经销商"})
    ),
    _case("z-o05", "本月活跃伙伴数", "total", S("active_partners", this_month)),
    _case("z-o06", "本季度库存", "total", S("inventory", this_quarter)),
    _case("z-o07", "库存天数", "total", S("inventory_days", this_quarter)),
    _case("z-o08", "本季度的库存周转", "total", S("turnover", this_quarter)),
    _case("z-o09", "平均单价", "total", S("avg_price", this_quarter)),
    _case("z-o10", "去年渠道费用", "total", S("cost", last_year)),
    _case("z-o11", "今年的毛利润", "total", S("gross_profit", this_year)),
    _case("z-o12", "本季度费用率", "total", S("expense_ratio", this_quarter)),
    # ---- groups --------------------------------------------------------------------------------------
    _case("z-g01", "各区域销售额", "group", S("revenue", this_quarter, ("region",))),
    _case("z-g02", "各渠道费用率", "group", S("expense_ratio", this_quarter, ("partner_type",))),
    _case("z-g03", "按级别看完成率", "group", S("achievement", this_quarter, ("tier",))),
    _case("z-g04", "各省份回款率", "group", S("collection_rate", this_quarter, ("province",))),
    _case("z-g05", "今年每月销售额", "group", S("revenue", this_year, ("month",))),
    _case("z-g06", "去年每季度的毛利", "group", S("gross_profit", last_year, ("quarter",))),
    _case("z-g07", "近24个月按年的销售额", "group", S("revenue", last_months(24), ("year",))),
    _case("z-g08", "各品类库存", "group", S("inventory", this_quarter, ("category",))),
    _case("z-g09", "华东各城市的销量", "group", S("quantity", this_quarter, ("city",), {"region": "华东"})),
    _case("z-g10", "各区域伙伴数", "group", S("partner_count", by=("region",))),
    _case("z-g11", "按产品看上季度毛利率", "group", S("gross_margin", last_quarter, ("product",))),
    _case("z-g12", "各区域费用", "group", S("cost", this_quarter, ("region",))),
    _case("z-g13", "各级别库存天数", "group", S("inventory_days", this_quarter, ("tier",))),
    _case("z-g14", "各渠道活跃伙伴数", "group", S("active_partners", this_quarter, ("partner_type",))),
    _case("z-g15", "饮料各产品本月的均价", "group", S("avg_price", this_month, ("product",), {"category": "饮料"})),
    _case("z-g16", "按月看今年的回款率", "group", S("collection_rate", this_year, ("month",))),
    _case("z-g17", "各区域的返利", "group", S("rebate", this_quarter, ("region",))),
    _case("z-g18", "各品类的库存周转率", "group", S("turnover", this_quarter, ("category",))),
    _case("z-g19", "各区域本季度目标", "group", S("target", this_quarter, ("region",))),
    _case("z-g20", "西北各伙伴的销售额", "group", S("revenue", this_quarter, ("partner",), {"region": "西北"})),
    # ---- English -------------------------------------------------------------------------------------
    _case(
        "e-r01",
        "top 5 partners by revenue",
        "ranking",
        S("revenue", this_quarter, ("partner",), order=DESC, limit=5),
        "en",
    ),
    _case(
        "e-r02",
        "bottom 3 categories by gross margin this year",
        "ranking",
        S("gross_margin", this_year, ("category",), order=ASC, limit=3),
        "en",
    ),
    _case(
        "e-r03",
        "top 10 products by units this quarter",
        "ranking",
        S("quantity", this_quarter, ("product",), order=DESC, limit=10),
        "en",
    ),
    _case(
        "e-r04",
        "lowest 5 customers by collection rate this year",
        "ranking",
        S("collection_rate", this_year, ("partner",), order=ASC, limit=5),
        "en",
    ),
    _case(
        "e-r05",
        "region with the largest revenue last year",
        "ranking",
        S("revenue", last_year, ("region",), order=DESC),
        "en",
    ),
    _case(
        "e-f01",
        "revenue of 京东自营 last quarter",
        "filter",
        S("revenue", last_quarter, where={"partner": "京东自营"}),
        "en",
    ),
    _case(
        "e-f02", "gross margin of tier A partners", "filter", S("gross_margin", this_quarter, where={"tier": "A"}), "en"
    ),
    _case(
        "e-f03",
        "units of 全脂纯牛奶 last month",
        "filter",
        S("quantity", last_month, where={"product": "全脂纯牛奶"}),
        "en",
    ),
    _case(
        "e-t01",
        "partners with collection rate below 90%",
        "threshold",
        S("collection_rate", this_quarter, ("partner",), having=("<", 0.9)),
        "en",
    ),
    _case(
        "e-t02",
        "partners with attainment under 80% last quarter",
        "threshold",
        S("achievement", last_quarter, ("partner",), having=("<", 0.8)),
        "en",
    ),
    _case(
        "e-t03",
        "customers with expense ratio above 12%",
        "threshold",
        S("expense_ratio", this_quarter, ("partner",), having=(">", 0.12)),
        "en",
    ),
    _case(
        "e-t04",
        "partners with achievement of at least 120% last quarter",
        "threshold",
        S("achievement", last_quarter, ("partner",), having=(">=", 1.2)),
        "en",
    ),
    _case("e-c01", "revenue YoY this quarter", "comparison", S("revenue", this_quarter, compare="yoy"), "en"),
    _case(
        "e-c02",
        "QoQ revenue by region",
        "comparison",
        S("revenue", this_quarter, ("region",), compare="previous"),
        "en",
    ),
    _case("e-c03", "MoM units this month", "comparison", S("quantity", this_month, compare="previous"), "en"),
    _case(
        "e-c04",
        "revenue by category year over year",
        "comparison",
        S("revenue", this_quarter, ("category",), compare="yoy"),
        "en",
    ),
    _case(
        "e-c05",
        "revenue last 6 months vs previous period",
        "comparison",
        S("revenue", last_months(6), compare="previous"),
        "en",
    ),
    _case("e-m01", "gross profit 2025", "time", S("gross_profit", year(2025)), "en"),
    _case("e-m02", "revenue in 2025", "time", S("revenue", year(2025)), "en"),
    _case("e-m03", "revenue Q3 2025", "time", S("revenue", quarter(2025, 3)), "en"),
    _case("e-m04", "volume in March 2025", "time", S("quantity", month(2025, 3)), "en"),
    _case("e-m05", "revenue through June 2026", "time", S("revenue", through(6, 2026)), "en"),
    _case("e-m06", "revenue last 3 months", "time", S("revenue", last_months(3)), "en"),
    _case("e-m07", "YTD gross margin", "time", S("gross_margin", this_year), "en"),
    _case("e-m08", "cost last month", "time", S("cost", last_month), "en"),
    _case("e-m09", "target this quarter", "time", S("target", this_quarter), "en"),
    _case("e-o01", "total revenue this month", "total", S("revenue", this_month), "en"),
    _case("e-o02", "inventory turnover this year", "total", S("turnover", this_year), "en"),
    _case("e-o03", "active partners last month", "total", S("active_partners", last_month), "en"),
    _case("e-o04", "average price last quarter", "total", S("avg_price", last_quarter), "en"),
    _case("e-o05", "rebate last year", "total", S("rebate", last_year), "en"),
    _case("e-g01", "revenue by region last quarter", "group", S("revenue", last_quarter, ("region",)), "en"),
    _case("e-g02", "expense ratio by channel", "group", S("expense_ratio", this_quarter, ("partner_type",)), "en"),
    _case("e-g03", "inventory by category", "group", S("inventory", this_quarter, ("category",)), "en"),
    _case("e-g04", "days of inventory by region", "group", S("inventory_days", this_quarter, ("region",)), "en"),
    _case("e-g05", "number of partners by tier", "group", S("partner_count", by=("tier",)), "en"),
    _case("e-g06", "monthly revenue this year", "group", S("revenue", this_year, ("month",)), "en"),
    _case("e-g07", "quarterly revenue last year", "group", S("revenue", last_year, ("quarter",)), "en"),
    _case("e-g08", "attainment by tier this quarter", "group", S("achievement", this_quarter, ("tier",)), "en"),
    _case("e-g09", "revenue by province last year", "group", S("revenue", last_year, ("province",)), "en"),
    _case("e-g10", "rebate by partner type last year", "group", S("rebate", last_year, ("partner_type",)), "en"),
    _case(
        "e-g11", "average price by category last quarter", "group", S("avg_price", last_quarter, ("category",)), "en"
    ),
    _case("e-g12", "yearly revenue over the last 24 months", "group", S("revenue", last_months(24), ("year",)), "en"),
    # ---- synonyms and combinations -------------------------------------------------------------------
    _case(
        "z-x01",
        "哪些经销商回款率低于九成",
        "threshold",
        S("collection_rate", this_quarter, ("partner",), {"partner_type": "经销商"}, having=("<", 0.9)),
    ),
    _case(
        "z-x02", "京东自营本季度销售额同比", "comparison", S("revenue", where={"partner": "京东自营"}, compare="yoy")
    ),
    _case(
        "z-x03", "全脂纯牛奶各区域的销量", "group", S("quantity", this_quarter, ("region",), {"product": "全脂纯牛奶"})
    ),
    _case("z-x04", "饮料今年每月销售额", "group", S("revenue", this_year, ("month",), {"category": "饮料"})),
    _case("z-x05", "2025年第四季度各区域营收", "group", S("revenue", quarter(2025, 4), ("region",))),
    _case("z-x06", "截至2025年6月的收款率", "time", S("collection_rate", through(6, 2025))),
    _case("z-x07", "今年毛利同比", "comparison", S("gross_profit", this_year, compare="yoy")),
    _case("z-x08", "本季度有销售的伙伴数", "total", S("active_partners", this_quarter)),
    _case("z-x09", "京东自营的库存", "filter", S("inventory", this_quarter, where={"partner": "京东自营"})),
    _case("z-x10", "各品类库存周期", "group", S("inventory_days", this_quarter, ("category",))),
    _case("z-x11", "上季度华北的出货量", "filter", S("quantity", last_quarter, where={"region": "华北"})),
    _case("z-x12", "去年各级别的业绩", "group", S("revenue", last_year, ("tier",))),
    _case(
        "z-x13",
        "本季度返点最多的3个代理商",
        "ranking",
        S("rebate", this_quarter, ("partner",), {"partner_type": "代理商"}, DESC, 3),
    ),
    _case("z-x14", "各区域达成率", "group", S("achievement", this_quarter, ("region",))),
    _case("z-x15", "本月成本费用", "total", S("cost", this_month)),
    _case("z-x16", "近12个月各品类销售额", "group", S("revenue", last_months(12), ("category",))),
    _case("z-x17", "华东各省份的毛利率", "group", S("gross_margin", this_quarter, ("province",), {"region": "华东"})),
    _case("z-x18", "本季度销售额最高的城市", "ranking", S("revenue", this_quarter, ("city",), order=DESC)),
    _case(
        "z-x19",
        "活跃伙伴数最少的两个级别",
        "ranking",
        S("active_partners", this_quarter, ("tier",), order=ASC, limit=2),
        note="B and D tie at 60 partners: the tie goes to the smaller key",
    ),
    _case("z-x20", "去年的库存", "time", S("inventory", last_year), note="the 2025-12-31 snapshot"),
    _case("z-x21", "近2个月的目标", "time", S("target", last_months(2)), note="2026Q3 targets x 61/92"),
    _case("z-x22", "本季度库存环比", "comparison", S("inventory", this_quarter, compare="previous")),
    _case(
        "z-x23",
        "华东费用率最高的5个伙伴",
        "ranking",
        S("expense_ratio", this_quarter, ("partner",), {"region": "华东"}, DESC, 5),
    ),
    _case("z-x24", "库存周转率最低的5个伙伴", "ranking", S("turnover", this_quarter, ("partner",), order=ASC, limit=5)),
    _case(
        "e-x01",
        "top five products by gross profit last year",
        "ranking",
        S("gross_profit", last_year, ("product",), order=DESC, limit=5),
        "en",
    ),
    _case(
        "e-x02",
        "bottom 5 partners by units last month",
        "ranking",
        S("quantity", last_month, ("partner",), order=ASC, limit=5),
        "en",
    ),
    _case(
        "e-x11",
        "lowest 2 tiers by active partners",
        "ranking",
        S("active_partners", this_quarter, ("tier",), order=ASC, limit=2),
        "en",
        note="B and D tie at 60 partners: the tie goes to the smaller key",
    ),
    _case(
        "e-x03",
        "channels with expense ratio over 10%",
        "threshold",
        S("expense_ratio", this_quarter, ("partner_type",), having=(">", 0.1)),
        "en",
    ),
    _case(
        "e-x04",
        "regions with collection rate more than 95%",
        "threshold",
        S("collection_rate", this_quarter, ("region",), having=(">", 0.95)),
        "en",
    ),
    _case(
        "e-x05",
        "collection rate of P0034 this year",
        "filter",
        S("collection_rate", this_year, where={"partner_id": "P0034"}),
        "en",
    ),
    _case(
        "e-x06",
        "average price of 每日坚果 last month",
        "filter",
        S("avg_price", last_month, where={"product": "每日坚果"}),
        "en",
    ),
    _case(
        "e-x07",
        "gross profit by region YoY",
        "comparison",
        S("gross_profit", this_quarter, ("region",), compare="yoy"),
        "en",
    ),
    _case(
        "e-x08", "active partners by region this month", "group", S("active_partners", this_month, ("region",)), "en"
    ),
    _case("e-x09", "sales by channel in Q4 2025", "group", S("revenue", quarter(2025, 4), ("partner_type",)), "en"),
    _case(
        "e-x10",
        "monthly collection rate last 6 months",
        "group",
        S("collection_rate", last_months(6), ("month",)),
        "en",
    ),
    # ---- clarifications ------------------------------------------------------------------------------
    _case("z-k01", "华东怎么样", "clarify", note="no metric"),
    _case("z-k02", "给我看看经销商", "clarify", note="no metric"),
    _case("z-k03", "鑫源的销售额", "clarify", ambiguous="鑫源"),
    _case("z-k04", "汇通本季度的回款率", "clarify", ambiguous="汇通"),
    _case("z-k05", "天猫上个月的销量", "clarify", ambiguous="天猫"),
    _case("z-k06", "宝隆的毛利率", "clarify", ambiguous="宝隆"),
    _case("z-k07", "富康今年的完成率", "clarify", ambiguous="富康"),
    _case("z-k08", "牛肉的销量", "clarify", ambiguous="牛肉", note="product: 风干牛肉干 / 红烧牛肉面"),
    _case("z-k09", "高钙上个月的销售额", "clarify", ambiguous="高钙", note="product: 高钙低脂奶 / 高钙奶酪棒"),
    _case("z-k10", "蓝天食品有限公司的销售额", "clarify", note="no such partner"),
    _case("z-k11", "你好", "clarify", note="meaningless"),
    _case("z-k12", "？？？", "clarify", note="meaningless"),
    _case("z-k13", "百川怎么样", "clarify", note="ambiguous name and no metric"),
    _case("e-k01", "how is 华东 doing", "clarify", lang="en", note="no metric"),
    _case("e-k02", "show me the dealers", "clarify", lang="en", note="no metric"),
    _case("e-k03", "revenue of Acme Trading", "clarify", lang="en", note="no such partner"),
    _case("e-k04", "asdfgh", "clarify", lang="en", note="meaningless"),
    _case("e-k05", "revenue of 汇通 last month", "clarify", lang="en", ambiguous="汇通"),
]


def check_cases(tables: dict[str, pd.DataFrame]) -> None:
    """Fail loudly when the data no longer fits the set: ids unique, names resolve, fragments still ambiguous."""
    ids = [c.id for c in CASES]
    if len(ids) != len(set(ids)):
        raise ValueError("duplicate case ids")
    f = facts_of(tables)
    for case in CASES:
        if case.expected is not None:
            case.expected(tables, f.latest)
        if case.ambiguous and len(f.candidates(case.ambiguous)) < 2:
            raise ValueError(f"{case.id}: {case.ambiguous!r} no longer matches several names")


def counts() -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {"lang": {}, "kind": {}}
    for case in CASES:
        out["lang"][case.lang] = out["lang"].get(case.lang, 0) + 1
        out["kind"][case.kind] = out["kind"].get(case.kind, 0) + 1
    return out


__all__ = ["CASES", "Case", "Expected", "Spec", "Window", "check_cases", "counts", "facts_of", "measure"]
