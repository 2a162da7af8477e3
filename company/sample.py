"""The sample company: a seeded, fully vectorised Chinese food & beverage maker and its channel partners.

Owns the demo data set (every table in company.schema) and the manifest of the anomalies planted in it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from company import clock, schema

# ---------------------------------------------------------------------------------------------------------------
# Reference data
# ---------------------------------------------------------------------------------------------------------------

# region -> province -> (GDP in trillion 元, used as market weight; cities with the capital first).
GEOGRAPHY: dict[str, dict[str, tuple[float, tuple[str, ...]]]] = {
    "华东": {
        "上海": (4.7, ("上海",)),
        "江苏": (12.8, ("南京", "苏州", "无锡", "常州")),
        "浙江": (8.3, ("杭州", "宁波", "温州", "绍兴")),
        "安徽": (4.7, ("合肥", "芜湖", "蚌埠")),
        "福建": (5.4, ("福州", "厦门", "泉州")),
        "江西": (3.2, ("南昌", "赣州", "九江")),
        "山东": (9.2, ("济南", "青岛", "烟台", "潍坊")),
    },
    "华南": {
        "广东": (13.6, ("广州", "深圳", "东莞", "佛山")),
        "广西": (2.7, ("南宁", "柳州", "桂林")),
        "海南": (0.75, ("海口", "三亚")),
    },
    "华北": {
        "北京": (4.4, ("北京",)),
        "天津": (1.7, ("天津",)),
        "河北": (4.4, ("石家庄", "唐山", "保定")),
        "山西": (2.6, ("太原", "大同", "运城")),
        "内蒙古": (2.5, ("呼和浩特", "包头", "鄂尔多斯")),
    },
    "华中": {
        "河南": (6.0, ("郑州", "洛阳", "新乡", "南阳")),
        "湖北": (5.6, ("武汉", "宜昌", "襄阳")),
        "湖南": (5.0, ("长沙", "株洲", "岳阳", "衡阳")),
    },
    "西南": {
        "重庆": (3.0, ("重庆",)),
        "四川": (6.0, ("成都", "绵阳", "宜宾", "南充")),
        "贵州": (2.1, ("贵阳", "遵义")),
        "云南": (3.0, ("昆明", "曲靖", "大理")),
    },
    "西北": {
        "陕西": (3.4, ("西安", "宝鸡", "咸阳")),
        "甘肃": (1.2, ("兰州", "天水")),
        "宁夏": (0.5, ("银川", "石嘴山")),
        "新疆": (1.9, ("乌鲁木齐", "昌吉", "喀什")),
    },
    "东北": {
        "辽宁": (3.0, ("沈阳", "大连", "鞍山")),
        "吉林": (1.4, ("长春", "吉林", "四平")),
        "黑龙江": (1.6, ("哈尔滨", "齐齐哈尔", "大庆")),
    },
}

CATEGORIES = ("饮料", "乳制品", "休闲食品", "调味品", "方便食品")
_SKU_PREFIX = ("BEV", "DAI", "SNK", "CND", "INS")
# (category index, name with pack spec, list price per case in 元)
_PRODUCTS = (
    (0, "清泉矿泉水 550ml×24", 36),
    (0, "青柠苏打水 350ml×24", 62),
    (0, "冰爽红茶 500ml×15", 45),
    (0, "鲜橙果汁饮料 1L×12", 72),
    (0, "无糖乌龙茶 500ml×15", 60),
    (0, "电解质运动饮料 600ml×15", 78),
    (1, "全脂纯牛奶 250ml×24", 66),
    (1, "高钙低脂奶 250ml×16", 58),
    (1, "原味风味酸奶 200g×24", 86),
    (1, "益生菌发酵乳 100ml×30", 92),
    (1, "儿童成长奶粉 800g×6", 288),
    (1, "高钙奶酪棒 500g×10", 255),
    (2, "原味薯片 70g×30", 108),
    (2, "五香瓜子 500g×12", 150),
    (2, "每日坚果 750g×6", 276),
    (2, "苏打饼干 400g×12", 96),
    (2, "香辣面筋 100g×40", 82),
    (2, "风干牛肉干 250g×10", 268),
    (3, "特级生抽 500ml×12", 66),
    (3, "山西老陈醋 420ml×12", 48),
    (3, "鲜味蚝油 700g×12", 96),
    (3, "香辣火锅底料 400g×20", 184),
    (3, "鸡精调味料 454g×20", 198),
    (3, "小磨芝麻香油 400ml×12", 228),
    (4, "红烧牛肉面 105g×24", 62),
    (4, "酸辣粉 130g×24", 112),
    (4, "自热米饭 375g×12", 150),
    (4, "柳州螺蛳粉 330g×20", 192),
    (4, "速冻猪肉水饺 1kg×10", 160),
    (4, "即食燕麦片 1kg×12", 168),
)

_TYPE_SHARE = (0.40, 0.12, 0.15, 0.15, 0.06, 0.12)  # in schema.PARTNER_TYPES order
_TYPE_MEDIAN_SIZE = (300_000, 250_000, 120_000, 100_000, 600_000, 80_000)  # typical monthly revenue, 元
_CHANNEL_LEVEL = (2, 2, 2, 1, 1, 0)
_TIER_SHARE = (0.10, 0.25, 0.40, 0.25)
DISTRIBUTOR, AGENT, WHOLESALER, RETAILER, ECOMMERCE, DIRECT = range(6)

_BRAND_WORDS = (
    "鑫源 恒通 永盛 聚福 嘉禾 盛达 德隆 金泰 宏发 瑞丰 百川 丰泽 和顺 隆昌 天成 万家 兴旺 鼎盛 润泽 福满 "
    "佳美 康源 安达 启航 宏远 益民 惠民 优品 顺通 鸿运 利源 汇通 广源 泰和 信达 长盛 华兴 祥瑞 金穗 源丰 "
    "通达 亨泰 裕丰 同福 乐康 吉祥 荣昌 富康 宝隆 昌盛 新禾 锦程 众诚 合力 诚信 恒丰 福源 德润 天润 万通 "
    "金麦 禾丰 旺达 久盛 茂源 正兴 开元 三和 四季 五丰 六合 七星 九鼎 双赢 海川 山禾 田园 绿野 春晖 佳禾"
).split()
# Legal/business-form suffixes per partner type; disjoint so names of different types never collide.
_BUSINESS_FORMS = (
    ("商贸有限公司", "食品经销部", "贸易有限公司", "食品有限公司", "商贸行"),
    ("食品代理有限公司", "供应链管理有限公司", "贸易代理行", "品牌管理有限公司"),
    ("副食品批发部", "食品批发商行", "粮油副食批发站", "食杂批发部"),
    ("超市", "连锁超市有限公司", "便利店", "购物广场", "生活超市"),
)
_PLATFORMS = ("天猫", "京东", "拼多多", "抖音", "快手", "唯品会")
_SHOP_FORMS = ("食品专营店", "零食专营店", "生活馆")
_MARQUEE_SHOPS = ("京东自营", "天猫超市")

# Spring Festival (month, day) by year: the holiday month dips, the month after restarts slowly.
_SPRING_FESTIVAL = {
    2010: (2, 14),
    2011: (2, 3),
    2012: (1, 23),
    2013: (2, 10),
    2014: (1, 31),
    2015: (2, 19),
    2016: (2, 8),
    2017: (1, 28),
    2018: (2, 16),
    2019: (2, 5),
    2020: (1, 25),
    2021: (2, 12),
    2022: (2, 1),
    2023: (1, 22),
    2024: (2, 10),
    2025: (1, 29),
    2026: (2, 17),
    2027: (2, 6),
    2028: (1, 26),
    2029: (2, 13),
    2030: (2, 3),
    2031: (1, 23),
    2032: (2, 11),
    2033: (1, 31),
    2034: (2, 19),
    2035: (2, 8),
    2036: (1, 28),
    2037: (2, 15),
    2038: (2, 4),
    2039: (1, 24),
    2040: (2, 12),
}
# Calendar-month demand factors: Q4 holiday peak (Nov/Dec highest); beverages get a summer bump on top.
_BASE_SEASON = np.array([1.00, 0.98, 0.95, 0.96, 1.00, 1.02, 1.00, 1.00, 1.04, 1.10, 1.24, 1.34])
_BEVERAGE_SEASON = np.array([0.90, 0.90, 0.95, 1.00, 1.05, 1.15, 1.30, 1.25, 1.05, 0.98, 0.96, 0.95])

# Cost rates as share of revenue, per partner type (schema.PARTNER_TYPES order). Direct stores carry their own
# staff, e-commerce pays for express delivery and platform traffic, wholesalers are the leanest.
_LOGISTICS_RATE = ((0.022, 0.032), (0.020, 0.030), (0.020, 0.026), (0.028, 0.036), (0.032, 0.040), (0.030, 0.040))
_PROMOTION_RATE = ((0.012, 0.022), (0.012, 0.020), (0.010, 0.014), (0.018, 0.026), (0.024, 0.030), (0.020, 0.030))
_PERSONNEL_RATE = (0.012, 0.010, 0.006, 0.015, 0.020, 0.110)
_MARKETING_RATE = (0.012, 0.010, 0.004, 0.015, 0.045, 0.030)
_OTHER_RATE = (0.004, 0.004, 0.003, 0.005, 0.006, 0.012)
_REBATE_STEPS = ((0.90, 0.0), (1.00, 0.015), (1.10, 0.03), (np.inf, 0.045))  # achievement below x -> rate

_MAX_SKUS = 15
_DECLINE_QUARTERS = 4
_YOY_FLOOR = 1.005  # YoY below this counts as a decline when keeping normal partners clean (margin for cents)
_NORMAL_STOCK_CAP = 1.75  # normal quarter-end inventory stays below this multiple of the partner's median

# Provinces and cities flattened into index arrays so every lookup below is a numpy take.
_PROVINCES = [p for provs in GEOGRAPHY.values() for p in provs]
_PROV_REGION = np.array([ri for ri, provs in enumerate(GEOGRAPHY.values()) for _ in provs])
_PROV_WEIGHT = np.array([w for provs in GEOGRAPHY.values() for w, _ in provs.values()])
_CITIES = [c for provs in GEOGRAPHY.values() for _, cities in provs.values() for c in cities]
_CITY_COUNT = np.array([len(cities) for provs in GEOGRAPHY.values() for _, cities in provs.values()])
_CITY_START = np.concatenate([[0], np.cumsum(_CITY_COUNT)[:-1]])


@dataclass
class SampleCompany:
    tables: dict[str, pd.DataFrame]
    manifest: dict


# ---------------------------------------------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------------------------------------------


def _text(labels, codes: np.ndarray) -> pd.api.extensions.ExtensionArray:
    """labels[codes] as a pandas string array; code -1 becomes NA. Taking from a small array keeps it fast."""
    return pd.array(list(labels), dtype="string").take(np.asarray(codes), allow_fill=True)


def _allocate(total: int, shares, minimum: int = 0) -> np.ndarray:
    """Split total into integer counts proportional to shares (largest remainder), each at least minimum."""
    shares = np.asarray(shares, dtype=float) / np.sum(shares)
    counts = np.full(len(shares), minimum) + np.floor((total - minimum * len(shares)) * shares).astype(int)
    remainder = (total - minimum * len(shares)) * shares - (counts - minimum)
    counts[np.argsort(-remainder)[: total - counts.sum()]] += 1
    return counts


def _random_city(rng: np.random.Generator, provinces: np.ndarray) -> np.ndarray:
    """A city of each province; the capital (first city) gets twice the weight of the others."""
    slot = np.floor(rng.random(len(provinces)) * (_CITY_COUNT[provinces] + 1)).astype(int) - 1
    return _CITY_START[provinces] + np.clip(slot, 0, None)


def _top_k(rng: np.random.Generator, weights: np.ndarray, rows: int, k: int) -> np.ndarray:
    """k distinct column indices per row, drawn without replacement in proportion to weights (Gumbel top-k)."""
    keys = np.log(weights)[None, :] - np.log(-np.log(rng.random((rows, len(weights)))))
    return np.argsort(-keys, axis=1)[:, :k]


def _numerals(values: np.ndarray) -> np.ndarray:
    """Integers as an object array of decimal strings, ready for vectorised concatenation."""
    return pd.Series(values).astype(str).to_numpy(dtype=object)


def _pick(rng: np.random.Generator, pool: np.ndarray, count: int) -> np.ndarray:
    return np.sort(rng.choice(pool, size=min(count, len(pool)), replace=False)) if count else pool[:0]


def _months_label(cal: _Calendar, months) -> list[str]:
    return [cal.labels[int(t)] for t in sorted(months)]


# ---------------------------------------------------------------------------------------------------------------
# Calendar
# ---------------------------------------------------------------------------------------------------------------


@dataclass
class _Calendar:
    year: np.ndarray
    month: np.ndarray
    starts: np.ndarray  # datetime64[D], first day of each month
    days: np.ndarray
    labels: list[str]  # "YYYY-MM"
    quarters: list[tuple[str, np.ndarray]]  # quarters fully inside the window: (label, month indices)
    spring_festival: list[int]  # month indices of the Spring Festival months inside the window

    @classmethod
    def build(cls, end_year: int, end_month: int, months: int) -> _Calendar:
        serial = end_year * 12 + end_month - 1 - np.arange(months)[::-1]
        year, month = serial // 12, serial % 12 + 1
        starts = np.array([f"{y:04d}-{m:02d}" for y, m in zip(year, month, strict=True)], dtype="datetime64[M]")
        days = ((starts + 1).astype("datetime64[D]") - starts.astype("datetime64[D]")).astype(int)
        quarters = [
            (f"{year[t]}Q{(month[t] - 1) // 3 + 1}", np.arange(t, t + 3))
            for t in range(months - 2)
            if month[t] % 3 == 1
        ]
        sf = [t for t in range(months) if _SPRING_FESTIVAL[int(year[t])][0] == month[t]]
        labels = [f"{y:04d}-{m:02d}" for y, m in zip(year, month, strict=True)]
        return cls(year, month, starts.astype("datetime64[D]"), days, labels, quarters, sf)

    @property
    def size(self) -> int:
        return len(self.year)

    @property
    def yoy_quarters(self) -> list[int]:
        """Indices into quarters whose year-ago quarter is also fully inside the window (it is quarters[i - 4])."""
        return list(range(4, len(self.quarters)))

    def season(self) -> np.ndarray:
        """Demand factor per category x month."""
        base = _BASE_SEASON[self.month - 1].copy()
        for t in self.spring_festival:
            base[t] *= 0.72
            if t + 1 < self.size:
                base[t + 1] *= 0.90
            if t >= 1 and self.month[t - 1] != 12:  # New-Year goods stocking, unless December already peaks
                base[t - 1] *= 1.08
        season = np.tile(base, (len(CATEGORIES), 1))
        season[0] *= _BEVERAGE_SEASON[self.month - 1]
        return season


# ---------------------------------------------------------------------------------------------------------------
# Master data
# ---------------------------------------------------------------------------------------------------------------


@dataclass
class _Products:
    sku: list[str]
    name: list[str]
    category: np.ndarray
    list_price: np.ndarray
    floor_price: np.ndarray
    unit_cost: np.ndarray
    popularity: np.ndarray

    @classmethod
    def build(cls, rng: np.random.Generator) -> _Products:
        category = np.array([c for c, _, _ in _PRODUCTS])
        serial = np.zeros(len(_PRODUCTS), dtype=int)
        for c in range(len(CATEGORIES)):
            serial[category == c] = np.arange(1, (category == c).sum() + 1)
        base = np.array([p for _, _, p in _PRODUCTS], dtype=float)
        list_price = np.round(base * rng.uniform(0.97, 1.03, len(base)))
        return cls(
            sku=[f"{_SKU_PREFIX[c]}-{s:03d}" for c, s in zip(category, serial, strict=True)],
            name=[n for _, n, _ in _PRODUCTS],
            category=category,
            list_price=list_price,
            floor_price=np.round(list_price * 0.85, 2),
            unit_cost=np.round(list_price * rng.uniform(0.50, 0.65, len(base)), 2),
            popularity=rng.lognormal(0.0, 0.5, len(base)),
        )

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "sku": pd.array(self.sku, dtype="string"),
                "name": pd.array(self.name, dtype="string"),
                "category": _text(CATEGORIES, self.category),
                "list_price": self.list_price,
                "floor_price": self.floor_price,
                "unit_cost": self.unit_cost,
            }
        )


@dataclass
class _Partners:
    ids: list[str]
    names: np.ndarray  # object array of str
    region: np.ndarray
    province: np.ndarray
    city: np.ndarray
    type: np.ndarray
    tier: np.ndarray
    size: np.ndarray  # typical monthly revenue at the start of the window, 元
    growth: np.ndarray  # yearly growth rate
    territory: np.ndarray  # (n, 3) province indices, -1 padded; column 0 is the home province
    parent: np.ndarray  # partner index or -1
    contract_start: np.ndarray
    contract_end: np.ndarray
    credit_limit: np.ndarray

    @property
    def count(self) -> int:
        return len(self.ids)

    @property
    def territory_count(self) -> np.ndarray:
        return (self.territory >= 0).sum(axis=1)

    def territory_text(self) -> np.ndarray:
        names = np.array(_PROVINCES, dtype=object)
        text = names[self.territory[:, 0]]
        for j in (1, 2):
            more = self.territory[:, j] >= 0
            text[more] = text[more] + "、" + names[self.territory[more, j]]
        return np.where(self.type == ECOMMERCE, schema.NATIONWIDE, text)

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "partner_id": pd.array(self.ids, dtype="string"),
                "name": pd.array(list(self.names), dtype="string"),
                "type": _text(schema.PARTNER_TYPES, self.type),
                "tier": _text(schema.TIERS, self.tier),
                "channel_level": np.array(_CHANNEL_LEVEL, dtype=np.int64)[self.type],
                "parent_id": _text(self.ids, self.parent),
                "region": _text(schema.REGIONS, self.region),
                "province": _text(_PROVINCES, self.province),
                "city": _text(_CITIES, self.city),
                "country": pd.array(["中国"] * self.count, dtype="string"),
                "territory": pd.array(list(self.territory_text()), dtype="string"),
                "contract_start": self.contract_start.astype("datetime64[ns]"),
                "contract_end": self.contract_end.astype("datetime64[ns]"),
                "credit_limit": self.credit_limit,
            }
        )


def _build_partners(rng: np.random.Generator, n: int, cal: _Calendar) -> _Partners:
    region_weight = [sum(w for w, _ in provs.values()) for provs in GEOGRAPHY.values()]
    region = np.repeat(np.arange(len(GEOGRAPHY)), _allocate(n, region_weight, minimum=2))
    province = np.empty(n, dtype=int)
    for r in range(len(GEOGRAPHY)):
        provs = np.flatnonzero(_PROV_REGION == r)
        members = region == r
        province[members] = rng.choice(provs, size=members.sum(), p=_PROV_WEIGHT[provs] / _PROV_WEIGHT[provs].sum())
    city = _random_city(rng, province)

    ptype = rng.permutation(np.repeat(np.arange(len(_TYPE_SHARE)), _allocate(n, _TYPE_SHARE)))
    # Every region needs a distributor so its wholesalers have a parent: swap types with a distributor elsewhere.
    for r in range(len(GEOGRAPHY)):
        if not np.any((region == r) & (ptype == DISTRIBUTOR)):
            donor_region = np.bincount(region[ptype == DISTRIBUTOR], minlength=len(GEOGRAPHY)).argmax()
            donor = rng.choice(np.flatnonzero((region == donor_region) & (ptype == DISTRIBUTOR)))
            taker = rng.choice(np.flatnonzero(region == r))
            ptype[donor], ptype[taker] = ptype[taker], DISTRIBUTOR

    median = np.array(_TYPE_MEDIAN_SIZE, dtype=float)[ptype]
    size = np.clip(rng.lognormal(np.log(median), 0.65), np.maximum(20_000, 0.2 * median), 8 * median)
    # Tier follows size with some judgement noise: big partners are mostly A/B.
    order = np.argsort(-(np.log(size) + rng.normal(0, 0.3, n)))
    tier = np.empty(n, dtype=int)
    tier[order] = np.repeat(np.arange(len(_TIER_SHARE)), _allocate(n, _TIER_SHARE))

    kind = rng.random(n)
    growth = np.where(
        kind < 0.08,
        rng.uniform(0.35, 0.45, n),  # fast growers
        np.where(
            kind < 0.25,
            rng.uniform(-0.02, 0.02, n),  # flat
            rng.uniform(0.03, 0.25, n),
        ),
    )

    territory = np.full((n, 3), -1)
    territory[:, 0] = province
    wide = np.isin(ptype, (DISTRIBUTOR, AGENT)) & (tier <= 1) & (rng.random(n) < 0.5)
    extra = rng.integers(1, 3, n)
    for r in range(len(GEOGRAPHY)):
        provs = np.flatnonzero(_PROV_REGION == r)
        members = np.flatnonzero(wide & (region == r))
        keys = rng.random((len(members), len(provs)))
        keys[province[members][:, None] == provs[None, :]] = -1.0  # home province is already column 0
        picked = provs[np.argsort(-keys, axis=1)[:, :2]]
        for j in range(2):
            use = extra[members] > j
            territory[members[use], j + 1] = picked[use, j]

    parent = np.full(n, -1)
    for r in range(len(GEOGRAPHY)):
        children = np.flatnonzero((region == r) & (ptype == WHOLESALER))
        parent[children] = rng.choice(np.flatnonzero((region == r) & (ptype == DISTRIBUTOR)), size=len(children))

    data_start, data_end = cal.starts[0], cal.starts[-1] + cal.days[-1] - 1
    earliest = min(np.datetime64("2018-01-01"), data_start - 365)
    contract_start = earliest + rng.integers(0, (data_start - earliest).astype(int), n)
    contract_end = data_end + rng.integers(365, 3 * 365 + 1, n)
    expiring = rng.choice(n, size=max(1, round(0.04 * n)), replace=False)
    contract_end[expiring] = data_end - rng.integers(0, 90, len(expiring))
    credit_limit = np.maximum(10_000.0, np.round(size * rng.uniform(1.0, 2.0, n), -4))

    width = max(4, len(str(n)))
    ids = list("P" + pd.Series(np.arange(1, n + 1)).astype(str).str.zfill(width))
    names = _partner_names(rng, ptype, city)
    return _Partners(
        ids,
        names,
        region,
        province,
        city,
        ptype,
        tier,
        size,
        growth,
        territory,
        parent,
        contract_start,
        contract_end,
        credit_limit,
    )


def _partner_names(rng: np.random.Generator, ptype: np.ndarray, city: np.ndarray) -> np.ndarray:
    """Realistic names, unique by construction: within a (city, type) group each partner gets a distinct combo."""
    n = len(ptype)
    cities = np.array(_CITIES, dtype=object)[city]
    words = np.array(_BRAND_WORDS, dtype=object)
    frame = pd.DataFrame({"group": np.where(ptype == ECOMMERCE, -1, city), "type": ptype, "key": rng.random(n)})
    rank = frame.sort_values("key").groupby(["group", "type"]).cumcount().reindex(frame.index).to_numpy()
    offset = rng.integers(0, 1 << 30, n)  # one offset per group, taken from the group's first member below
    group_offset = frame.assign(offset=offset).groupby(["group", "type"])["offset"].transform("first").to_numpy()
    names = np.empty(n, dtype=object)

    def combos(members: np.ndarray, parts: list[tuple]) -> list[np.ndarray]:
        """Map each member's rank to a distinct element of the cartesian product of parts (stride walk)."""
        total = int(np.prod([len(p) for p in parts]))
        stride = next(s for s in (7919, 7907, 7901, 1) if np.gcd(s, total) == 1)
        index = (group_offset[members] + rank[members] * stride) % total
        out = []
        for part in reversed(parts):
            out.append(np.array(part, dtype=object)[index % len(part)])
            index = index // len(part)
        return out[::-1]

    def branch(members: np.ndarray, total: int) -> np.ndarray:
        # Only reached by groups larger than their combo space (tens of thousands of partners).
        lap = rank[members] // total
        return np.where(lap > 0, "第" + _numerals(lap + 1) + "分部", "")

    for t in (DISTRIBUTOR, AGENT, WHOLESALER, RETAILER):
        members = np.flatnonzero(ptype == t)
        word, form = combos(members, [words, _BUSINESS_FORMS[t]])
        names[members] = cities[members] + word + form + branch(members, len(words) * len(_BUSINESS_FORMS[t]))

    members = np.flatnonzero(ptype == ECOMMERCE)
    platform, word, form = combos(members, [_PLATFORMS, words, _SHOP_FORMS])
    names[members] = platform + word + form + branch(members, len(_PLATFORMS) * len(words) * len(_SHOP_FORMS))
    marquee = members[np.argsort(rank[members])][: len(_MARQUEE_SHOPS)]
    names[marquee] = _MARQUEE_SHOPS[: len(marquee)]

    members = np.flatnonzero(ptype == DIRECT)
    suffix = np.where(rank[members] == 0, "直营体验店", "直营" + _numerals(rank[members] + 1) + "号店")
    names[members] = cities[members] + suffix
    return names


# ---------------------------------------------------------------------------------------------------------------
# Monthly volumes, prices and revenue on a dense partner x SKU-slot x month grid
# ---------------------------------------------------------------------------------------------------------------


@dataclass
class _Volume:
    slot_sku: np.ndarray  # (n, K) product index carried in each slot
    carried: np.ndarray  # (n, K) bool
    level: np.ndarray  # (n, K, M) underlying sell-out, cases (float)
    boost: np.ndarray  # (n, M) sell-in multiplier (stock build-up planting)
    price: np.ndarray  # (n, K, M) unit price, 元
    expected: np.ndarray  # (n, M) planner's expected revenue (no noise), 元

    def quantity(self, months=slice(None)) -> np.ndarray:
        q = np.maximum(np.rint(self.level[:, :, months] * self.boost[:, None, months]), 1.0)
        return np.where(self.carried[:, :, None], q, 0.0)

    def revenue(self, months=slice(None)) -> np.ndarray:
        """Partner x month revenue exactly as the sales lines will add up (cents rounded per line)."""
        return np.round(self.quantity(months) * self.price[:, :, months], 2).sum(axis=1)

    def scale(self, partners: np.ndarray, months: np.ndarray, factor: np.ndarray) -> None:
        self.level[np.ix_(partners, np.arange(self.level.shape[1]), months)] *= factor[:, None, None]


def _build_volume(rng: np.random.Generator, partners: _Partners, products: _Products, cal: _Calendar) -> _Volume:
    n, m = partners.count, cal.size
    pct = np.argsort(np.argsort(partners.size)) / max(n - 1, 1)
    n_skus = np.clip(np.rint(5 + 10 * pct + rng.normal(0, 1.5, n)), 5, _MAX_SKUS).astype(int)
    n_skus[partners.type == ECOMMERCE] = np.maximum(n_skus[partners.type == ECOMMERCE], 10)
    slot_sku = _top_k(rng, products.popularity, n, _MAX_SKUS)
    carried = np.arange(_MAX_SKUS)[None, :] < n_skus[:, None]

    weight = products.popularity[slot_sku] * rng.lognormal(0.0, 0.5, slot_sku.shape) * carried
    share = weight / weight.sum(axis=1, keepdims=True)
    list_price = products.list_price[slot_sku]
    max_discount = np.array([0.07, 0.06, 0.05, 0.04])[partners.tier]  # bigger partners negotiate more
    discount = rng.uniform(0, 1, slot_sku.shape) * max_discount[:, None]
    base_cases = partners.size[:, None] * share / (list_price * (1 - discount))

    trend = (1 + partners.growth[:, None]) ** (np.arange(m)[None, :] / 12)
    season = cal.season()[products.category[slot_sku]]  # (n, K, M)
    month_noise = np.exp(np.clip(rng.normal(0, 0.07, (n, m)), -0.15, 0.15))
    line_noise = np.exp(np.clip(rng.normal(0, 0.06, (n, _MAX_SKUS, m)), -0.12, 0.12))
    level = base_cases[:, :, None] * trend[:, None, :] * season * month_noise[:, None, :] * line_noise

    monthly_discount = np.clip(discount[:, :, None] + rng.uniform(-0.01, 0.01, level.shape), 0.0, 0.08)
    price = np.round(list_price[:, :, None] * (1 - monthly_discount), 2)
    expected = (base_cases * list_price * (1 - discount))[:, :, None] * season
    expected = expected.sum(axis=1) * trend
    return _Volume(slot_sku, carried, level, np.ones((n, m)), price, expected)


def _quarter_revenue(volume: _Volume, cal: _Calendar, q: int) -> np.ndarray:
    return volume.revenue(cal.quarters[q][1]).sum(axis=1)


def _plant_decline(rng: np.random.Generator, volume: _Volume, cal: _Calendar, declining: np.ndarray) -> None:
    """Each of the last quarters ends 15-35% below the same quarter a year earlier; months after follow suit."""
    quarters = cal.yoy_quarters[-_DECLINE_QUARTERS:]
    drops = rng.uniform(0.15, 0.35, (len(declining), len(quarters)))
    for j, q in enumerate(quarters):
        for _ in range(3):  # whole-case rounding moves the result a little; two or three passes settle it
            ratio = _quarter_revenue(volume, cal, q)[declining] / _quarter_revenue(volume, cal, q - 4)[declining]
            volume.scale(declining, cal.quarters[q][1], (1 - drops[:, j]) / ratio)
    last_month = cal.quarters[quarters[-1]][1][-1]
    for t in range(last_month + 1, cal.size):  # trailing months of a partial quarter
        ratio = volume.revenue([t])[declining, 0] / volume.revenue([t - 12])[declining, 0]
        volume.scale(declining, np.array([t]), (1 - drops[:, -1]) / ratio)


def _keep_growth_sane(rng: np.random.Generator, volume: _Volume, cal: _Calendar, partners: np.ndarray) -> None:
    """Flat growers plus noise can drift into a streak of YoY declines; lift the third quarter of any streak."""
    streak = np.zeros(len(partners), dtype=int)
    for q in cal.yoy_quarters:
        months = cal.quarters[q][1]
        for _ in range(4):
            ratio = _quarter_revenue(volume, cal, q)[partners] / _quarter_revenue(volume, cal, q - 4)[partners]
            fix = (ratio < _YOY_FLOOR) & (streak >= 2)
            if not fix.any():
                break
            volume.scale(partners[fix], months, rng.uniform(1.01, 1.05, fix.sum()) / ratio[fix])
        streak = np.where(ratio < _YOY_FLOOR, streak + 1, 0)


# ---------------------------------------------------------------------------------------------------------------
# The generator
# ---------------------------------------------------------------------------------------------------------------


def last_complete_month(today: date | None = None) -> str:
    """YYYY-MM of the last month that has ended before today (the sample company runs up to it)."""
    day = today or clock.today()
    year, month = (day.year, day.month - 1) if day.month > 1 else (day.year - 1, 12)
    return f"{year}-{month:02d}"


def _validate(partners, months, seed, end_month) -> tuple[int, int]:
    if isinstance(partners, bool) or not isinstance(partners, (int, np.integer)) or partners < 20:
        raise ValueError(f"伙伴数 partners 必须是不小于 20 的整数（收到 {partners!r}）")
    if isinstance(months, bool) or not isinstance(months, (int, np.integer)) or months < 12:
        raise ValueError(f"月数 months 必须是不小于 12 的整数（收到 {months!r}）")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"随机种子 seed 必须是非负整数（收到 {seed!r}）")
    match = re.fullmatch(r"(\d{4})-(\d{2})", end_month) if isinstance(end_month, str) else None
    if not match or not 1 <= int(match[2]) <= 12:
        raise ValueError(f"结束月份 end_month 必须是 YYYY-MM 格式，例如 2026-09（收到 {end_month!r}）")
    year, month = int(match[1]), int(match[2])
    start_serial = year * 12 + month - 1 - (months - 1)
    if start_serial // 12 < min(_SPRING_FESTIVAL) or year > max(_SPRING_FESTIVAL):
        raise ValueError(
            f"数据区间须落在 {min(_SPRING_FESTIVAL)}-01 至 {max(_SPRING_FESTIVAL)}-12 之间"
            f"（结束月份 {end_month}，共 {months} 个月）"
        )
    return year, month


def _anomaly_count(base: int, n: int) -> int:
    return max(1, round(base * np.sqrt(n / 240)))


def generate(
    partners: int = 240,
    months: int = 24,
    seed: int = 7,
    end_month: str = "2026-09",
    progress: Callable[[float, str], None] | None = None,
) -> SampleCompany:
    """Generate the sample company: eight schema tables plus a manifest of planted anomalies."""
    end_year, end_mon = _validate(partners, months, seed, end_month)
    partners, months = int(partners), int(months)
    report = progress or (lambda fraction, message: None)
    rng = np.random.default_rng(seed)
    cal = _Calendar.build(end_year, end_mon, months)

    report(0.0, "生成产品与渠道伙伴主数据")
    products = _Products.build(rng)
    world = _build_partners(rng, partners, cal)

    report(0.15, "按季节性与增长生成月度销量")
    volume = _build_volume(rng, world, products, cal)
    picks = _choose_anomaly_partners(rng, world, cal)

    report(0.35, "植入异常：压货、低价乱价、业绩下滑")
    buildup = _plant_buildup(rng, volume, cal, picks["stock_buildup"])
    below_floor = _plant_below_floor(rng, volume, products, cal, picks["below_floor"])
    if len(picks["declining"]):
        _plant_decline(rng, volume, cal, picks["declining"])
    normal = np.setdiff1d(np.arange(partners), picks["declining"])
    _keep_growth_sane(rng, volume, cal, normal)

    report(0.55, "生成销售明细并植入窜货")
    lines = _sales_lines(rng, volume, world, products, cal, picks["cross_region"])

    report(0.75, "生成目标、库存、费用、回款与满意度")
    revenue = np.bincount(
        lines["partner"] * months + lines["month"], weights=lines["revenue"], minlength=partners * months
    ).reshape(partners, months)
    inventory, stock_ratio = _inventory(rng, volume, world, products, cal, buildup)
    targets, target_frame, missing = _targets(rng, volume, world, cal, picks["all"])
    slow = _pick(rng, np.setdiff1d(np.arange(partners), picks["all"]), max(1, round(0.10 * partners)))
    tables = {
        "partners": world.frame(),
        "products": products.frame(),
        "sales": _sales_frame(lines, world, products, cal),
        "targets": target_frame,
        "inventory": inventory,
        "costs": _costs(rng, world, cal, revenue, targets),
        "collections": _collections(rng, world, cal, revenue, slow),
        "surveys": _surveys(rng, world, cal, picks["declining"], slow),
    }
    report(0.92, "整理数据表与异常清单")
    tables = {name: tables[name][schema.TABLES[name].names] for name in schema.TABLES}
    manifest = _manifest(
        world, products, cal, lines, revenue, stock_ratio, buildup, below_floor, picks, missing, slow, tables, seed
    )
    report(1.0, "示例公司生成完成")
    return SampleCompany(tables=tables, manifest=manifest)


def _choose_anomaly_partners(rng: np.random.Generator, world: _Partners, cal: _Calendar) -> dict[str, np.ndarray]:
    """Disjoint partner sets per anomaly, drawn from the partner types where each problem typically shows up."""
    n = world.count
    resellers = np.isin(world.type, (DISTRIBUTOR, AGENT, WHOLESALER))
    plan = (  # (anomaly, base count at 240 partners, preferred pool, allowed fallback pool)
        ("cross_region", 4, resellers, world.type != ECOMMERCE),
        ("stock_buildup", 3, resellers, np.ones(n, bool)),
        ("below_floor", 5, world.type != DIRECT, np.ones(n, bool)),
        ("declining", 3 if len(cal.yoy_quarters) else 0, np.ones(n, bool), np.ones(n, bool)),
    )
    taken = np.zeros(n, bool)
    picks = {}
    for name, base, preferred, fallback in plan:
        count = _anomaly_count(base, n) if base else 0
        chosen = _pick(rng, np.flatnonzero(preferred & ~taken), count)
        if len(chosen) < count:
            chosen = np.union1d(
                chosen,
                _pick(rng, np.flatnonzero(fallback & ~taken & ~np.isin(np.arange(n), chosen)), count - len(chosen)),
            )
        taken[chosen] = True
        picks[name] = chosen
    picks["all"] = np.flatnonzero(taken)
    return picks


def _plant_buildup(rng: np.random.Generator, volume: _Volume, cal: _Calendar, chosen: np.ndarray) -> dict:
    """Channel stuffing before rebate cut-offs: sell-in about doubles at two quarter ends, then dips."""
    # Not the first month (no run rate to compare with) nor the last (the fall-back must be visible).
    candidates = np.array([t for t in range(1, cal.size - 1) if cal.month[t] % 3 == 0])
    months = {}
    for p in chosen:
        picked = np.sort(rng.choice(candidates, size=min(2, len(candidates)), replace=False))
        # At least 1.8x the recent run rate, so a seasonal low (March after the holiday) still reads as stuffing.
        run = volume.level[p].sum(axis=0)
        prior = np.array([np.median(run[max(0, t - 3) : t]) for t in picked])
        volume.boost[p, picked] = np.maximum(rng.uniform(1.8, 2.2, len(picked)), 1.8 * prior / run[picked])
        volume.boost[p, picked + 1] = rng.uniform(0.65, 0.8, len(picked))  # the next month digests the stock
        months[int(p)] = picked
    return months


def _plant_below_floor(
    rng: np.random.Generator, volume: _Volume, products: _Products, cal: _Calendar, chosen: np.ndarray
) -> dict:
    """One carried SKU per chosen partner is sold at 70-82% of list (under the 85% floor) for 2-3 months."""
    planted = {}
    for p in chosen:
        slot = rng.integers(0, volume.carried[p].sum())
        months = np.sort(rng.choice(cal.size, size=rng.integers(2, 4), replace=False))
        sku = volume.slot_sku[p, slot]
        volume.price[p, slot, months] = np.round(products.list_price[sku] * rng.uniform(0.70, 0.82, len(months)), 2)
        planted[int(p)] = (int(slot), months)
    return planted


def _sales_lines(
    rng: np.random.Generator, volume: _Volume, world: _Partners, products: _Products, cal: _Calendar, cross: np.ndarray
) -> dict[str, np.ndarray]:
    """Flatten the grid into order lines, choose ship-to places, split off the cross-region share, sort, number."""
    quantity = volume.quantity()
    p, k, t = np.nonzero(volume.carried[:, :, None] & np.ones(cal.size, bool)[None, None, :])
    qty = quantity[p, k, t]

    # A partner places 1-4 orders a month (bigger ones more often), each with one day and one ship-to address;
    # every home line joins one of them. E-commerce ships nationwide, multi-province partners spread over their
    # territory, everyone else delivers within the home province, mostly to the home city.
    n, m, most = world.count, cal.size, 4
    orders_per_month = np.clip(1 + volume.carried.sum(axis=1) // 5 + rng.integers(-1, 2, n), 1, most)
    order_day = np.floor(rng.random((n, m, most)) * cal.days[None, :, None]).astype(int)
    n_terr = world.territory_count[:, None, None]
    other = 1 + np.floor(rng.random((n, m, most)) * np.maximum(n_terr - 1, 1)).astype(int)
    home = (rng.random((n, m, most)) < 0.65) | (n_terr == 1)
    territory = np.take_along_axis(world.territory[:, None, :], np.minimum(other, 2).reshape(n, 1, -1), axis=2)
    order_province = np.where(home, world.province[:, None, None], territory.reshape(n, m, most))
    online = world.type == ECOMMERCE
    order_province[online] = rng.choice(
        len(_PROVINCES), size=(online.sum(), m, most), p=_PROV_WEIGHT / _PROV_WEIGHT.sum()
    )
    order_city = _random_city(rng, order_province.ravel()).reshape(n, m, most)
    stay = (order_province == world.province[:, None, None]) & (rng.random((n, m, most)) < 0.75)
    order_city = np.where(stay, world.city[:, None, None], order_city)
    slot_of_order = np.floor(rng.random(len(p)) * orders_per_month[p]).astype(int)
    day = order_day[p, t, slot_of_order]
    province = order_province[p, t, slot_of_order]
    city = order_city[p, t, slot_of_order]

    # Diverted shipments: part of some SKU-months goes to a province in another region, on an order of its own.
    split = {"partner": [], "slot": [], "month": [], "quantity": [], "province": []}
    index = np.full(quantity.shape, -1)
    index[p, k, t] = np.arange(len(p))
    for partner in cross:
        slots = np.flatnonzero(volume.carried[partner])
        slots = slots[np.argsort(-volume.level[partner, slots].sum(axis=1))][: max(1, len(slots) // 2)]
        slots = _pick(rng, slots, rng.integers(1, min(3, len(slots)) + 1))
        months = np.sort(rng.choice(m, size=rng.integers(2, 5), replace=False))
        foreign = np.flatnonzero(_PROV_REGION != world.region[partner])
        destinations = rng.choice(foreign, size=2, replace=False, p=_PROV_WEIGHT[foreign] / _PROV_WEIGHT[foreign].sum())
        ss, mm = (a.ravel() for a in np.meshgrid(slots, months, indexing="ij"))
        rows = index[partner, ss, mm]
        moved = np.clip(np.rint(qty[rows] * rng.uniform(0.2, 0.4, len(rows))), 1, qty[rows] - 1)
        keep = qty[rows] >= 2  # a single case cannot be split
        qty[rows[keep]] -= moved[keep]
        split["partner"].append(np.full(keep.sum(), partner))
        split["slot"].append(ss[keep])
        split["month"].append(mm[keep])
        split["quantity"].append(moved[keep])
        split["province"].append(destinations[rng.integers(0, 2, keep.sum())])

    n_home = len(p)
    if split["partner"]:
        p, k, t, qty, province = (
            np.concatenate([base, *split[key]])
            for base, key in ((p, "partner"), (k, "slot"), (t, "month"), (qty, "quantity"), (province, "province"))
        )
    is_cross = np.arange(len(p)) >= n_home
    city = np.concatenate([city, _random_city(rng, province[n_home:])])
    day = np.concatenate([day, np.floor(rng.random(len(p) - n_home) * cal.days[t[n_home:]]).astype(int)])

    sku = volume.slot_sku[p, k]
    order = np.lexsort((sku, city, province, is_cross, p, day, t))
    price = volume.price[p, k, t]
    lines = {
        "partner": p,
        "slot": k,
        "month": t,
        "sku": sku,
        "quantity": qty,
        "price": price,
        "revenue": np.round(qty * price, 2),
        "province": province,
        "city": city,
        "day": day,
        "cross": is_cross,
    }
    lines = {key: value[order] for key, value in lines.items()}
    first = np.r_[True, np.diff(lines["month"]) != 0]
    for key in ("day", "partner", "cross", "province", "city"):
        first[1:] |= lines[key][1:] != lines[key][:-1]
    lines["order"] = np.cumsum(first) - 1
    starts = np.flatnonzero(first)
    lines["line_no"] = np.arange(len(first)) - starts[lines["order"]] + 1
    return lines


def _sales_frame(lines: dict, world: _Partners, products: _Products, cal: _Calendar) -> pd.DataFrame:
    n = len(lines["partner"])
    return pd.DataFrame(
        {
            "order_id": _order_ids(lines["order"]),
            "line_no": lines["line_no"].astype(np.int64),
            "date": (cal.starts[lines["month"]] + lines["day"]).astype("datetime64[ns]"),
            "partner_id": _text(world.ids, lines["partner"]),
            "partner_name": _text([], np.full(n, -1)),  # the buyer is identified by partner_id
            "sku": _text(products.sku, lines["sku"]),
            "quantity": lines["quantity"].astype(float),
            "unit_price": lines["price"],
            "revenue": lines["revenue"],
            "sold_to_region": _text(schema.REGIONS, _PROV_REGION[lines["province"]]),
            "sold_to_province": _text(_PROVINCES, lines["province"]),
            "sold_to_city": _text(_CITIES, lines["city"]),
            "sold_to_country": _text(["中国"], np.zeros(n, dtype=int)),
        }
    )


def _order_ids(order: np.ndarray) -> pd.api.extensions.ExtensionArray:
    width = max(7, len(str(order.max() + 1)))
    ids = "SO" + pd.Series(np.arange(1, order.max() + 2)).astype("string").str.zfill(width)
    return ids.array.take(order)


def _month_ends(cal: _Calendar) -> np.ndarray:
    return cal.starts + cal.days - 1


def _inventory(
    rng: np.random.Generator, volume: _Volume, world: _Partners, products: _Products, cal: _Calendar, buildup: dict
) -> tuple[pd.DataFrame, np.ndarray]:
    """Month-end stock of 0.8-1.5 months of sell-out; planted build-ups hold 2.5-4x the partner's normal level.

    Returns the frame and each partner's month-end total as a multiple of its median month.
    """
    n, m = world.count, cal.size
    cover = rng.uniform(0.8, 1.5, volume.carried.shape)[:, :, None] * rng.uniform(0.92, 1.08, volume.level.shape)
    stock = np.where(volume.carried[:, :, None], volume.level * np.clip(cover, 0.8, 1.5), 0.0)
    total = stock.sum(axis=1)
    median = np.median(total, axis=1)

    planted = np.zeros((n, m), bool)
    for p, months in buildup.items():
        planted[p, months] = True
    scale = np.ones((n, m))
    pp, tt = np.nonzero(planted)
    # Relative to the larger of the median and that month's own level, so late months of fast growers still jump.
    scale[pp, tt] = rng.uniform(2.5, 4.0, len(pp)) * np.maximum(median[pp], total[pp, tt]) / total[pp, tt]
    # Seasonal peaks of fast growers must not pass for stuffing at a quarter end.
    quarter_end = (cal.month % 3 == 0)[None, :] & ~planted
    scale = np.where(quarter_end, np.minimum(scale, _NORMAL_STOCK_CAP * median[:, None] / total), scale)
    stock = np.rint(stock * scale[:, None, :])

    t, p, k = np.nonzero(np.moveaxis(volume.carried[:, :, None] & np.ones(m, bool)[None, None, :], 2, 0))
    frame = pd.DataFrame(
        {
            "date": _month_ends(cal)[t].astype("datetime64[ns]"),
            "partner_id": _text(world.ids, p),
            "sku": _text(products.sku, volume.slot_sku[p, k]),
            "on_hand": stock[p, k, t],
        }
    )
    total = stock.sum(axis=1)
    return frame, total / np.median(total, axis=1)[:, None]


def _targets(
    rng: np.random.Generator, volume: _Volume, world: _Partners, cal: _Calendar, excluded: np.ndarray
) -> tuple[np.ndarray, pd.DataFrame, np.ndarray]:
    """Quarterly targets = the planner's noise-free expectation x 1.05-1.20 stretch x a planning error."""
    n, nq = world.count, len(cal.quarters)
    expected = np.stack([volume.expected[:, months].sum(axis=1) for _, months in cal.quarters], axis=1)
    stretch = rng.uniform(1.05, 1.20, (n, nq)) * np.exp(rng.normal(-0.06, 0.13, (n, nq)))
    target = np.round(expected * stretch, -2)
    # A few partners have no target yet for the latest quarter: a real gap later tools must cope with.
    missing = _pick(rng, np.setdiff1d(np.arange(n), excluded), max(1, round(0.03 * n)))
    target[missing, -1] = np.nan
    q, p = np.nonzero(~np.isnan(target.T))
    frame = pd.DataFrame(
        {
            "partner_id": _text(world.ids, p),
            "quarter": _text([label for label, _ in cal.quarters], q),
            "target_revenue": target[p, q],
        }
    )
    return target, frame, missing


def _rate(rng: np.random.Generator, ranges, ptype: np.ndarray) -> np.ndarray:
    low, high = np.array(ranges).T
    return rng.uniform(low[ptype], high[ptype])


def _costs(
    rng: np.random.Generator, world: _Partners, cal: _Calendar, revenue: np.ndarray, target: np.ndarray
) -> pd.DataFrame:
    n, m = revenue.shape
    ptype, tier = world.type, world.tier
    every = np.ones((n, m), bool)
    rows = []  # (partner index or -1, month index, type, region, cost type, amount)

    def add(mask: np.ndarray, amount: np.ndarray, cost_type: str) -> None:
        p, t = np.nonzero(mask)
        rows.append(
            (p, t, ptype[p], world.region[p], np.full(len(p), schema.COST_TYPES.index(cost_type)), amount[p, t])
        )

    jitter = rng.uniform(0.92, 1.08, (n, m))
    logistics = np.clip(_rate(rng, _LOGISTICS_RATE, ptype)[:, None] * jitter, 0.02, 0.04)
    add(every, revenue * logistics, "物流")
    promotion = np.clip(_rate(rng, _PROMOTION_RATE, ptype)[:, None] * rng.uniform(0.85, 1.15, (n, m)), 0.01, 0.03)
    add(every, revenue * promotion, "促销")
    staff = np.round(revenue.mean(axis=1) * np.array(_PERSONNEL_RATE)[ptype] * rng.uniform(0.8, 1.2, n), -2)
    add(every, np.repeat(np.maximum(staff, 500.0)[:, None], m, axis=1), "人员")

    # Tiered rebate on quarterly achievement, paid in the quarter-end month.
    rebate = np.zeros((n, m))
    for q, (_, months) in enumerate(cal.quarters):
        actual = revenue[:, months].sum(axis=1)
        achievement = np.divide(actual, target[:, q], out=np.zeros(n), where=~np.isnan(target[:, q]))
        steps = np.array([s for s, _ in _REBATE_STEPS])
        rates = np.array([r for _, r in _REBATE_STEPS])[np.searchsorted(steps, achievement, side="right")]
        rebate[:, months[-1]] = actual * rates
    add(rebate > 0, rebate, "返利")

    training_chance = np.array([0.20, 0.12, 0.06, 0.03])[tier]
    training = rng.uniform(3_000, 15_000, (n, m)) * np.array([2.0, 1.5, 1.0, 0.8])[tier][:, None]
    add(rng.random((n, m)) < training_chance[:, None], np.round(training, -2), "培训")

    # Marketing and overheads are booked per channel type x region, not to a single partner.
    n_regions = len(schema.REGIONS)
    group = ptype * n_regions + world.region
    n_groups = len(schema.PARTNER_TYPES) * n_regions
    group_revenue = np.zeros((n_groups, m))
    np.add.at(group_revenue, group, revenue)
    for cost_type, base in (("市场推广", _MARKETING_RATE), ("其他", _OTHER_RATE)):
        amount = group_revenue * np.repeat(base, n_regions)[:, None] * rng.uniform(0.8, 1.2, (n_groups, m))
        g, t = np.nonzero(group_revenue > 0)
        rows.append(
            (
                np.full(len(g), -1),
                t,
                g // n_regions,
                g % n_regions,
                np.full(len(g), schema.COST_TYPES.index(cost_type)),
                amount[g, t],
            )
        )

    p, t, channel, region, cost_type, amount = (np.concatenate(col) for col in zip(*rows, strict=True))
    order = np.lexsort((np.where(p < 0, n, p), cost_type, t))
    p, t, channel, region, cost_type, amount = (a[order] for a in (p, t, channel, region, cost_type, amount))
    return pd.DataFrame(
        {
            "month": cal.starts[t].astype("datetime64[ns]"),
            "partner_id": _text(world.ids, p),
            "channel_type": _text(schema.PARTNER_TYPES, channel),
            "region": _text(schema.REGIONS, region),
            "cost_type": _text(schema.COST_TYPES, cost_type),
            "amount": np.round(amount, 2),
        }
    )


def _collections(
    rng: np.random.Generator, world: _Partners, cal: _Calendar, revenue: np.ndarray, slow: np.ndarray
) -> pd.DataFrame:
    n, m = revenue.shape
    is_slow = np.isin(np.arange(n), slow)
    base = np.where(is_slow, rng.uniform(0.62, 0.82, n), rng.uniform(0.93, 0.99, n))
    rate = base[:, None] + rng.normal(0, 0.03, (n, m))
    rate = np.where(is_slow[:, None], np.clip(rate, 0.6, 0.85), np.clip(rate, 0.9, 1.0))
    rate = np.where(rate > 0.985, 1.0, rate)  # good payers often settle in full
    collected = np.minimum(np.floor(revenue * rate * 100 + 1e-6) / 100, revenue)
    t, p = np.nonzero(np.ones((m, n), bool))
    return pd.DataFrame(
        {
            "partner_id": _text(world.ids, p),
            "month": cal.starts[t].astype("datetime64[ns]"),
            "amount_due": revenue[p, t],
            "amount_collected": collected[p, t],
        }
    )


def _surveys(
    rng: np.random.Generator, world: _Partners, cal: _Calendar, declining: np.ndarray, slow: np.ndarray
) -> pd.DataFrame:
    n, nq = world.count, len(cal.quarters)
    mood = rng.normal(4.0, 0.3, n) + np.array([0.12, 0.05, 0.0, -0.1])[world.tier] - 0.25 * np.isin(np.arange(n), slow)
    score = mood[:, None] + rng.normal(0, 0.18, (n, nq))
    # Declining partners grow unhappier over the quarters their business shrinks.
    n_decline = len(cal.yoy_quarters[-_DECLINE_QUARTERS:])
    fading = np.clip(np.arange(nq) - (nq - n_decline) + 1, 0, None) * 0.15
    score[declining] -= fading[None, :]
    score = np.round(np.clip(score, 1.0, 5.0), 1)
    mean_hours = np.array([22.0, 15.0, 9.0, 5.0])[world.tier]
    hours = np.round(np.clip(rng.gamma(3.0, mean_hours[:, None] / 3.0, (n, nq)), 0, 40) * 2) / 2
    q, p = np.nonzero(np.ones((nq, n), bool))
    return pd.DataFrame(
        {
            "partner_id": _text(world.ids, p),
            "quarter": _text([label for label, _ in cal.quarters], q),
            "satisfaction": score[p, q],
            "training_hours": hours[p, q],
        }
    )


# ---------------------------------------------------------------------------------------------------------------
# Manifest: what was planted, measured back from the generated data
# ---------------------------------------------------------------------------------------------------------------


def _manifest(
    world: _Partners,
    products: _Products,
    cal: _Calendar,
    lines: dict,
    revenue: np.ndarray,
    stock_ratio: np.ndarray,
    buildup: dict,
    below_floor: dict,
    picks: dict,
    missing: np.ndarray,
    slow: np.ndarray,
    tables: dict[str, pd.DataFrame],
    seed,
) -> dict:
    order_ids = tables["sales"]["order_id"].to_numpy()

    def line_keys(rows: np.ndarray) -> list[list]:
        return [[str(order_ids[i]), int(lines["line_no"][i])] for i in rows]

    pair_key = (lines["partner"] * _MAX_SKUS + lines["slot"]) * cal.size + lines["month"]

    def months_of(rows: np.ndarray) -> list[str]:
        return _months_label(cal, np.unique(lines["month"][rows]))

    territory = world.territory_text()
    cross = []
    for p in picks["cross_region"]:
        rows = np.flatnonzero(lines["cross"] & (lines["partner"] == p))
        pairs = np.isin(pair_key, pair_key[rows])  # home and cross lines of the same SKU-month
        cross.append(
            {
                "partner_id": world.ids[p],
                "name": world.names[p],
                "territory": territory[p],
                "months": months_of(rows),
                "sold_to_provinces": sorted({_PROVINCES[i] for i in lines["province"][rows]}),
                "sold_to_regions": sorted({schema.REGIONS[_PROV_REGION[i]] for i in lines["province"][rows]}),
                "skus": sorted({products.sku[i] for i in lines["sku"][rows]}),
                "lines": line_keys(rows),
                "quantity": float(lines["quantity"][rows].sum()),
                "revenue": round(float(lines["revenue"][rows].sum()), 2),
                "share_of_volume": round(float(lines["quantity"][rows].sum() / lines["quantity"][pairs].sum()), 4),
            }
        )

    floor = []
    for p, (slot, months) in below_floor.items():
        rows = np.flatnonzero((lines["partner"] == p) & (lines["slot"] == slot) & np.isin(lines["month"], months))
        sku = int(lines["sku"][rows[0]])
        floor.append(
            {
                "partner_id": world.ids[p],
                "name": world.names[p],
                "sku": products.sku[sku],
                "months": months_of(rows),
                "lines": line_keys(rows),
                "min_price": float(lines["price"][rows].min()),
                "floor_price": float(products.floor_price[sku]),
                "list_price": float(products.list_price[sku]),
            }
        )

    quantity = np.zeros_like(revenue)
    np.add.at(quantity, (lines["partner"], lines["month"]), lines["quantity"])
    stuffing = []
    for p, months in buildup.items():
        stuffing.append(
            {
                "partner_id": world.ids[p],
                "name": world.names[p],
                "months": _months_label(cal, months),
                "sell_in_vs_prior_3m": [
                    round(float(quantity[p, t] / np.median(quantity[p, max(0, t - 3) : t])), 2) for t in months
                ],
                "inventory_vs_median": [round(float(stock_ratio[p, t]), 2) for t in months],
                "inventory_next_month_vs_median": [round(float(stock_ratio[p, t + 1]), 2) for t in months],
            }
        )

    quarter_revenue = np.stack([revenue[:, months].sum(axis=1) for _, months in cal.quarters], axis=1)
    decline_quarters = cal.yoy_quarters[-_DECLINE_QUARTERS:]
    declining = [
        {
            "partner_id": world.ids[p],
            "name": world.names[p],
            "quarters": [cal.quarters[q][0] for q in decline_quarters],
            "yoy": [round(float(quarter_revenue[p, q] / quarter_revenue[p, q - 4] - 1), 4) for q in decline_quarters],
        }
        for p in picks["declining"]
    ]

    anomalies = {"cross_region": cross, "below_floor": floor, "stock_buildup": stuffing, "declining": declining}
    data_end = _month_ends(cal)[-1]
    return {
        "generator": "company.sample",
        "parameters": {"partners": world.count, "months": cal.size, "seed": int(seed), "end_month": cal.labels[-1]},
        "date_range": {
            "start": str(cal.starts[0]),
            "end": str(data_end),
            "first_month": cal.labels[0],
            "last_month": cal.labels[-1],
            "quarters": [label for label, _ in cal.quarters],
            "spring_festival_months": [cal.labels[t] for t in cal.spring_festival],
        },
        "counts": {name: len(entries) for name, entries in anomalies.items()},
        "rows": {name: len(frame) for name, frame in tables.items()},
        "anomalies": anomalies,
        "edge_cases": {
            "missing_latest_target": {"quarter": cal.quarters[-1][0], "partner_ids": [world.ids[p] for p in missing]},
            "slow_payers": [world.ids[p] for p in slow],
            "contracts_expiring_in_window": [world.ids[p] for p in np.flatnonzero(world.contract_end <= data_end)],
        },
    }
