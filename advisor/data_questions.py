"""Data questions: a short Chinese or English question → QuerySpec (offline parser) → SQL on the store → DataAnswer.

No model writes SQL here. The parser recognises time expressions, metrics, dimensions, thresholds and rankings
from fixed dictionaries (docs/semantic-layer.md), entity values from the data itself, and partner/product names by
fuzzy matching; when a question is missing a metric or a name is unclear it returns a Clarification, never a guess.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import re
import threading
import unicodedata
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import duckdb
import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from rapidfuzz import fuzz, process
from rapidfuzz.distance import OSA

from company import clock
from company.capabilities import INPUTS, availability
from company.catalog import attributes
from company.errors import StoreError
from company.language import language_of
from company.periods import DataSpan, data_span
from company.schema import TIER_NAMES
from company.semantic import (
    DIMENSIONS,
    METRICS,
    OP_ZH,
    Language,
    QuerySpec,
    QuerySpecError,
    TimeWindow,
    add_months,
    attribute_catalog,
    buckets,
    catalog_scope,
    compile_spec,
    format_value,
    metric_of,
    month_end,
    quarter_start,
    range_label,
    row_geography,
    shift_date,
    spec_error_message,
    wan,
)
from company.store import Store
from company.units import localise_columns, localise_text
from retrieval.glossary import is_english_word

LEXICON: dict = yaml.safe_load((Path(__file__).with_name("lexicon.yaml")).read_text(encoding="utf-8"))

ClarificationReason = Literal[
    "missing_metric", "missing_dimension", "ambiguous_name", "unknown_name", "unsupported", "unanswerable", "no_data"
]

# ---------------------------------------------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------------------------------------------


class Clarification(BaseModel):
    """A question back to the user instead of a guess; options are the choices that would resolve it."""

    question: str
    options: list[str] = Field(default_factory=list)
    reason: ClarificationReason
    language: Language = "zh"

    def to_dict(self) -> dict[str, Any]:
        return {"clarification": self.question, "options": self.options, "reason": self.reason}


class ChartSpec(BaseModel):
    """line for a time dimension, bar for rankings and categories, none for a single number; x/y are frame columns."""

    kind: Literal["line", "bar", "none"]
    x: str | None = None
    y: str | None = None
    title: str = ""


# A count metric whose members are the rows of the answer: 完成率低于80%的经销商有几家 lists the partners and
# answers with how many there are
HOW_MANY = re.compile(r"多少|(?<!哪)几|\bhow many\b|\bnumber of\b|\bcount of\b", re.IGNORECASE)
COUNTS_MEMBERS = {"partner_count": "partner", "active_partners": "partner", "active_products": "product"}


def counted_members(spec: QuerySpec) -> str | None:
    """The dimension whose members a 有几家 / how many question counts (the answer's headline is their number),
    when the question lists members meeting a condition (a bound or a streak) and asks how many."""
    dims = [d for d in spec.dimensions if not DIMENSIONS[d].is_time]
    if len(dims) != 1 or spec.limit is not None or spec.share != "none" or spec.per is not None:
        return None
    conditional = spec.streak or any(f.is_threshold and f.field not in COUNTS_MEMBERS for f in spec.filters)
    if not conditional:
        return None
    return dims[0] if any(COUNTS_MEMBERS.get(m) == dims[0] for m in spec.metrics) else None


class DataAnswer(BaseModel):
    model_config = ConfigDict(arbitrary_types_allowed=True)

    spec: QuerySpec
    frame: pd.DataFrame  # canonical columns (docs/semantic-layer.md), numbers unformatted, ratios as fractions
    table: pd.DataFrame  # display copy: headers in the question's language, formatted values with units
    chart: ChartSpec
    summary: str
    sql: str
    params: dict[str, Any]
    window: str  # label with dates, e.g. 2026年第2季度（2026-04-01 ~ 2026-06-30）
    compare_window: str | None = None
    language: Language = "zh"
    notes: list[str] = Field(default_factory=list)
    members: int | None = None  # 有几家: how many members the rows are, the answer's headline figure
    difference: float | None = None  # 华东比华南多卖了多少: the first named row's figure minus the second's
    ratio: bool = False  # 实收占应收的百分之几: `difference` is the first figure over the second, in %

    def rows(self) -> list[dict[str, Any]]:
        return [{k: _plain(v) for k, v in row.items()} for row in self.frame.to_dict(orient="records")]

    def to_dict(self) -> dict[str, Any]:
        return {
            "spec": self.spec.model_dump(mode="json"),
            "window": self.window,
            "compare_window": self.compare_window,
            "columns": list(self.frame.columns),
            "rows": self.rows(),
            "summary": self.summary,
            "chart": self.chart.model_dump(),
            "notes": self.notes,
            "sql": self.sql,
            "params": {k: _plain(v) for k, v in self.params.items()},
            "language": self.language,
        }


def _plain(value: Any) -> Any:
    """JSON-friendly: dates as ISO text, NaN as None, numpy scalars as Python numbers."""
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, date):
        return value.isoformat()
    if hasattr(value, "item") and not isinstance(value, str):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    if value is pd.NA or value is pd.NaT:
        return None
    return value


# ---------------------------------------------------------------------------------------------------------------
# Per-store lookups: entity values and names, cached by the store's current file
# ---------------------------------------------------------------------------------------------------------------

REGION_EN = LEXICON["REGION_EN"]
PROVINCE_EN = LEXICON["PROVINCE_EN"]
CATEGORY_EN = LEXICON["CATEGORY_EN"]
CATEGORY_SHORT: dict[str, list[str]] = LEXICON["CATEGORY_SHORT"]
# Partner nouns: listing words (group by partner) that are also partner-type values when the value exists.
PARTNER_NOUNS_ZH = LEXICON["PARTNER_NOUNS_ZH"]
PARTNER_NOUNS_EN = LEXICON["PARTNER_NOUNS_EN"]
TYPE_ENTITY = LEXICON["TYPE_ENTITY"]
# Chinese names of countries as English exports spell them (德国 → Germany); matched case-insensitively.
COUNTRY_ZH = LEXICON["COUNTRY_ZH"]
STATE_ZH = {name: (str(names[0]), tuple(str(n) for n in names[1:])) for name, names in LEXICON["STATE_ZH"].items()}
REGION_ZH: dict[str, list[str]] = LEXICON["REGION_ZH"]
ENTITY_VALUES_MAX = 300  # an attribute with more distinct values (phone numbers, addresses) is not matched by value


@dataclass(frozen=True)
class NameEntry:
    kind: Literal["partner", "product"]
    key: str  # partner_id or sku
    name: str
    norm: str
    attrs: dict[str, str]


@dataclass
class DataContext:
    """What the parser needs to know about one company's data: its latest date, values, names."""

    latest: date
    values: dict[str, set[str]]
    partners: list[NameEntry]
    products: list[NameEntry]
    by_id: dict[str, NameEntry]
    entity_aliases: dict[str, tuple[str, str]]
    entity_pattern: re.Pattern | None
    full_names: list[NameEntry] = field(default_factory=list)
    span: DataSpan | None = None  # first and last date of the data, and today (company.periods)
    # The dataset's imported attributes (company.catalog) as dimensions and measures, and the words naming them.
    extra_dimensions: dict[str, Any] = field(default_factory=dict)
    extra_metrics: dict[str, Any] = field(default_factory=dict)
    dim_words_zh: dict[str, str] = field(default_factory=lambda: dict(DIM_WORDS_ZH))
    dim_words_en: dict[str, str] = field(default_factory=lambda: dict(DIM_WORDS_EN))
    # The imported files' own names for the figures they filled (实收金额 / QUANTITYORDERED), matched as written
    header_metrics: list[tuple[re.Pattern, str]] = field(default_factory=list)
    _spelling: frozenset[str] | None = field(default=None, repr=False)
    _known_words: frozenset[str] | None = field(default=None, repr=False)
    # Every (city, province, region, country) the sales are booked to: Columbus is in three states
    places: list[tuple[str | None, ...]] = field(default_factory=list)
    # A place name two fields hold (Washington: a state, and a city in another state): asked back when said alone
    homonyms: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    order_ids: bool = False  # the sales carry order numbers (else one customer's lines of one day are one order)

    @property
    def spelling(self) -> frozenset[str]:
        """The English words this data's values, dimensions and metrics are named with (classic, segment,
        revenue): what a word typed one letter off is checked against (see respell)."""
        if self._spelling is None:
            names = [*self.entity_aliases, *self.dim_words_en]
            names += [w for m in METRICS.values() for w in (m.en, *m.synonyms_en)]
            self._spelling = frozenset(w for n in names for w in re.findall(r"[a-z]{5,}", n.lower()))
        return self._spelling

    @property
    def known_words(self) -> frozenset[str]:
        """The spelling words plus every word of a partner's or product's name (Australian Collectors, Co.):
        a word the data writes anywhere is never respelt."""
        if self._known_words is None:
            names = [e.norm for e in self.partners + self.products]
            self._known_words = self.spelling | {w for n in names for w in re.findall(r"[a-z]{5,}", n)}
        return self._known_words

    def add_header_names(self, names: dict[str, list[str]]) -> None:
        """A column's name in the user's own file names the figure it became (实收金额 is this data's 销售额) and
        the dimension it feeds (TERRITORY is this data's region, 社保卡号 its customer); built-in words win."""
        for target, key in HEADER_DIMENSIONS.items():
            for header in names.get(target, []):
                word = _normalise(header.strip())
                words = {word, re.sub(r"(?<=[\u4e00-\u9fff])(?:编号|号|代码)$", "", word)}  # 社保卡号 / 社保卡
                for w in words:
                    if len(w) >= 2 and not re.fullmatch(r"[\d\W_]+", w):
                        (self.dim_words_en if re.search("[a-z]", w) else self.dim_words_zh).setdefault(w, key)
                        self.dim_words_zh.setdefault(w, key)  # 按STATUS: Chinese markers take Latin names too
        found: dict[str, str] = {}
        for target, key in HEADER_METRICS.items():
            for header in names.get(target, []):
                for name in (header.strip(), _short_name(header), *ATTRIBUTE_EN.get(header.strip(), ())):
                    if name and len(name) >= 2:
                        found.setdefault(name.lower(), key)
        self.header_metrics = [
            (
                re.compile(rf"(?<![a-z0-9]){re.escape(name)}(?![a-z0-9])" if name.isascii() else re.escape(name), re.I),
                key,
            )
            for name, key in sorted(found.items(), key=lambda pair: -len(pair[0]))
        ]

    def add_attributes(self, attributes: list, values: dict[str, list[str]]) -> None:
        """Attribute columns become dimensions (by name, and by value for filters) and measures."""
        self.extra_dimensions, self.extra_metrics = attribute_catalog(attributes)
        for key, metric in list(self.extra_metrics.items()):  # Profit → 利润: the Chinese word users type
            of = self.extra_metrics.get(metric.of_column) if metric.of_column else None
            base = of or metric
            zh = ATTRIBUTE_ZH.get(base.en.lower()) or ATTRIBUTE_ZH.get(base.zh.lower())
            aliases = [*(zh or "").split("|"), _short_name(base.zh) or ""]  # 应收金额 is also asked as 应收
            if of is not None:  # its margin: 利润率
                aliases = [f"{w}率" for w in aliases if w]
            added = [w for w in aliases if w and w not in metric.synonyms_zh]
            english = [w for w in ATTRIBUTE_EN.get(metric.zh, ()) if of is None and w not in metric.synonyms_en]
            if added or english:  # 应收金额 is also asked as receivable
                self.extra_metrics[key] = dataclasses.replace(
                    metric, synonyms_zh=(*metric.synonyms_zh, *added), synonyms_en=(*metric.synonyms_en, *english)
                )
        for a in attributes:
            if a.column not in self.extra_dimensions:
                continue
            for zh in (ATTRIBUTE_ZH.get(a.header.lower()) or "").split("|"):  # 子类|子品类: every alias
                if zh:
                    self.dim_words_zh.setdefault(zh, a.column)
            for en in ATTRIBUTE_WORDS_EN.get(a.header.lower().strip(), ()):  # shipping for Ship Mode
                self.dim_words_en.setdefault(en, a.column)
                self.dim_words_zh.setdefault(en, a.column)
            held = {str(v) for v in values.get(a.column, [])}
            for word, value in ATTRIBUTE_VALUES_ZH.get(a.header.lower().strip(), {}).items():  # 大单 for Large
                if value in held:
                    self.entity_aliases.setdefault(word, (a.column, value))
            for name in a.names():
                word = _normalise(name)
                self.dim_words_zh.setdefault(word, a.column)  # 按STATUS: Chinese markers take Latin names too
                if re.search("[a-z]", word):
                    self.dim_words_en.setdefault(word, a.column)
                    plural = word[:-1] + "ies" if word.endswith("y") else word + "s"  # sub-categories, segments
                    self.dim_words_en.setdefault(plural, a.column)
                    self.dim_words_zh.setdefault(plural, a.column)
            for value in values.get(a.column, []):
                text = _normalise(str(value))
                if len(text) >= 2 and not re.fullmatch(r"[\d.\-/ ]+", text) and text not in self.entity_aliases:
                    self.entity_aliases[text] = (a.column, str(value))
        self.entity_pattern = _entity_pattern(self.entity_aliases)

    def add_place_homonyms(self) -> None:
        """Washington: a state, and a city of another state the sales are booked to. Said alone it is asked back;
        "Washington state" and "Washington city" (华盛顿市) each name one."""
        provinces = {v.lower(): v for v in self.values.get("province", ())}
        added = False
        for row in self.places:
            city, province = row[0], row[1]
            if not city or city.lower() not in provinces or (province or "").lower() == city.lower():
                continue
            word = _normalise(city)
            self.homonyms.setdefault(word, [("province", provinces[city.lower()]), ("city", city)])
            for said in (f"{city} city", f"{city}市"):
                self.entity_aliases.setdefault(_normalise(said), ("city", city))
                added = True
        if added:
            self.entity_pattern = _entity_pattern(self.entity_aliases)

    @property
    def today(self) -> date:
        return self.span.today if self.span else clock.today()

    @classmethod
    def build(cls, latest: date, partners: pd.DataFrame, products: pd.DataFrame) -> DataContext:
        def text(v: Any) -> str | None:
            return None if v is None or (isinstance(v, float) and math.isnan(v)) or pd.isna(v) else str(v)

        values: dict[str, set[str]] = {
            k: set() for k in ("region", "province", "city", "country", "partner_type", "tier")
        }
        values["category"] = set()
        plist, qlist = [], []
        for row in partners.itertuples(index=False):
            attrs = {
                "region": text(row.region),
                "province": text(row.province),
                "city": text(row.city),
                "country": text(row.country),
                "partner_type": text(row.type),
                "tier": text(row.tier),
            }
            for k, v in attrs.items():
                if v:
                    values[k].add(v)
            name = text(row.name) or str(row.partner_id)
            plist.append(NameEntry("partner", str(row.partner_id), name, _normalise(name), attrs))
        for row in products.itertuples(index=False):
            cat = text(row.category)
            if cat:
                values["category"].add(cat)
            name = text(row.name) or str(row.sku)
            qlist.append(NameEntry("product", str(row.sku), name, _normalise(name), {"category": cat}))
        by_id = {e.key.lower(): e for e in plist}
        by_id.update({e.key.lower(): e for e in qlist})
        qlist += _brand_names(qlist)

        aliases: dict[str, tuple[str, str]] = {}

        homonyms: dict[str, list[tuple[str, str]]] = {}

        def alias(a: str, dim: str, value: str) -> None:
            a = _normalise(a)
            if len(a) >= 2 and a not in aliases:
                aliases[a] = (dim, value)
            elif len(a) >= 2 and aliases[a][0] != dim and {aliases[a][0], dim} <= set(PLACE_FIELDS):
                homonyms.setdefault(a, [aliases[a]]).append((dim, value))  # Washington: a state and a city

        for v in sorted(values["region"]):
            for suffix in ("", "区", "大区", "地区", "区域", "片区"):
                alias(v + suffix, "region", v)
            for en in REGION_EN.get(v, ()):
                alias(en, "region", v)
            for zh in REGION_ZH.get(v.lower(), ()):  # an English export's West is 西部 / 西区 to a Chinese user
                for suffix in ("", "地区", "区域", "大区"):
                    alias(zh + suffix, "region", v)
        for v in sorted(values["province"]):
            alias(v, "province", v)
            alias(v + "省", "province", v)
            if v in PROVINCE_EN:
                alias(PROVINCE_EN[v], "province", v)
            for name, (code, zh_names) in STATE_ZH.items():  # 加州 for California (or CA in a dealer export)
                if v.lower() in (name, code):
                    for zh in zh_names:
                        alias(zh, "province", v)
        for v in sorted(values["province"]):
            if re.search("[a-z]", v.lower()):
                alias(f"{v} state", "province", v)  # Washington state: the state a city shares its name with
        for v in sorted(values["city"]):
            alias(v, "city", v)
            alias(v + "市", "city", v)
            if re.search("[a-z]", v.lower()):
                alias(f"{v} city", "city", v)
        for v in sorted(values["category"]):
            alias(v, "category", v)
            for en in CATEGORY_EN.get(v, ()):
                alias(en, "category", v)
            for short in CATEGORY_SHORT.get(v.lower(), ()):  # tech for Technology
                alias(short, "category", v)
            for zh, ens in CATEGORY_EN.items():  # 家具 for an English export's Furniture
                if v.lower() in ens:
                    alias(zh, "category", v)
        for v in sorted(values["tier"]):
            for a in (f"{v}类", f"{v}级", f"{v}档", f"tier {v}", f"{v}-tier", f"{v} tier", f"tier-{v}"):
                alias(a, "tier", v)
            if v in TIER_NAMES:
                alias(TIER_NAMES[v] + "级", "tier", v)
        for a, v in TYPE_ENTITY.items():
            if v in values["partner_type"]:
                alias(a, "partner_type", v)
        # Other spellings of a country (uk, german …) unless a partner or product name uses the word: "Australian
        # Collectors, Co." is a customer, so there "Australian" stays a name to look up, not the country.
        named_words = {w for e in plist + qlist for w in re.findall(r"[a-z]+", e.norm)}
        for v in sorted(values["country"]):
            alias(v, "country", v)
            for zh, names in COUNTRY_ZH.items():
                if v.lower() in names or v == zh:
                    alias(zh, "country", v)
                    for name in names:
                        # short codes (us, uk, usa) stay: they are how people write the country
                        if name == v.lower() or len(name) <= 3 or not set(name.split()) <= named_words:
                            alias(name, "country", v)
        pattern = _entity_pattern(aliases)
        full = sorted((e for e in plist + qlist if len(e.norm) >= 3), key=lambda e: len(e.norm), reverse=True)
        context = cls(latest, values, plist, qlist, by_id, aliases, pattern, full)
        context.homonyms = homonyms
        return context


BRAND = re.compile(r"[(（]([^()（）]{2,16})[)）]\s*$")


def _brand_names(products: list[NameEntry]) -> list[NameEntry]:
    """A product called by its brand: 苯磺酸氨氯地平片(安内真) is asked about as 安内真. The brand in the name's closing
    brackets names the product, unless it is also the brand of another product name (then it is no name)."""
    brands: dict[str, set[str]] = {}
    for entry in products:
        m = BRAND.search(entry.name)
        if m and CJK.search(m.group(1)):
            brands.setdefault(_normalise(m.group(1)), set()).add(entry.name)
    named = {entry.norm for entry in products}
    return [
        NameEntry("product", entry.key, entry.name, brand, entry.attrs)
        for entry in products
        if (m := BRAND.search(entry.name))
        and (brand := _normalise(m.group(1))) in brands
        and len(brands[brand]) == 1
        and brand not in named
    ]


def _entity_pattern(aliases: dict[str, tuple[str, str]]) -> re.Pattern | None:
    if not aliases:
        return None
    parts = []
    for a in sorted(aliases, key=len, reverse=True):
        escaped = re.escape(a)
        parts.append(rf"(?<![a-z]){escaped}(?![a-z])" if re.search("[a-z]", a) else escaped)
    return re.compile("|".join(parts))


_CONTEXTS: dict[str, DataContext] = {}
_CONTEXT_LOCK = threading.Lock()
_CONTEXT_CACHE_SIZE = 8


def context_for(store: Store) -> DataContext:
    """The lookups for the store's current data file, loaded once per file (a new import makes a new file)."""
    path = store.path()
    if path is None:
        with store.connect():  # raises the StoreError that tells the user how to load data
            pass
    key = f"{path}|{clock.today().isoformat()}|{store.profile().dates_confirmed}"
    with _CONTEXT_LOCK:
        if key in _CONTEXTS:
            return _CONTEXTS[key]
    span = data_span(store)
    with store.connect() as con:
        partners = con.execute(
            "SELECT partner_id, name, type, tier, region, province, city, country FROM partners"
        ).df()
        products = con.execute("SELECT sku, name, category FROM products").df()
        kept = attributes(store)
        values = {}
        for a in kept:
            if a.kind != "dimension":
                continue
            rows = con.execute(
                f'SELECT DISTINCT "{a.column}" FROM "{a.table}" WHERE "{a.column}" IS NOT NULL '
                f"LIMIT {ENTITY_VALUES_MAX + 1}"
            ).fetchall()
            values[a.column] = [r[0] for r in rows] if len(rows) <= ENTITY_VALUES_MAX else []
    if span is None:
        raise StoreError("销售数据是空的，无法确定时间窗口。请先导入销售明细或生成示例公司。")
    context = DataContext.build(span.last, partners, products)
    context.span = span
    context.add_attributes(kept, values)
    context.extra_dimensions.update(row_geography(store.meta("row_geography", []) or []))
    context.add_header_names(store.meta("header_names", {}) or {})
    context.places = _places(store, store.meta("row_geography", []) or [])
    context.add_place_homonyms()
    with store.connect() as con:
        context.order_ids = bool(con.execute("SELECT 1 FROM sales WHERE order_id IS NOT NULL LIMIT 1").fetchall())
    with _CONTEXT_LOCK:
        while len(_CONTEXTS) >= _CONTEXT_CACHE_SIZE:
            _CONTEXTS.pop(next(iter(_CONTEXTS)))
        _CONTEXTS[key] = context
    return context


def _places(store: Store, row_fields: list[str]) -> list[tuple[str | None, ...]]:
    """The distinct (city, province, region, country) of the sales, each field the sale's own where the export
    gave one (row_geography), else its partner's: the same places the city and province filters read."""
    where = {k: f"coalesce(x.sold_to_{k}, p.{k})" if k in row_fields else f"p.{k}" for k in PLACE_FIELDS}
    with store.connect() as con:
        return con.execute(
            f"SELECT DISTINCT {', '.join(where.values())} FROM sales x JOIN partners p ON x.partner_id = p.partner_id "
            f"WHERE {where['city']} IS NOT NULL"
        ).fetchall()


PLACE_FIELDS = ("city", "province", "region", "country")
# （一个人一天算一笔） / (one customer per day counts as one order): how the question wants orders counted
ORDER_DEFINITION = re.compile(
    r"[(（]?\s*(?:一个人|每个人|每人|一位?(?:顾客|客户|客人|会员|病人|患者)|同一个?(?:人|顾客|客户))\s*"
    r"(?:一天|每天|同一天|当天|一日)(?:内)?(?:的)?(?:购买|买的|消费|购药)?(?:记录)?\s*(?:只)?(?:算|记|计)(?:作|成|为)?\s*"
    r"一\s*[笔单次]\s*[)）]?|"
    r"\(?\s*(?:one|each|a|the same) (?:person|customer|buyer|patient|member)(?:'s)? "
    r"(?:per|a|each|one|in a|on one|on the same) day(?:'s (?:purchases|lines|rows))? "
    r"(?:counts?|=|is|are) (?:as )?(?:one|an?|a single) (?:order|purchase|transaction)\s*\)?"
)
RETURN_METRICS = frozenset({"return_amount", "return_lines"})
# 退货一共有几笔 / 退款多少次: the number of returns (一共 may be read already, as a sum)
RETURN_COUNT = re.compile(r"(退货|退款)[\x00\s]*(?:有|共有|一共有|总共有)?\s*((?:多少|几)\s*(?:笔|次|单|回))")
# 2004年加起来多少钱 / 一共多少钱: 加起来 and 一共 are read as a sum (and 一共 as all time without a period); the money
# asked for is the sales
TOTAL_MONEY = re.compile(r"(?:加起来|一共|总共|合计|总计)\s*(?:是|有|卖了|能有)?\s*(多少钱)")

# ---------------------------------------------------------------------------------------------------------------
# Text helpers and numbers
# ---------------------------------------------------------------------------------------------------------------

CJK = re.compile(r"[\u4e00-\u9fff]")
CN_DIGITS = LEXICON["CN_DIGITS"]
CN_UNITS = {"十": 10, "百": 100, "千": 1000}
CN_BIG = {"万": 10_000, "亿": 100_000_000}
EN_NUMBERS = LEXICON["EN_NUMBERS"]
MONTHS_EN = LEXICON["MONTHS_EN"]
MONTH_EN = "|".join(sorted(MONTHS_EN, key=len, reverse=True))
MONTH_EN_FULL = "january|february|march|april|june|july|august|september|october|november|december"
CN_NUM = "[零〇一二两三四五六七八九十百千]+"
N_ZH = rf"(\d{{1,3}}|{CN_NUM})"
N_EN = r"(\d{1,4}|" + "|".join(EN_NUMBERS) + ")"


CURRENCY_SIGN = re.compile(r"(?:US\$|[$¥￥€£])(?=\s*\d)")


def _normalise(text: str) -> str:
    """Full-width to half-width (NFKC), lower case, single spaces; 18年1月 / 24年Q3 / 14年一共 / Q2 '04 → 2018年1月 /
    2024年q3 / 2014年一共 / q2 2004."""
    text = re.sub(r"\s+", " ", unicodedata.normalize("NFKC", text)).strip().lower()
    text = SHORT_YEAR.sub(lambda m: ("20" if int(m.group(1)) < 70 else "19") + m.group(1), text)
    text = SHORT_YEAR_ALONE.sub(lambda m: ("20" if int(m.group(1)) < 70 else "19") + m.group(1), text)
    text = APOSTROPHE_YEAR.sub(lambda m: (" 20" if int(m.group(1)) < 70 else " 19") + m.group(1), text).replace(
        "  ", " "
    )
    for pattern, read in SAID_AS:
        text = pattern.sub(read, text)
    return CHANGE_IN_PERCENT.sub(r"\1了多少%", text)


SAID_AS = [(re.compile(p), read) for p, read in LEXICON["SAID_AS"]]


# 增长了百分之几 / 下降了百分之多少: the change as a percentage (增长了多少%), not a share (SHARE_WORDS' 百分之几)
CHANGE_IN_PERCENT = re.compile(
    r"(增长|下降|下滑|上涨|上升|涨|跌|提升|提高|减少|增加|降低|多|少)了?\s*百分之\s*(?:多少|几)"
)


# A two-digit year, where a month, quarter or half follows (not 18年经验, not 12年老客户)
SHORT_YEAR = re.compile(
    r"(?<![\d.])(\d{2})(?=\s*年\s*(?:\d{1,2}\s*月|第?\s*[一二三四1-4]\s*季|[上下]半年|q[1-4]|全年))"
)
ORDERS_VALUED = re.compile(r"orders?")
# A time expression that fixes its year: a year, or a relative word (今年 / 上季度 / 下个月 / this month / next quarter)
YEAR_SAID = re.compile(r"\d{4}|[今去前明本上下这当]|\b(?:this|last|next|previous|current|ytd)\b", re.I)
MONTHS_LISTED = re.compile(r"(?:1[0-2]|[1-9])\s*月?\s*[、,，和及]\s*(?:1[0-2]|[1-9])\s*月")
MONTHS_ADDED = re.compile(r"一共|合计|总共|总计|共计|加起来|加在一起|合起来|累计|总和|\btotal\b|\bcombined\b", re.I)
TIME_POINT_SUFFIX = frozenset("底初末中内份度")  # 年底 / 月初 / 年中 / 月份: still a time
# One character before 客户 / 经销商 that only points or counts (这 / 该 / 各 / 哪 / 的): not a kind of customer
SIZE_KINDS = frozenset("大小")  # 大客户 / 小客户: a kind of customer, though 大 / 小 are stop words elsewhere (最大)
NOT_A_KIND = frozenset("各每哪这那该本全总此其某的个家位名些几多有无是和与及或跟对给向被把从在按它他她我你们咱")
# An English two-digit year: Q2 '04, FY'17, sales in '03
APOSTROPHE_YEAR = re.compile(r"(?<![\d'])['\u2018\u2019](\d{2})(?![\d%'\u2019a-z])")
# A two-digit year on its own (14年一共卖了多少, 04年比03年, 17年有多少客户), but not a number of years: not
# after 近 / 过去 / 这 / 前 / 第 / 了 (近10年, 合作了12年), and not before 经验 / 老 / 以上 / 多 / 左右 / 了 / 内 /
# 的时间 (18年经验, 12年老客户, 10年以上, 5年多)
SHORT_YEAR_ALONE = re.compile(
    r"(?<![\d.])(?<![近去这前后来第多几余了满超过])(?<!合作)(\d{2})"
    r"(?=\s*年(?!\s*(?:经验|老|以上|以下|以来|以内|之内|之前|之后|多|左右|了|工龄|历史|内|里|期间|的?(?:老|经验|历史|时间)|[前后])))"
)


def cn_number(text: str) -> float | None:
    """'八十' → 80, '一百二十' → 120, '两万' → 20000, '八点五' → 8.5; None when not a Chinese number."""
    if not text:
        return None
    if "点" in text:
        whole, _, frac = text.partition("点")
        base = cn_number(whole) if whole else 0
        if base is None or not frac or any(c not in CN_DIGITS for c in frac):
            return None
        return base + float("0." + "".join(str(CN_DIGITS[c]) for c in frac))
    total, section, number, last_unit = 0.0, 0.0, 0.0, 0.0
    for i, ch in enumerate(text):
        if ch in CN_DIGITS:
            number = CN_DIGITS[ch]
            # 一万二 = 12,000 and 三千五 = 3,500: a last digit right after a unit counts in the next unit down
            if i == len(text) - 1 and i > 0 and text[i - 1] not in CN_DIGITS and last_unit >= 100:
                number *= last_unit / 10
        elif ch in CN_UNITS:
            section += (number or 1) * CN_UNITS[ch]
            number, last_unit = 0, CN_UNITS[ch]
        elif ch in CN_BIG:
            total += ((section + number) or 1) * CN_BIG[ch]  # 过亿 / 破万: one 亿, one 万
            section = number = 0
            last_unit = CN_BIG[ch]
        else:
            return None
    return total + section + number


def to_number(text: str) -> float | None:
    text = text.strip().replace(",", "")
    if re.fullmatch(r"\d+(?:\.\d+)?", text):
        return float(text)
    if text in EN_NUMBERS:
        return float(EN_NUMBERS[text])
    return cn_number(text)


def _count(text: str) -> int | None:
    value = to_number(text)
    return int(value) if value is not None and value == int(value) and value > 0 else None


# ---------------------------------------------------------------------------------------------------------------
# Time expressions (docs/semantic-layer.md, "Time"): resolved against the data's latest sales date
# ---------------------------------------------------------------------------------------------------------------


def _month(year: int, month: int, lang: Language) -> TimeWindow:
    start = date(year, month, 1)
    return TimeWindow(start=start, end=month_end(start), label=range_label(start, month_end(start), lang), kind="month")


def _quarter(year: int, q: int, lang: Language) -> TimeWindow:
    start = date(year, q * 3 - 2, 1)
    end = add_months(start, 3) - timedelta(days=1)
    return TimeWindow(start=start, end=end, label=range_label(start, end, lang), kind="quarter")


def _year(year: int, lang: Language) -> TimeWindow:
    return TimeWindow(
        start=date(year, 1, 1),
        end=date(year, 12, 31),
        label=range_label(date(year, 1, 1), date(year, 12, 31), lang),
        kind="year",
    )


def _recent_months(n: int, latest: date, lang: Language) -> TimeWindow:
    start = add_months(date(latest.year, latest.month, 1), -(n - 1))
    label = f"近{n}个月" if lang == "zh" else f"last {n} months"
    return TimeWindow(start=start, end=month_end(latest), label=label, kind="months")


def _ytd(latest: date, lang: Language) -> TimeWindow:
    label = f"{latest.year}年初至今" if lang == "zh" else f"{latest.year} year to date"
    return TimeWindow(start=date(latest.year, 1, 1), end=latest, label=label, kind="ytd")


def _through(year: int, month: int, lang: Language) -> TimeWindow:
    end = month_end(date(year, month, 1))
    label = f"截至{year}年{month}月" if lang == "zh" else f"through {range_label(date(year, month, 1), end, 'en')}"
    return TimeWindow(start=date(year, 1, 1), end=end, label=label, kind="ytd")


PERIOD_KPIS = {"achievement", "target", "inventory", "inventory_days", "turnover", "collection_rate"}


def default_window(latest: date, lang: Language = "zh") -> TimeWindow:
    """No time expression: 本季度, the calendar quarter containing the latest date."""
    return _quarter(latest.year, (latest.month - 1) // 3 + 1, lang)


_Q_WORDS = {"一": 1, "二": 2, "三": 3, "四": 4, "first": 1, "second": 2, "third": 3, "fourth": 4}
_Q_WORDS.update({"1st": 1, "2nd": 2, "3rd": 3, "4th": 4})
M_ZH = r"(\d{1,2}|十[一二]?|[一二三四五六七八九])"


def _qn(text: str) -> int:
    return int(text) if text.isdigit() else _Q_WORDS[text]


def _mn(text: str) -> int:
    return int(text) if text.isdigit() else int(cn_number(text) or 0)


def _relative(kind: str, steps: int, latest: date, lang: Language) -> TimeWindow:
    if kind == "month":
        start = add_months(date(latest.year, latest.month, 1), steps)
        return _month(start.year, start.month, lang)
    if kind == "quarter":
        start = add_months(quarter_start(latest), 3 * steps)
        return _quarter(start.year, (start.month - 1) // 3 + 1, lang)
    return _year(latest.year + steps, lang)


RELATIVE_WORDS: list[tuple[str, Any]] = [
    (r"今年以来|年初至今|今年迄今|本年度至今|this year|year[- ]to[- ]date|\bytd\b|current year", "ytd"),
    (r"今年|本年度|本年", "ytd"),
    (r"去年|上年度|上一年|上年|last year|previous year|prior year", ("year", -1)),
    (r"前年", ("year", -2)),
    (
        r"本季度|这个季度|这季度|本季|当季|当前季度|this quarter|current quarter|quarter[- ]to[- ]date|\bqtd\b",
        ("quarter", 0),
    ),
    (r"上上个?季度|上上季", ("quarter", -2)),
    (r"上季度|上个季度|上一季度|上一个季度|上季|last quarter|previous quarter|prior quarter", ("quarter", -1)),
    (r"本月|这个月|当月|本月度|this month|current month|month[- ]to[- ]date|\bmtd\b", ("month", 0)),
    (r"上上个?月", ("month", -2)),
    (r"上月|上个月|上一个月|last month|previous month|prior month", ("month", -1)),
    # the future (a forecast is not in the data): read as the period asked, which the data then says it lacks
    (r"明年|下一年|next year", ("year", 1)),
    (r"下季度|下个季度|下一季度|下一个季度|next quarter", ("quarter", 1)),
    (r"下个月|下一个月|下月|next month", ("month", 1)),
]

YEAR_WORD = r"(?:(\d{4})\s*年|(今年|本年|去年|上年|前年))"
TIME_PATTERNS: list[tuple[re.Pattern, str]] = [
    # 今年前三季度 / 2025年前两个季度 / first three quarters of 2025
    (re.compile(rf"{YEAR_WORD}?\s*前\s*([一二两三四1-4])\s*个?\s*季度"), "first_quarters_zh"),
    (re.compile(r"\bfirst (two|three|2|3) quarters(?: of (\d{4}))?"), "first_quarters_en"),
    # 今年前5个月 (with a year: the first months; without one 前N个月 means the last N months)
    (re.compile(rf"{YEAR_WORD}\s*前\s*{N_ZH}\s*个\s*月"), "first_months_zh"),
    # 上半年 / 2025年下半年 / H1 2025 / first half of 2025
    (re.compile(rf"(?:{YEAR_WORD}|(\d{{4}}))?\s*(上|下)半年"), "half_zh"),
    (re.compile(r"\b(?:(h1|h2)|(first|second) half)(?:\s+(?:of\s+)?(\d{4}))?\b"), "half_en"),
    # 截至2026年6月 / 截至6月底 / through June 2026
    (re.compile(rf"(?:截至|截止到|截止|截至到)\s*(?:(\d{{4}})\s*年\s*)?{M_ZH}\s*月(?:份)?(?:底|末)?"), "through_zh"),
    (
        re.compile(
            rf"\b(?:through|thru|until|up to|as of(?: the end of)?|to the end of)\s+(?:end of\s+)?({MONTH_EN})\.?"
            r"(?:\s*,?\s*(\d{4}))?\b"
        ),
        "through_en",
    ),
    # 2018年4、5、6三个月 / 4月、5月和6月: consecutive months named one by one
    (
        re.compile(
            r"(?:(\d{4})\s*年\s*)?(?<!\d)((?:1[0-2]|[1-9])\s*月?(?:\s*[、,，和及]\s*(?:1[0-2]|[1-9])\s*月?)+)"
            r"(?:\s*(?:这|[两三四五六])\s*个\s*月)?(?:份)?"
        ),
        "month_list_zh",
    ),
    # 2026年4月到6月 / 4-6月
    (
        re.compile(
            rf"(?:(\d{{4}})\s*年\s*)?(?<!\d){M_ZH}\s*月?\s*(?:至|到|-|~|—)\s*(?:(\d{{4}})\s*年\s*)?{M_ZH}\s*月(?:份)?"
        ),
        "range_zh",
    ),
    # 2014年以来 / since 2014: from the start of that year to the latest data
    (re.compile(r"(\d{4})\s*年?\s*(?:以来|至今|到现在|到今天)|\bsince\s+(\d{4})\b"), "since_year"),
    # from April to June 2018 / between Apr and Jun 2018
    (
        re.compile(
            rf"\b(?:from|between)\s+({MONTH_EN})\.?(?:\s*,?\s*(\d{{4}}))?\s+(?:to|through|thru|until|till|and|-)\s+"
            rf"({MONTH_EN})\.?(?:\s*,?\s*(\d{{4}}))?\b"
        ),
        "range_en",
    ),
    # 近N个月 / 最近N个月 / 过去N个月 / last N months
    (re.compile(rf"(?:近|最近|过去|前)\s*{N_ZH}\s*个\s*月"), "recent_zh"),
    # 近90天 / 最近30天 / 过去7天 / last 90 days: the days up to and including the anchor day
    (re.compile(rf"(?:近|最近|过去)\s*{N_ZH}\s*(?:天|日)"), "recent_days"),
    (re.compile(rf"\b(?:the\s+)?(?:last|past|previous|trailing)\s+{N_EN}\s+days\b"), "recent_days"),
    (re.compile(r"(?:近|最近|过去)\s*(半|一|1)\s*年"), "recent_year_zh"),
    (re.compile(rf"(?:近|最近|过去)\s*{N_ZH}\s*个\s*季度"), "recent_quarters_zh"),
    (re.compile(rf"\b(?:the\s+)?(?:last|past|previous|trailing)\s+{N_EN}\s+quarters\b"), "recent_quarters_en"),
    (re.compile(rf"\b(?:the\s+)?(?:last|past|previous|trailing|recent|latest)\s+{N_EN}\s+months?\b"), "recent_en"),
    (re.compile(r"\b(?:ltm|ttm|last twelve months|trailing twelve months)\b"), "ltm"),
    # quarters with a year
    (
        re.compile(r"(\d{4})\s*年?\s*(?:第?\s*([1-4一二三四])\s*(?:季度|季)|[-/]?\s*q\s*([1-4]))(?![0-9])"),
        "year_quarter",
    ),
    (re.compile(r"\bq([1-4])\s*[-/,]?\s*(?:of\s+)?(\d{4})\b"), "quarter_year"),
    (re.compile(r"\b(first|second|third|fourth|1st|2nd|3rd|4th)\s+quarter\s+(?:of\s+)?(\d{4})\b"), "quarter_year_en"),
    # months and quarters of a year named in words: 去年12月 / 今年三季度 / 前年Q4
    (re.compile(rf"(今年|本年|去年|上年|前年)\s*{M_ZH}\s*月(?:份)?"), "word_year_month"),
    (
        re.compile(r"(今年|本年|去年|上年|前年)\s*(?:第?\s*([1-4一二三四])\s*(?:季度|季)|q\s*([1-4]))(?![0-9])"),
        "word_year_quarter",
    ),
    # months with a year
    (re.compile(rf"(\d{{4}})\s*年\s*{M_ZH}\s*月(?:份)?"), "year_month"),
    (re.compile(r"(?<![\d.])(\d{4})\s*[-/.]\s*(\d{1,2})(?![\d.\-/])"), "year_month"),
    (re.compile(rf"\b({MONTH_EN})\.?\s*,?\s*(\d{{4}})\b"), "month_year_en"),
    (re.compile(rf"\b(\d{{4}})\s+({MONTH_EN})\b"), "year_month_en"),
]
RELATIVE_PATTERNS = [(re.compile(p), v) for p, v in RELATIVE_WORDS]
YEAR_PATTERNS: list[tuple[re.Pattern, str]] = [
    (re.compile(r"(?<!\d)(\d{4})\s*(?:年度|全年|年)"), "year"),
    (re.compile(r"\b(?:in|for|during|of|fy)\s*(\d{4})\b"), "year"),
    (
        re.compile(
            r"(?<![\d.])(?<!over )(?<!above )(?<!than )(?<!under )(?<!below )(?<!超过)(?<!高于)(?<!低于)(?<!大于)"
            r"(?<!小于)(?<!不到)((?:19|20)\d{2})(?![\d.%]|\s*(?:元|块|万|件|单|家|美元|dollars|usd|cny))"
        ),
        "year",
    ),
    # 第一季度 / 一季度 / 3季度 (not 前三季度, 近两季度, 连续三季度: those are spans, read above)
    (re.compile(r"(?:第|(?<![前近去续两二三四一\d]))\s*([1-4一二三四])\s*(?:季度|季)(?!报)"), "quarter_only"),
    (re.compile(r"(?<![a-z0-9])q([1-4])(?![0-9])"), "quarter_only"),
    (re.compile(rf"(?<![\d年个])(?<!\d\s){M_ZH}\s*月(?:份)?(?!底|末|度)"), "month_only"),
    (re.compile(rf"\b(?:in\s+)?({MONTH_EN_FULL})\b"), "month_only_en"),
]


def _year_of(digits: str | None, word: str | None, today: date) -> int:
    if digits:
        return int(digits)
    return today.year - {"去年": 1, "上年": 1, "前年": 2}.get(word or "", 0)


def _span(start: date, end: date, lang: Language) -> TimeWindow:
    return TimeWindow(start=start, end=end, label=range_label(start, end, lang), kind="custom")


def _window_from(kind: str, m: re.Match, latest: date, lang: Language) -> TimeWindow | None:
    g = m.groups()
    if kind == "first_quarters_zh":
        n = _qn(g[2]) if g[2] in _Q_WORDS or g[2].isdigit() else int(cn_number(g[2]) or 0)
        year = _year_of(g[0], g[1], latest)
        return _span(date(year, 1, 1), month_end(date(year, 3 * n, 1)), lang) if 1 <= n <= 4 else None
    if kind == "first_quarters_en":
        n = {"two": 2, "three": 3}.get(g[0]) or int(g[0])
        year = int(g[1]) if g[1] else latest.year
        return _span(date(year, 1, 1), month_end(date(year, 3 * n, 1)), lang)
    if kind == "first_months_zh":
        n = _count(g[2])
        year = _year_of(g[0], g[1], latest)
        return _span(date(year, 1, 1), month_end(date(year, n, 1)), lang) if n and 1 <= n <= 12 else None
    if kind == "half_zh":  # 2018年上半年 / 2018上半年 / 今年下半年
        year = _year_of(g[0] or g[2], g[1], latest)
        first = g[3] == "上"
        return _span(date(year, 1 if first else 7, 1), date(year, 6, 30) if first else date(year, 12, 31), lang)
    if kind == "half_en":
        year = int(g[2]) if g[2] else latest.year
        first = (g[0] or "").lower() == "h1" or g[1] == "first"
        return _span(date(year, 1 if first else 7, 1), date(year, 6, 30) if first else date(year, 12, 31), lang)
    if kind == "month_list_zh":
        months = [int(n) for n in re.findall(r"\d+", g[1])]
        if not g[1].rstrip().endswith("月") and not re.search(r"个\s*月", m.group(0)):
            return None  # 1、2 with no 月 is a list of numbers, not of months
        if any(b != a + 1 for a, b in itertools.pairwise(months)):
            return None  # 1、3月: not one period
        year = int(g[0]) if g[0] else latest.year
        start, end = date(year, months[0], 1), month_end(date(year, months[-1], 1))
        return TimeWindow(start=start, end=end, label=range_label(start, end, lang), kind="custom")
    if kind == "through_zh":
        return _through(int(g[0]) if g[0] else latest.year, _mn(g[1]), lang)
    if kind == "through_en":
        return _through(int(g[1]) if g[1] else latest.year, MONTHS_EN[g[0]], lang)
    if kind == "range_zh":
        y1 = int(g[0]) if g[0] else latest.year
        y2 = int(g[2]) if g[2] else y1
        m1, m2 = _mn(g[1]), _mn(g[3])
        if not (1 <= m1 <= 12 and 1 <= m2 <= 12):
            return None
        start, end = date(y1, m1, 1), month_end(date(y2, m2, 1))
        if start > end:
            return None
        return TimeWindow(start=start, end=end, label=range_label(start, end, lang), kind="custom")
    if kind == "since_year":
        start = date(int(g[0] or g[1]), 1, 1)
        return _span(start, latest, lang) if start <= latest else None
    if kind == "range_en":
        y2 = int(g[3]) if g[3] else (int(g[1]) if g[1] else latest.year)
        y1 = int(g[1]) if g[1] else y2
        start, end = date(y1, MONTHS_EN[g[0]], 1), month_end(date(y2, MONTHS_EN[g[2]], 1))
        if start > end:
            return None
        return TimeWindow(start=start, end=end, label=range_label(start, end, lang), kind="custom")
    if kind in ("recent_zh", "recent_en"):
        n = _count(g[0])
        return _recent_months(n, latest, lang) if n and n <= 120 else None
    if kind == "recent_days":
        n = _count(g[0])
        if not n or n > 3660:
            return None
        start = latest - timedelta(days=n - 1)
        label = f"近{n}天" if lang == "zh" else f"last {n} days"
        return TimeWindow(start=start, end=latest, label=label, kind="custom")
    if kind in ("recent_quarters_zh", "recent_quarters_en"):
        n = _count(g[0])  # the last n complete quarters: 过去两个季度 = the two quarters before this one
        if not n or n > 40:
            return None
        last = add_months(quarter_start(latest), -3)
        first = add_months(last, -3 * (n - 1))
        return _span(first, month_end(add_months(last, 2)), lang)
    if kind == "recent_year_zh":
        return _recent_months(6 if g[0] == "半" else 12, latest, lang)
    if kind == "ltm":
        return _recent_months(12, latest, lang)
    if kind == "year_quarter":
        return _quarter(int(g[0]), _qn(g[1] or g[2]), lang)
    if kind == "quarter_year":
        return _quarter(int(g[1]), int(g[0]), lang)
    if kind == "quarter_year_en":
        return _quarter(int(g[1]), _qn(g[0]), lang)
    if kind == "word_year_month":
        month = _mn(g[1])
        return _month(_year_of(None, g[0], latest), month, lang) if 1 <= month <= 12 else None
    if kind == "word_year_quarter":
        return _quarter(_year_of(None, g[0], latest), _qn(g[1] or g[2]), lang)
    if kind == "year_month":
        month = _mn(g[1])
        return _month(int(g[0]), month, lang) if 1 <= month <= 12 else None
    if kind == "month_year_en":
        return _month(int(g[1]), MONTHS_EN[g[0]], lang)
    if kind == "year_month_en":
        return _month(int(g[0]), MONTHS_EN[g[1]], lang)
    if kind == "year":
        year = int(g[0])
        return _year(year, lang) if 1990 <= year <= 2100 else None
    if kind == "quarter_only":
        return _quarter(latest.year, _qn(g[0]), lang)
    if kind == "month_only":
        month = _mn(g[0])
        return _month(latest.year, month, lang) if 1 <= month <= 12 else None
    if kind == "month_only_en":
        return _month(latest.year, MONTHS_EN[g[0]], lang)
    return None


# ---------------------------------------------------------------------------------------------------------------
# The parser
# ---------------------------------------------------------------------------------------------------------------

QUOTED = re.compile(
    r"\"([^\"]{1,200})\"|“([^”]{1,200})”|「([^」]{1,200})」|『([^』]{1,200})』|《([^》]{1,200})》|‘([^’]{1,200})’"
)
YOY = re.compile(
    r"同比|去年同期|上年同期|(?:比|较|相比|对比|和|跟|与)\s*去年(?:同期)?(?:相比|比)?"
    r"|year[- ](?:over|on)[- ]year|\byoy\b"
    r"|(?:vs\.?|versus|compared\s+(?:to|with)|than)\s+(?:the\s+)?(?:same\s+period\s+(?:of\s+)?)?last\s+year"
    r"|same period last year"
)
PREVIOUS = re.compile(
    r"环比|(?:比|较|相比|对比|和|跟|与)\s*(?:上期|上季度|上个季度|上季|上月|上个月)(?:相比|比)?|上期|\bqoq\b|\bmom\b"
    r"|quarter[- ]over[- ]quarter|month[- ]over[- ]month|(?:vs\.?|versus|compared\s+(?:to|with)|than)\s+(?:the\s+)?"
    r"(?:previous|prior|last)\s+(?:period|quarter|month)|previous period|prior period"
)
VERSUS = re.compile(
    r"\bvs\.?|\bversus\b|\bcompared (?:to|with)\b|相比|对比|比起|(?:和|跟|与).{1,16}比|比(?=上|去|前|今|本|\d)"
)
GROWTH = re.compile(
    r"增长率|增长|增速|增幅|涨幅|上涨|提升|\bgrowth\b|\bgrew\b|\bgrow\b|\bgrowing\b|\bincreased?\b|\bchange\b|"
    r"\brose\b|\brisen\b|\brising\b|\bwent up\b|"
    r"(?:(?<=比上个月)|(?<=比上月)|(?<=比上季度)|(?<=比上个季度)|(?<=比上期))(?:高|多|好)"
)
_THAN_BEFORE = "(?:(?<=比上个月)|(?<=比上月)|(?<=比上季度)|(?<=比上个季度)|(?<=比上期)|(?<=比上一期)|(?<=比前一个月))"
DECLINE = re.compile(
    r"下降|下滑|减少|降幅|跌幅|下跌|\bdeclined?\b|\bdeclining\b|\bdropped\b|\bfell\b|\bdecreased?\b|"
    r"\bfallen\b|\bfalling\b|\bwent down\b|"
    rf"{_THAN_BEFORE}(?:低|少|差)"  # 每个月都比上个月低
)

NUMBER = (
    r"(?:百分之\s*(?P<pct>[零一二两三四五六七八九十百点\d.]+)"
    r"|(?P<num>\d+(?:,\d{3})*(?:\.\d+)?|[零一二两三四五六七八九十百千万亿点]+)"
    r"\s*(?P<unit>%|个百分点|\s?percent\b|\s?pct\b|成[一二三四五六七八九]?|万元|万|亿元|亿|千元|元|块|天|日|次|件|箱|盒|瓶|家|倍"
    r"|个(?!月|季|百分点|工作日|星期|礼拜)|位"
    r"|\s?k\b|\s?m\b|\s?million\b|\s?billion\b|\s?thousand\b|\s?days?\b|\s?times\b|\s?units?\b|\s?boxes\b"
    r"|\s?box\b|\s?cases?\b|\s?pcs\b|\s?pieces?\b|\s?cny\b|\s?rmb\b)?)"
)
CMP_ZH = LEXICON["CMP_ZH"]
CMP_EN = LEXICON["CMP_EN"]
POST = LEXICON["POST"]


def _alt(words) -> str:
    return "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))


_EN_CMP = _alt(CMP_EN) + "|<=|>=|<|>"
_POST = _alt(POST)
OF_TARGET = re.compile(
    rf"(?P<cmp>{_alt(CMP_ZH)}|\b(?:{_EN_CMP}))\s*"
    rf"(?:(?:目标|任务)的?\s*{NUMBER}|{NUMBER.replace('?P<', '?P<b_')}\s*of\s+"
    rf"(?:the\s+|their\s+|its\s+)?(?:targets?|quotas?|plans?|goals?))"
)
_A, _B = NUMBER.replace("(?P<", "(?P<a_"), NUMBER.replace("(?P<", "(?P<b_")
RANGES = [
    re.compile(rf"(?:在|介于)?\s*{_A}\s*(?:到|至|和|与|-|~|—)\s*{_B}\s*(?:之间|以内)"),
    re.compile(rf"\bbetween\s+{_A}\s+and\s+{_B}"),
]
THRESHOLD_ZH = re.compile(rf"(?P<cmp>{_alt(CMP_ZH)})\s*{NUMBER}\s*(?P<post>{_POST})?")
THRESHOLD_EN = re.compile(rf"(?<![a-z])(?P<cmp>{_EN_CMP})\s*{NUMBER}\s*(?P<post>{_POST})?")
THRESHOLD_POST = re.compile(rf"(?<![\d.]){NUMBER}\s*(?P<post>{_POST})")
TARGET_PHRASES = [
    (
        re.compile(r"未达标|没达标|没有达标|未完成(?:目标|任务)|没(?:有)?完成(?:目标|任务)|未达成目标|没达成目标"),
        "lt",
        1.0,
    ),
    (
        re.compile(
            r"\b(?:missed|miss|missing|below|under|short of|behind)\s+(?:the\s+|their\s+|its\s+)?"
            r"(?:targets?|quotas?|plans?)\b"
        ),
        "lt",
        1.0,
    ),
    (re.compile(r"超额完成(?:目标|任务)?"), "gt", 1.0),
    (
        re.compile(
            r"\b(?:exceeded|exceeding|beat|above|over)\s+(?:the\s+|their\s+|its\s+)?(?:targets?|quotas?|plans?)\b"
        ),
        "gt",
        1.0,
    ),
    (re.compile(r"达标|完成了?(?:目标|任务)|达成(?:了)?目标"), "ge", 1.0),
    (
        re.compile(
            r"\b(?:met|meet|meeting|hit|reached|achieved)\s+(?:the\s+|their\s+|its\s+)?(?:targets?|quotas?|plans?)\b"
        ),
        "ge",
        1.0,
    ),
]

LIMIT_PATTERNS = [
    (re.compile(rf"(?:前|top)\s*{N_ZH}\s*(?:个|家|名|位|大|款|种|条|项)?"), "desc"),
    (re.compile(rf"(?:后|末|倒数|最后)\s*{N_ZH}\s*(?:个|家|名|位|款|种|条|项)?"), "asc"),
    (re.compile(rf"{N_ZH}\s*强"), "desc"),
    (re.compile(rf"(?<![\d.]){N_ZH}\s*(?:个|家|名|位|款|种|条|项)(?!月|季|百分点)"), None),
    (re.compile(rf"\b(?:top|first)\s+{N_EN}\b"), "desc"),
    (re.compile(rf"\btop{N_EN}\b"), "desc"),
    (re.compile(rf"\b(?:bottom|last)\s+{N_EN}\b"), "asc"),
    (re.compile(rf"\b{N_EN}\s+(?:highest|largest|biggest|best|most|top|greatest)\b"), "desc"),
    (re.compile(rf"\b{N_EN}\s+(?:lowest|smallest|worst|least|fewest|bottom)\b"), "asc"),
    (re.compile(rf"\b(?:highest|largest|biggest|best|greatest)\s+{N_EN}\b"), "desc"),
    (re.compile(rf"\b(?:lowest|smallest|worst|fewest)\s+{N_EN}\b"), "asc"),
    (
        re.compile(
            rf"\b{N_EN}\s+(?=(?:non-[a-z]+\s+)?(?:partners?|distributors?|dealers?|customers?|agents?|retailers?"
            r"|wholesalers?|regions?|provinces?|cities|city|products?|skus?|items?|categories|category|channels?"
            r"|tiers?|countries|country|states?|segments?|territories|territory|drugs?|medicines?|stores?|shops?"
            r"|sub-?categor(?:y|ies)|product ?lines?|ship ?modes?|brands?|clients?|accounts?|buyers?|orders?)\b)"
        ),
        None,
    ),
]
RANK_SUPERLATIVE = [
    (re.compile(r"最高|最多|最大|最好|最快|最强|最佳|最靠前"), "desc"),
    (re.compile(r"最低|最少|最小|最差|最慢|最弱|最靠后|垫底|最拉胯|拉胯|最烂|最糟|最不行"), "asc"),
    (re.compile(r"\b(?:highest|largest|biggest|most|best|greatest|strongest|leading|fastest|quickest)\b"), "desc"),
    (re.compile(r"\b(?:lowest|smallest|least|fewest|worst|weakest|slowest)\b"), "asc"),
]
RANK_TOP = [(re.compile(r"\btop\b"), "desc"), (re.compile(r"\bbottom\b"), "asc")]
# 第二高的省份 / the second biggest customer: one row, ranked n-th (before the superlative is read)
NTH = re.compile(
    r"第\s*(?P<zh>[二三四五六七八九十\d]{1,3})\s*(?=(?:高|多|大|低|少|小|好|差|快|慢|强|弱))|"
    r"(?<=排)(?:名)?\s*第\s*(?P<zh2>[二三四五六七八九十\d]{1,2})(?!\s*(?:季|个月|月|周|年|天|日))|"
    r"\b(?P<en>second|third|fourth|fifth|2nd|3rd|4th|5th)[ -](?=(?:highest|largest|biggest|most|best|greatest|"
    r"lowest|smallest|least|fewest|worst|top)\b)",
    re.IGNORECASE,
)
# 销售额最高的三个月 / the 3 best months: months ranked, not a three-month period
RANKED_PERIODS = re.compile(
    r"(?P<zh_dir>最高|最多|最大|最好|最低|最少|最小|最差)的?\s*(?P<zh>[两二三四五六七八九十\d]{1,2})\s*个?\s*(?P<zh_grain>月|季度)(?!份?的)|"
    r"\b(?:the\s+)?(?P<en_dir>top|best|biggest|highest|worst|lowest|bottom|weakest)\s+(?:(?P<en>\d+|two|three|four|five|six)\s+)?"
    r"(?P<en_grain>months?|quarters?)\b(?!\s+(?:of\s+)?(?:sales|revenue|growth)\b)",
    re.IGNORECASE,
)
# sales by territory - growth % / 各区域增长率: the change asked as a figure for every group, not a filter on its sign
GROWTH_AS_FIGURE = re.compile(
    r"\bgrowth\s*(?:%|rate|percent(?:age)?)|%\s*growth|\b(?:change|chg)\s*%|%\s*change|增长率|增幅|增速|涨幅|跌幅|变化率",
    re.IGNORECASE,
)
# 哪天的销售额最高 / which day sold the most: a day as the grain (每天平均 is an average per day, read elsewhere)
DAY_ASKED = re.compile(
    r"哪一?天|哪一?日(?!本)|按天|按日(?!本)|逐日|\bwhich day\b|\bwhat day\b|\bby day\b|\bdaily\b", re.I
)
NUMBERS_LISTED = re.compile(r"\d\s*[、,，和及至到~-]\s*\d")
NTH_BEFORE = re.compile(r"\b(second|third|fourth|fifth|2nd|3rd|4th|5th)\s*(?:the\s+)?$", re.IGNORECASE)
LOW_WORDS = {"最低", "最少", "最小", "最差", "worst", "lowest", "bottom", "weakest"}
NTH_EN = {"second": 2, "2nd": 2, "third": 3, "3rd": 3, "fourth": 4, "4th": 4, "fifth": 5, "5th": 5}
# A threshold's number followed by partners (more than 20 customers / 超过20家客户): the count of those that bought.
COUNTED_PARTNERS = re.compile(
    r"\s*((?:active |different |distinct |unique )?(?:customer|client|dealer|distributor|partner|retailer|"
    r"account|buyer|store|shop)s?(?: buying| who (?:bought|ordered|purchased))?\b|"
    r"(?:家|个|位)(?:客户|经销商|伙伴|门店|零售商|代理商|批发商)?(?:在?(?:进货|下单|买过|购买))?)",
    re.IGNORECASE,
)
ONE_AFTER_TOP = re.compile(
    r"\s+(?:selling\s+|performing\s+|grossing\s+)?(?:customer|client|dealer|distributor|partner|retailer|wholesaler|"
    r"agent|product|sku|item|region|province|state|city|country|category|segment|seller|store)\b(?!s)",
    re.IGNORECASE,
)
BY_BEFORE = re.compile(r"(?:\bby|\bper|\beach|按|各|每个?)\s*$", re.IGNORECASE)
EVERY_PERIOD = re.compile(
    r"\b(?:in |during )?(?:every|each) (?:single )?(quarter|month)\b(?: of)?|每(?:一)?个?(季度|月)都",
    re.IGNORECASE,
)


THAN_BEFORE_SIGN = re.compile(r"比(?:上个?|前一个?)(?:月|季度|期)\s*(?:都|还|也)?\s*(低|少|差|高|多|好)")


def _periods_in(window: TimeWindow, grain: str) -> int:
    """How many whole months or quarters a window spans (2004 → 4 quarters; 9月到11月 → 3 months)."""
    months = (window.end.year - window.start.year) * 12 + window.end.month - window.start.month + 1
    return months if grain == "month" else max(0, months // 3)


# A+B tier partners / A/B级客户 / A、B类: two tiers, each named in full (A tier and B tier), so both are read
TIER_PAIR = re.compile(r"(?<![a-z0-9])([a-d])\s*[+/&、]\s*([a-d])\s*(tiers?|级|类)", re.IGNORECASE)


# 华东和华南一共 / A+B tier combined: the values named are one group, summed, not a row each
COMBINED = re.compile(
    r"合计|加起来|加一起|加在一起|合起来|一共|总共|总计|[a-z0-9\u4e00-\u9fff]\s*\+\s*[a-z0-9\u4e00-\u9fff]|"
    r"\bcombined\b|\btogether\b|\bin total\b",
    re.IGNORECASE,
)
# 低于所在大区的整体完成率 / below average: a bound that is another aggregate, not a number (asked back, by name)
RELATIVE_BOUND = re.compile(
    rf"(?:{_alt(CMP_ZH)}|(?<![占对])比)\s*(?:所在|所属|本|自己|各自|其|同|全国|全公司|公司)?\s*"
    r"[^\d一二两三四五六七八九十百千万，,、；;。\s]{0,6}?的?\s*"
    r"(?:平均水平|平均值|平均数|均值|平均线|整体|总体|大盘|中位数|平均)(?:\S{0,6}?(?:水平|率|额|值|数))?|"
    rf"\b(?:{_EN_CMP}|than)\s+(?:the\s+|their\s+|its\s+)?(?:\w+\s+){{0,2}}?(?:average|overall|mean|median)\b"
    r"(?:\s+(?:\w+\s+)?(?:rate|level|figure|value))?",
    re.IGNORECASE,
)
# how many distinct customers / 不同的客户: a count of members already counts each once; the word adds nothing
DISTINCT = re.compile(
    r"\b(?:distinct|different|unique|individual)\s+(?=(?:customers?|clients?|partners?|dealers?|distributors?|"
    r"buyers?|stores?|accounts?|products?|skus?|items?|drugs?|medicines?)\b)|"
    r"(?:不同|不重复|去重)的?\s*(?=客户|经销商|伙伴|商家|门店|产品|商品|药|品种|sku)",
    re.IGNORECASE,
)
# 去年四个季度 / 2004年十二个月: every quarter (month) of the year named, not a count or a rolling window
ALL_PARTS = re.compile(r"(?:四|4)\s*个\s*(?=季度)|(?:十二|12)\s*个\s*(?=月)|\b(?:all\s+)?(?:four|4)\s+(?=quarters\b)")
# A word left unread that compares (不到应收 / 低于应收 / below billed): a condition, so never just noted
UNREAD_CONDITION = re.compile(
    r"不到|低于|高于|超过|少于|多于|大于|小于|不足|不及|\b(?:below|above|under|over|less than|more than)\b",
    re.IGNORECASE,
)
LOST_NAMED = re.compile(r"流失|\blost\b|\bchurn", re.IGNORECASE)
COMPARED = re.compile(r"比|相比|对比|\bvs\.?|\bversus\b|\bcompared\b|\bthan\b", re.IGNORECASE)
ALL_YEARS_TOTAL = re.compile(r"历年(?:来|以来)?(?=\s*的?\s*(?:累计|合计|总计|总共|一共|加起来))")
YEAR_BEFORE = re.compile(r"(?:年|\b(?:19|20)\d{2}|\byear)\s*(?:的|'s)?\s*$", re.IGNORECASE)
COMBINED_WORDS = re.compile(r"加起来|加一起|加在一起|合起来|\bcombined\b|\btogether\b|\bin total\b", re.IGNORECASE)


def _one_off(word: str, alias: str) -> bool:
    """One letter added, missing or changed (oders / orders), two swapped (reveune / revenue): one edit of optimal
    string alignment, the measure the knowledge base's typo reading uses too (retrieval.glossary.respell)."""
    return OSA.distance(word.lower(), alias.lower()) == 1


# Words every data question is asked with, of five letters and more: a four-letter word one letter short of one
# (ordr, totl) is read as it
QUERY_WORDS_EN = frozenset({"total", "order", "orders", "sales", "average", "percent", "customer", "customers"})


def respell(text: str, context: DataContext) -> tuple[str, list[tuple[str, str]]]:
    """calssic cars → classic cars, motorcyles → motorcycles, segmnet → segment: an English word of five or more
    letters that is none of the data's words, no English word either, and one letter off exactly one of the
    data's words is read as that word. Returns the text as read and the (typed, read) pairs, which the answer
    states."""
    fixed: list[tuple[str, str]] = []

    def repair(m: re.Match) -> str:
        typed = m.group(0)
        word = typed.lower()
        if word in context.known_words or word in STOP_EN:
            return typed
        words = context.spelling | QUERY_WORDS_EN if len(word) >= 5 else QUERY_WORDS_EN
        close = [w for w in words if _one_off(word, w) and len(w) >= 5]  # ordr → order, not sale → sales
        if len(close) != 1 or is_english_word(word):
            return typed
        fixed.append((typed, close[0]))
        return close[0]

    text = re.sub(r"(?<![A-Za-z])[A-Za-z]{4,}(?![A-Za-z])", repair, text)
    return text, fixed


def _tier_pair(m: re.Match) -> str:
    word = m.group(3)
    if word.startswith("tier"):
        return f"{m.group(1)} tier and {m.group(2)} tier"
    return f"{m.group(1)}{word}和{m.group(2)}{word}"


PRODUCTS_COUNTED = re.compile(
    r"(?:卖出|卖了|卖出了|动销|有销售|有卖出|出过货)?(?:的)?\s*(?:多少|几)\s*(?:种|个|款|样)\s*(?:产品|商品|药品?|品种|sku|货)|"
    r"(?:产品|商品|药品?|品种|sku)\s*(?:有|一共有|共有)?\s*(?:多少|几)\s*(?:种|个|款|样)|"
    r"\bhow many (?:different |distinct )?(?:products|skus|items|drugs|medicines)\b"
    r"(?: (?:did we |were |have we )?(?:sell|sold))?",
    re.IGNORECASE,
)
EACH_MARK = re.compile(r"每|各|\beach\b|\bevery\b|\bper\b|\bacross\b", re.IGNORECASE)
# customers with more than 20 stores: the bound follows a partner noun and "with" / 有 — it is the partner's own
PARTNER_WITH = re.compile(
    r"\b(customers?|clients?|dealers?|distributors?|partners?|retailers?|wholesalers?|agents?|零售商|经销商|客户|代理商|"
    r"批发商|分销商|伙伴)\s*(?:that |which |who )?(?:with|having|has|have|own(?:s|ing)?|run(?:s|ning)?|拥有|有)\s*$",
    re.IGNORECASE,
)
COUNT_UNIT = re.compile(r"[\d一二两三四五六七八九十百千]\s*(?:家|位|个)\s*(?:之间|以内|以上|以下)?\s*$")
PARTNERS_BEFORE = re.compile(r"(?:客户|经销商|伙伴|门店|零售商|代理商|批发商|分销商)(?:数量?|个数)?\s*$")
POLITE = re.compile(
    r"麻烦(?:你|您)?(?:帮(?:我|忙))?|(?:请(?:你|您)?)?帮(?:我|忙)?(?:查|看|算|统计|拉|找|数)(?:一下|一查|下)?|"
    r"谢谢(?:你|您|啦|了)?|多谢|辛苦(?:了|啦)?|"
    r"(?:老板|领导|上面|总监|经理)(?:刚刚|刚才|刚)?(?:问(?:了)?我|让我(?:查|看|算)(?:一下|下)?)"
)
# biggest first / 大的排前面: the whole list in that order, not the one biggest (read before the superlatives)
RANK_ORDER = [
    (
        re.compile(
            r"\b(?:biggest|highest|largest|most|greatest|best|top)(?: ones?)? first\b|"
            r"\bfrom (?:the )?(?:highest|biggest|largest|high|big|large) to (?:the )?(?:lowest|smallest|low|small)\b|"
            r"(?:最?大|最?高|最?多)的(?:排|放)(?:在)?(?:前面|最前|前)"
        ),
        "desc",
    ),
    (
        re.compile(
            r"\b(?:smallest|lowest|least|fewest|worst)(?: ones?)? first\b|"
            r"\bfrom (?:the )?(?:lowest|smallest|low|small) to (?:the )?(?:highest|biggest|largest|high|big|large)\b|"
            r"(?:最?小|最?低|最?少)的(?:排|放)(?:在)?(?:前面|最前|前)"
        ),
        "asc",
    ),
]
RANK_FULL = [
    (
        re.compile(
            r"排名靠前|从高到低|从大到小|降序|排行榜|排行|排名|排序|\branking\b|\branked\b|\brank\b|\bsorted\b|\bdescending\b"
        ),
        "desc",
    ),
    (re.compile(r"排名靠后|从低到高|从小到大|升序|\bascending\b"), "asc"),
    (re.compile(r"排个序|排个名|排一下|排一排|排下序"), "desc"),  # no direction said: the highest first
]

# Grouping: a marker before a dimension word, or a listing word after it.
MARK_ZH = "各个|各|按照|按|每一个|每个|每家|每|分|哪几个|哪几家|哪一个|哪个|哪些|哪家|哪|不同"
MARK_EN = r"by|per|each|every|across|which|for each|for every|among|all"
ASKED_AFTER = "哪些|哪几个|哪几家|哪几|哪一个|哪个|哪家"
COUNTED_BEFORE = re.compile(r"(?:多少|几)\s*(?:个|家|位|种)?\s*$")
DIM_WORDS_ZH = LEXICON["DIM_WORDS_ZH"]
BARE_ZH_MIN = 2  # bare (unmarked) Chinese dimension words need two characters: 区/市/省/月/年 alone are too common
DIM_WORDS_EN = LEXICON["DIM_WORDS_EN"]
METRIC_DEFAULTS = [(re.compile(p), m) for p, m in LEXICON["METRIC_DEFAULTS"]]
METRIC_PATTERNS = [(re.compile(p), m) for p, m in LEXICON["METRIC_PATTERNS"]]
SHARE_WORDS = re.compile(LEXICON["SHARE_WORDS"])
STREAK = re.compile(LEXICON["STREAK"])
NO_ACTIVITY = [(re.compile(p, re.IGNORECASE), m) for p, m in LEXICON["NO_ACTIVITY"]]
FOLLOW_UP = re.compile(LEXICON["FOLLOW_UP"])
SHIFT_BACK = [(re.compile(p), months) for p, months in LEXICON["SHIFT_BACK"]]
AVERAGE_ZH = LEXICON["AVERAGE_ZH"]
AVERAGE_FILLER_ZH = LEXICON["AVERAGE_FILLER_ZH"]
AVERAGE_SHORT_ZH: dict[str, str] = LEXICON["AVERAGE_SHORT_ZH"]
AVERAGE_TIME_ZH: dict[str, str] = LEXICON["AVERAGE_TIME_ZH"]
AVERAGE_PER_HEAD = [re.compile(p) for p in LEXICON["AVERAGE_PER_HEAD"]]
AVERAGE_EN = LEXICON["AVERAGE_EN"]
ON_AVERAGE_EN = re.compile(LEXICON["ON_AVERAGE_EN"])
AVERAGE_TIME_EN: dict[str, str] = LEXICON["AVERAGE_TIME_EN"]
AVERAGE_COMPARED_BEFORE = re.compile(LEXICON["AVERAGE_COMPARED_BEFORE"])
AVERAGE_COMPARED_AFTER = re.compile(LEXICON["AVERAGE_COMPARED_AFTER"])
AVERAGE_WORD = re.compile(rf"平均|{AVERAGE_EN}")
CLASSIFIER_ZH = r"(?:一\s*)?(?:个|家|位|名|间|户|只)?"
THESE = re.compile(r"这几家|这几个|这些|那几家|那些|他们|它们|\bthese\b|\bthose\b|\bthem\b|\bthey\b", re.IGNORECASE)
STORE_SUFFIX = re.compile(r"店|门店|体验店")
EXPENSE_SHARE = re.compile(r"(?:渠道)?费用(?:额)?占(?:销售额|销售|收入|营收|回款)的?(?:比例|比重|占比|百分比)")
OF_GROUP = re.compile(r"\b(?:for|of|from|among|across)\s+(?:\S+\s*){0,3}$")
PROFIT_SIGN = re.compile(r"亏|盈利|赚钱|\bloss|\bprofit|lost money|in the red|in the black", re.IGNORECASE)
BOUGHT = re.compile(
    r"买过|买了|下过单|下了单|下单了|购买过|有购买|有过订单|进过货|进了货|\b(?:bought|ordered|purchased)\b"
)
HOW_MANY_CUSTOMERS = re.compile(
    r"的?客户(?:有|数|数量)?(?:多少|几)\s*(?:个|家|位)?|(?:多少|几)\s*(?:个|家|位)?客户|how many customers"
)
NOT_IN_DATA = re.compile(LEXICON["NOT_IN_DATA"], re.IGNORECASE)
NEGATION_REACH = 14  # characters before a name where 除了 / excluding is looked for ("last quarter excluding ")
NEGATION_WORD = re.compile(r"(?:不是|不为|不等于|并非|不属于|没有|没|不|非|未|别)|(?:not|no|non|never|without)", re.I)
NOT_BEFORE = re.compile(r"(?:(?<!是)不是|不为|不等于|并非|不属于)\s*$")
NEGATION = re.compile(
    r"(?:不算|不含|不包括|不计|除了|除去|去掉|去除|排除|剔除|扣除|非|(?<!是)不是|不为|不等于|并非|不属于)\s*$"
    r"|(?:excluding|except(?: for)?|other than|without|not|non-?|outside(?: of)?(?: the)?)\s*$"
)

ATTRIBUTE_ZH: dict[str, str] = LEXICON["ATTRIBUTE_ZH"]
ATTRIBUTE_EN: dict[str, list[str]] = {k: v.split("|") for k, v in LEXICON["ATTRIBUTE_EN"].items()}
ATTRIBUTE_WORDS_EN: dict[str, list[str]] = {k: v.split("|") for k, v in LEXICON["ATTRIBUTE_WORDS_EN"].items()}
ATTRIBUTE_VALUES_ZH: dict[str, dict[str, str]] = LEXICON["ATTRIBUTE_VALUES_ZH"]
SIGN_WORDS = [(re.compile(p), op) for p, op in LEXICON["SIGN_WORDS"]]
YEARLY = re.compile(
    r"(?<![今去前明当同])年年|逐年|每年都|一年比一年|连续\s*[两二三四五六七八九十\d]+\s*年|"
    r"\bevery year\b|\byear after year\b|"
    r"\b(?:two|three|four|five|\d+) (?:consecutive|straight) years\b|"
    r"\b(?:two|three|four|five|\d+) years (?:in a row|running)\b",
    re.IGNORECASE,
)
NEGATED_BEFORE = re.compile(r"(?:没|没有|未|从没|从来没|不曾|\bnever|\bdidn.?t|\bnot)\s*有?\s*$", re.IGNORECASE)
NOT_BOUGHT = re.compile(
    r"(?:却|但是?|而|可)?\s*(?:从来?没|没|没有|未|不曾)有?(?:买过|买|进过|进|采购过?|购买过?|下过单|拿过货?)|"
    r"\bbut (?:no|not|never)\b|\bnever (?:bought|ordered|purchased|took)\b|"
    r"\b(?:didn.?t|did not|haven.?t|have not) (?:buy|order|purchase|take)\b|\bwithout (?:buying|ordering)\b",
    re.IGNORECASE,
)
DIFFERENCE = re.compile(
    r"比.{1,16}?(?:多|少)\S{0,3}?(?:了)?多少|差(?:了)?多少|相差多少|差距(?:有)?多(?:少|大)|"
    r"\bhow much (?:more|less)\b.{1,40}\bthan\b|\b(?:difference|gap) between\b|"
    r"\bhow much (?:higher|lower)(?: or (?:higher|lower))?\b",
    re.IGNORECASE,
)
DIFFERENCE_WORDS = re.compile(
    r"\bhow much (?:more|less|higher|lower)(?: or (?:higher|lower))?\b|\bthan\b|\b(?:difference|gap) between\b",
    re.IGNORECASE,
)
QUANTITY_UNITS = frozenset(LEXICON["QUANTITY_UNITS"])  # 超过500箱 / more than 7,000 units: a bound on goods
# What was the conversion rate in 2011 / 2017年各门店的坪效是多少: a figure of a period, asked for
ASKS_FIGURE = re.compile(
    r"\bwhat (?:was|were|is|are)\b|\bhow (?:much|many|high|big)\b|是多少|有多少|多少|多大|几", re.IGNORECASE
)
FROM_TO = re.compile(
    r"\bfrom\b.{1,24}\b(?:to|through|until|till)\b|从.{1,14}(?:到|至)|\d\s*月?\s*(?:到|至|-|~)\s*\d+\s*月"
)
LISTING = re.compile(r"哪些|哪几|哪个|名单|列出|是谁|\bwhich\b|\bwho\b|\blist\b|\bname them\b")
EACH_WORDS = re.compile(r"各|每个|每一|分别|\beach\b|\bper\b|\bby\b")
TIME_GROUP_WORDS = [
    (
        re.compile(r"逐月|月度|按月|每月|分月|各月|趋势|走势|\bmonthly\b|\bmonth by month\b|\btrend\b|\bover time\b"),
        "month",
    ),
    (re.compile(r"逐季|按季|每季|分季|\bquarterly\b|\bquarter by quarter\b"), "quarter"),
    (re.compile(r"逐年|\byearly\b|\bannually\b|\bannual\b|\byear by year\b"), "year"),
]
AFTER_MARKERS = re.compile(
    r"对比|分布|占比|比较|明细|构成|分别|各自|之间|\bcompare\b|\bcomparison\b|\bbreakdown\b|\blist\b"
)
ID_PATTERN = re.compile(r"(?<![a-z0-9_-])([a-z0-9][a-z0-9_-]*)(?![a-z0-9_-])")
# Tokens that look like a code (P0001, BEV-001) but name nothing in the data are reported, not ignored.
CODE_LIKE = re.compile(r"[a-z]{1,4}-\d{2,8}(?:-\d+)?|[a-z]\d{3,8}")

STOP_ZH = set(LEXICON["STOP_ZH"])
STOP_EN = set(LEXICON["STOP_EN"])
COMMON_WORD_FREQ = 1000  # jieba frequency above which an unmatched word is ordinary language, not a name
RATE_OPTIONS = ("achievement", "collection_rate", "gross_margin", "expense_ratio")
MISSING_METRIC_OPTIONS = (
    "revenue",
    "achievement",
    "expense_ratio",
    "collection_rate",
    "inventory_days",
    "gross_margin",
)


@dataclass
class _Span:
    start: int
    end: int
    kind: str
    value: Any = None


class _Scan:
    """The question with recognised parts blanked out (positions stay), and what was recognised where."""

    def __init__(self, text: str):
        self.text = text
        self.work = text
        self.spans: list[_Span] = []

    def free(self, start: int, end: int) -> bool:
        return "\x00" not in self.work[start:end]

    def take(self, start: int, end: int, kind: str, value: Any = None) -> _Span:
        self.work = self.work[:start] + "\x00" * (end - start) + self.work[end:]
        span = _Span(start, end, kind, value)
        self.spans.append(span)
        return span

    def release(self, span: _Span) -> None:
        """Give a taken span back (a pattern that matched but did not mean what it looked like)."""
        self.work = self.work[: span.start] + self.text[span.start : span.end] + self.work[span.end :]
        self.spans.remove(span)

    def take_all(self, pattern: re.Pattern, kind: str, value: Any = None) -> list[tuple[re.Match, _Span]]:
        out = []
        for m in list(pattern.finditer(self.work)):
            if m.end() > m.start() and self.free(m.start(), m.end()):
                out.append((m, self.take(m.start(), m.end(), kind, value)))
        return out

    def of(self, kind: str) -> list[_Span]:
        return [s for s in self.spans if s.kind == kind]


def _find_windows(scan: _Scan, latest: date, lang: Language) -> list[tuple[int, TimeWindow]]:
    """Every time expression in the scan with where it starts, most specific pattern first (all are blanked out).
    A month, quarter or half named without its year takes the one year the question names elsewhere
    (2018年5月比4月 / from April to June 2018 / 2011年9月和10月买过、11月没买), else the data's latest year."""
    found: list[tuple[int, TimeWindow, bool]] = []  # (start, window, year written with it)
    for pattern, kind in TIME_PATTERNS:
        for m, span in scan.take_all(pattern, "time"):
            if (window := _window_from(kind, m, latest, lang)) is not None:
                found.append((span.start, window, kind not in YEARLESS or bool(YEAR_NAMED.search(m.group(0)))))
            elif kind == "month_list_zh":  # 1、3月: not one period; the months are read one by one below
                scan.release(span)
    for pattern, value in RELATIVE_PATTERNS:
        for _m, span in scan.take_all(pattern, "time"):
            window = _ytd(latest, lang) if value == "ytd" else _relative(*value, latest, lang)
            found.append((span.start, window, True))
    for pattern, kind in YEAR_PATTERNS:
        for m, span in scan.take_all(pattern, "time"):
            if (window := _window_from(kind, m, latest, lang)) is not None:
                found.append((span.start, window, kind not in YEARLESS or bool(YEAR_NAMED.search(m.group(0)))))
    years = {w.start.year for _s, w, named in found if named and w.start.year == w.end.year}
    if len(years) == 1 and (year := years.pop()) != latest.year:
        found = [(s, w if named else _in_year(w, year, lang), named) for s, w, named in found]
    return [(s, w) for s, w, _named in found]


# Time expressions that take the latest year when none is written with them (3月 / 上半年 / Q3 / 4-6月)
YEARLESS = frozenset(
    {"month_list_zh", "through_zh", "through_en", "range_zh", "range_en", "half_zh", "half_en", "first_quarters_en",
     "quarter_only", "month_only", "month_only_en"}
)  # fmt: skip
YEAR_NAMED = re.compile(r"(?:19|20)\d{2}|今年|本年|去年|上年|前年|明年")


def _in_year(window: TimeWindow, year: int, lang: Language) -> TimeWindow:
    """The same months of another year (a window within one year)."""
    if window.start.year != window.end.year:
        return window
    start, end = window.start.replace(year=year), month_end(window.end.replace(year=year, day=1))
    if window.kind == "month":
        return _month(year, start.month, lang)
    if window.kind == "quarter":
        return _quarter(year, (start.month - 1) // 3 + 1, lang)
    return TimeWindow(start=start, end=end, label=range_label(start, end, lang), kind=window.kind)


def _find_time(scan: _Scan, latest: date, lang: Language) -> TimeWindow | None:
    """The time expression of the scan: the most specific one found."""
    found = _find_windows(scan, latest, lang)
    return found[0][1] if found else None


def resolve_window(text: str, latest: date, language: Language | None = None) -> TimeWindow:
    """The window a time expression (or a whole question) means, against the data's latest date L;
    本季度 (the quarter containing L) when there is none."""
    lang = language or language_of(text)
    scan = _Scan(_normalise(text))
    scan.take_all(YOY, "compare")  # 比去年 is a comparison, not the window
    scan.take_all(PREVIOUS, "compare")
    return _find_time(scan, latest, lang) or default_window(latest, lang)


def named_quarter(text: str, today: date) -> str | None:
    """The calendar quarter a question names, as 2026Q3, read with the same time words as data questions
    (2026 Q4 / 2026年第四季度 / 上季度 / this quarter / 一季度); None when it names no single quarter. The router
    fills the tools' period slot with it, so a plan and a data answer read 上季度 the same way."""
    scan = _Scan(_normalise(text))
    scan.take_all(YOY, "compare")
    scan.take_all(PREVIOUS, "compare")
    found = _find_windows(scan, today, language_of(text))
    if not found:
        return None
    window = found[0][1]
    start, end = window.start, window.end
    if start != quarter_start(start) or end != month_end(add_months(start, 2)):
        return None
    return f"{start.year}Q{(start.month - 1) // 3 + 1}"


@dataclass
class _Threshold:
    span: _Span
    op: str
    value: float
    is_percent: bool
    metric: str | None = None  # fixed (achievement) for "below 80% of target"


def _threshold_value(m: re.Match, prefix: str = "") -> tuple[float, bool] | None:
    get = lambda k: m.group(prefix + k)  # noqa: E731
    if get("pct"):
        v = to_number(get("pct"))
        return (v / 100, True) if v is not None else None
    v = to_number(get("num") or "")
    if v is None:
        return None
    unit = (get("unit") or "").strip()
    if unit in ("%", "percent", "pct", "个百分点"):
        return v / 100, True
    if unit.startswith("成"):
        extra = CN_DIGITS.get(unit[1:], 0) if len(unit) > 1 else 0
        return v / 10 + extra / 100, True
    scale = {"万": 1e4, "万元": 1e4, "亿": 1e8, "亿元": 1e8, "千元": 1e3, "k": 1e3, "thousand": 1e3, "m": 1e6}
    scale |= {"million": 1e6, "billion": 1e9}
    return v * scale.get(unit, 1), False


@dataclass
class _Parsed:
    spec: QuerySpec
    notes: list[str]
    language: Language
    anchors: frozenset[str] = frozenset()  # what besides a metric word tied the question to the data
    counts: bool = False  # 有几家 / how many: the number of the members listed is the answer
    difference: tuple[str, str, str] | None = None  # 华东比华南多卖了多少: (dimension, first value, second value)


class _Parser:
    def __init__(self, question: str, context: DataContext, previous: QuerySpec | None = None):
        self.question = question
        self.context = context
        self.previous = previous  # the frame of the conversation's last data answer (华南呢？ inherits it)
        self.lang: Language = language_of(question)
        question, respelt = respell(question, context)
        # $100,000 / ¥50万: the currency sign before a figure says no more than the amount does
        question = CURRENCY_SIGN.sub(" ", question)
        self.display = re.sub(r"\s+", " ", unicodedata.normalize("NFKC", question)).strip()
        self.scan = _Scan(TIER_PAIR.sub(_tier_pair, _normalise(question)))
        if len(self.display) != len(self.scan.text):
            self.display = self.scan.text
        self.notes: list[str] = []
        self.counted_types: list[str] = []  # partner types a counted noun names (超过10家经销商)
        self.negated_names: list[NameEntry] = []  # names the question excludes (除了开博通)
        self.unused: list[str] = []  # words neither understood nor names: reported back, or the answer stops
        self.described: list[str] = []  # words describing partners (老年顾客): a kind the data cannot tell apart
        self.ratio = False  # 实收占应收的百分之几: two figures, the first over the second
        self.measured: list[str] = []  # 医保报销比例: words naming a rate the data would have to hold
        self.windows: list[TimeWindow] = []
        self.time_group: str | None = None  # two adjacent periods named (2003年和2004年): one row each
        self.bare_average: tuple[int, int] | None = None  # 平均 / average with no member named after it
        self.nth = False  # 第二高: only the row ranked limit-th
        self.rising = False  # rose / fell every month: change on the month before, within the window named
        self.combined = bool(COMBINED.search(_normalise(question)))  # the values named are summed as one
        # the metrics and window of a spec that failed validation: what the data lacks is named before how it failed
        self.attempted: dict[str, Any] | None = None
        for typed, read in respelt:
            self.notes.append(self._zh(f"「{typed}」按「{read}」理解", f'read "{typed}" as "{read}"'))

    # -- helpers -----------------------------------------------------------------------------------------------
    def _zh(self, zh: str, en: str) -> str:
        return zh if self.lang == "zh" else en

    def _clarify(self, reason: ClarificationReason, zh: str, en: str, options: list[str] | None = None):
        return Clarification(question=self._zh(zh, en), options=options or [], reason=reason, language=self.lang)

    # -- steps -------------------------------------------------------------------------------------------------
    def _quoted(self) -> list[_Span]:
        out = []
        for m in list(QUOTED.finditer(self.scan.work)):
            i = next(k for k, g in enumerate(m.groups(), 1) if g is not None)
            inner = self.display[m.start(i) : m.end(i)].strip()
            out.append(self.scan.take(m.start(), m.end(), "quoted", inner))
        return out

    def _comparison(self, streak: tuple[int, str] | None = None) -> str:
        comparison = "none"
        if self.scan.take_all(YOY, "compare", "yoy"):
            comparison = "yoy"
        if self.scan.take_all(PREVIOUS, "compare", "previous") and comparison == "none":
            comparison = "previous"
        grew = self.scan.take_all(GROWTH, "growth", 1)
        fell = self.scan.take_all(DECLINE, "growth", -1)
        if (grew or fell) and comparison == "none" and streak is not None and streak[0] == 0:
            # rose every month from April to June: each month against the month before it
            comparison = "previous"
            self.rising = True
        elif (grew or fell) and comparison == "none":
            comparison = "yoy"
            self.notes.append(
                self._zh("“增长/下降”未注明对比期，按同比计算", "growth without a reference period: year over year")
            )
        return comparison

    def _in_data_year(self, start: int, window: TimeWindow) -> TimeWindow:
        """三月 / 一季度 / in March with no year: this year's, unless the data does not reach it; then the latest year
        whose month (quarter) the data holds (a 2018 pharmacy export asked 3月份卖了多少 in 2026 means March 2018)."""
        span = self.context.span
        said = next((s for s in self.scan.of("time") if s.start == start), None)
        ranged = (
            window.kind not in ("month", "quarter")
            and window.start.year == window.end.year
            and window.start.day == 1
            and window.end == month_end(window.end)
        )
        if span is None or said is None or (window.kind not in ("month", "quarter") and not ranged):
            return window
        if YEAR_SAID.search(self.scan.text[said.start : said.end]) or (
            window.start <= span.last and window.end >= span.first
        ):
            return window
        for year in range(window.start.year - 1, span.first.year - 1, -1):
            if ranged:  # 1月和2月 / 3到5月: the same months of an earlier year
                start = window.start.replace(year=year, day=1)
                end = month_end(date(year, window.end.month, 1))
                shifted = window.model_copy(
                    update={"start": start, "end": end, "label": range_label(start, end, self.lang)}
                )
            elif window.kind == "month":
                shifted = _month(year, window.start.month, self.lang)
            else:
                shifted = _quarter(year, (window.start.month - 1) // 3 + 1, self.lang)
            if shifted.start <= span.last and shifted.end >= span.first:
                self.notes.append(
                    self._zh(
                        f"没有写年份：按数据里最近的{shifted.label}",
                        f"no year given: {shifted.label}, the latest in the data",
                    )
                )
                return shifted
        return window

    def _time(self) -> TimeWindow | None:
        """The window the question names, relative words resolved against today; None when it names none.
        Every window named is kept in self.windows, in the order written (2016年买过、2017年没下单)."""
        found = [
            (start, self._in_data_year(start, w))
            for start, w in _find_windows(self.scan, self.context.today, self.lang)
        ]
        found = self._part_of_year(found)
        self.windows = [w for _start, w in sorted(found, key=lambda t: t[0])]
        # 2018年5月和6月销量: months named one by one are a row each (as 2003年和2004年 are), unless the question
        # counts them as one span (4、5、6三个月) or adds them up (一共 / 合计)
        listed = [s for s in self.scan.of("time") if MONTHS_LISTED.search(self.scan.text[s.start : s.end])]
        if listed and not re.search(r"个\s*月", self.scan.text) and not MONTHS_ADDED.search(self.scan.text):
            self.time_group = "month"
        return found[0][1] if found else None

    def _part_of_year(self, found: list[tuple[int, TimeWindow]]) -> list[tuple[int, TimeWindow]]:
        """Q4 … last year / Q1 this year / in March of 2016: a quarter or month written without its year, and a year
        beside it, are that quarter of that year (one period), unless the two are compared (Q4 vs last year)."""
        if len(found) != 2 or VERSUS.search(self.scan.text) or NUMBERS_LISTED.search(self.scan.text):
            return found  # 2026年1、3月: two months listed, asked back as they are
        spans = {s.start: self.scan.text[s.start : s.end] for s in self.scan.of("time")}
        years = [(s, w) for s, w in found if w.kind in ("year", "ytd")]  # Q1 this year: this year's Q1
        parts = [
            (s, w) for s, w in found if w.kind in ("month", "quarter") and not re.search(r"\d{4}", spans.get(s, ""))
        ]
        if len(years) != 1 or len(parts) != 1:
            return found
        (start, part), year = parts[0], years[0][1].start.year
        if part.kind == "month":
            window = _month(year, part.start.month, self.lang)
        else:
            window = _quarter(year, (part.start.month - 1) // 3 + 1, self.lang)
        return [(min(start, years[0][0]), window)]

    def _default_window(self, metrics: list[str], comparison: str, streak: tuple[int, str] | None = None) -> TimeWindow:
        """No time in the question: totals and rankings cover all the data; period KPIs and comparisons use the
        latest complete quarter. Never a partial quarter, and the window is always stated."""
        span = self.context.span
        if streak is not None and span is not None:  # the last n complete periods of the grain
            n, grain = streak
            last = span.latest_complete(grain)  # type: ignore[arg-type]
            if last is not None:
                first = last.shift(-(n - 1) - (1 if "_change" in "".join(metrics) else 0))
                return TimeWindow(start=first.start, end=last.end, label=range_label(first.start, last.end, self.lang))
        if self.all_time and span is not None:  # 累计 / to date: everything the data holds
            return TimeWindow(
                start=span.first, end=span.last, label=self._zh("累计（全部数据）", "all data"), kind="custom"
            )
        latest = span.latest_complete("quarter") if span else None
        if latest is not None and (comparison != "none" or any(m in PERIOD_KPIS for m in metrics)):
            window = _quarter(latest.start.year, (latest.start.month - 1) // 3 + 1, self.lang)
            self.notes.append(
                self._zh(
                    f"未指定时间：按最近一个完整季度 {window.label} 计算",
                    f"no period given: the latest complete quarter, {window.label}",
                )
            )
            return window
        if span is None:
            return default_window(self.context.latest, self.lang)
        label = self._zh("全部数据", "all data")
        self.notes.append(
            self._zh(
                f"未指定时间：合计与排名覆盖全部数据（{span.window}）", f"no period given: all data ({span.window})"
            )
        )
        return TimeWindow(start=span.first, end=span.last, label=label, kind="custom")

    def _check_window(self, window: TimeWindow) -> Clarification | None:
        """Say where the data ends; a window the data does not reach gets the latest complete period offered."""
        span = self.context.span
        if span is None:
            return None
        if window.start > span.last or window.end < span.first:
            grain = window.kind if window.kind in ("month", "year") else "quarter"
            latest = span.latest_complete(grain) or span.latest_complete("quarter")
            option = None
            if latest is not None:
                label = latest.label if self.lang == "zh" else range_label(latest.start, latest.end, "en")
                option = self._with_time(label)
            return self._clarify(
                "no_data",
                f"{window.label}没有数据：{span.until}（数据从 {span.first.isoformat()} 开始）。"
                + (f"要看最近一个有数据的完整时期 {latest.label} 吗？" if latest else ""),
                f"There is no data for {window.label}: the data runs {span.window}."
                + (f" Shall I use the latest complete period, {latest.key}?" if latest else ""),
                [option] if option else [],
            )
        if window.end > span.last:
            self.notes.append(
                self._zh(
                    f"{span.until}，{window.label}只有部分数据",
                    f"data ends {span.last.isoformat()}: {window.label} is partial",
                )
            )
        return None

    def _rates_for_groups(self) -> list[str]:
        """The rates that can be computed for what the question lists (哪些产品低于10%: not 完成率, a partner's)."""
        dims = [DIMENSIONS[s.value[0]] for s in self.scan.of("group") if s.value and s.value[0] in DIMENSIONS]
        fits = [k for k in RATE_OPTIONS if all(src in d.expressions for d in dims for src in METRICS[k].sources)]
        return fits or list(RATE_OPTIONS)

    def _with_metric(self, label: str) -> str:
        """The question with a metric filled in: each clarification option re-runs the whole question."""
        text = self.display.rstrip("？?。. ")
        return f"{text}的{label}" if self.lang == "zh" else f"{text}: {label}"

    def _with_time(self, label: str) -> str:
        """The question with its time expression(s) replaced by another period (a clarification option)."""
        spans = sorted(self.scan.of("time"), key=lambda s: s.start)
        text = self.scan.text
        if not spans:
            return f"{label}{text}" if self.lang == "zh" else f"{text} in {label}"
        first = spans[0]
        out = text[: first.start] + label
        cursor = first.end
        for s in spans[1:]:
            out += text[cursor : s.start]
            cursor = s.end
        return out + text[cursor:]

    def _ids(self) -> tuple[list[NameEntry], list[str]]:
        """Partner ids and SKUs typed as such (P0001, BEV-001); a code naming nothing is reported."""
        found, unknown = [], []
        for m in list(ID_PATTERN.finditer(self.scan.work)):
            code = m.group(1)
            entry = self.context.by_id.get(code)
            if entry is not None and not re.search("[a-z]", code) and len(code) < 5:
                entry = None  # a short number is a number (前5, 80), not an id
            if entry is None and not CODE_LIKE.fullmatch(code):
                continue
            self.scan.take(m.start(), m.end(), "name", entry)
            if entry is None:
                unknown.append(code.upper())
            else:
                found.append(entry)
        return found, unknown

    def _full_names(self) -> list[NameEntry]:
        found = []
        work = self.scan.work
        for entry in self.context.full_names:
            i = work.find(entry.norm)
            if i >= 0:
                self.scan.take(i, i + len(entry.norm), "name", entry)
                work = self.scan.work
                found.append(entry)
        return found

    def _thresholds(self) -> list[_Threshold]:
        out: list[_Threshold] = []
        for pattern, op, value in TARGET_PHRASES:
            for _m, span in self.scan.take_all(pattern, "threshold"):
                out.append(_Threshold(span, op, value, True, "achievement"))
        for m in list(OF_TARGET.finditer(self.scan.work)):
            if not self.scan.free(m.start(), m.end()):
                continue
            parsed = _threshold_value(m) if m.group("num") or m.group("pct") else _threshold_value(m, "b_")
            if parsed is None:
                continue
            op = CMP_ZH.get(m.group("cmp")) or CMP_EN.get(m.group("cmp")) or CMP_ZH.get(m.group("cmp"), "lt")
            span = self.scan.take(m.start(), m.end(), "threshold")
            value = parsed[0] if parsed[1] or parsed[0] <= 1.5 else parsed[0] / 100
            out.append(_Threshold(span, op, value, True, "achievement"))
        for pattern, op in SIGN_WORDS:
            for m, span in self.scan.take_all(pattern, "threshold"):
                # 亏损 / lost money / profitable: the sign of profit, whatever figure the question names first
                metric = self._profit_key() if PROFIT_SIGN.search(m.group(0)) else None
                out.append(_Threshold(span, op, 0.0, False, metric))
        for pattern in RANGES:  # 在50万到100万之间 / between 500 and 1000: two bounds on one figure
            for m in list(pattern.finditer(self.scan.work)):
                if not self.scan.free(m.start(), m.end()):
                    continue
                low, high = _threshold_value(m, "a_"), _threshold_value(m, "b_")
                if low is None or high is None:
                    continue
                a_num, b_num = to_number(m.group("a_num") or ""), to_number(m.group("b_num") or "")
                if not m.group("a_unit") and m.group("b_unit") and a_num and b_num:
                    low = (a_num * high[0] / b_num, high[1])  # 50到100万: the unit written once covers both
                span = self.scan.take(m.start(), m.end(), "threshold")
                lo, hi = sorted((low[0], high[0]))
                out += [_Threshold(span, "ge", lo, low[1]), _Threshold(span, "le", hi, high[1])]
        for pattern, table in ((THRESHOLD_ZH, CMP_ZH), (THRESHOLD_EN, CMP_EN), (THRESHOLD_POST, {})):
            for m in list(pattern.finditer(self.scan.work)):
                if not self.scan.free(m.start(), m.end()):
                    continue
                parsed = _threshold_value(m)
                if parsed is None:
                    continue
                cmp = m.groupdict().get("cmp")
                op = POST[m.group("post")] if m.groupdict().get("post") else table.get(cmp) or CMP_ZH.get(cmp or "")
                if op is None:
                    continue
                span = self.scan.take(m.start(), m.end(), "threshold")
                # more than 20 customers / 客户超过20家: a count of the partners that bought, not 20 yuan of revenue
                counted = None if parsed[1] else COUNTED_PARTNERS.match(self.scan.text, span.end)
                owner = PARTNER_WITH.search(self.scan.text[: span.start]) if counted else None
                if owner:
                    # 零售商 with more than 10 stores: a count each partner has (its stores), not partners that
                    # bought; the data has no such column, so it is named back, never dropped or misread
                    phrase = self.scan.text[span.start : counted.end()].strip()
                    self.scan.take(span.start, counted.end(), "missing")
                    self.unused.append(phrase)
                    continue
                if counted:
                    self.scan.take(counted.start(1), counted.end(1), "metric", "active_partners")
                    self._count_type(counted.group(1))
                elif not parsed[1] and COUNT_UNIT.search(self.scan.text[span.start : span.end]):
                    # 客户超过20家的国家: the partners before the bound are what is counted
                    noun = PARTNERS_BEFORE.search(self.scan.text[: span.start])
                    owner = PARTNER_WITH.search(self.scan.text[: span.start])
                    if owner and not noun:  # 客户有超过5家门店: a count each customer has, not in the data
                        after = re.match(r"\s*[\u4e00-\u9fff]{0,4}", self.scan.text[span.end :])
                        end = span.end + (after.end() if after else 0)
                        self.unused.append(self.scan.text[span.start : end].strip())
                        self.scan.take(span.start, end, "missing")
                        continue
                    if noun and self.scan.free(noun.start(), noun.end()):
                        self.scan.take(noun.start(), noun.end(), "metric", "active_partners")
                        self._count_type(noun.group(0))
                        counted = noun
                unit = (m.groupdict().get("unit") or "").strip().lower()
                # 超过7000件 / more than 7,000 units: a count of goods is a bound on the quantity, never on money
                goods = "quantity" if unit in QUANTITY_UNITS and "quantity" in METRICS else None
                out.append(_Threshold(span, op, parsed[0], parsed[1], "active_partners" if counted else goods))
        return out

    def _count_type(self, words: str) -> None:
        """The partner type a counted noun names (超过10家经销商 counts 经销商 when the data has that type)."""
        for noun, value in {**PARTNER_NOUNS_ZH, **PARTNER_NOUNS_EN}.items():
            if value and noun in words.lower() and value in self.context.values["partner_type"]:
                self.counted_types.append(value)
                return

    def _ranking(self) -> tuple[str | None, int | None, _Span | None, bool]:
        """(direction, limit, span of the ranking word, superlative?)"""
        direction, limit, where, superlative = None, None, None, False
        for m, span in self.scan.take_all(NTH, "limit"):
            n = NTH_EN.get((m.group("en") or "").lower()) or _count(m.group("zh") or m.group("zh2") or "")
            if n and n >= 2 and limit is None:
                limit, self.nth = n, True
                span.value = n
        for pattern, d in LIMIT_PATTERNS:
            for m, span in self.scan.take_all(pattern, "limit"):
                n = _count(m.group(1))
                if n is not None and limit is None:
                    limit = min(n, 1000)
                    span.value = limit
                    if d and direction is None:
                        direction, where = d, span
        for pattern, d in RANK_ORDER:
            for _m, span in self.scan.take_all(pattern, "rank"):
                if direction is None:
                    direction, where = d, span
        for pattern, d in RANK_SUPERLATIVE:
            for _m, span in self.scan.take_all(pattern, "rank"):
                if direction is None or where is None or where.kind == "limit":
                    direction, where, superlative = d, span, True
        for pattern, d in RANK_TOP:
            for _m, span in self.scan.take_all(pattern, "rank"):
                if direction is None:
                    direction, where = d, span
                    # the top customer: one; the top customers: ten
                    limit = limit or (1 if ONE_AFTER_TOP.match(self.scan.text, span.end) else 10)
        for pattern, d in RANK_FULL:
            for _m, span in self.scan.take_all(pattern, "rank"):
                if direction is None:
                    direction, where = d, span
        if superlative and limit is None:
            limit = 1
        if limit is not None and direction is None:
            direction = "desc"
        return direction, limit, where, superlative

    def _markers(self) -> list[_Span]:
        """各区域 / 按月 / 哪些经销商 / by region / which distributors → grouping."""
        zh_words = {**self.context.dim_words_zh, **{w: "partner" for w in PARTNER_NOUNS_ZH}}
        if "country" in zh_words.values():
            zh_words.setdefault("国", "country")  # 各国 / 哪国: only after a marker (全国 is the total)
        en_words = {**self.context.dim_words_en}
        for noun in PARTNER_NOUNS_EN:
            en_words[noun] = en_words[noun + "s"] = "partner"
        out = []
        # 各渠道伙伴数 is 各渠道 + 伙伴数: a dimension word must not cut into a metric word that runs past it.
        metric_words = [a.lower() for m in METRICS.values() for a in m.synonyms_zh]
        occupied = [(m.start(), m.end()) for a in metric_words for m in re.finditer(re.escape(a), self.scan.work)]
        by_length = sorted(zh_words, key=len, reverse=True)
        for m in list(re.finditer(rf"(?:{MARK_ZH})\s*", self.scan.work)):
            if m.group(0).startswith("不同") and COUNTED_BEFORE.search(self.scan.work[: m.start()]):
                continue  # 多少个不同客户: the distinct customers counted, not a breakdown by customer
            pos = m.end()
            for word in by_length:
                end = pos + len(word)
                if not self.scan.work.startswith(word, pos) or not self.scan.free(m.start(), end):
                    continue
                if any(pos < a < end < b for a, b in occupied):
                    continue
                span = self.scan.take(m.start(), end, "group", (zh_words[word], PARTNER_NOUNS_ZH.get(word), True))
                out.append(span)
                break
        # 销售额超过5万的州有哪几个 / …的品类是哪些: the grouping asked for after its word, not before it
        asked_after = re.compile(rf"的\s*({_alt(by_length)})(?=\s*(?:有|是|都有|都是|分别是)?\s*(?:{ASKED_AFTER}))")
        for m in [] if out else list(asked_after.finditer(self.scan.work)):  # only when nothing else groups
            word = m.group(1)
            if zh_words[word] != "partner" and self.scan.free(m.start(1), m.end(1)):
                span = self.scan.take(m.start(1), m.end(1), "group", (zh_words[word], None, True))
                out.append(span)
        en = re.compile(rf"\b(?:{MARK_EN})\s+(?:the\s+)?({_alt(en_words)})\b")
        for m, span in self.scan.take_all(en, "group"):
            word = m.group(1)
            span.value = (en_words[word], PARTNER_NOUNS_EN.get(word.rstrip("s")), True)
            out.append(span)
        for pattern, dim in TIME_GROUP_WORDS:
            for _m, span in self.scan.take_all(pattern, "group"):
                span.value = (dim, None, True)
                out.append(span)
        return out

    def _metrics(self) -> tuple[list[tuple[_Span, str]], list[str]]:
        candidates = []
        work = self.scan.work
        type_filters = []
        for metric in METRICS.values():
            for alias in metric.synonyms_zh:
                a = alias.lower()
                for m in re.finditer(re.escape(a), work):
                    candidates.append((m.start(), m.end(), metric.key, alias))
            for alias in metric.synonyms_en:
                for m in re.finditer(rf"(?<![a-z]){re.escape(alias)}s?(?![a-z])", work):
                    candidates.append((m.start(), m.end(), metric.key, alias))
        nouns = "|".join(sorted({n + "s" for n in PARTNER_NOUNS_EN} | set(PARTNER_NOUNS_EN), key=len, reverse=True))
        for m in re.finditer(
            rf"\b(?:how many|number of|count of)(?=\s+(?:(?:different|distinct|unique)\s+)?(?:{nouns})\b)", work
        ):  # how many customers came in Q2 2018: with a period, the customers that bought in it
            counted_now = "active_partners" if self.scan.of("time") else "partner_count"
            candidates.append((m.start(), m.end(), counted_now, m.group(0)))
        # the countries with the most customers: customers counted per country (the ranking word is read apart)
        most = rf"\b(?:most|fewest|least|more|fewer)\s+(?:[^\s\x00]+\s+)?({nouns})\b"  # the most 直营 stores
        # with a period (the most customers in 2011) the customers counted are the ones that bought in it
        counted = "active_partners" if self.scan.of("time") else "partner_count"
        for m in re.finditer(most, self.scan.text, re.IGNORECASE):
            if self.scan.free(m.start(1), m.end(1)):
                candidates.append((m.start(1), m.end(1), counted, m.group(1)))
                self._count_type(m.group(1))
        # the partner nouns, and the file's own name for its customer column (社保卡号, 会员卡号)
        own_names = [w for w, dim in self.context.dim_words_zh.items() if dim == "partner" and CJK.search(w)]
        types = _alt([*PARTNER_NOUNS_ZH, *own_names])
        for m in re.finditer(rf"(?:多少|几)\s*(?:个|家|位)?(?:不同的?)?(?=\s*(?:{types}))", work):
            candidates.append((m.start(), m.end(), "partner_count", m.group(0)))
        # 哪个省的经销商最多 / B级客户最少的三个省: partners counted per group, not the group's revenue
        for m in re.finditer(rf"({types})(?:数|数量|个数)?(?=\s*(?:最多|最少))", self.scan.text):
            if self.scan.free(m.start(1), m.end()):
                candidates.append((m.start(1), m.end(), counted, m.group(0)))
                self._count_type(m.group(1))
        # 上个月卖出了多少种产品 / how many products did we sell: the products that sold, counted
        for m in re.finditer(PRODUCTS_COUNTED, work):
            if self.scan.free(m.start(), m.end()):
                candidates.append((m.start(), m.end(), "active_products", m.group(0)))
        # 每个月有多少家在进货 / 几家下了单: the partners that bought, not every partner on the books
        buying = (
            r"(?:在|有|还在)?(?:进货|进了货|进过货|下单|下了单|下过单|买过|买了|采购|拿货|拿了货|有销售|有业绩"
            r"|来了|来过|来买过|来买了|来买|光顾)"
        )
        # 多少人买过药 / 来了多少人: people counted by the verb are the customers that bought
        for m in re.finditer(rf"(?:多少|几)\s*(?:个|家|位|个人|人)?(?:不同的?)?(?:{types})?\s*{buying}", work):
            candidates.append((m.start(), m.end(), "active_partners", m.group(0)))
        # 3月来了多少顾客: the verb before the count (来了 / 买了 多少客户) counts those who came, not the books
        for m in re.finditer(rf"{buying}\s*(?:多少|几)\s*(?:(?:个|家|位)?\s*(?:{types})|个?人(?![民均次]))", work):
            candidates.append((m.start(), m.end(), "active_partners", m.group(0)))
        candidates.sort(key=lambda c: (-(c[1] - c[0]), c[0]))
        out = []
        for start, end, key, alias in candidates:
            if self.scan.free(start, end):
                out.append((self.scan.take(start, end, "metric", key), key))
                for noun, value in PARTNER_NOUNS_ZH.items():
                    if value and noun in alias and value in self.context.values["partner_type"]:
                        type_filters.append(value)
        if not out:
            out = self._misspelt_metric()
        out.sort(key=lambda t: t[0].start)
        # the total value of cancelled orders: the orders are what is valued, not a second figure asked for
        valued = [s.start for s, key in out if key == "revenue" and "value" in self.scan.text[s.start : s.end]]
        if valued:
            for span, key in list(out):
                if (
                    key == "order_count"
                    and span.start > valued[0]
                    and ORDERS_VALUED.fullmatch(self.scan.text[span.start : span.end])
                ):
                    out.remove((span, key))
                    span.kind = "word"
        return out, type_filters

    def _misspelt_metric(self) -> list[tuple[_Span, str]]:
        """回宽率 → 回款率: a Chinese metric name of three or more characters typed with one inner character wrong
        (not the first or last: 的客户 is not 新客户, 完成了 is not 完成率). Only when no metric was found; the
        answer says how it was read."""
        work = self.scan.work
        for metric in METRICS.values():
            for alias in sorted(metric.synonyms_zh, key=len, reverse=True):
                n = len(alias)
                if n < 3 or not CJK.fullmatch(alias[0]):
                    continue
                for i in range(len(work) - n + 1):
                    piece = work[i : i + n]
                    wrong = [k for k in range(n) if piece[k] != alias[k]]
                    if len(wrong) != 1 or not 0 < wrong[0] < n - 1 or not CJK.match(piece[wrong[0]]):
                        continue
                    if piece[wrong[0]] in "的了是在有和与及个们吗呢":
                        continue
                    if not self.scan.free(i, i + n):
                        continue
                    self.notes.append(self._zh(f"「{piece}」按「{alias}」理解", f'read "{piece}" as "{alias}"'))
                    return [(self.scan.take(i, i + n, "metric", metric.key), metric.key)]
        # oders → orders, reveune → revenue: an English metric word of five or more letters, one letter off
        for m in re.finditer(r"[a-z]{4,}", work):
            word = m.group(0)
            if word in STOP_EN or not self.scan.free(m.start(), m.end()):
                continue
            for metric in METRICS.values():
                alias = next((a for a in (metric.en, *metric.synonyms_en) if " " not in a and _one_off(word, a)), None)
                if alias is not None and len(alias) >= 5:
                    self.notes.append(self._zh(f"「{word}」按「{alias}」理解", f'read "{word}" as "{alias}"'))
                    return [(self.scan.take(m.start(), m.end(), "metric", metric.key), metric.key)]
        return []

    def _entities(self) -> list[_Span]:
        if self.context.entity_pattern is None:
            return []
        out = []
        for m, span in self.scan.take_all(self.context.entity_pattern, "entity"):
            span.value = self.context.entity_aliases[m.group(0)]
            out.append(span)
            trailing = EXCLUDING_AFTER.match(self.scan.text, span.end)  # 英国以外: read in the filters pass
            if trailing and trailing.end() > span.end and self.scan.free(span.end, trailing.end()):
                self.scan.take(span.end, trailing.end(), "exclude")
        return out

    def _nouns(self) -> list[_Span]:
        """Bare partner nouns (经销商, customers …) and bare dimension words (区域, products …)."""
        out = []
        types = self.context.values["partner_type"]
        zh = re.compile(_alt(PARTNER_NOUNS_ZH))
        for m, span in self.scan.take_all(zh, "group"):
            value = PARTNER_NOUNS_ZH[m.group(0)]
            span.value = ("partner", value if value in types else None, False)
            out.append(span)
            trailing = EXCLUDING_AFTER.match(self.scan.text, span.end)  # 电商平台以外: read with the filters
            if trailing and trailing.end() > span.end and self.scan.free(span.end, trailing.end()):
                self.scan.take(span.end, trailing.end(), "exclude")
        en_nouns = {n: v for n, v in PARTNER_NOUNS_EN.items()}
        en = re.compile(rf"\b({_alt(en_nouns)})(s?)\b")
        for m, span in self.scan.take_all(en, "group"):
            value = en_nouns[m.group(1)]
            span.value = ("partner", value if value in types else None, False, bool(m.group(2)))
            out.append(span)
        bare_zh = {
            w: d for w, d in self.context.dim_words_zh.items() if len(w) >= BARE_ZH_MIN and not DIMENSIONS[d].is_time
        }
        for m, span in self.scan.take_all(re.compile(_alt(bare_zh)), "group"):
            span.value = (bare_zh[m.group(0)], None, False)
            out.append(span)
        # 销售额超过3000元的药 / 完成率低于80%的省: a one-character word ending the question after 的 names what is
        # listed
        short_zh = {
            w: d for w, d in self.context.dim_words_zh.items() if len(w) < BARE_ZH_MIN and not DIMENSIONS[d].is_time
        }
        if short_zh:
            closing = re.compile(
                rf"(?<=的)(?:{_alt(short_zh)})(?=\s*(?:有哪些|是哪些|呢)?\s*[?？!！。.]?\s*$|\s*(?:占|一共|合计|加起来|总共|[(（])|"
                r"\x00)"  # 前三的药占总销量多少: 占总销量 is read already
            )
            for m, span in self.scan.take_all(closing, "group"):
                span.value = (short_zh[m.group(0)], None, False)
                out.append(span)
        bare_en = {w: d for w, d in self.context.dim_words_en.items() if not DIMENSIONS[d].is_time}
        # DEALSIZE / Ship Mode / Sub-Category, a file's column name asked as "deal size" / shipmode / sub category:
        # a space or hyphen between its letters is allowed
        squashed = {re.sub(r"[ -]", "", w): d for w, d in bare_en.items()}
        long = sorted((w for w in squashed if re.fullmatch(r"[a-z]{6,}", w)), key=len, reverse=True)
        spaced = "".join(f"|{'[ -]?'.join(map(re.escape, w))}" for w in long)
        for m, span in self.scan.take_all(re.compile(rf"\b(?:{_alt(bare_en)}{spaced})\b"), "group"):
            said = m.group(0)
            span.value = (bare_en.get(said) or squashed[re.sub(r"[ -]", "", said)], None, False)
            out.append(span)
        # Time words left after the time expressions are gone mean a grouping: 今年月度销售额, 季度销量.
        # A one-character 年 / 月 in a word that is no time (老年顾客, 年龄, 年轻) is left over with that word; 历年 /
        # 当月 / 月底 keep their time.
        time_zh = {w: d for w, d in self.context.dim_words_zh.items() if DIMENSIONS[d].is_time and w != "季"}
        text = self.scan.work
        partners_at = {s.start for s in self.scan.of("group") if s.value and s.value[0] == "partner"}
        for m in list(re.finditer(_alt(time_zh), text)):
            i, j = m.span()
            describes = _in_word(self.scan.text[max(i - 1, 0) : j]) and j in partners_at  # 老年顾客
            no_time = _in_word(self.scan.text[i : j + 1]) and text[j : j + 1] not in TIME_POINT_SUFFIX  # 年龄, not 年底
            if j - i == 1 and (describes or no_time):
                continue
            if self.scan.free(i, j):
                span = self.scan.take(i, j, "group")
                span.value = (time_zh[m.group(0)], None, False)
                out.append(span)
        return out

    def _leftovers(self) -> list[tuple[str, int, int]]:
        """Unrecognised phrases that may be names: (phrase as typed, start, end) in the normalised text."""
        from retrieval.tokens import _jieba  # loaded only for a chunk with Chinese left: ~0.8 s of dictionary

        out = []
        partners_at = {s.start for s in self.scan.of("group") if s.value and s.value[0] == "partner"}
        for m in re.finditer(r"[^\x00,.;:!?，。；：！？、()（）\[\]【】'\"`~=+*/\\|<>#@$^&_-]+", self.scan.work):
            chunk, base = m.group(0), m.start()
            pos, p_start, p_end = 0, None, None
            tokens = _jieba().lcut(chunk) if CJK.search(chunk) else re.findall(r"\S+|\s+", chunk)
            for token in [*tokens, None]:
                if token is None:  # end of chunk: flush the open phrase
                    word, t_start = "", len(chunk)
                else:
                    t_start = chunk.find(token, pos)
                    pos = t_start + len(token)
                    word = token.strip()
                    if not word and p_start is not None and not CJK.search(chunk):
                        continue  # spaces inside an English phrase
                junk = not word or word in STOP_ZH or word in STOP_EN or re.fullmatch(r"[\d.%]+|[a-z]", word)
                if p_start is not None and word in MEASURE_SUFFIX:  # 退货率 / 投诉量: a measure, kept whole
                    p_end = pos
                    continue
                one = len(word) == 1 and CJK.match(word)
                kind = (not junk or word in SIZE_KINDS) and word not in NOT_A_KIND
                if one and kind and base + pos in partners_at and p_start is None:
                    out.append((word, base + t_start, base + pos))  # 老客户 / 大客户: a kind of customer, reported
                    continue
                if junk or one:
                    if p_start is not None:
                        out.append((self.display[base + p_start : base + p_end].strip(), base + p_start, base + p_end))
                        p_start = None
                    continue
                if p_start is None:
                    p_start = t_start
                p_end = pos
        return [(p, s, e) for p, s, e in out if p]

    # -- names ---------------------------------------------------------------------------------------------------
    def _match(self, phrase: str) -> list[NameEntry]:
        """Partners and products a phrase may name: the exact name, else names containing it, else close
        fuzzy matches (rapidfuzz partial ratio ≥ 85, within 3 points of the best) for phrases of 4+ characters."""
        norm = _normalise(phrase)
        entries = self.context.partners + self.context.products
        exact = [e for e in entries if e.norm == norm]
        if exact:
            return exact
        subs = [e for e in entries if norm in e.norm]
        if subs:
            return subs
        if (len(norm) < 4 and CJK.search(norm)) or len(norm) < 3:
            return []  # two typed characters are matched exactly or not at all
        names = [e.norm for e in entries]
        hits = process.extract(norm, names, scorer=fuzz.partial_ratio, score_cutoff=85, limit=20)
        hits = [h for h in hits if fuzz.ratio(norm, h[0]) >= 50 or len(norm) >= 6]
        if not hits:
            return []
        best = hits[0][1]
        return [entries[h[2]] for h in hits if h[1] >= best - 3]

    def _split_joined(self, phrases: list[tuple[str, int, int, bool]]) -> list[tuple[str, int, int, bool]]:
        """安内真和络活喜: two names joined by 和 / 与 / 跟 / 及 / 、 / and, when the whole names nothing and every
        part names something."""
        out = []
        for phrase, start, end, explicit in phrases:
            parts = [m for m in re.finditer(r"[^和与跟及、&]+|(?<=\s)(?:and)(?=\s)", phrase) if m.group(0).strip()]
            pieces = [m for m in parts if m.group(0).strip().lower() != "and"]
            if len(pieces) > 1 and not self._match(phrase) and all(self._match(m.group(0).strip()) for m in pieces):
                out += [(m.group(0).strip(), start + m.start(), start + m.end(), explicit) for m in pieces]
            else:
                out.append((phrase, start, end, explicit))
        return out

    def _describes_partners(self, phrase: str, end: int) -> bool:
        """A dictionary word right before a partner noun (老年顾客, 学生客户, 外地患者): a description of customers,
        not a name; the data has no such attribute unless it matched one."""
        from retrieval.tokens import known_word

        follows = any(
            s.start == end and s.kind == "group" and s.value and s.value[0] == "partner" for s in self.scan.spans
        )
        if not follows or not CJK.match(phrase) or all(ch in NOT_A_KIND for ch in phrase):  # 这家客户 points
            return False
        return len(phrase) == 1 or known_word(phrase)

    def _resolve_names(self, phrases: list[tuple[str, int, int, bool]], entities: list[_Span]):
        """Match each leftover phrase to partner/product names; returns (entries, dropped entity spans, problem)."""
        resolved: list[NameEntry] = []
        dropped: list[_Span] = []
        for phrase, start, end, explicit in self._split_joined(phrases):
            candidates = [] if len(phrase) == 1 else self._match(phrase)  # 老客户's 老 names no 老 product
            if candidates and not explicit and self._word_inside_names(phrase, candidates):
                candidates = []  # average (Tenex Chairmat w/ Average Lip): a word of the question, not a name
            # The name may have swallowed an adjacent city or category (常州鑫源, 鲜橙果汁饮料): try them together.
            for ent in entities:
                if ent in dropped:
                    continue
                before = ent.end <= start and not self.scan.text[ent.end : start].strip()
                after = ent.start >= end and not self.scan.text[end : ent.start].strip()
                if before or after:
                    lo, hi = min(ent.start, start), max(ent.end, end)
                    joined = self._match(self.scan.text[lo:hi])
                    if joined and (not candidates or len(joined) <= len(candidates)):
                        candidates = joined
                        dropped.append(ent)
            if len(candidates) > 1:
                narrowed = self._narrow(candidates, [e for e in entities if e not in dropped])
                candidates = narrowed or candidates
            if len(candidates) > 1 and all(c.kind == "product" and c.name == candidates[0].name for c in candidates):
                # one name under several codes is one product, keyed by its first code (product_key_sql)
                candidates = [min(candidates, key=lambda c: c.key)]
            if not candidates:
                measure = len(phrase) > 1 and phrase[-1:] in MEASURE_SUFFIX  # 投诉量: a figure, not a name
                # 医保报销比例: a word followed by 比例 / 占比 is a rate the data would have to hold
                if any(s.kind == "share" and s.start == end for s in self.scan.spans):
                    measure = True
                    self.measured.append(phrase)
                    if self.scan.free(start, end):
                        self.scan.take(start, end, "missing")
                if not explicit and (NOT_IN_DATA.search(phrase) or self._lower_english(phrase) or measure):
                    self.unused.append(phrase)  # 竞品 / sales reps: named back, not looked up as a name
                    continue
                if not explicit and self._describes_partners(phrase, end):
                    self.unused.append(phrase)  # 老年顾客: a kind of customer the data cannot tell apart
                    self.described.append(phrase)
                    if self.scan.free(start, end):
                        self.scan.take(start, end, "missing")
                    continue
                if not explicit and NEGATION_WORD.fullmatch(phrase.strip()):
                    # 状态不是Shipped的: a negation left over is a condition not understood; dropped, the answer would
                    # be for its opposite
                    return (
                        resolved,
                        dropped,
                        self._clarify(
                            "unanswerable",
                            f"这份数据回答不了这个问题：「{phrase}」这个否定条件没能读懂。请换一种说法，例如「除了…」「不含…」。",
                            f'This question cannot be answered as asked: the negation "{phrase}" was not understood. '
                            "Please say it as excluding …",
                        ),
                    )
                if not explicit and self._is_common(phrase):
                    if not self._is_filler(phrase):
                        self.unused.append(phrase)
                    continue
                return (
                    resolved,
                    dropped,
                    self._clarify(
                        "unknown_name",
                        f"没有找到名称或编号为「{phrase}」的伙伴或产品。请检查名称，或换一种说法。",
                        f'No partner or product named "{phrase}" was found. Please check the name.',
                    ),
                )
            if len({(c.kind, c.key) for c in candidates}) > 1 and self._explains_name(start, end, candidates):
                continue  # 安内真（苯磺酸氨氯地平片）: the bracket gives the generic name of the one named before it
            if len({(c.kind, c.key) for c in candidates}) > 1:
                options = self._options(candidates)
                more = len(candidates) - len(options)
                tail_zh = f"（还有 {more} 个，请说得更具体）" if more > 0 else ""
                tail_en = f" ({more} more; please be more specific)" if more > 0 else ""
                return (
                    resolved,
                    dropped,
                    self._clarify(
                        "ambiguous_name",
                        f"「{phrase}」对应多个伙伴或产品，您指的是哪一个？{tail_zh}",
                        f'"{phrase}" matches several partners or products. Which one do you mean?{tail_en}',
                        options,
                    ),
                )
            resolved.append(candidates[0])
            if end > start and self.scan.free(start, end):  # 锦程商贸: a name read, as a full name's span is
                self.scan.take(start, end, "resolved_name", candidates[0])
            if self._negated_at(start, end):  # 除了开博通 / excluding Classic Cars Co.
                self.negated_names.append(candidates[0])
        return resolved, dropped, None

    def _word_inside_names(self, phrase: str, candidates: list[NameEntry]) -> bool:
        """An English word typed in lower case (average, total, lines) that is a dictionary word and only a part of
        the names it matches, never a whole name: the question's own word. A customer or product is asked for by
        its name (Classic Cars Co., or a word of it the dictionary does not have)."""
        word = phrase.strip()
        return (
            self._lower_english(word)
            and " " not in word
            and all(c.norm != _normalise(word) for c in candidates)
            and is_english_word(word)
        )

    def _explains_name(self, start: int, end: int, candidates: list[NameEntry]) -> bool:
        """A phrase in brackets right after a name (or a name in brackets right after it) that also names that one
        product or partner: an explanation of the name, not another name. Its span is read as part of it."""
        for span in self.scan.spans:
            if span.kind not in ("name", "resolved_name") or not isinstance(span.value, NameEntry):
                continue
            between = self.scan.text[span.end : start] if span.end <= start else self.scan.text[end : span.start]
            if not re.fullmatch(r"\s*[)）]?\s*[(（]\s*", between):
                continue
            if any((c.kind, c.key) == (span.value.kind, span.value.key) for c in candidates):
                if self.scan.free(start, end):
                    self.scan.take(start, end, "filler")
                return True
        return False

    def _negated_at(self, start: int, end: int) -> bool:
        """除了X / 不算X / excluding X / X以外: the words around a name exclude it."""
        before = self.scan.text[max(0, start - NEGATION_REACH) : start]
        return bool(NEGATION.search(before) or EXCLUDING_AFTER.match(self.scan.text, end))

    def _store_names(self, entities: list[_Span], nouns: list[_Span]) -> Clarification | None:
        """深圳直营 / 佛山直营店: a city and a partner type that together begin several partners' names. Read as a
        filter they would sum those stores; the user most likely means one of them, so ask which."""
        spans = sorted(entities + nouns, key=lambda s: s.start)
        for i, first in enumerate(spans):
            if first.kind != "entity" or first.value[0] not in ("city", "province", "region"):
                continue
            end, chain = first.end, 1
            for nxt in spans[i + 1 :]:
                if self.scan.text[end : nxt.start].strip() or nxt.kind not in ("entity", "group"):
                    break
                end, chain = nxt.end, chain + 1
            store = STORE_SUFFIX.match(self.scan.text, end)
            end = store.end() if store else end
            if chain < 2:
                continue
            phrase = _normalise(self.scan.text[first.start : end])
            core = re.sub(r"(?:门店|体验店|店)$", "", phrase)  # 佛山直营店 → 佛山直营2号店, 佛山直营体验店
            named = [e for e in self.context.partners if e.norm.startswith(core) and (core == phrase or "店" in e.norm)]
            if len(named) >= 2:
                options = self._options(named)
                return self._clarify(
                    "ambiguous_name",
                    f"「{self.scan.text[first.start : end]}」对应多个伙伴，您指的是哪一个？",
                    f'"{self.scan.text[first.start : end]}" matches several partners. Which one do you mean?',
                    options,
                )
        return None

    def _order_definition(self) -> Clarification | None:
        """（一个人一天算一笔）: the question says how an order is counted. Without order numbers that is how the
        data counts them, and the answer says so; with order numbers it is another count, which is named back."""
        for m in list(ORDER_DEFINITION.finditer(self.scan.work)):
            said = self.display[m.start() : m.end()].strip(" ()（）")
            self.scan.take(m.start(), m.end(), "filler")
            if self.context.order_ids:
                return self._clarify(
                    "unsupported",
                    f"「{said}」：这份数据有订单号，订单数按订单号计，还不能改成按一人一天计。可以去掉这个说明再问（按订单号计）。",
                    f'"{said}": this data has order numbers and counts orders by them; counting one customer per day '
                    "instead is not supported. Ask without it to count by order number.",
                )
            self.notes.append(
                self._zh(
                    "订单数按一个顾客一天算一笔（这份数据没有订单号，本来就这样计）",
                    "orders counted as one per customer per day (this data has no order numbers, so that is how "
                    "they are counted)",
                )
            )
        return None

    def _place_homonym(self, entities: list[_Span]) -> Clarification | None:
        """washington sales: the state or the city of that name (another state's)? Summing either would answer for
        one place when the user may mean the other: ask, each option naming one."""
        for span in entities:
            typed = self.scan.text[span.start : span.end]
            places = self.context.homonyms.get(typed)
            if not places:
                continue
            shown = self.display[span.start : span.end]
            labels = {"province": ("州/省", "state"), "city": ("城市", "city"), "region": ("区域", "region")}
            options = [
                self.display[: span.start]
                + self._zh(
                    f"{value}{'市' if dim == 'city' else '省' if dim == 'province' else '区域'}",
                    f"{value} {labels.get(dim, ('', dim))[1]}",
                )
                + self.display[span.end :]
                for dim, value in places
            ]
            kinds_zh = "、".join(labels.get(dim, (dim, dim))[0] for dim, _v in places)
            kinds_en = " and ".join(labels.get(dim, (dim, dim))[1] for dim, _v in places)
            return self._clarify(
                "ambiguous_name",
                f"「{shown}」在数据里既是{kinds_zh}的名字，您指的是哪一个？",
                f'"{shown}" is both a {kinds_en} in this data. Which one do you mean?',
                options,
            )
        return None

    def _same_name_city(self, entities: list[_Span]) -> Clarification | None:
        """Columbus (Ohio, Georgia, Indiana): a city name that several provinces / states have, with none of
        them named. Summing them would answer for three places; ask which, each option naming one."""
        named: dict[str, set[str]] = {}
        for s in entities:
            if s.value and s.value[0] in PLACE_FIELDS[1:]:
                named.setdefault(s.value[0], set()).add(s.value[1])
        for span in entities:
            if not span.value or span.value[0] != "city" or "province" in named:  # Columbus, Ohio: said which
                continue
            places = sorted(
                {
                    place["province"]
                    for place in (dict(zip(PLACE_FIELDS, row, strict=True)) for row in self.context.places)
                    if place["city"] == span.value[1]
                    and place["province"]
                    and all(place[dim] in values for dim, values in named.items())
                }
            )
            if len(places) < 2:
                continue
            typed, city = self.display[span.start : span.end], span.value[1]
            options = [
                self.display[: span.start]
                + self._zh(f"{typed}（{place}）", f"{typed}, {place}")
                + self.display[span.end :]
                for place in places[:10]
            ]
            every = self._zh(f"{typed}（{'、'.join(places)}合计）", f"{typed} ({', '.join(places)} combined)")
            if len(places) <= 10:
                options.append(self.display[: span.start] + every + self.display[span.end :])
            return self._clarify(
                "ambiguous_name",
                f"数据里有 {len(places)} 个叫「{city}」的城市：{'、'.join(f'{city}（{p}）' for p in places)}。"
                "您指的是哪一个？也可以选几个一起合计。",
                f"The data has {len(places)} cities named {city}: {'; '.join(f'{city}, {p}' for p in places)}. "
                "Which one do you mean? You can also take them together.",
                options,
            )
        return None

    def _narrow(self, candidates: list[NameEntry], entities: list[_Span]) -> list[NameEntry]:
        out = candidates
        for ent in entities:
            dim, value = ent.value
            keep = [c for c in out if c.attrs.get(dim) == value]
            if keep:
                out = keep
        return out if len(out) < len(candidates) else []

    @staticmethod
    def _options(candidates: list[NameEntry]) -> list[str]:
        names = [c.name for c in candidates]
        out = []
        for c in sorted(candidates, key=lambda c: (c.kind, c.name))[:10]:
            out.append(c.name if names.count(c.name) == 1 else f"{c.name}（{c.key}）")
        return out

    @staticmethod
    def _is_filler(phrase: str) -> bool:
        """Only stop words (的、情况、看看、please …): nothing the question asks for."""
        if not CJK.search(phrase):
            return all(w in STOP_EN for w in phrase.split())
        from retrieval.tokens import _jieba

        return all(w in STOP_ZH or not w.strip() for w in _jieba().lcut(phrase))

    def _unanswerable(self) -> Clarification | None:
        """A noun the question asks about that the data has no field or value for (竞品, 合同到期, headcount):
        answering without it would answer another question, so the answer names it and stops."""
        # 市场份额 / competitor brands: name the thing itself, not a word beside it (客户人均消费's 人均 was read)
        read = [(s.start, s.end) for s in self.scan.of("per")]
        named = next(
            (m for m in NOT_IN_DATA.finditer(self.display) if not any(a < m.end() and m.start() < b for a, b in read)),
            None,
        )
        if named and self.unused:
            self.unused = [named.group(0), *[p for p in self.unused if p not in named.group(0)]]
        for phrase in self.unused:
            named = None
            if phrase in self.described:  # 老年顾客: named with the noun it describes
                at = self.scan.text.find(phrase.lower())
                noun = next((s for s in self.scan.of("group") if at >= 0 and s.start == at + len(phrase)), None)
                named = self.display[at : noun.end] if noun is not None else phrase
            elif (
                phrase in self.measured
                or NOT_IN_DATA.search(phrase)
                or _is_noun(phrase)
                or phrase[-1:] in MEASURE_SUFFIX
            ):
                named = self._with_metric_words(phrase)
            if named is not None:
                phrase = named
                return self._clarify(
                    "unanswerable",
                    f"这份数据回答不了这个问题：数据里没有与「{phrase}」对应的字段或取值。"
                    "可以去掉这部分再问，或在「数据中心」导入包含它的数据。",
                    f'This data cannot answer that: nothing in it corresponds to "{phrase}". '
                    "Ask without it, or import data that has it.",
                )
            if UNREAD_CONDITION.search(phrase):  # 实收不到应收85%: a bound that is another figure, never dropped
                # named with what it compares to (不到 → 不到应收85%), as the question wrote it
                said = re.search(re.escape(phrase) + r"[^，,。；;？?！!\s的]{0,12}", self.scan.text)
                phrase = said.group(0) if said else phrase
                return self._clarify(
                    "unsupported",
                    f"条件「{phrase}」目前表达不了（只能把一个指标和具体数字比较，例如「完成率低于80%」）。"
                    "可以分别查两个指标，或换成具体数字再问。",
                    f'The condition "{phrase}" cannot be expressed yet (a figure can only be compared with a number, '
                    'e.g. "achievement below 80%"). Ask for both figures, or give a number.',
                )
            self.notes.append(self._zh(f"没有用上：「{phrase}」", f'not used: "{phrase}"'))
        return None

    def said(self) -> dict[str, str]:
        """Each metric in the question's own words, with the metric words written next to it (销售目标完成 for
        完成率): a refusal names what the user asked about as they wrote it."""
        spans = sorted(self.scan.of("metric"), key=lambda s: s.start)
        out: dict[str, str] = {}
        for span in spans:
            start, end = span.start, span.end
            for other in spans:
                if other.end <= start and not self.scan.text[other.end : start].strip():
                    start = other.start
            for other in spans:
                if other.start >= end and not self.scan.text[end : other.start].strip():
                    end = other.end
            words = re.sub(r"了?\s*(?:多少|几)\s*$", "", self.display[start:end]).strip()
            if words:
                out.setdefault(span.value, words)
        return out

    def _with_metric_words(self, phrase: str) -> str:
        """profit + margin: the unknown word with the metric word written right after or before it, named back
        whole (the data has no "profit margin"; naming only "profit" reads as if the margin were there)."""
        at = self.scan.text.find(phrase.lower())
        if at < 0:
            return phrase
        start, end = at, at + len(phrase)
        for span in [*self.scan.of("metric"), *self.scan.of("share")]:  # profit margin / 医保报销比例
            if span.start >= end and not self.scan.text[end : span.start].strip():
                end = span.end
            elif span.end <= start and not self.scan.text[span.end : start].strip():
                start = span.start
        return self.display[start:end] if (start, end) != (at, at + len(phrase)) else phrase

    def _profit_key(self) -> str:
        """The dataset's own profit column when it kept one (superstore's Profit), else gross profit."""
        kept = [k for k, m in self.context.extra_metrics.items() if "profit" in m.en.lower()]
        return kept[0] if kept else "gross_profit"

    def _lower_english(self, phrase: str) -> bool:
        """An English word typed in lower case (reps, fastest) is a word, not a customer or product name."""
        return not CJK.search(phrase) and phrase.strip() in self.question and phrase.strip() == phrase.strip().lower()

    @staticmethod
    def _is_common(phrase: str) -> bool:
        if not CJK.search(phrase):
            return all(w in STOP_EN for w in phrase.split())
        from retrieval.tokens import _jieba

        freq = _jieba().dt.FREQ
        return all((freq.get(w) or 0) >= COMMON_WORD_FREQ or w in STOP_ZH for w in _jieba().lcut(phrase))

    # -- assembly ----------------------------------------------------------------------------------------------
    # -- passes added for real questions ---------------------------------------------------------------------------
    def _streak(self) -> tuple[int, str] | None:
        """连续两个季度 / each of the last 3 quarters → (2, quarter); 每个月都 / in every quarter of 2004 → (0, grain):
        every period of the window asked about (counted once the window is known)."""
        for m, _span in self.scan.take_all(EVERY_PERIOD, "streak"):
            return 0, "month" if "月" in m.group(0) or "month" in m.group(0).lower() else "quarter"
        for m, _span in self.scan.take_all(STREAK, "streak"):
            g = m.groupdict()
            count = g.get("zh") or g.get("en") or g.get("en2") or g.get("en3")
            grain = g.get("zh_grain") or g.get("en_grain") or g.get("en2_grain") or g.get("en3_grain") or ""
            n = int(count) if count.isdigit() else (_count(count) or EN_NUMBERS.get(count))
            if n and n >= 2:
                return int(n), "month" if "月" in grain or "month" in grain else "quarter"
        return None

    def _two_windows(self, comparison: str) -> tuple[TimeWindow, str] | Clarification:
        """Two periods named: a comparison of the later with the earlier when they are a year or one period apart
        (H1 2026 versus H1 2025); otherwise ask, since one of them would be dropped."""
        distinct = list({(w.start, w.end): w for w in self.windows}.values())
        labels = "、".join(w.label for w in distinct)
        compared = comparison != "none" or VERSUS.search(self.scan.text) or self.scan.of("growth")
        if len(distinct) == 2 and (compared or DIFFERENCE.search(self.scan.text)):  # how much more in A than in B
            current, other = sorted(distinct, key=lambda w: w.start, reverse=True)
            for kind in ("yoy", "previous"):
                before = current.compared(kind)
                if (before.start, before.end) == (other.start, other.end):
                    return current, kind
            return self._clarify(
                "unsupported",
                f"问题里的两个时期（{labels}）既不是同比也不是环比，目前没法直接对比。请分开问这两个时期。",
                f"The two periods ({labels}) are neither a year nor one period apart, so they cannot be compared "
                "directly. Please ask about each period separately.",
            )
        ordered = sorted(distinct, key=lambda w: w.start)
        kinds = {w.kind for w in ordered}
        adjacent = all((b.start - a.end).days == 1 for a, b in itertools.pairwise(ordered))
        if len(kinds) == 1 and kinds <= {"month", "quarter", "year"} and adjacent:
            # 2003年和2004年的销售额: both periods, one row each
            self.time_group = ordered[0].kind
            start, end = ordered[0].start, ordered[-1].end
            return TimeWindow(start=start, end=end, label=range_label(start, end, self.lang)), comparison
        return self._clarify(
            "unsupported",
            f"问题里有{len(distinct)}个时间（{labels}），一次只能按一个时间回答。请分开问，或说明要对比哪两个时期。",
            f"The question names {len(distinct)} periods ({labels}); I answer one period at a time. Please ask "
            "separately, or say which two periods to compare.",
        )

    def _no_activity(self) -> str | None:
        """没卖出去 / 一单都没下 / haven't bought: the members with nothing booked; returns the measure the verb
        names (quantity, orders, revenue)."""
        for pattern, key in NO_ACTIVITY:
            if self.scan.take_all(pattern, "absent", key):
                return str(key)
        return None

    def _shift_back(self) -> int:
        """Months to move the previous answer's window back (去年同期呢 → -12, the quarter before → -3)."""
        for pattern, months in SHIFT_BACK:
            if self.scan.take_all(pattern, "time"):
                return int(months)
        return 0

    def _average(self) -> tuple[str, str | None] | None:
        """户均 / 平均每家客户 / 一般每月 / 每家经销商平均 / average revenue per customer / on average each dealer →
        (the dimension averaged over, the partner type its noun names). A metric whose name holds 平均 or average
        (平均单价, average order value) stays that metric; a bare 平均 / average is remembered in bare_average."""
        work = self.scan.work
        occupied = [
            (m.start(), m.end())
            for metric in METRICS.values()
            for alias in (*metric.synonyms_zh, *metric.synonyms_en)
            if AVERAGE_WORD.search(alias.lower()) or "均" in alias
            for m in re.finditer(re.escape(alias.lower()), work)
        ]

        def free(start: int, end: int) -> bool:
            return self.scan.free(start, end) and not any(a < end and start < b for a, b in occupied)

        types = self.context.values["partner_type"]
        members: dict[str, tuple[str, str | None]] = {
            w: ("partner", v if v in types else None) for w, v in PARTNER_NOUNS_ZH.items() if w not in ("谁", "哪家")
        }
        for word, dim in self.context.dim_words_zh.items():
            if not DIMENSIONS[dim].is_time:
                members.setdefault(word, (dim, None))
        members |= {w: (d, None) for w, d in AVERAGE_TIME_ZH.items()}
        members_en: dict[str, tuple[str, str | None]] = {}
        for noun, value in PARTNER_NOUNS_EN.items():
            members_en[noun] = members_en[noun + "s"] = ("partner", value if value in types else None)
        for word, dim in self.context.dim_words_en.items():
            members_en.setdefault(word, (dim, None))
        nouns, nouns_en = _alt(members), _alt(members_en)

        def found(start: int, end: int, member: tuple[str, str | None]) -> tuple[str, str | None]:
            self.scan.take(start, end, "per", member[0])
            return member

        for m in re.finditer(_alt(AVERAGE_SHORT_ZH), work):  # 户均 / 月均
            if free(m.start(), m.end()):
                return found(m.start(), m.end(), (AVERAGE_SHORT_ZH[m.group(0)], None))
        for pattern in AVERAGE_PER_HEAD:  # 客户人均 / 人均消费 (人均 alone is per employee: NOT_IN_DATA)
            for m in pattern.finditer(work):
                if free(m.start("per"), m.end("per")):
                    return found(m.start("per"), m.end("per"), ("partner", None))
        zh = [
            rf"(?:{AVERAGE_ZH})\s*(?:{AVERAGE_FILLER_ZH})?\s*(?:每|一)\s*{CLASSIFIER_ZH}\s*(?P<noun>{nouns})",
            rf"每\s*{CLASSIFIER_ZH}\s*(?P<noun>{nouns})\s*的?\s*(?:{AVERAGE_ZH})",
            rf"平均\s*(?P<noun>{nouns})(?![龄纪薪限])",  # 平均月销售额 / 平均客户贡献 (平均年龄 is an age)
            # 经销商平均每家: the member before its counter
            rf"(?P<noun>{nouns})\s*的?\s*(?:{AVERAGE_ZH})\s*每\s*(?:个|家|位|名|间|户|只)(?!\s*(?:{nouns}))",
        ]
        for pattern in zh:
            for m in re.finditer(pattern, work):
                if free(m.start(), m.end()):
                    return found(m.start(), m.end(), members[m.group("noun")])
        per_en = rf"\bper\s+(?:the\s+)?(?:each\s+)?(?P<noun>{nouns_en})\b"
        for m in re.finditer(rf"(?P<avg>{AVERAGE_EN})[^?!]{{0,80}}?(?P<per>{per_en})", work):
            if free(m.start("avg"), m.end("avg")) and free(m.start("per"), m.end("per")):
                self.scan.take(m.start("avg"), m.end("avg"), "per")
                return found(m.start("per"), m.end("per"), members_en[m.group("noun")])
        # orders per customer / revenue per dealer: a figure per partner is the average per partner (not a listing)
        english_metrics = sorted({a.lower() for m in METRICS.values() for a in m.synonyms_en}, key=len, reverse=True)
        for m in re.finditer(rf"\bper\s+(?:each\s+)?(?P<noun>{_alt(PARTNER_NOUNS_EN)})\b(?!s)", work):
            before = work[: m.start()].rstrip()
            named = any(before.endswith(a) and not before[: -len(a)][-1:].isalpha() for a in english_metrics)
            if named and free(m.start(), m.end()):
                return found(m.start(), m.end(), members_en[m.group("noun")])
        for m in re.finditer(rf"(?P<avg>{AVERAGE_EN})\s+(?P<noun>{_alt(AVERAGE_TIME_EN)})\b", work):
            if free(m.start(), m.end()):  # average monthly revenue
                return found(m.start(), m.end(), (AVERAGE_TIME_EN[m.group("noun")], None))
        on_average = next((m for m in ON_AVERAGE_EN.finditer(work) if free(m.start(), m.end())), None)
        if on_average is not None:  # on average how much does each dealer buy / sales in a typical month
            each = re.compile(rf"\b(?:per|each|every|a|an|typical)\s+(?P<noun>{nouns_en})\b")
            m = next((m for m in each.finditer(work) if free(m.start(), m.end())), None)
            if m is not None:
                self.scan.take(on_average.start(), on_average.end(), "per")
                return found(m.start(), m.end(), members_en[m.group("noun")])
        for m in re.finditer(rf"平均|{AVERAGE_EN}", work):  # 今年平均销售额: an average over what? asked below
            before, after = work[max(0, m.start() - 24) : m.start()], work[m.end() :]
            if free(m.start(), m.end()) and not (
                AVERAGE_COMPARED_BEFORE.search(before) or AVERAGE_COMPARED_AFTER.match(after)
            ):
                self.bare_average = (m.start(), m.end())
                break
        return None

    def _share_bound(self, first: _Span, last: _Span) -> Clarification:
        bound = self.display[min(first.start, last.start) : max(first.end, last.end)].strip()
        return self._clarify(
            "unsupported",
            f"目前还不能按占比筛选（「{bound}」）。可以先问各组的占比（例如「今年各省份销售额占比」），"
            "再从结果里看哪些超过这个比例。",
            f'Filtering by a share ("{bound}") is not supported yet. Ask for each group\'s share '
            '(e.g. "share of revenue by province this year") and read off the ones above the bound.',
        )

    def _ask_average(self) -> Clarification:
        """平均 / average with nothing to average over: per customer or per month, each option the whole question."""
        start, end = self.bare_average  # type: ignore[misc]
        text = self.scan.text
        if self.lang == "zh":
            options = [text[:start] + f"平均{each}" + text[end:] for each in ("每个客户", "每月")]
        else:
            options = [text.rstrip("?？.。! ") + f" per {each}" for each in ("customer", "month")]
        return self._clarify(
            "missing_dimension",
            "「平均」是按什么平均？例如平均每个客户（户均）或平均每月。",
            '"Average" over what? For example per customer or per month.',
            options,
        )

    def _metric_patterns(self) -> list[tuple[_Span, str]]:
        out = []
        if BOUGHT.search(self.scan.work):  # 2016年四季度买过 Office Supplies 的客户有多少: the buyers, counted
            found = self.scan.take_all(HOW_MANY_CUSTOMERS, "metric", "active_partners")
            if found:
                self.scan.take_all(BOUGHT, "metric", "active_partners")
                out.append((found[0][1], "active_partners"))
        for pattern, key in self.context.header_metrics:  # the file's own column name: 实收金额 / QUANTITYORDERED
            for _m, span in self.scan.take_all(pattern, "metric", key):
                out.append((span, key))
        for pattern, key in METRIC_PATTERNS:
            if key not in METRICS:
                continue
            for _m, span in self.scan.take_all(pattern, "metric", key):
                out.append((span, key))
        return out

    def _default_metric(self) -> list[tuple[_Span, str]]:
        """No metric named: the verb says what is measured (卖了多少 → 销售额, 多少件 → 销量, 多少订单 → 订单数)."""
        for pattern, key in METRIC_DEFAULTS:
            found = self.scan.take_all(pattern, "metric", key)
            if found:
                return [(found[0][1], key)]
        if any(self.scan.of(kind) for kind in ("growth", "compare", "share", "rank", "limit", "threshold")):
            return [(_Span(0, 0, "metric", "revenue"), "revenue")]  # 同比下降的客户, top 5 customers: sales
        return []

    def _reference_before(self) -> bool:
        """Two periods where the earlier is exactly the one before the later, equally long (2016 and 2017)."""
        ordered = sorted(self.windows, key=lambda w: w.start)
        first, second = ordered[0], ordered[-1]
        before = second.compared("previous")
        return (before.start, before.end) == (first.start, first.end)

    def _within_after_partners(self, end: int) -> bool:
        """美国客户的销售额里: the partners of a place, named with no type of their own, then 里 / 中."""
        for g in self.scan.of("group"):
            typed = bool(g.value and len(g.value) > 1 and g.value[1])
            if (
                g.value
                and g.value[0] == "partner"
                and not typed
                and g.start >= end
                and not self.scan.text[end : g.start].strip()
                and WITHIN.match(self.scan.text, g.end)
            ):
                return True
        return False

    def _each_word(self) -> bool:
        return bool(EACH_WORDS.search(self.scan.text))

    def _inherit(
        self, data: dict[str, Any], shift: int, explicit_groups: bool, ranked: bool, own_metrics: bool = False
    ) -> dict[str, Any]:
        """A follow-up keeps the previous question's frame and changes only what it names: 华南呢 (the region),
        回款率呢 (the metric), 只看去年 (the window), 按月拆一下 (the grouping), 哪个最低 (the ranking)."""
        previous = self.previous
        merged = dict(data)
        fresh_dims = {f["field"] for f in data["filters"] if f["field"] in DIMENSIONS}
        kept = [
            f.model_dump()
            for f in previous.filters
            if not (f.field in DIMENSIONS and f.field in fresh_dims)
            and not (f.field not in DIMENSIONS and any(x["field"] not in DIMENSIONS for x in data["filters"]))
        ]
        merged["filters"] = kept + list(data["filters"])
        if data["window"] is None:
            window = previous.window
            if shift:
                start, end = shift_date(window.start, shift), shift_date(window.end, shift)
                window = TimeWindow(start=start, end=end, label=range_label(start, end, self.lang), kind=window.kind)
            merged["window"] = window
        if not explicit_groups and not data["dimensions"]:
            merged["dimensions"] = list(previous.dimensions)
        elif explicit_groups and data["dimensions"]:
            time_dims = [d for d in data["dimensions"] if DIMENSIONS[d].is_time]
            if time_dims:  # 按月拆一下: the previous grouping, split by month
                merged["dimensions"] = [d for d in previous.dimensions if not DIMENSIONS[d].is_time] + time_dims[:1]
        if data["comparison"] == "none":
            merged["comparison"] = previous.comparison
        if not ranked and previous.sort and own_metrics and data["metrics"] and THESE.search(self.scan.text):
            # 销售额前5的经销商 → 这几家的回款率: the same five (the previous ranking), the new figure beside it
            kept_key = previous.sort.metric
            base = metric_of(kept_key)
            if base is not None and base[0].key not in merged["metrics"]:
                merged["metrics"] = [*merged["metrics"], base[0].key]
            merged["sort"] = previous.sort.model_dump()
            merged["limit"] = previous.limit if merged["dimensions"] else None
        elif not ranked and previous.sort and own_metrics and data["metrics"]:
            # 去年卖得最好的5个产品 → 按销量排呢: the same ranking, by the figure now named
            merged["sort"] = {"metric": data["metrics"][0], "direction": previous.sort.direction}
            merged["limit"] = previous.limit if merged["dimensions"] else None
        elif not ranked:
            merged["sort"] = previous.sort.model_dump() if previous.sort else data["sort"]
            merged["limit"] = previous.limit if merged["dimensions"] else None
        if previous.share != "none" and "share" not in merged:
            merged["share"] = previous.share
        if previous.per and merged.get("per") is None and previous.per not in merged["dimensions"]:
            # 户均销售额 → 毛利呢: still per partner; a ratio named next (回款率呢) is not averaged
            if all(METRICS[k].adds_up_over(DIMENSIONS[previous.per]) for k in merged["metrics"]):
                merged["per"] = previous.per
            else:
                names = "、".join(METRICS[k].label(self.lang) for k in merged["metrics"])
                self.notes.append(self._zh(f"{names}不按成员平均，给出整体数值", f"{names}: the overall figure"))
        self.notes.append(self._zh("接着上一个问题：沿用它的指标、时间和筛选", "continuing the previous question"))
        return merged

    def parse(self) -> _Parsed | Clarification:
        # 麻烦帮我查一下…谢谢: jieba would cut 帮/我查/一下, and 我查 would look like a name
        self.scan.take_all(POLITE, "filler")
        for m in list(re.finditer(r"(?<![a-z])us(?![a-z])", self.scan.text)):  # give us the revenue: a pronoun
            if self.display[m.start() : m.end()] != "US" and self.scan.free(m.start(), m.end()):
                self.scan.take(m.start(), m.end(), "filler")
        defined = self._order_definition()  # asked back once the rest is read (the router sees a data question)
        if self.scan.take_all(DAY_ASKED, "time"):  # 哪天卖得最多: days are no grain of the data questions yet
            return self._clarify(
                "unsupported",
                "按天（哪一天、每天）的数字目前还算不了，最细到月份。可以问「哪个月销售额最高」或「3月份销售额」。",
                "Figures by day (which day, daily) are not supported yet; months are the finest grain. Ask which month "
                "was highest, or for one month's figure.",
            )
        quoted = self._quoted()
        streak = self._streak()
        # 费用占销售额的比例 is the expense ratio, not a share of something: read before the share words
        ratio_words = [
            (span, "expense_ratio") for _m, span in self.scan.take_all(EXPENSE_SHARE, "metric", "expense_ratio")
        ]
        for m in list(TOTAL_MONEY.finditer(self.scan.work)):  # 加起来多少钱: the money is the sales; 加起来 the sum
            if self.scan.free(m.start(1), m.end(1)):
                ratio_words.append((self.scan.take(m.start(1), m.end(1), "metric", "revenue"), "revenue"))
        for m in list(RETURN_COUNT.finditer(self.scan.work)):  # 退货一共有几笔: how many returns, not their amount
            if self.scan.free(m.start(1), m.end(1)) and self.scan.free(m.start(2), m.end(2)):
                ratio_words.append((self.scan.take(m.start(1), m.end(1), "metric", "return_lines"), "return_lines"))
                self.scan.take(m.start(2), m.end(2), "filler")
        share = bool(self.scan.take_all(SHARE_WORDS, "share"))
        self.scan.take_all(COMBINED_WORDS, "combined")
        self.scan.take_all(ALL_YEARS_TOTAL, "filler")  # 历年累计的 Sales: one total over every year, not per year
        for m in list(ALL_PARTS.finditer(self.scan.work)):  # 去年四个季度按毛利排: the year's quarters, each a row
            if YEAR_BEFORE.search(self.scan.text[: m.start()]) and self.scan.free(m.start(), m.end()):
                self.scan.take(m.start(), m.end(), "filler")
        if DIFFERENCE.search(self.scan.text):  # how much more … than: the words of a difference (see _difference)
            self.scan.take_all(DIFFERENCE_WORDS, "difference")
        short = len(self.scan.text) <= 10 if self.lang == "zh" else len(self.scan.text.split()) <= 5
        follow_up = self.previous is not None and (bool(FOLLOW_UP.search(self.scan.text)) or short)
        if follow_up:
            self.scan.take_all(THESE, "previous")  # 这几家 points back; its 几家 is not a count
        shift = self._shift_back() if follow_up else 0
        comparison = self._comparison(streak)
        ranked_periods = None
        for m, span in self.scan.take_all(RANKED_PERIODS, "rank"):
            count = m.group("zh") or m.group("en") or "1"  # the best month: one
            n = int(count) if count.isdigit() else (_count(count) or EN_NUMBERS.get(count.lower()))
            grain = m.group("zh_grain") or m.group("en_grain")
            if n and ranked_periods is None:
                direction = "asc" if (m.group("zh_dir") or m.group("en_dir")).lower() in LOW_WORDS else "desc"
                ordinal = NTH_BEFORE.search(self.scan.work[: m.start()])
                if ordinal and not m.group("en") and self.scan.free(ordinal.start(1), ordinal.end(1)):
                    n = NTH_EN[ordinal.group(1).lower()]  # 2nd best month: only the month ranked second
                    self.scan.take(ordinal.start(1), ordinal.end(1), "limit", n)
                    self.nth = True
                ranked_periods = (int(n), direction, span)
                self.time_group = "month" if grain.startswith(("月", "month")) else "quarter"
        window = self._time()
        if follow_up and window is not None and window.kind == "month" and not YEAR_DIGITS.search(self.scan.text):
            # What was revenue in March 2025? → and April?: April of the year being discussed
            year = self.previous.window.start.year
            if self.previous.window.kind in ("month", "quarter", "year") and year != window.start.year:
                window = _month(year, window.start.month, self.lang)
        self.all_time = bool(self.scan.take_all(ALL_TIME, "time")) and window is None  # 今年以来累计: the year
        average = self._average()  # 户均 / 平均每月: before 人均 is read as per employee and 每月 as a grouping
        for m in list(NOT_IN_DATA.finditer(self.scan.work)):  # 销售人员的人均业绩: named back, never dropped
            if m.group(0).lower() in self.context.dim_words_zh or m.group(0).lower() in self.context.dim_words_en:
                continue  # an imported column of that name (性别, age group): the data has it
            if self.scan.free(m.start(), m.end()):
                self.scan.take(m.start(), m.end(), "missing")
                self.unused.append(m.group(0))
        absent = self._no_activity()
        lost_between = False
        distinct = list(dict.fromkeys((w.start, w.end) for w in self.windows))
        if absent and len(distinct) == 2:
            # 2016年买过、2017年却一单都没下的客户: bought in one period, nothing in the next = lost customers
            first, second = self.windows[0], self.windows[-1]
            before = second.compared("previous")
            if not BOUGHT.search(self.scan.work) or first.start > second.start:
                # 9月下了单、8月却没下单 (back again, or new) / two periods and no purchase named: asked back
                return self._clarify(
                    "unsupported",
                    f"「{first.label}」和「{second.label}」两个时期，目前只能算前一期买过、后一期没买的流失客户"
                    "（或第一次下单的新客户）。请按这个顺序问，或分开问两个时期。",
                    f"Of two periods ({first.label}, {second.label}) I can count customers who bought in the earlier "
                    "one and not in the later one (lost), or first-time buyers (new). Please ask that way, or "
                    "separately.",
                )
            if (before.start, before.end) != (first.start, first.end):
                return self._clarify(
                    "unsupported",
                    f"「{first.label}买过、{second.label}没有」要求两个时期紧挨着且一样长，才能按流失客户计算。"
                    "请换成相邻的两个时期，或分开问。",
                    f"Bought in {first.label} but not in {second.label}: the two periods must be consecutive and "
                    "equally long to count lost customers. Please ask about adjacent periods.",
                )
            self.scan.take_all(BOUGHT, "absent")
            absent, lost_between, window = None, True, second
        elif (
            len(distinct) == 2
            and LOST_NAMED.search(self.scan.text)
            and not COMPARED.search(self.scan.text)
            and self._reference_before()
        ):
            # 2017年流失了多少个（2016年下过单的）: the earlier period is the one lost customers are counted against
            window = max(self.windows, key=lambda w: w.start)
        elif len(distinct) >= 2:  # H1 2026 versus H1 2025: the later period, compared; never one silently dropped
            paired = self._two_windows(comparison)
            if isinstance(paired, Clarification):
                return paired
            window, comparison = paired
        early_metrics = ratio_words + self._metric_patterns()  # 新增了多少客户: before 客户 is a grouping
        if lost_between:
            early_metrics.append((_Span(0, 0, "metric", "lost_partners"), "lost_partners"))
        ids, unknown_ids = self._ids()
        if unknown_ids:
            code = unknown_ids[0]
            return self._clarify(
                "unknown_name",
                f"没有找到编号为「{code}」的伙伴或产品。请检查编号。",
                f'No partner or product with code "{code}" was found.',
            )
        names = ids + self._full_names()
        thresholds = self._thresholds()
        direction, limit, rank_span, _superlative = self._ranking()
        if ranked_periods is not None and direction is None:
            limit, direction, rank_span = ranked_periods
        marked = self._markers()
        metric_spans = early_metrics
        found, metric_types = self._metrics()
        if defined is not None:
            return defined
        if any(key in COUNTS_MEMBERS for _s, key in [*early_metrics, *found]):
            for m in DISTINCT.finditer(self.scan.text):  # how many distinct customers: each counted once anyway
                if self.scan.free(m.start(), m.end()):  # (the noun after it is read already)
                    self.scan.take(m.start(), m.end(), "distinct")
        metric_types += self.counted_types  # 经销商超过10家: the partners counted are 经销商
        for span, key in found:  # 利润率 where the data has 利润 and no 利润率: not 利润 < 10%
            if self.scan.text[span.end : span.end + 1] == "率" and not METRICS[key].is_ratio:
                word = self.scan.text[span.start : span.end + 1]
                return self._clarify(
                    "unanswerable",
                    f"这份数据回答不了这个问题：数据里没有「{word}」。有「{self.scan.text[span.start : span.end]}」，"
                    "可以直接问它，或在「数据中心」导入包含它的数据。",
                    f'This data cannot answer that: it has no "{word}" (it has '
                    f'"{self.scan.text[span.start : span.end]}"; ask about that, or import data that has it).',
                )
        metric_spans = sorted(metric_spans + found, key=lambda t: t[0].start)
        entities = self._entities()
        for ent in entities:  # 状态不是Shipped: the negation is read with the value it excludes (the filters pass)
            if (m := NOT_BEFORE.search(self.scan.text[: ent.start])) and self.scan.free(m.start(), m.end()):
                self.scan.take(m.start(), m.end(), "exclude")
        nouns = self._nouns()
        if (ambiguous := self._store_names(entities, nouns)) is not None:
            return ambiguous
        if (ambiguous := self._same_name_city(entities)) is not None:
            return ambiguous
        if (ambiguous := self._place_homonym(entities)) is not None:
            return ambiguous
        named_after = [e for e in entities if e.value and e.value[0] in DIMENSIONS]
        bought = [m for m in BOUGHT.finditer(self.scan.text) if not NEGATED_BEFORE.search(self.scan.text[: m.start()])]
        bought_not = NOT_BOUGHT.search(self.scan.text) if bought else None
        if bought_not and any(e.start >= bought_not.start() for e in named_after):
            # 买过 Technology、却没买过 Furniture 的客户: a combination each customer bought, not lines to filter
            said = self.display[bought_not.start() :].strip()
            return self._clarify(
                "unsupported",
                f"「{said}」要按每个客户的购买组合来筛选（买过一样、没买过另一样），"
                "目前还算不了。可以分别问买过两样东西的客户名单，再对比。",
                f'"{said}" needs each customer\'s combination of purchases '
                "(bought one thing, never the other), which is not supported yet. Ask for the buyers of each "
                "separately and compare the lists.",
            )
        if yearly := YEARLY.search(self.scan.text):
            # 利润年年下滑 / grew every year: a streak over years is not supported (months and quarters are)
            return self._clarify(
                "unsupported",
                f"「{self.display[yearly.start() : yearly.end()]}」是按年的连续条件，目前只能按月或按季度算连续"
                "（例如「连续两个季度下滑」）。可以分别问各年的数字再对比。",
                f'"{self.display[yearly.start() : yearly.end()]}" is a condition over years in a row; only months '
                "and quarters in a row are supported (e.g. two quarters in a row). Ask for each year's figure "
                "and compare.",
            )
        if relative := RELATIVE_BOUND.search(self.scan.text):
            bound = self.display[relative.start() : relative.end()].strip()
            return self._clarify(
                "unsupported",
                f"目前只能把指标和一个具体数字比较（例如「完成率低于80%」），还不能和「{bound}」这样的平均或整体水平比较。"
                "可以先问各组的整体值（例如「上季度各大区的完成率」），再按那个数字问。",
                f'A figure can only be compared with a number for now (e.g. "achievement below 80%"), not with '
                f'"{bound}", an average or overall level. Ask for the groups\' overall figures first '
                '(e.g. "achievement by region last quarter"), then ask with that number.',
            )
        if absent and not metric_spans:  # 一件都没卖出去: the verb's measure
            metric_spans = [(_Span(0, 0, "metric", absent), absent)]
        inherit = follow_up and not metric_spans and not any(t.metric for t in thresholds)
        if not metric_spans and not any(t.metric for t in thresholds) and not inherit:
            metric_spans = self._default_metric()
            ratio_bound = any(t.is_percent for t in thresholds) and not any(
                self.scan.of(kind) for kind in ("growth", "compare", "share")
            )
            if ratio_bound and [key for _s, key in metric_spans] == ["revenue"] and not metric_spans[0][0].end:
                # 华东哪些经销商低于80%: a bound in % is on a rate the question does not name, never on 销售额
                return self._clarify(
                    "missing_metric",
                    "低于或高于的百分比指哪个指标？例如完成率、回款率、毛利率、费用率。",
                    "Which rate does the percentage apply to? For example achievement, collection rate, gross margin "
                    "or expense ratio.",
                    [self._with_metric(METRICS[k].label(self.lang)) for k in self._rates_for_groups()],
                )
        if not metric_spans and not any(t.metric for t in thresholds) and not inherit:
            # headcount of each distributor: the figure asked for is one the data does not have; say so
            anchored = any(span.kind in ("entity", "group", "time", "name") for span in self.scan.spans)
            if anchored and not self.unused:
                self.unused = [w for w in _content_left(self.scan) if _is_noun(w)][:1]
            if (stop := self._unanswerable()) is not None:
                return stop
            options = [self._with_metric(METRICS[k].label(self.lang)) for k in MISSING_METRIC_OPTIONS]
            return self._clarify(
                "missing_metric",
                "您想看哪个指标？例如销售额、完成率、费用率、回款率、库存天数。",
                "Which figure would you like? For example revenue, achievement, expense ratio, collection rate "
                "or days of inventory.",
                options,
            )
        phrases = []
        for q in quoted:  # a quoted text is a name (or a region, city … typed in quotes)
            entity = self.context.entity_aliases.get(_normalise(q.value))
            if entity is not None:
                entities.append(_Span(q.start, q.end, "entity", entity))
            else:
                phrases.append((q.value, q.start, q.end, True))
        phrases += [(p, start, end, False) for p, start, end in self._leftovers()]
        resolved, dropped, problem = self._resolve_names(phrases, entities)
        if problem is not None and problem.reason == "unknown_name" and self.scan.of("missing"):
            # 哪个医生开药最多: the data has no doctors whatever 开药 names; that is what the answer says
            problem = self._unanswerable() or problem
        if problem is not None:
            return problem
        names += resolved
        entities = [e for e in entities if e not in dropped]
        self.negated_names += [
            span.value for span in self.scan.of("name") if span.value and self._negated_at(span.start, span.end)
        ]

        metrics: list[str] = []
        for _span, key in metric_spans:
            if key not in metrics:
                metrics.append(key)
        if inherit:
            metrics = list(self.previous.metrics)
        if (
            metrics
            and metrics[0] in ("new_partners", "lost_partners")
            and (lost_between or LISTING.search(self.scan.text))
        ):
            marked.append(_Span(0, 0, "group", ("partner", None, True)))  # which customers did we lose: list them
            thresholds.append(_Threshold(_Span(0, 0, "threshold"), "gt", 0.0, False, metrics[0]))
        growth_spans = self.scan.of("growth") + self.scan.of("compare")
        filters: list[dict[str, Any]] = []
        for t in thresholds:
            key, part = t.metric, ""
            if key is None:
                before = [s for s, _k in metric_spans if s.end <= t.span.start]
                after = [s for s, _k in metric_spans if s.start >= t.span.end]
                near = before[-1] if before else (after[0] if after else None)
                if near is None:
                    continue
                key = near.value
                lo, hi = (near.end, t.span.start) if near.end <= t.span.start else (t.span.end, near.start)
                if any(lo <= g.start and g.end <= hi + 1 for g in self.scan.of("share")):
                    # 销售额占比超过5%的国家: a bound on the share, not on the figure itself; never dropped
                    return self._share_bound(near, t.span)
                between = [g for g in growth_spans if lo <= g.start and g.end <= hi + 1]
                if between and comparison != "none":
                    part = "_change"
                    if any(g.value == -1 for g in between):  # 下降超过10% → change < −10%
                        t.value = -t.value
                        t.op = {"gt": "lt", "ge": "le", "lt": "gt", "le": "ge"}[t.op]
            value = t.value
            if t.is_percent and not (METRICS[key].is_ratio or part) and self.scan.of("share"):
                return self._share_bound(t.span, t.span)  # share of revenue above 10%: not revenue > 0.1
            if (METRICS[key].is_ratio or part) and not t.is_percent and abs(value) > 1.5:
                value = value / 100  # 完成率低于80 → 80%
            if key not in metrics:
                metrics.append(key)
            filters.append({"field": key + part, "op": t.op, "value": value})
        if (
            average is None
            and self.bare_average is not None
            and self.scan.free(*self.bare_average)
            and all(METRICS[k].adds_up_over(DIMENSIONS["month"]) for k in metrics)
        ):
            return self._ask_average()
        if average is None and self.bare_average is not None and self.scan.free(*self.bare_average) and metrics:
            # 上季度平均满意度 / 平均完成率: a score or rate is already an average over its window; said so
            self.scan.take(*self.bare_average, "filler")
            word = self.scan.text[self.bare_average[0] : self.bare_average[1]]
            self.unused = [u for u in self.unused if u.strip().lower() != word]
            said = "、".join(METRICS[k].label(self.lang) for k in metrics)
            self.notes.append(
                self._zh(
                    f"{said}本身是整体平均口径，给出期间的整体数值", f"{said} is itself an average: the overall figure"
                )
            )
        if not metrics:  # thresholds named no metric they could belong to
            return self._clarify(
                "missing_metric",
                "您想看哪个指标？例如销售额、完成率、费用率、回款率、库存天数。",
                "Which figure would you like? For example revenue, achievement, expense ratio, collection rate "
                "or days of inventory.",
                [self._with_metric(METRICS[k].label(self.lang)) for k in MISSING_METRIC_OPTIONS],
            )

        # Dimension filters: entities, partner-type words, names.
        by_dim: dict[str, list[str]] = {}
        excluded: dict[str, list[str]] = {}  # 不算 Cancelled / excluding France
        entities = sorted(entities, key=lambda e: e.start)
        negated = [
            bool(
                NEGATION.search(self.scan.text[max(0, ent.start - NEGATION_REACH) : ent.start])
                or EXCLUDING_AFTER.match(self.scan.text[ent.end : ent.end + 4])
            )
            for ent in entities
        ]
        # 除了 Classic Cars 和 Vintage Cars / 饮料、乳制品以外: the exclusion covers every name joined to it
        joined = [bool(CONJUNCTION.fullmatch(self.scan.text[a.end : b.start])) for a, b in itertools.pairwise(entities)]
        for i in range(1, len(entities)):
            negated[i] = negated[i] or (negated[i - 1] and joined[i - 1])
        for i in range(len(entities) - 2, -1, -1):
            negated[i] = negated[i] or (
                negated[i + 1]
                and joined[i]
                and bool(EXCLUDING_AFTER.match(self.scan.text[entities[i + 1].end : entities[i + 1].end + 4]))
            )
        if any(negated):
            self.scan.take_all(THE_REST, "filler")  # 其他产品线 / the other product lines: what the exclusion leaves
        for ent, is_negated in zip(entities, negated, strict=True):
            dim, value = ent.value
            target = excluded if is_negated else by_dim
            target.setdefault(dim, [])
            if value not in target[dim]:
                target[dim].append(value)
        for dim, values in excluded.items():
            filters.append(
                {
                    "field": dim,
                    "op": "ne" if len(values) == 1 else "not_in",
                    "value": values[0] if len(values) == 1 else values,
                }
            )
        groups: list[str] = []
        explicit: list[str] = []
        partner_words = [s for s in marked + nouns if s.value[0] == "partner"]
        for span in marked + nouns:
            dim = span.value[0]
            if dim == "partner":
                continue
            if span.value[2]:
                explicit.append(dim)
            elif (
                dim in by_dim
                or (
                    dim in excluded
                    and direction is None
                    and not EACH_WORDS.search(self.scan.text)
                    # 其他运输方式的订单数: a row each (其他大区一共卖了多少: one total)
                    and not (THE_REST.search(self.scan.text[max(0, span.start - 6) : span.start]) and not self.combined)
                )
            ):
                continue  # 华东区域 / 英国以外的国家 → a filter, not a grouping (ranked or 各…: still the grouping)
            if dim not in groups:
                groups.append(dim)
        type_values = [v for v in metric_types]
        if average is not None and average[1]:  # 平均每家经销商: the average over the distributors
            type_values.append(average[1])
        previous_word, previous_negated = None, False
        negated_words: list[_Span] = []
        for word in sorted(partner_words, key=lambda w: w.start):
            if not word.value[1]:
                continue
            before = self.scan.text[max(0, word.start - NEGATION_REACH) : word.start]
            # 不算电商平台 / excluding 经销商 and 代理商: the exclusion covers every type joined to the first
            joined = previous_word is not None and CONJUNCTION.fullmatch(self.scan.text[previous_word.end : word.start])
            after = EXCLUDING_AFTER.match(self.scan.text, word.end)
            if NEGATION.search(before) or after or (joined and previous_negated):
                excluded.setdefault("partner_type", []).append(word.value[1])
                filters.append({"field": "partner_type", "op": "ne", "value": word.value[1]})
                previous_negated = True
                negated_words.append(word)
            else:
                type_values.append(word.value[1])
                previous_negated = False
            previous_word = word
        for v in dict.fromkeys(type_values):
            by_dim.setdefault("partner_type", [])
            if v not in by_dim["partner_type"]:
                by_dim["partner_type"].append(v)
        if type_values:
            self.notes.append(
                self._zh(
                    f"「{'、'.join(dict.fromkeys(type_values))}」按伙伴类型筛选",
                    f"partner type filter: {', '.join(dict.fromkeys(type_values))}",
                )
            )
        counting = all(k in ("partner_count", "active_partners") for k in metrics)
        share_of_filter = share and direction is None and not EACH_WORDS.search(self.scan.text)
        # 只看经销商呢 after 各省销售额: a filter on the previous frame, not a new grouping by partner
        narrowing = follow_up and ONLY.search(self.scan.text)
        partner_words = [w for w in partner_words if w not in negated_words]  # excluding 经销商 lists nobody
        if partner_words and not counting and not share_of_filter and not narrowing:
            listing = any(s.value[2] for s in partner_words)
            listing = listing or bool(rank_span or limit or thresholds or AFTER_MARKERS.search(self.scan.text))
            # 华东的经销商 at the end lists them; "attainment for East China dealers" is of them as a group
            listing = listing or any(
                self._at_end(s) and not OF_GROUP.search(self.scan.text[: s.start]) for s in partner_words
            )
            listing = listing or any(
                len(s.value) > 3 and s.value[3] and "which" in self.scan.text for s in partner_words
            )
            other_explicit = [d for d in explicit if not DIMENSIONS[d].is_time]
            if listing and not other_explicit and "partner" not in groups:
                groups.insert(0, "partner")
        # 每个大区卖得最好的客户 / top customer in each segment: the ranking runs within each group of the "each"
        rank_within: list[str] = []
        each = [
            s.value[0]
            for s in marked
            if s.value[2]
            and s.value[0] not in ("partner", "product")
            and not DIMENSIONS[s.value[0]].is_time
            and EACH_MARK.search(self.scan.text[s.start : s.end])
        ]
        # 每个大区卖得最好的品类: any grouping noun (not a period) can be what is ranked within each region
        ranked_nouns = (["partner"] if partner_words else []) + [
            s.value[0]
            for s in nouns
            if s.value[0] != "partner"
            and not s.value[2]
            and not DIMENSIONS[s.value[0]].is_time
            and s.value[0] not in each
        ]
        if each and ranked_nouns and direction is not None and (limit or _superlative):
            inner = ranked_nouns[0]
            groups = [each[0], inner, *[g for g in groups if g not in (each[0], inner)]][:3]
            rank_within = [each[0]]
            limit = limit or 1
        excluded_names = [e for e in names if any(e is n for n in self.negated_names)]
        names = [e for e in names if not any(e is n for n in self.negated_names)]
        for entry in excluded_names:  # every code of an excluded product name
            dim = "partner" if entry.kind == "partner" else "product"
            keys = [entry.key] + (
                sorted(q.key for q in self.context.products if q.name == entry.name) if dim == "product" else []
            )
            excluded.setdefault(dim, [])
            excluded[dim] += [k for k in dict.fromkeys(keys) if k not in excluded[dim]]
        for dim in dict.fromkeys("partner" if e.kind == "partner" else "product" for e in excluded_names):
            filters.append({"field": dim, "op": "not_in", "value": excluded[dim]})
        if excluded_names:
            self.scan.take_all(THE_REST, "filler")  # 其他药 / the other products: what the exclusion leaves
        partner_ids = list(dict.fromkeys(e.key for e in names if e.kind == "partner"))
        # every code of a product name (开博通 under three codes): the query keys products by their first code
        skus = list(
            dict.fromkeys(
                k
                for e in names
                if e.kind == "product"
                for k in [e.key, *sorted(q.key for q in self.context.products if q.name == e.name)]
            )
        )
        # One name under several codes (开博通 sold as three SKUs): the name means all of them, summed
        one_name: dict[str, bool] = {}
        for kind, keys in (("partner", partner_ids), ("product", skus)):
            norms = {e.norm for e in names if e.kind == kind}
            if len(norms) == 1:
                same = [e.key for e in self.context.full_names if e.kind == kind and e.norm in norms]
                keys[:] = list(dict.fromkeys(keys + same))
                one_name[kind] = len(keys) > 1
        if partner_ids:
            by_dim["partner"] = partner_ids
        if skus:
            by_dim["product"] = skus
        for dim, values in by_dim.items():
            if one_name.get(dim):
                filters.append({"field": dim, "op": "in", "value": values})
                if dim in groups and dim not in explicit:
                    groups.remove(dim)
            elif self.combined and dim not in explicit:
                filters.append({"field": dim, "op": "in", "value": values})
                if dim in groups:
                    groups.remove(dim)
            elif len(values) == 1:
                filters.append({"field": dim, "op": "eq", "value": values[0]})
                if dim in groups and dim not in explicit:
                    groups.remove(dim)
                if dim == "partner" and dim in groups:
                    groups.remove(dim)
            else:
                filters.append({"field": dim, "op": "in", "value": values})
                if dim not in groups and not (dim == "partner_type" and "partner" in groups):
                    groups.append(dim)
        counted = [COUNTS_MEMBERS[m] for m in metrics if m in COUNTS_MEMBERS]
        bounded = [f for f in filters if f["field"] not in DIMENSIONS and f["field"] not in COUNTS_MEMBERS]
        if counted and bounded and not groups:
            # How many SKUs had a GM above 45%: the bound is on each product, and the products are counted
            groups.append(counted[0])
        who = [g for g in self.scan.of("group") if self.scan.text[g.start : g.end] in ("谁", "who")]
        named_dims = [
            g.value[0]
            for g in self.scan.of("group")
            if g.value and g.value[0] not in ("partner", None) and g.value[0] in DIMENSIONS
        ]
        partner_nouns = [g for g in self.scan.of("group") if g.value and g.value[0] == "partner" and g not in who]
        if who and named_dims and not partner_nouns and "partner" in groups and "partner" not in explicit:
            # 其他大区上个月谁的毛利率最高: 谁 is the region named, not a partner
            groups.remove("partner")
            groups += [d for d in named_dims[:1] if d not in groups]
        if self.time_group and not any(DIMENSIONS[g].is_time for g in groups):
            groups.append(self.time_group)
        groups = [g for g in groups if not DIMENSIONS[g].is_time] + [g for g in groups if DIMENSIONS[g].is_time][:1]
        per = average[0] if average is not None else None
        if per in groups and per not in explicit:  # 今年销售额平均每家客户: the partners averaged over, not listed
            groups.remove(per)

        sort = None
        ranked_metric = self._ranked_metric(metric_spans, rank_span, metrics)
        if direction is not None and not groups and rank_span is not None:
            # 最拉胯的5家 / 增速最慢的三个省: the counter or the word after the number names the grouping
            # 哪3个药…最大: the number and its noun stand before the ranking word
            starts = [s.start for s in self.scan.of("limit") if s.start < rank_span.start] + [rank_span.start]
            counted = None
            for start in starts:
                counted = re.match(
                    r"\s*(?:前|后|倒数)?\s*(?:\d+|[一二两三四五六七八九十]+)\s*(个|名|大|家|位)?\s*(\S{0,6})",
                    self.scan.text[start:],
                ) or (
                    re.search(
                        r"(?:前|后|倒数)?\s*(?:\d+|[一二两三四五六七八九十]+)\s*(个|名|大|家|位)?\s*(\S{0,6})",
                        self.scan.text[start:],
                    )
                    if start == rank_span.start
                    else None
                )
                if counted:
                    break
            if counted and counted.group(1) in ("家", "位"):
                groups = ["partner"]
            elif counted:
                for word, dim in sorted(self.context.dim_words_zh.items(), key=lambda kv: -len(kv[0])):
                    if counted.group(2).startswith(word) and not DIMENSIONS[dim].is_time:
                        groups = [dim]
                        break
        inherits_groups = follow_up and not groups and bool(self.previous.dimensions)  # 前三名呢 / the bottom 5?
        if direction is not None:
            if not groups and not inherits_groups and self.scan.of("missing"):
                # Which sales rep had the best gross margin: what is ranked is what the data lacks; say so
                if (stop := self._unanswerable()) is not None:
                    return stop
            if not groups and not inherits_groups:
                return self._clarify(
                    "missing_dimension",
                    "您想按什么排名？例如伙伴、区域、产品、品类、渠道类型或月份。",
                    "Rank by what? For example partner, region, product, category, channel or month.",
                    [
                        DIMENSIONS[k].label(self.lang)
                        for k in ("partner", "region", "product", "category", "partner_type", "month")
                    ],
                )
            growth_words = self.scan.of("growth")
            key = ranked_metric
            if growth_words and comparison != "none":
                key += "_change"
                if any(g.value == -1 for g in growth_words):  # 下滑最多的 / top 5 by decline: most negative first
                    direction = "asc"
            if key in METRICS and METRICS[key].negative:  # 退货金额最大: the largest return is the most negative amount
                direction = "asc" if direction == "desc" else "desc"
            sort = {"metric": key, "direction": direction}
        elif filters and any(f["field"] not in DIMENSIONS for f in filters) and groups:
            f = next(f for f in filters if f["field"] not in DIMENSIONS)
            sort = {"metric": f["field"], "direction": "asc" if f["op"] in ("lt", "le") else "desc"}
        growth_words = self.scan.of("growth")
        changed = any(f["field"].endswith("_change") for f in filters)
        rate_asked = GROWTH_AS_FIGURE.search(self.scan.text) and not LISTING.search(self.scan.text)
        if growth_words and comparison != "none" and groups and direction is None and not changed and not rate_asked:
            # 同比下降的客户有哪些: the groups whose change has that sign, largest change first
            fell = any(g.value == -1 for g in growth_words)
            key = metrics[0] + "_change"
            filters.append({"field": key, "op": "lt" if fell else "gt", "value": 0})
            sort = {"metric": key, "direction": "asc" if fell else "desc"}
        spec_data = {
            "metrics": metrics,
            "dimensions": groups,
            "filters": filters,
            "window": window,
            "comparison": comparison,
            "sort": sort,
            "limit": limit if groups or inherits_groups else None,
            "per": per,
            "rank_within": rank_within,
            "nth": self.nth and sort is not None and bool(groups or inherits_groups),
        }
        if follow_up:
            spec_data = self._inherit(
                spec_data, shift, explicit_groups=bool(marked), ranked=direction is not None, own_metrics=not inherit
            )
        if absent:
            dims = [d for d in spec_data["dimensions"] if not DIMENSIONS[d].is_time]
            spec_data.update(dimensions=dims[:1] or ["partner"], sort=None, limit=None, absent=True)
            if len(dims) > 1:
                return self._clarify(
                    "unsupported",
                    "「没有销售的…」一次只能按一个维度列出，您要看哪一个？"
                    f"（{'、'.join(DIMENSIONS[d].zh for d in dims)}）",
                    "Items with no sales can be listed by one grouping at a time. Which one?",
                    [DIMENSIONS[d].label(self.lang) for d in dims],
                )
        if not share and self.combined and (spec_data.get("limit") or 0) > 1 and spec_data.get("sort"):
            # 前十大客户一共贡献了多少毛利: the ranked rows summed (with their share of the whole)
            spec_data["share"] = "top"
        if share and len(spec_data["metrics"]) == 2 and not spec_data["dimensions"] and self._same_unit(spec_data):
            # 实收占应收的百分之几 / received as % of receivable: the first figure over the second (see _difference)
            self.ratio = True
            share = False
        if share and len(spec_data["metrics"]) >= 2 and not spec_data["dimensions"]:
            # 实收占应收的比例 / collected vs billed ratio: one figure over another, not each one's share of a whole
            names = "、".join(METRICS[k].label(self.lang) for k in spec_data["metrics"])
            return self._clarify(
                "unsupported",
                f"「{names}」两个指标之间的比值目前不能直接算（占比只能是一个指标在整体里的份额）。"
                "可以分别问这两个指标，再相除。",
                f"A ratio of one figure to another ({names}) cannot be computed yet (a share is one figure's part of "
                "its whole). Ask for each figure separately.",
            )
        if share:
            spec_data["share"] = "top" if spec_data.get("limit") and not self._each_word() else "each"
            # 华东的销售里乳制品占几成: 华东 names the whole the share is of, 乳制品 the part
            # 华东的销售里乳制品占几成 / 乳制品在华东的占比: 华东 names the whole, 乳制品 the part
            spec_data["share_within"] = [
                e.value[0]
                for e in entities
                if e.value[0] in DIMENSIONS
                and (
                    WITHIN.match(self.scan.text, e.end)
                    or self._within_after_partners(e.end)  # 美国客户的销售额里 Classic Cars 占几成
                    or (IN_BEFORE.search(self.scan.text[: e.start]) and SHARE_AFTER.match(self.scan.text, e.end))
                    or OF_WHOLE.search(self.scan.text[: e.start])  # what share of 电商平台 revenue came from 华东
                )
            ]
            for g in self.scan.of("group"):  # what share of 电商平台 revenue came from 华东: the type is the whole
                typed = g.value and g.value[0] == "partner" and len(g.value) > 1 and g.value[1]
                if typed and OF_WHOLE.search(self.scan.text[: g.start]):
                    spec_data["share_within"].append("partner_type")
            # 各大区的销售额里，经销商分别占多少: each region is the whole its partner types are shares of
            for g in self.scan.of("group"):
                dim = g.value[0] if g.value else None
                if (
                    dim in spec_data["dimensions"]
                    and WITHIN.match(self.scan.text, g.end)
                    and dim not in spec_data["share_within"]
                    and (
                        len(spec_data["dimensions"]) > 1
                        or any(f["field"] in DIMENSIONS and f["field"] != dim for f in spec_data["filters"])
                    )
                ):
                    spec_data["share_within"].append(dim)
        moved = [k for k in spec_data["metrics"] if k in ("new_partners", "lost_partners")]
        listed = [d for d in spec_data["dimensions"] if not DIMENSIONS[d].is_time]
        if lost_between and listed and listed != ["partner"] and LISTING.search(self.scan.text):
            # Which countries bought in H1 but not in H2: the countries are what bought; lost customers are
            # counted per customer only, so it is asked back rather than answered per country
            noun = DIMENSIONS[listed[0]].label(self.lang)
            return self._clarify(
                "unsupported",
                f"「前一期买过、后一期没买」目前只能按客户算（流失客户），还不能按{noun}算。"
                f"可以问「…没买的客户有哪些」，或分开问两个时期各{noun}的销售额。",
                f"Bought in one period but not the next is counted per customer (lost customers), not per {noun}. "
                f"Ask which customers, or ask each period's sales by {noun}.",
            )
        if (
            spec_data["dimensions"] == ["partner"]
            and len(spec_data["metrics"]) > 1
            and "partner_count" in spec_data["metrics"]
            and not HOW_MANY.search(self.scan.text)
        ):
            # 哪几家没完成任务: listed one partner a row, a partner count beside each would be 1 on every row
            spec_data["metrics"] = [m for m in spec_data["metrics"] if m != "partner_count"]
        if "gross_revenue" in spec_data["metrics"]:  # 不算退货的话，实收金额是多少: the sales, before returns
            spec_data["metrics"] = [m for m in spec_data["metrics"] if m != "revenue"] or ["gross_revenue"]
        how_many = bool(HOW_MANY.search(self.scan.text)) and not LISTING.search(self.scan.text)
        if moved and ("partner_count" in spec_data["metrics"] or how_many) and spec_data["dimensions"] == ["partner"]:
            # how many customers bought in Q1 but not in Q2: the number of them, not the list
            spec_data.update(
                metrics=moved[:1],
                dimensions=[],
                sort=None,
                limit=None,
                filters=[f for f in spec_data["filters"] if f["field"] not in ("new_partners", "lost_partners")],
            )
        if streak is not None and streak[0] == 0:  # every quarter of 2004: as many periods as the window holds
            every = spec_data["window"] or self._default_window(spec_data["metrics"], spec_data["comparison"])
            if self.rising and FROM_TO.search(self.scan.text) and _periods_in(every, streak[1]) >= 3:
                # rose every month from August to November: August is where it starts from, the rises are in
                # September, October and November
                start = add_months(every.start, 1 if streak[1] == "month" else 3)
                every = TimeWindow(start=start, end=every.end, label=range_label(start, every.end, self.lang))
                since = f"{every.start:%Y-%m}"
                self.notes.append(self._zh(f"以 {since} 之前的一期为起点", f"counted from the period before {since}"))
            spec_data["window"] = every
            n = _periods_in(every, streak[1])
            if n < 2:
                unit = "个月" if streak[1] == "month" else "个季度"
                return self._clarify(
                    "unsupported",
                    f"「每{unit}都…」需要一个至少两{unit}的时期（现在是 {every.label}）。"
                    "请说明时期，例如「2004年每个季度都下过单的客户」。",
                    f"'every {streak[1]}' needs a period of at least two {streak[1]}s (now {every.label}); "
                    "name one, e.g. 'customers who ordered in every quarter of 2004'.",
                )
            streak = (n, streak[1])
            than = THAN_BEFORE_SIGN.search(self.scan.text)
            if than and not any(f["field"] not in DIMENSIONS for f in spec_data["filters"]):
                # 每个月都比上个月低: the change on the period before is below zero in each period
                spec_data["comparison"] = "previous"
                low = than.group(1) in "低少差"
                spec_data["filters"].append(
                    {"field": spec_data["metrics"][0] + "_change", "op": "lt" if low else "gt", "value": 0}
                )
            if not any(f["field"] not in DIMENSIONS for f in spec_data["filters"]):
                # ordered in every quarter: something in each (the first figure above zero)
                spec_data["filters"].append({"field": spec_data["metrics"][0], "op": "gt", "value": 0})
        if streak is not None:
            spec_data["streak"], spec_data["streak_grain"] = streak
            spec_data["dimensions"] = [d for d in spec_data["dimensions"] if not DIMENSIONS[d].is_time]
            if not spec_data["dimensions"]:
                # 每个月都有卖出的药有几种: the members counted are the products, not the partners
                counted = [COUNTS_MEMBERS[m] for m in spec_data["metrics"] if m in COUNTS_MEMBERS]
                spec_data["dimensions"] = counted[:1] or ["partner"]
        window = spec_data["window"]
        if any(f["op"] in ("ne", "not_in") for f in spec_data["filters"]):
            # 除了华东，其他大区…: 其他 is the rest once the named ones are excluded, read already
            self.unused = [p for p in self.unused if not THE_REST.fullmatch(p)]
        if (stop := self._unanswerable()) is not None:
            return stop
        same_period = (
            window is None and not follow_up and LAST_YEAR_SAME.search(self.scan.text) and not self.scan.of("growth")
        )
        if window is None:
            window = self._default_window(spec_data["metrics"], spec_data["comparison"], streak)
            if same_period and spec_data["comparison"] == "yoy" and not VERSUS.search(self.scan.text):
                # 去年同期华东的销售额: the figure of a year before the latest complete period, not this year's
                window = window.compared("yoy", self.lang)
                spec_data["comparison"] = "none"
                self.notes.append(
                    self._zh(f"「去年同期」按 {window.label} 计算", f'"same period last year": {window.label}')
                )
        elif (problem := self._check_window(window)) is not None:
            return problem
        spec_data["window"] = window
        try:
            spec = QuerySpec(**spec_data)
        except ValidationError as exc:
            message = spec_error_message(exc)
            self.attempted = {"metrics": spec_data["metrics"], "window": window}
            return self._clarify("unsupported", message, f"This question cannot be answered as asked: {message}")
        anchors = {span.kind for span in self.scan.spans} - {"metric", "quoted"}
        if names:
            anchors.add("name")
        if follow_up:
            anchors.add("follow_up")
        counts = bool(HOW_MANY.search(self.scan.text))
        return _Parsed(spec, self.notes, self.lang, frozenset(anchors), counts, self._difference(spec, entities))

    def _same_unit(self, spec_data: dict) -> bool:
        """Two figures in the same unit (an export's own amount column, with no unit of its own, beside money)."""
        first, second = (METRICS[m] for m in spec_data["metrics"][:2])
        alike = (first.fmt, first.unit_zh) == (second.fmt, second.unit_zh) and first.fmt != "ratio"
        return alike or {first.fmt, second.fmt} == {"money", "number"}

    def _difference(self, spec: QuerySpec, entities: list[_Span]) -> tuple[str, str, str] | None:
        """华东比华南多卖了多少钱 / how much more did 华东 sell than 华南: two values of one grouping, first minus
        second, when the rows are exactly those two."""
        asked = DIFFERENCE.search(self.scan.text)
        if asked and spec.comparison != "none" and not spec.dimensions and len(spec.metrics) == 1:
            # 2018年4月比3月实收多了多少钱: this period's figure minus the period it is compared with
            return "period", spec.window.label, spec.window.compared(spec.comparison, self.lang).label
        if self.ratio:  # 实收占应收的百分之几: the first figure over the second
            return "ratio", spec.metrics[0], spec.metrics[1]
        if asked and spec.comparison == "none" and not spec.dimensions and len(spec.metrics) == 2:
            # 应收和实收差了多少: two figures in the same unit, the first named minus the second
            if self._same_unit({"metrics": spec.metrics}):
                return "metric", spec.metrics[0], spec.metrics[1]
        dims = [d for d in spec.dimensions if not DIMENSIONS[d].is_time]
        pair = [f for f in spec.filters if f.op == "in" and isinstance(f.value, list) and len(f.value) == 2]
        if not asked or len(dims) != 1 or len(pair) != 1 or pair[0].field != dims[0] or spec.comparison != "none":
            return None
        named = sorted((e for e in entities if e.value and e.value[0] == dims[0]), key=lambda e: e.start)
        values = [str(e.value[1]) for e in named if len(e.value) > 1]
        if sorted(values) != sorted(str(v) for v in pair[0].value):
            return None
        return dims[0], values[0], values[1]

    def _ranked_metric(self, metric_spans, rank_span: _Span | None, metrics: list[str]) -> str:
        if rank_span is None or not metric_spans:
            return metrics[0]
        before = [(s, k) for s, k in metric_spans if s.end <= rank_span.start]
        if before:
            return before[-1][1]
        after = [(s, k) for s, k in metric_spans if s.start >= rank_span.end]
        return after[0][1] if after else metrics[0]

    def _at_end(self, span: _Span) -> bool:
        rest = self.scan.text[span.end :]
        rest = re.sub(r"[\s?？。.!！,，]|有哪些|是哪些|有哪几家|是哪几家|呢|吗|名单|列表|\bare\b|\bwere\b", "", rest)
        return not rest.strip("\x00")


def parse(question: str, context: DataContext) -> QuerySpec | Clarification:
    """A question in Chinese or English → QuerySpec, or a Clarification when something is missing or unclear."""
    result = _Parser(question, context).parse()
    return result if isinstance(result, Clarification) else result.spec


# ---------------------------------------------------------------------------------------------------------------
# Answers
# ---------------------------------------------------------------------------------------------------------------

UNIT_SUFFIX_ZH = {
    "money": " 元",
    "quantity": " 件",
    "days": " 天",
    "times": " 次/年",
    "count": " 家",
    "price": " 元/件",
}
UNIT_SUFFIX_EN = {
    "money": " CNY",
    "quantity": " units",
    "days": " days",
    "times": " turns/yr",
    "count": "",
    "price": " CNY/unit",
}
DIM_HEADERS = {
    "partner_id": ("伙伴编号", "Partner ID"),
    "partner_name": ("伙伴名称", "Partner"),
    "sku": ("产品编码", "SKU"),
    "product_name": ("产品名称", "Product"),
    "partner_type": ("伙伴类型", "Partner type"),
    "tier": ("级别", "Tier"),
    "region": ("区域", "Region"),
    "province": ("省份", "Province"),
    "city": ("城市", "City"),
    "category": ("品类", "Category"),
    "month": ("月份", "Month"),
    "quarter": ("季度", "Quarter"),
    "year": ("年份", "Year"),
}
TYPE_NOUNS_EN = {
    "经销商": "distributors",
    "代理商": "agents",
    "批发商": "wholesalers",
    "零售商": "retailers",
    "电商平台": "e-commerce platforms",
    "直营": "direct outlets",
}
DIM_NOUNS = {
    "partner": ("伙伴", "partners"),
    "partner_type": ("伙伴类型", "partner types"),
    "tier": ("级别", "tiers"),
    "region": ("区域", "regions"),
    "province": ("省份", "provinces"),
    "city": ("城市", "cities"),
    "country": ("国家", "countries"),
    "product": ("产品", "products"),
    "category": ("品类", "categories"),
    "month": ("月份", "months"),
    "quarter": ("季度", "quarters"),
    "year": ("年份", "years"),
}


def _show(metric_key: str, value: Any, lang: Language, signed: bool = False, average: bool = False) -> str:
    """A metric's value with its unit; average: a mean of whole numbers (12.33 单) keeps two decimals."""
    metric = METRICS[metric_key]
    text = format_value(_avg_fmt(metric.fmt) if average else metric.fmt, value, signed=signed)
    if text == "—" or metric.fmt == "ratio":
        return text
    suffix = (UNIT_SUFFIX_ZH if lang == "zh" else UNIT_SUFFIX_EN).get(metric.fmt, "")
    if metric.fmt in ("count", "price") and metric.unit(lang) and (lang == "zh" or metric.fmt == "price"):
        suffix = f" {metric.unit(lang)}"  # 订单数 144 单, 客单价 … 元/单, average order value … CNY/order
    if metric.key == "partner_count" and lang == "en":
        suffix = ""
    return text + suffix


def _avg_fmt(fmt: str) -> str:
    return "number" if fmt in ("quantity", "count") else fmt


def _header(column: str, lang: Language, comparison: str) -> str:
    if column in DIM_HEADERS:
        return DIM_HEADERS[column][0 if lang == "zh" else 1]
    if column in DIMENSIONS and metric_of(column) is None:  # country, imported attributes
        return DIMENSIONS[column].label(lang)
    metric, part = metric_of(column)  # type: ignore[misc]
    name = metric.label(lang)
    name = name[0].upper() + name[1:] if lang == "en" else name
    unit = metric.unit(lang)
    unit_text = f"（{unit}）" if lang == "zh" else f" ({unit})"
    if metric.fmt == "ratio":
        unit_text = ""
    if part == "compare":
        tag = ("去年同期", "same period last year") if comparison == "yoy" else ("上期", "previous period")
        return f"{name}（{tag[0]}）" if lang == "zh" else f"{name} ({tag[1]})"
    if part == "share":  # 销售额占比: never the figure's own header (it would replace the figure's column)
        return f"{name}占比" if lang == "zh" else f"{name} share"
    if part == "change":
        if lang == "zh":
            return f"{name}{'同比' if comparison == 'yoy' else '环比'}"
        return f"{name} {'YoY' if comparison == 'yoy' else 'vs previous'}"
    return name + unit_text


def _display_table(frame: pd.DataFrame, spec: QuerySpec, lang: Language) -> pd.DataFrame:
    out = pd.DataFrame(index=frame.index)
    for column in frame.columns:
        if spec.per is not None and column == "members":  # 有销售的伙伴数 / months
            out[_members_header(spec, lang)] = frame[column].map(lambda v: format_value("count", v))
            continue
        if spec.per is not None and column.endswith("_avg") and column.removesuffix("_avg") in METRICS:
            metric = METRICS[column.removesuffix("_avg")]
            unit = f"（{metric.unit(lang)}）" if lang == "zh" else f" ({metric.unit(lang)})"
            name = (
                f"平均{_each(spec, lang)}{metric.zh}"
                if lang == "zh"
                else f"{metric.en.capitalize()} {_each(spec, lang)}"
            )
            out[name + (unit if metric.unit(lang) else "")] = frame[column].map(
                lambda v, m=metric: format_value(_avg_fmt(m.fmt), v)
            )
            continue
        header = _header(column, lang, spec.comparison)
        if spec.per is not None and metric_of(column) is not None:  # 销售额合计（元）beside the average
            mark, word = ("（", "合计") if lang == "zh" else (" (", " total")
            header = header.replace(mark, word + mark, 1) if mark in header else header + word
        if column in DIM_HEADERS or metric_of(column) is None:
            out[header] = frame[column].map(lambda v: "" if v is None or pd.isna(v) else str(v))
            continue
        metric, part = metric_of(column)  # type: ignore[misc]
        if part == "share":
            out[header] = frame[column].map(lambda v: format_value("ratio", v))
        elif part == "change":
            out[header] = frame[column].map(lambda v: format_value("ratio", v, signed=True))
        else:
            out[header] = frame[column].map(lambda v, m=metric: format_value(m.fmt, v))
            if metric.key == "revenue" and part == "":
                out["销售额（万元）" if lang == "zh" else "Revenue (CNY 10k)"] = frame[column].map(wan)
    return out.reset_index(drop=True)


def _members_header(spec: QuerySpec, lang: Language) -> str:
    """The member count's column: 有销售的伙伴数 / 月数; Partners with sales / Months."""
    phrase = _member_phrase(spec, lang)
    return f"{phrase}数" if lang == "zh" else phrase[0].upper() + phrase[1:]


def _order_word(spec: QuerySpec, desc: bool, zh: bool) -> str:
    """最高 / lowest, or for one row ranked n-th (第二高的省份) 第2高 / 2nd highest."""
    word = ("高" if desc else "低") if zh else ("highest" if desc else "lowest")
    sorted_by = METRICS.get(spec.sort.metric) if spec.sort is not None else None
    if sorted_by is not None and sorted_by.negative:  # the most negative return is the largest
        word = ("小" if desc else "大") if zh else ("smallest" if desc else "largest")
    if not spec.nth or spec.limit is None:
        return f"最{word}" if zh else word
    if zh:
        return f"第{spec.limit}{word}"
    suffix = {1: "st", 2: "nd", 3: "rd"}.get(spec.limit % 10 if spec.limit % 100 not in (11, 12, 13) else 0, "th")
    return f"{spec.limit}{suffix} {word}"


def _per_group_summary(spec: QuerySpec, frame: pd.DataFrame, lang: Language, head: str, name: str, column: str) -> str:
    """每个大区卖得最好的客户: each group, then its top rows (ties included)."""
    zh = lang == "zh"
    within = spec.model_copy(update={"dimensions": spec.rank_within})
    ranked = spec.model_copy(update={"dimensions": [d for d in spec.dimensions if d not in spec.rank_within]})
    desc = spec.sort.direction == "desc"  # type: ignore[union-attr]
    order = _order_word(spec, desc, zh)
    groups = []
    for _key, part in frame.groupby([_group_column(d) for d in spec.rank_within], sort=False):
        shown_rows = [(_row_label(r, ranked), _show(column, r[column], lang)) for _i, r in part.iterrows()]
        group = _row_label(part.iloc[0], within)
        if zh:
            groups.append(f"{group}：" + "、".join(f"{label}（{value}）" for label, value in shown_rows))
        else:
            groups.append(f"{group}: " + ", ".join(f"{label} ({value})" for label, value in shown_rows))
    shown, more = groups[:8], len(groups) - 8
    dims = "、".join(DIMENSIONS[d].label(lang) for d in spec.rank_within)
    top = (f"前 {spec.limit} 个" if zh else f"top {spec.limit} ") if spec.limit and spec.limit > 1 else ""
    if zh:
        tail = f"；另有 {more} 组见下表" if more > 0 else ""
        noun = _member_noun(spec, ranked.dimensions[0], lang)
        return f"{head}每个{dims}{name}{order}的{top}{noun}：{'；'.join(shown)}{tail}。"
    tail = f"; {more} more groups in the table" if more > 0 else ""
    return f"{head}: the {top}{order} {name} in each {dims}: {'; '.join(shown)}{tail}."


def _in_word(text: str) -> bool:
    """Two Chinese characters that jieba's dictionary holds as one word (老年, 年龄)."""
    from retrieval.tokens import known_word

    return bool(re.fullmatch(r"[\u4e00-\u9fff]{2}", text)) and known_word(text)


def _group_column(dim: str) -> str:
    return DIMENSIONS[dim].column


def _row_label(row: pd.Series, spec: QuerySpec) -> str:
    parts = []
    for dim in spec.dimensions:
        if dim == "partner":
            parts.append(str(row.get("partner_name") or row.get("partner_id")))
        elif dim == "product":
            parts.append(str(row.get("product_name") or row.get("sku")))
        else:
            value = row[DIMENSIONS[dim].column]
            # a row read across int and float columns turns the year 2004 into 2004.0
            parts.append(str(int(value)) if isinstance(value, float) and value.is_integer() else str(value))
    return "·".join(parts)


OP_EN = {**OP_ZH, "in": "in", "not_in": "not in"}


def _filter_text(spec: QuerySpec, context: DataContext | None, lang: Language) -> str:
    parts = []
    for f in spec.filters:
        if f.field in DIMENSIONS:
            values = f.value if isinstance(f.value, list) else [f.value]
            shown = []
            for v in values:
                entry = context.by_id.get(str(v).lower()) if context and f.field in ("partner", "product") else None
                shown.append(entry.name if entry else str(v))
            named = list(dict.fromkeys(shown))  # one name under several codes (开博通's three SKUs) is said once
            name = DIMENSIONS[f.field].label(lang)
            joiner = "、" if lang == "zh" else ", "
            op = f.op
            if len(named) == 1 < len(shown) and op in ("in", "not_in"):
                op = {"in": "eq", "not_in": "ne"}[op]
            shown = named
            parts.append(f"{name} {(OP_ZH if lang == 'zh' else OP_EN)[op]} {joiner.join(shown)}")
        else:
            metric, part = metric_of(f.field)  # type: ignore[misc]
            fmt = "ratio" if part == "change" else metric.fmt
            suffix = ("变化" if lang == "zh" else " change") if part == "change" else ""
            op = (OP_ZH if lang == "zh" else OP_EN)[f.op]
            parts.append(f"{metric.label(lang)}{suffix} {op} {format_value(fmt, f.value)}")
    return ("；" if lang == "zh" else "; ").join(parts)


def _missing_names(spec: QuerySpec, context: DataContext | None, lang: Language) -> str:
    """Filter values naming partners/products that do not exist, said plainly (zero rows is then no surprise)."""
    if context is None:
        return ""
    missing = []
    for f in spec.filters:
        if f.field in ("partner", "product") and f.op in ("eq", "in"):
            for v in f.value if isinstance(f.value, list) else [f.value]:
                if str(v).lower() not in context.by_id:
                    missing.append(str(v))
    if not missing:
        return ""
    if lang == "zh":
        return "没有找到编号为「" + "」「".join(missing) + "」的伙伴或产品。"
    return "No partner or product with code " + ", ".join(f'"{m}"' for m in missing) + " exists. "


def _value(column: str, value: Any, lang: Language) -> str:
    metric, part = metric_of(column)  # type: ignore[misc]
    return format_value("ratio", value, signed=True) if part == "change" else _show(metric.key, value, lang)


def _summary(spec: QuerySpec, frame: pd.DataFrame, lang: Language, window: str, context: DataContext | None) -> str:
    """One or two sentences computed from the result: the number, the total and share, the extremes, the change."""
    zh = lang == "zh"
    column = spec.sort.metric if spec.sort else spec.metrics[0]
    metric, part = metric_of(column)  # type: ignore[misc]
    key = metric.key
    name = metric.label(lang) + (("变化" if zh else " change") if part == "change" else "")
    head = _head(spec, lang, window, context)
    compare_word = (
        ("同比" if spec.comparison == "yoy" else "环比")
        if zh
        else ("YoY" if spec.comparison == "yoy" else "vs previous period")
    )
    if spec.absent:
        return _absent_summary(spec, frame, lang, head, name)
    if spec.dimensions == ["partner"] and key in ("new_partners", "lost_partners") and not frame.empty:
        shown = [_row_label(row, spec) for _i, row in frame.head(10).iterrows()]
        more = len(frame) - len(shown)
        if key == "lost_partners":
            before = spec.window.compared("previous", lang)
            why_zh, why_en = f"{before.label}有购买、本期没有", f"bought in {before.label}, nothing since"
        else:
            why_zh, why_en = "本期第一次购买", "first purchase in the period"
        if lang == "zh":
            tail = " 等（见下表）" if more > 0 else ""
            return f"{head}{name.removesuffix('数')}共 {len(frame)} 个（{why_zh}）：{'、'.join(shown)}{tail}。"
        tail = f" and {more} more (see the table)" if more > 0 else ""
        return f"{head}: {len(frame)} {name} ({why_en}): {', '.join(shown)}{tail}."
    if spec.rank_within and not frame.empty and spec.sort is not None:
        return _per_group_summary(spec, frame, lang, head, name, column)
    if frame.empty:
        missing = _missing_names(spec, context, lang)
        thresholds = _filter_text(
            spec.model_copy(update={"filters": [f for f in spec.filters if f.is_threshold]}), context, lang
        )
        if zh:
            return f"{missing}{head}没有符合条件的数据" + (f"（条件：{thresholds}）" if thresholds else "") + "。"
        return f"{missing}No data matches for {head}" + (f" (condition: {thresholds})" if thresholds else "") + "."

    if not spec.dimensions:
        row = frame.iloc[0]
        shown = [f"{METRICS[k].label(lang)} {_show(k, row[k], lang)}" for k in spec.metrics]
        if "revenue" in spec.metrics and pd.notna(row["revenue"]) and zh:
            shown[spec.metrics.index("revenue")] += f"（{wan(row['revenue'])} 万元）"
        first = f"{head}：" + "，".join(shown) + "。" if zh else f"{head}: " + ", ".join(shown) + "."
        if spec.comparison == "none":
            return first
        change, before = row.get(f"{key}_change"), row.get(f"{key}_compare")
        if change is None or pd.isna(change):
            second = (
                f"对比期为 {_show(key, before, lang)}，无法计算变化。"
                if zh
                else f" Comparison period: {_show(key, before, lang)}; change not available."
            )
        elif zh:
            direction = "增长" if change >= 0 else "下降"
            second = f"对比期为 {_show(key, before, lang)}，{compare_word}{direction} {abs(change) * 100:.1f}%。"
        else:
            second = f" Comparison period: {_show(key, before, lang)}, {compare_word} {change * 100:+.1f}%."
        return first + second

    n = len(frame)
    noun = _group_noun(spec, n, lang)
    valid = frame[frame[column].notna()]
    thresholds = [f for f in spec.filters if f.is_threshold]
    if valid.empty:
        return (
            f"{head}共 {n} 个{noun}，{name}没有数值（缺少数据）。" if zh else f"{head}: {n} {noun}, no {name} values."
        )

    def item(row: pd.Series) -> str:
        return (
            f"{_row_label(row, spec)}（{_value(column, row[column], lang)}）"
            if zh
            else f"{_row_label(row, spec)} ({_value(column, row[column], lang)})"
        )

    top, low = valid.loc[valid[column].idxmax()], valid.loc[valid[column].idxmin()]
    ranked = spec.sort is not None and spec.limit is not None and not thresholds
    if ranked:
        desc = spec.sort.direction == "desc"  # type: ignore[union-attr]
        order = _order_word(spec, desc, zh)
        if part == "change":
            name = metric.label(lang) + (compare_word if zh else "")
            order = (
                ("增幅最大" if desc else "增幅最小") if zh else ("largest growth in" if desc else "smallest growth in")
            )
        first_row, last_row = frame.iloc[0], frame.iloc[-1]
        column = spec.sort.metric  # type: ignore[union-attr]
        tied = n > 1 and column in frame.columns and frame[column].nunique(dropna=False) == 1
        if tied:  # 哪个省的经销商最多 with two at the top: both, said as a tie
            names = "、".join(item(row).split("（")[0] for _, row in frame.iterrows())
            text = (
                f"{head}{name}{order}的{noun}有 {n} 个并列：{names}（均为 {item(first_row).split('（', 1)[-1]}。"
                if zh
                else f"{head}: {n} {noun} tie for the {order} {name}: "
                + ", ".join(item(row).split(" (")[0] for _, row in frame.iterrows())
                + f" ({item(first_row).split(' (', 1)[-1]}."
            )
        elif n == 1:
            text = (
                f"{head}{name}{order}的{noun}是 {item(first_row)}。"
                if zh
                else f"{head}: the {_singular(noun)} with the {order} {name} is {item(first_row)}."
            )
        elif zh:
            text = f"{head}{name}{order}的 {n} 个{noun}：第 1 是 {item(first_row)}，第 {n} 是 {item(last_row)}。"
        else:
            text = f"{head}: the {n} {noun} with the {order} {name}; #1 is {item(first_row)}, #{n} is {item(last_row)}."
    else:
        if thresholds:
            cond = _filter_text(spec.model_copy(update={"filters": thresholds}), context, lang)
            first = f"{head}共有 {n} 个{noun}满足 {cond}" if zh else f"{head}: {n} {noun} meet {cond}"
        else:
            first = f"{head}共 {n} 个{noun}" if zh else f"{head}: {n} {noun}"
        if metric.additive and not part and not spec.limit and not thresholds:
            total = float(valid[column].sum())
            own_wholes = any(d in spec.dimensions for d in spec.share_within)  # shares of each group's own total
            # a share of a positive whole only: returns (negative amounts) and net losses have none worth a percent
            shares = total > 0 and float(top[column]) >= 0 and not own_wholes
            share = f"，占 {float(top[column]) / total * 100:.1f}%" if shares else ""
            share_en = f", {float(top[column]) / total * 100:.1f}% of the total" if shares else ""
            text = (
                f"{first}，{name}合计 {_show(key, total, lang)}；"
                f"最高的是 {item(top)[:-1]}{share}），最低的是 {item(low)}。"
                if zh
                else f"{first}; {name} totals {_show(key, total, lang)}. "
                f"Highest: {item(top)[:-1]}{share_en}), lowest: {item(low)}."
            )
        elif n == 1:
            text = f"{first}：{item(top)}。" if zh else f"{first}: {item(top)}."
        else:
            text = (
                f"{first}，{name}最高的是 {item(top)}，最低的是 {item(low)}。"
                if zh
                else f"{first}. Highest {name}: {item(top)}; lowest: {item(low)}."
            )
    if spec.comparison != "none" and not part and f"{key}_change" in frame.columns:
        change = frame[f"{key}_change"]
        if metric.additive and not spec.limit and not thresholds:
            now, before = valid[key].sum(), frame[f"{key}_compare"].sum()
            if before:
                growth = now / before - 1
                text += (
                    f"合计{compare_word}{'增长' if growth >= 0 else '下降'} {abs(growth) * 100:.1f}%。"
                    if zh
                    else f" Total {compare_word}: {growth * 100:+.1f}%."
                )
        elif change.notna().any():
            best = frame.loc[change.idxmax()]
            text += (
                f"{compare_word}增幅最大的是 {_row_label(best, spec)}（{best[f'{key}_change'] * 100:+.1f}%）。"
                if zh
                else f" Largest increase {compare_word}: {_row_label(best, spec)} "
                f"({best[f'{key}_change'] * 100:+.1f}%)."
            )
    return text


def _head(spec: QuerySpec, lang: Language, window: str, context: DataContext | None) -> str:
    """The window and the dimension filters an answer begins with: 2026年第2季度（…）（区域 = 华东）."""
    scope_spec = spec.model_copy(update={"filters": [f for f in spec.filters if f.field in DIMENSIONS]})
    scope = _filter_text(scope_spec, context, lang)
    return window + ((f"（{scope}）" if lang == "zh" else f" ({scope})") if scope else "")


def _member_noun(spec: QuerySpec, dim: str, lang: Language, n: int = 2) -> str:
    """What the members of dim are called: 区域 / regions, 经销商 / distributors under a partner-type filter."""
    zh = lang == "zh"
    noun = DIM_NOUNS[dim][0 if zh else 1] if dim in DIM_NOUNS else DIMENSIONS[dim].label(lang)
    ptype = next((f.value for f in spec.filters if f.field == "partner_type" and f.op == "eq"), None)
    if dim == "partner" and ptype:
        noun = str(ptype) if zh else TYPE_NOUNS_EN.get(str(ptype), noun)
    return _singular(noun) if not zh and n == 1 else noun


def _singular(noun: str) -> str:
    """countries → country, cities → city, regions → region, partner types → partner type (the first plural)."""
    return re.sub(r"ies\b", "y", noun, count=1) if re.search(r"ies\b", noun) else re.sub(r"s\b", "", noun, count=1)


def _group_noun(spec: QuerySpec, n: int, lang: Language) -> str:
    """The rows of a grouped answer: 区域 / regions, or 组（区域×月份） for several dimensions."""
    if len(spec.dimensions) > 1:
        names = [DIMENSIONS[d].label(lang) for d in spec.dimensions]
        if lang == "zh":
            return f"组（{'×'.join(names)}）"
        return f"{'groups' if n != 1 else 'group'} ({' × '.join(names)})"
    lead_dim = next((d for d in spec.dimensions if not DIMENSIONS[d].is_time), spec.dimensions[0])
    return _member_noun(spec, lead_dim, lang, n)


def _absent_summary(spec: QuerySpec, frame: pd.DataFrame, lang: Language, head: str, name: str) -> str:
    """没有销售的…: how many, and who (the first ten named)."""
    dim = spec.dimensions[0]
    noun = DIM_NOUNS[dim][0 if lang == "zh" else 1] if dim in DIM_NOUNS else DIMENSIONS[dim].label(lang)
    ptype = next((f.value for f in spec.filters if f.field == "partner_type" and f.op == "eq"), None)
    if dim == "partner" and ptype:
        noun = str(ptype) if lang == "zh" else TYPE_NOUNS_EN.get(str(ptype), noun)
    if frame.empty:
        return f"{head}每个{noun}都有{name}。" if lang == "zh" else f"{head}: every one of the {noun} has some {name}."
    shown = [_row_label(row, spec) for _i, row in frame.head(10).iterrows()]
    more = len(frame) - len(shown)
    if lang == "zh":
        tail = f" 等（共 {len(frame)} 个，见下表）" if more > 0 else ""
        return f"{head}{name}为零（没有一笔记录）的{noun}共 {len(frame)} 个：{'、'.join(shown)}{tail}。"
    tail = f" and {more} more (see the table)" if more > 0 else ""
    return f"{head}: {len(frame)} {noun} with no {name} at all: {', '.join(shown)}{tail}."


def _chart(spec: QuerySpec, frame: pd.DataFrame, lang: Language, label: str) -> ChartSpec:
    key = metric_of(spec.sort.metric)[0].key if spec.sort else spec.metrics[0]  # type: ignore[index]
    name = METRICS[key].label(lang)
    if spec.per is not None:  # 平均每个伙伴销售额 / revenue per partner
        name = f"平均{_each(spec, lang)}{name}" if lang == "zh" else f"{name} {_each(spec, lang)}"
    title = f"{name}（{label}）" if lang == "zh" else f"{name} ({label})"
    if not spec.dimensions or frame.empty:
        return ChartSpec(kind="none", title=title)
    y = f"{key}_avg" if spec.per is not None else key
    time_dim = spec.time_dimension()
    if time_dim is not None:
        return ChartSpec(kind="line", x=time_dim.column, y=y, title=title)
    dim = spec.dimensions[0]
    x = {"partner": "partner_name", "product": "product_name"}.get(dim, DIMENSIONS[dim].column)
    return ChartSpec(kind="bar", x=x, y=y, title=title)


def _run(store: Store, spec: QuerySpec) -> tuple[pd.DataFrame, str, dict[str, Any]]:
    compiled = compile_spec(spec)
    try:
        frame = store.query(compiled.sql, compiled.params)
    except duckdb.Error as exc:  # e.g. a hand-imported database missing a column the metric needs
        raise QuerySpecError(f"查询没有执行成功，请检查公司数据是否完整（{type(exc).__name__}：{exc}）") from exc
    frame = frame[list(compiled.columns)].reset_index(drop=True)
    for column in frame.columns:
        if column in ("partner_count", "active_partners", "year", "order_count", "order_lines", "return_lines"):
            frame[column] = frame[column].astype("int64") if frame[column].notna().all() else frame[column]
    return frame, compiled.sql, compiled.params


def _share_of_total(store: Store, spec: QuerySpec, frame: pd.DataFrame, lang: Language) -> tuple[pd.DataFrame, str]:
    """Each row's share of the total, or the ranked rows' combined share (前十大客户占比), and a sentence."""
    key = metric_of(spec.sort.metric)[0].key if spec.sort else spec.metrics[0]  # type: ignore[index]
    # Without a grouping the filters name the part (饮料占销售额的比例): the total drops them, except those that
    # name the whole (华东的销售里乳制品占几成: share_within keeps 华东).
    filters = [
        f
        for f in spec.filters
        if f.field in DIMENSIONS and not f.is_threshold and (spec.dimensions or f.field in spec.share_within)
    ]
    total_spec = spec.model_copy(
        update={"metrics": [key], "dimensions": [], "filters": filters, "sort": None, "limit": None,
                "share": "none", "comparison": "none"}
    )  # fmt: skip
    total_frame, _sql, _params = _run(store, total_spec)
    total = float(total_frame[key].iloc[0]) if len(total_frame) else math.nan
    name = METRICS[key].label(lang)
    if spec.share == "top" and spec.dimensions:
        part = float(frame[key].sum())
        share = part / total if total else math.nan
        n = len(frame)
        noun = DIM_NOUNS.get(spec.dimensions[0], (DIMENSIONS[spec.dimensions[0]].label(lang),) * 2)[
            0 if lang == "zh" else 1
        ]
        combined = pd.DataFrame({key: [part], f"{key}_share": [share]})
        text = (
            f"{name}前 {n} 名的{noun}合计 {_show(key, part, lang)}，占全部 {_show(key, total, lang)} 的 "
            f"{share * 100:.1f}%。"
            if lang == "zh"
            else f"The top {n} {noun} together: {_show(key, part, lang)}, {share * 100:.1f}% of the total "
            f"{_show(key, total, lang)}."
        )
        return combined, text
    frame = frame.copy()
    per_group = [d for d in spec.share_within if d in spec.dimensions]
    if per_group and spec.share == "each":
        # 各大区的销售额里，经销商分别占多少: each region's own total (without the part's filters) is the whole
        whole_spec = total_spec.model_copy(
            update={"dimensions": per_group, "filters": [f for f in filters if f.field in spec.share_within]}
        )
        wholes, _sql, _params = _run(store, whole_spec)
        keys = [c for d in per_group for c in DIMENSIONS[d].columns if c in wholes.columns and c in frame.columns]
        merged = frame.merge(wholes[[*keys, key]].rename(columns={key: "_whole"}), on=keys, how="left")
        frame[f"{key}_share"] = (merged[key] / merged["_whole"].where(merged["_whole"] != 0)).to_numpy()
        within = "、".join(DIMENSIONS[d].label(lang) for d in per_group)
        zh_text, en_text = f"占比按各{within}自己的{name}计算，见表。", f"Each share is of its own {within}'s {name}."
        return frame, zh_text if lang == "zh" else en_text
    frame[f"{key}_share"] = frame[key] / total if total else math.nan
    if not spec.dimensions and len(frame):
        share = frame[f"{key}_share"].iloc[0]
        whole = "、".join(str(f.value) for f in filters) if not spec.dimensions else ""
        text = (
            f"占{whole + '的' if whole else '全部'}{name}（{_show(key, total, lang)}）的 {share * 100:.1f}%。"
            if lang == "zh"
            else f"That is {share * 100:.1f}% of the {whole + ' ' if whole else 'total '}{name} "
            f"({_show(key, total, lang)})."
        )
        return frame, text
    return frame, ("各组占比见表。" if lang == "zh" else "Each row's share of the total is in the table.")


# 有销售的伙伴 / partners with sales: the members an average per member counts, by where its figures are booked.
ACTIVITY = {
    "sales": ("有销售的", "with sales"),
    "costs": ("有费用的", "with costs"),
    "rebates": ("有返利的", "with rebates"),
    "targets": ("有目标的", "with targets"),
}
EACH_TIME = {
    "month": ("每月", "month", "个月"),
    "quarter": ("每季度", "quarter", "个季度"),
    "year": ("每年", "year", "年"),
}


def _each(spec: QuerySpec, lang: Language) -> str:
    """平均每个伙伴 / 平均每月 as 每个伙伴 / 每月; per partner / per month."""
    per = spec.per or "partner"
    if per in EACH_TIME:
        return EACH_TIME[per][0] if lang == "zh" else f"per {EACH_TIME[per][1]}"
    return f"每个{_member_noun(spec, per, lang)}" if lang == "zh" else f"per {_member_noun(spec, per, lang, 1)}"


def _member_phrase(spec: QuerySpec, lang: Language, n: int = 2) -> str:
    """The members an average counts: 有销售的伙伴 / 月; partners with sales / months."""
    per = spec.per or "partner"
    if per in EACH_TIME:
        unit = EACH_TIME[per][1]
        return {"month": "月", "quarter": "季度", "year": "年"}[per] if lang == "zh" else unit + ("s" if n != 1 else "")
    activity = ACTIVITY.get(METRICS[spec.metrics[0]].sources[0], ("", ""))
    if lang == "zh":
        return f"{activity[0]}{_member_noun(spec, per, lang)}"
    return f"{_member_noun(spec, per, lang, n)} {activity[1]}".strip()


def _members(spec: QuerySpec, count: Any, lang: Language) -> str:
    """240 个有销售的伙伴 / 9 个月; 240 partners with sales / 9 months."""
    n = int(count) if count is not None and not pd.isna(count) else 0
    if lang == "zh":
        return f"{n} {EACH_TIME[spec.per][2]}" if spec.per in EACH_TIME else f"{n} 个{_member_phrase(spec, lang)}"
    return f"{n} {_member_phrase(spec, lang, n)}"


def _covered(window: TimeWindow, context: DataContext | None) -> TimeWindow:
    """The part of the window the data covers: months after the data ends are not months with nothing sold."""
    span = context.span if context is not None else None
    if span is None:
        return window
    start, end = max(window.start, span.first), min(window.end, span.last)
    if start > end or (start, end) == (window.start, window.end):
        return window
    return TimeWindow(start=start, end=end)


def _periods(spec: QuerySpec, frame: pd.DataFrame, covered: TimeWindow) -> pd.Series:
    """Per row, the months (quarters, years) of its time bucket that the data covers, each counted whether or not
    anything was booked in it."""
    per = spec.per or "month"

    def count(start: date, end: date) -> int:
        start, end = max(start, covered.start), min(end, covered.end)
        return len(buckets(TimeWindow(start=start, end=end), per)) if start <= end else 0

    time = spec.time_dimension()
    if time is None:
        return pd.Series(count(spec.window.start, spec.window.end), index=frame.index, dtype="int64")
    by_label = {label: count(start, end) for label, start, end in buckets(spec.window, time.key)}
    return frame[time.column].map(lambda v: by_label.get(str(int(v)) if time.key == "year" else str(v), 0))


def _per_member(
    store: Store, spec: QuerySpec, lang: Language, head: str, context: DataContext | None
) -> tuple[pd.DataFrame, str, dict[str, Any], str, list[str]]:
    """户均 / 平均每月: each group's total, its members and total ÷ members, ranked by the average when asked; the
    sentence stating all three; notes on what the average leaves out (amounts booked to no member)."""
    per = DIMENSIONS[spec.per]  # type: ignore[index]
    keys = [c for d in spec.dimensions for c in DIMENSIONS[d].columns]
    plain = spec.model_copy(update={"per": None, "sort": None, "limit": None})
    totals, sql, params = _run(store, plain)
    notes: list[str] = []
    covered = spec.window
    if per.is_time:  # every month of the window the data covers, sold in or not
        covered = _covered(spec.window, context)
        frame = totals.assign(members=_periods(spec, totals, covered).astype("int64"))
    else:  # the members with a record in the window, under the filters
        rows, sql, params = _run(store, plain.model_copy(update={"dimensions": [*spec.dimensions, per.key]}))
        if keys:
            grouped = rows.groupby(keys, dropna=False, sort=False)
            frame = grouped[spec.metrics].sum().join(grouped.size().rename("members")).reset_index()
        else:
            frame = pd.DataFrame({**{k: [rows[k].sum()] for k in spec.metrics}, "members": [len(rows)]})
        frame["members"] = frame["members"].astype("int64")
        noun = _member_noun(spec, per.key, lang)
        for key in spec.metrics:
            metric = METRICS[key]
            left = float(totals[key].sum()) - float(frame[key].sum())
            if (metric.additive or key in ("order_lines", "return_lines")) and abs(left) > max(
                0.005, abs(float(totals[key].sum())) * 1e-9
            ):
                notes.append(
                    f"另有{metric.zh} {_show(key, left, lang)}没有记到具体{noun}，不在平均之内"
                    if lang == "zh"
                    else f"{_show(key, left, lang)} of {metric.label(lang)} is booked to no {noun}: not in the average"
                )
    for key in spec.metrics:
        frame[f"{key}_avg"] = (frame[key] / frame["members"].where(frame["members"] > 0)).astype("float64")
    time = spec.time_dimension()
    if spec.sort is not None:
        by = f"{metric_of(spec.sort.metric)[0].key}_avg"  # type: ignore[index]
        frame = frame.sort_values(by, ascending=spec.sort.direction == "asc", na_position="last", kind="stable")
    elif time is not None:
        frame = frame.sort_values(time.column, kind="stable")
    elif keys:
        frame = frame.sort_values(f"{spec.metrics[0]}_avg", ascending=False, na_position="last", kind="stable")
    if spec.limit is not None:
        frame = frame.head(spec.limit)
    columns = keys + [f"{k}_avg" for k in spec.metrics] + list(spec.metrics) + ["members"]
    frame = frame[columns].reset_index(drop=True)
    summary = _per_summary(spec, frame, lang, head, covered)
    return frame, sql, params, summary, notes


def _per_summary(spec: QuerySpec, frame: pd.DataFrame, lang: Language, head: str, covered: TimeWindow) -> str:
    """2026年1-9月（区域 = 华北）平均每个伙伴销售额 123,456.78 元（合计 …，共 30 个有销售的伙伴）; by group, the
    highest and lowest averages (or the ranked first and last)."""
    zh = lang == "zh"
    each = _each(spec, lang)
    if covered != spec.window:
        span = f"{covered.start.isoformat()} ~ {covered.end.isoformat()}"
        coverage = f"，数据覆盖 {span}" if zh else f"; the data covers {span}"
    else:
        coverage = ""
    if frame.empty:  # a filter naming no partner or product
        return f"{head}没有符合条件的数据。" if zh else f"No data matches for {head}."
    if not spec.dimensions:
        row = frame.iloc[0]
        members = _members(spec, row["members"], lang) + coverage
        if not row["members"]:
            phrase = _member_phrase(spec, lang)
            return f"{head}没有{phrase}，无法求平均。" if zh else f"{head}: no {phrase}; no average."
        if len(spec.metrics) == 1:
            key = spec.metrics[0]
            name, avg, total = (
                METRICS[key].label(lang),
                _show(key, row[f"{key}_avg"], lang, average=True),
                _show(key, row[key], lang),
            )
            if zh:
                return f"{head}平均{each}{name} {avg}（合计 {total}，共 {members}）。"
            return f"{head}: average {name} {each} {avg} (total {total} across {members})."
        avgs = [f"{METRICS[k].label(lang)} {_show(k, row[f'{k}_avg'], lang, average=True)}" for k in spec.metrics]
        sums = [f"{METRICS[k].label(lang)} {_show(k, row[k], lang)}" for k in spec.metrics]
        if zh:
            return f"{head}平均{each}：{'，'.join(avgs)}（合计：{'，'.join(sums)}；共 {members}）。"
        return f"{head}: on average {each}, {', '.join(avgs)} (totals: {', '.join(sums)}; across {members})."
    key = metric_of(spec.sort.metric)[0].key if spec.sort else spec.metrics[0]  # type: ignore[index]
    column, name, n = f"{key}_avg", METRICS[key].label(lang), len(frame)
    noun = _group_noun(spec, n, lang)
    valid = frame[frame[column].notna()]
    if valid.empty:
        return f"{head}共 {n} 个{noun}，都没有可求平均的数据。" if zh else f"{head}: {n} {noun}, none with an average."

    def item(row: pd.Series) -> str:
        shown = f"{_show(key, row[column], lang, average=True)}，{_members(spec, row['members'], lang)}"
        return f"{_row_label(row, spec)}（{shown}）" if zh else f"{_row_label(row, spec)} ({shown.replace('，', ', ')})"

    measure = f"平均{each}{name}" if zh else f"average {name} {each}"
    if spec.sort is not None and spec.limit is not None:
        desc = spec.sort.direction == "desc"
        order = ("最高" if desc else "最低") if zh else ("highest" if desc else "lowest")
        first, last = item(frame.iloc[0]), item(frame.iloc[-1])
        if zh:
            if n == 1:
                return f"{head}{measure}{order}的{noun}是 {first}{coverage}。"
            return f"{head}{measure}{order}的 {n} 个{noun}：第 1 是 {first}，第 {n} 是 {last}{coverage}。"
        if n == 1:
            return f"{head}: the {noun} with the {order} {measure} is {first}{coverage}."
        return f"{head}: the {n} {noun} with the {order} {measure}; #1 is {first}, #{n} is {last}{coverage}."
    top, low = valid.loc[valid[column].idxmax()], valid.loc[valid[column].idxmin()]
    if n == 1:
        return f"{head}{measure}：{item(top)}{coverage}。" if zh else f"{head}: {measure} {item(top)}{coverage}."
    if zh:
        return f"{head}共 {n} 个{noun}，{measure}最高的是 {item(top)}，最低的是 {item(low)}{coverage}。"
    return f"{head}: {n} {noun}; the highest {measure} is {item(top)}, the lowest {item(low)}{coverage}."


def _bucket_label(day: date, grain: str) -> str:
    """The label a month or quarter bucket of the day carries in query results (2011-09, 2026Q3)."""
    return f"{day.year}-{day.month:02d}" if grain == "month" else f"{day.year}Q{(day.month - 1) // 3 + 1}"


def _answer_streak(
    store: Store, spec: QuerySpec, language: Language, notes: list[str], how_many: bool = False
) -> DataAnswer:
    """Groups whose threshold filters hold in each of the last n periods (连续两个季度未完成目标)."""
    grain, n = spec.streak_grain or "quarter", spec.streak or 2
    thresholds = [f for f in spec.filters if f.is_threshold]
    comparison = spec.comparison
    if any(f.field.endswith("_change") for f in thresholds) and comparison == "none":
        comparison = "previous"
    dims = [d for d in spec.dimensions if not DIMENSIONS[d].is_time]
    # 每个月都比上个月低: each period against the one just before it, one grain back (not the window's own
    # previous period), so the query reaches one period before the window and the change is taken per group
    step_back = comparison == "previous" and any(f.field.endswith("_change") for f in thresholds)
    window = spec.window
    if step_back:
        months = 1 if grain == "month" else 3
        window = window.model_copy(update={"start": add_months(window.start, -months)})
    per_period = spec.model_copy(
        update={"dimensions": [*dims, grain], "filters": [f for f in spec.filters if not f.is_threshold],
                "sort": None, "limit": None, "streak": None, "share": "none",
                "comparison": "none" if step_back else comparison, "window": window}
    )  # fmt: skip
    frame, sql, params = _run(store, per_period)
    keys = [c for c in frame.columns if c in {col for d in dims for col in DIMENSIONS[d].columns}]
    if step_back:
        measured = {f.field.removesuffix("_change") for f in thresholds if f.field.endswith("_change")}
        if keys and all(METRICS[k].additive for k in measured):
            # a month with no lines sold nothing: 0, so a product back in May after an empty April rose
            months = 1 if grain == "month" else 3
            starts = [window.start]
            while add_months(starts[-1], months) <= spec.window.end:
                starts.append(add_months(starts[-1], months))
            grid = (
                frame[keys]
                .drop_duplicates()
                .merge(pd.DataFrame({grain: [_bucket_label(d, grain) for d in starts]}), how="cross")
            )
            frame = grid.merge(frame, on=[*keys, grain], how="left")
            frame[list(measured)] = frame[list(measured)].fillna(0.0)
        frame = frame.sort_values([*keys, grain])
        for key in {f.field.removesuffix("_change") for f in thresholds if f.field.endswith("_change")}:
            before = frame.groupby(keys, dropna=False)[key].shift(1) if keys else frame[key].shift(1)
            change = (frame[key] / before.where(before != 0) - 1).astype(float)
            # from nothing to something is a rise (shown as +∞), from nothing to nothing no change
            frame[key + "_change"] = change.mask((before == 0) & (frame[key] > 0), math.inf).mask(
                (before == 0) & (frame[key] == 0), 0.0
            )
        frame = frame[frame[grain] >= _bucket_label(spec.window.start, grain)]
    periods = sorted(frame[grain].dropna().unique())[-n:]
    frame = frame[frame[grain].isin(periods)]
    ok = pd.Series(True, index=frame.index)
    for f in thresholds:
        values = frame[f.field]
        ok &= {
            "lt": values < f.value,
            "le": values <= f.value,
            "gt": values > f.value,
            "ge": values >= f.value,
            "eq": values == f.value,
            "ne": values != f.value,
        }[f.op].fillna(False)
    frame = frame.assign(_ok=ok)
    counts = frame.groupby(keys, dropna=False)["_ok"].agg(["sum", "count"]).reset_index()
    winners = counts[(counts["sum"] == len(periods)) & (counts["count"] == len(periods))][keys]
    shown_field = thresholds[0].field if thresholds else spec.metrics[0]
    wide = frame.merge(winners, on=keys).pivot_table(index=keys, columns=grain, values=shown_field, aggfunc="first")
    wide = wide.reset_index()
    wide.columns = [str(c) for c in wide.columns]
    for period in periods:  # nobody met it: the table still has a column per period
        if str(period) not in wide.columns:
            wide[str(period)] = pd.Series(dtype=float)
    metric, part = metric_of(shown_field)  # type: ignore[misc]
    table = wide.copy()
    for period in periods:
        table[str(period)] = table[str(period)].map(
            lambda v, m=metric, p=part: format_value("ratio" if p == "change" else m.fmt, v, signed=p == "change")
        )
    table = table.rename(columns={c: DIM_HEADERS[c][0 if language == "zh" else 1] for c in keys if c in DIM_HEADERS})

    def condition_text(f) -> str:
        if f.field in COUNTS_MEMBERS and f.op == "gt" and f.value == 0:  # every month with a sale: 有销售
            return "有销售" if language == "zh" else "sales"
        measured, part = metric_of(f.field)  # type: ignore[misc]
        fmt = "ratio" if part == "change" or measured.is_ratio else "number"
        changed = ("变化" if language == "zh" else " change") if part == "change" else ""
        op = (OP_ZH if language == "zh" else OP_EN)[f.op]
        return f"{measured.label(language)}{changed}{op}{format_value(fmt, f.value)}"

    condition = "、".join(condition_text(f) for f in thresholds)
    grain_word = ("个季度" if grain == "quarter" else "个月") if language == "zh" else (f"{grain}s")
    named = next((c for c in ("partner_name", "product_name") if c in wide.columns), keys[0] if keys else None)
    names = [str(v) for v in (wide[named] if named else pd.Series(dtype=str))][:10]
    summary = (
        f"连续 {len(periods)} {grain_word}（{'、'.join(str(p) for p in periods)}）{condition}的共 {len(wide)} 个"
        + (f"：{'、'.join(names)}{'等' if len(wide) > 10 else ''}。" if len(wide) else "。")
        if language == "zh"
        else f"{len(wide)} met {condition} in each of the last {len(periods)} {grain_word} "
        f"({', '.join(map(str, periods))})" + (f": {', '.join(names)}." if len(wide) else ".")
    )
    window = spec.window.span(language)
    return DataAnswer(
        spec=spec,
        frame=wide,
        table=table,
        chart=ChartSpec(kind="none", title=summary[:40]),
        summary=summary,
        sql=sql,
        params=params,
        window=window,
        language=language,
        notes=list(notes),
        members=len(wide) if how_many and counted_members(spec) else None,
    )


def answer_spec(
    store: Store, spec: QuerySpec, language: Language = "zh", notes: list[str] | None = None, counts: bool = False
) -> DataAnswer:
    """Run a QuerySpec on the read-only store and build the answer (frame, display table, chart, summary, SQL).
    counts: the question asks how many (有几家): the number of members listed is the headline figure."""
    if spec.streak:
        return _answer_streak(store, spec, language, list(notes or []), counts)
    try:
        context = context_for(store)
    except StoreError:
        context = None
    window = spec.window.span(language)
    compare = spec.compare_window(language)
    code = store.profile().currency
    notes = list(notes or [])
    if spec.per is not None:  # 户均 / 平均每月: computed on the grouped frame
        frame, sql, params, summary, left_out = _per_member(
            store, spec, language, _head(spec, language, window, context), context
        )
        notes += left_out
    else:
        frame, sql, params = _run(store, spec)
        if spec.dimensions and set(spec.metrics) <= RETURN_METRICS:  # returns by product: those with returns
            frame = frame[(frame[list(spec.metrics)] != 0).any(axis=1)].reset_index(drop=True)
        summary = _summary(spec, frame, language, window, context)
    if spec.share != "none":
        frame, sentence = _share_of_total(store, spec, frame, language)
        joiner = "" if language == "zh" else " "
        summary = sentence if spec.share == "top" else f"{summary}{joiner}{sentence}"
    return DataAnswer(
        spec=spec,
        frame=frame,
        table=localise_columns(_display_table(frame, spec, language), code),
        chart=_chart(spec, frame, language, spec.window.label),
        summary=localise_text(summary, code),
        sql=sql,
        params=params,
        window=window,
        compare_window=compare.span(language) if compare else None,
        language=language,
        notes=notes,
        members=len(frame) if counts and counted_members(spec) else None,
    )


def _with_difference(result: DataAnswer, difference: tuple[str, str, str]) -> DataAnswer:
    """The answer to 华东比华南多卖了多少钱: the first row's figure minus the second's, said first."""
    dim, first, second = difference
    key = result.spec.metrics[0]
    if dim in ("metric", "ratio"):  # one row, two figures: 应收 minus (or over) 实收, named by their labels
        frame = result.frame
        if len(frame) != 1 or first not in frame or second not in frame:
            return result
        key = first
        first, second = METRICS[first].label(result.language), METRICS[second].label(result.language)
        rows = {first: frame[key].iloc[0], second: frame[difference[2]].iloc[0]}
        if dim == "ratio":
            if pd.isna(rows[first]) or pd.isna(rows[second]) or not float(rows[second]):
                return result
            ratio = float(rows[first]) / float(rows[second])
            said = (
                f"{first}是{second}的 {ratio:.1%}（{first} {_show(key, rows[first], 'zh')}，"
                f"{second} {_show(key, rows[second], 'zh')}）。"
                if result.language == "zh"
                else f"{first} is {ratio:.1%} of {second} ({_show(key, rows[first], 'en')} vs "
                f"{_show(key, rows[second], 'en')}). "
            )
            update = {"difference": ratio * 100, "ratio": True, "summary": f"{said}{result.summary}"}
            return result.model_copy(update=update)
    elif dim == "period":  # one row: the figure and the compared period's figure beside it
        frame = result.frame
        if len(frame) != 1 or f"{key}_compare" not in frame:
            return result
        rows = {first: frame[key].iloc[0], second: frame[f"{key}_compare"].iloc[0]}
    else:
        column = DIMENSIONS[dim].column
        rows = {str(v): x for v, x in zip(result.frame.get(column, []), result.frame.get(key, []), strict=False)}
    if first not in rows or second not in rows or pd.isna(rows[first]) or pd.isna(rows[second]):
        return result
    gap = float(rows[first]) - float(rows[second])
    zh = result.language == "zh"
    name = "" if dim == "metric" else METRICS[key].label(result.language)
    more = ("多" if gap >= 0 else "少") if zh else ("more" if gap >= 0 else "less")
    said = (
        f"{first}比{second}{name}{more} {_show(key, abs(gap), 'zh')}"
        f"（{first} {_show(key, rows[first], 'zh')}，{second} {_show(key, rows[second], 'zh')}）。"
        if zh
        else f"{first} had {_show(key, abs(gap), 'en')} {more} {name} than {second} "
        f"({_show(key, rows[first], 'en')} vs {_show(key, rows[second], 'en')})."
    )
    joiner = "" if zh else " "
    return result.model_copy(update={"difference": gap, "summary": f"{said}{joiner}{result.summary}"})


def answer_data_question(
    store: Store, question: str, previous: QuerySpec | dict | None = None
) -> DataAnswer | Clarification:
    """Answer a data question about the company in the store, or ask back when the question is unclear.

    previous: the spec of the conversation's last data answer; a follow-up (华南呢？) keeps its frame."""
    context = context_for(store)
    with catalog_scope(context.extra_dimensions, context.extra_metrics):
        if isinstance(previous, dict):
            try:
                previous = QuerySpec.model_validate(previous)
            except ValidationError:
                previous = None  # a spec of another dataset (its attributes are gone): start afresh
        parser = _Parser(question, context, previous)
        parsed = parser.parse()
        if isinstance(parsed, Clarification):
            return _lacking_first(store, parser, parsed)
        lacking = lacking_inputs(store, parsed.spec, parsed.language, parser.said())
        if lacking is not None:
            return lacking
        result = answer_spec(store, parsed.spec, parsed.language, parsed.notes, counts=parsed.counts)
        return _with_difference(result, parsed.difference) if parsed.difference else result


def _lacking_first(store: Store, parser: _Parser, parsed: Clarification) -> Clarification:
    """inventory of binders in a file with no stock at all: that the data has no inventory is the answer, not that
    inventory is not recorded by sub-category."""
    if parsed.reason != "unsupported" or not parser.attempted:
        return parsed
    try:
        bare = QuerySpec(**parser.attempted)
    except ValidationError:
        return parsed
    return lacking_inputs(store, bare, parser.lang, parser.said()) or parsed


def evidence(store: Store, question: str, previous: QuerySpec | dict | None = None) -> str:
    """How strongly the company's data answers the question: "answer" (a query naming a place, product,
    partner or period), "weak" (a metric and no such anchor: 返利一般分几档 names 返利 and nothing else of the
    data), "partial" (words the data has nothing for: 直销员上门推销要守哪些规矩), "ask" (the data engine would
    ask back about a name or a period), "none" (nothing of the data's)."""
    try:
        context = context_for(store)
    except StoreError:
        return "none"
    with catalog_scope(context.extra_dimensions, context.extra_metrics):
        if isinstance(previous, dict):
            try:
                previous = QuerySpec.model_validate(previous)
            except ValidationError:
                previous = None
        parser = _Parser(question, context, previous)
        try:
            parsed = parser.parse()
        except (QuerySpecError, ValidationError):
            return "none"
    kinds = {s.kind for s in parser.scan.spans}
    text = parser.scan.text
    groups = [s for s in parser.scan.spans if s.kind == "group"]
    each = any(s.value and s.value[2] for s in groups) or bool(groups and EACH_WORDS.search(parser.scan.text))
    listing = LISTING.search(parser.scan.text) or EACH_WORDS.search(parser.scan.text) or kinds & SPECIFIC_ANCHORS
    if isinstance(parsed, Clarification) and parsed.reason == "unanswerable" and each and listing:
        # 哪些客户的合同快到期了 / headcount of each distributor: data-shaped; the data says what it lacks.
        # 每月给店主多少陈列费 names a month and a store type but asks about practice: the knowledge base decides.
        return "ask"
    if (
        isinstance(parsed, Clarification)
        and parsed.reason == "unknown_name"
        and {"group", "threshold"} <= kinds
        and LISTING.search(parser.scan.text)
    ):
        return "ask"  # 哪些经销商的货款逾期超过90天了: the company's dealers, a bound, and a word the data lacks
    if isinstance(parsed, Clarification) and "metric" in kinds and RELATIVE_BOUND.search(parser.scan.text):
        return "ask"  # sales higher than the regional average: a data question with a bound the data side names
    if (
        isinstance(parsed, Clarification)
        and parsed.reason == "unanswerable"
        and ({"rank", "metric", "missing"} <= kinds or ({"missing", "time"} <= kinds and ASKS_FIGURE.search(text)))
    ):
        return "ask"  # Which sales rep had the best gross margin: a ranking of something the data lacks, said so
    if (
        isinstance(parsed, Clarification)
        and parsed.reason == "unanswerable"
        and "missing" in kinds
        and kinds & {"rank", "metric"}
        and (listing or each)
    ):
        return "ask"  # 哪个医生开的处方最多 / 男顾客和女顾客各花了多少钱: a figure of something the data lacks, said so
    if (
        isinstance(parsed, Clarification)
        and parsed.reason == "unanswerable"
        and {"missing", "group"} <= kinds
        and (ASKS_FIGURE.search(text) or AVERAGE_WORD.search(text))
    ):
        return "ask"  # the average age of our customers: a figure of the company's customers the data lacks
    ranked = {"rank", "group"} <= kinds or "threshold" in kinds
    measure = any(p[-1:] in MEASURE_SUFFIX or NOT_IN_DATA.search(p) for p in parser.unused)
    if isinstance(parsed, Clarification) and parsed.reason == "unanswerable" and ranked and measure:
        return "ask"  # 退货率最高的品类: a ranking of the company's categories by a figure the data lacks
    if (
        previous is not None
        and not isinstance(parsed, Clarification)
        and not parser.unused
        and kinds
        and FOLLOW_UP.search(parser.scan.text)
    ):
        return "answer"  # same thing but only 电商平台: the previous question's frame, narrowed; nothing left unread
    if (
        isinstance(parsed, Clarification)
        and parsed.reason == "unsupported"
        and "metric" in kinds
        and DAY_ASKED.search(text)
    ):
        return "ask"  # 哪天的销售额最高: the data side says a day is finer than it counts
    if isinstance(parsed, Clarification) and parsed.reason == "ambiguous_name" and "metric" in kinds:
        return "ask"  # how much did we sell of the 3D Systems Cube Printer: a figure of a name two products share
    if _covered_share(parser.scan) < HALF_COVERED:  # 申请直销牌照要准备哪些材料: 直销 and four words of no data
        return "partial" if kinds else "none"
    if isinstance(parsed, Clarification):
        if parsed.reason in ("ambiguous_name", "no_data", "unsupported"):
            return "ask"
        if parsed.reason == "missing_dimension" and parser.bare_average is not None:
            return "ask"  # 今年平均销售额: an average of the company's figures, over what is asked back
        if parsed.reason == "unknown_name" and kinds & {"entity", "time"} and kinds & {"metric"}:
            return "ask"  # 竞品在华南卖了多少: a figure for a place, about something the data does not know
        if parsed.reason == "unanswerable":  # 直销员上门推销要守哪些规矩: 规矩 is nothing of the data's
            if not kinds & {"entity", "name", "metric", "group"}:
                return "none"  # 今天天气怎么样: a day and the weather, nothing of the data's
            if "metric" in kinds and any(
                BY_BEFORE.search(parser.scan.text[max(0, s.start - 6) : s.start]) for s in parser.scan.of("missing")
            ):
                return "ask"  # gross margin by sales rep: a figure grouped by something the data lacks, said so
            # 哪些问题客户回款率低于80%: a figure, a bound and a number are a data question the data half answers
            return "ask" if kinds & {"entity", "name", "time", "threshold"} else "partial"
        # 给我看看华东的经销商: names the company's regions and partners, only the figure is missing
        anchored = kinds & {"entity", "name", "time", "rank", "limit", "threshold"}  # 哪些产品低于10%: a bound
        return "ask" if parsed.reason == "missing_metric" and anchored else "none"
    if parser.unused:  # part of the question meant nothing to the data
        return "partial"
    if {"threshold", "group"} <= kinds and LISTING.search(text):
        return "answer"  # 哪几家经销商销售额超过500万: which of the company's partners pass a bound it sets
    return "answer" if parsed.anchors & SPECIFIC_ANCHORS else "weak"


OF_WHOLE = re.compile(
    r"(?:\b(?:share|percent(?:age)?|proportion|portion|how much)|%)\s+of\s+(?:the\s+|our\s+|all\s+)?$"
)
WITHIN = re.compile(r"\s*的?\s*(?:销售额?|业绩|生意|收入|营收|销量|订单)?\s*(?:里|中|当中|之中|里面)")
ONLY = re.compile(r"只看|只要|只算|仅看|仅限|\bonly\b|\bjust\b", re.IGNORECASE)
YEAR_DIGITS = re.compile(r"(?<!\d)(?:19|20)\d{2}(?!\d)|今年|去年|前年|明年|this year|last year")
# A word then one of these is a figure someone measures (退货率, 投诉量, 违约金额): never dropped as a verb
MEASURE_SUFFIX = frozenset({"率", "量", "额", "数", "费", "价", "次数", "金额", "占比"})
IN_BEFORE = re.compile(r"在\s*$")
SHARE_AFTER = re.compile(
    r"\s*(?:的|里|中|内|当中)?\s*(?:销售额?|销量|业绩)?\s*(?:的)?\s*(?:占比|占多少|占几成|份额|比例|比重|占)"
)
LAST_YEAR_SAME = re.compile(r"去年同期|上年同期|same period last year")
CONJUNCTION = re.compile(r"\s*(?:和|与|及|以及|跟|、|,|，|/|&|\band\b|\bor\b|或)\s*")
THE_REST = re.compile(r"其他|其它|其余|剩下的?|剩余的?|\bother\b|\bthe rest\b")
EXCLUDING_AFTER = re.compile(r"\s*(?:以外|之外|除外|不算|不计|不含|不包括)")
ALL_TIME = re.compile(
    r"历史累计|累计至今|累计|至今|迄今|总共|一共|(?:所有|全部|历年)(?:的)?(?:年份|年度|记录|数据)(?:里|中|内|下来)?|"
    r"\ball[- ]time\b|\bto date\b|\bcumulative(?:ly)?\b|\bever\b|"
    r"\b(?:across |over |in )?all (?:the )?(?:two |three |four |five |\d+ )?(?:years|yrs)\b|"
    r"\ball (?:the )?(?:data|records)\b"
)
HALF_COVERED = 0.5


def _content_left(scan: _Scan) -> list[str]:
    """Words of two or more letters the scan did not recognise, stop and question words aside."""
    from retrieval.search import QUESTION_WORDS
    from retrieval.tokens import _jieba

    words = []
    for piece in re.split(r"[\s\x00]+", scan.work.lower()):
        words += _jieba().lcut(piece) if CJK.search(piece) else re.findall(r"[a-z][a-z\-]+", piece)
    ignored = STOP_ZH | STOP_EN | QUESTION_WORDS
    return [
        w
        for w in words
        if len(w) > 1 and w not in ignored and re.search(r"[a-z\u4e00-\u9fff]", w) and not _catalog_word(w)
    ]


@lru_cache(maxsize=1)
def _catalog_text() -> str:
    """Every metric and dimension name and synonym, for telling 订单 (a word of the data) from 合同."""
    words = [w for m in METRICS.values() for w in (m.zh, m.en, *m.synonyms_zh, *m.synonyms_en)]
    words += [w for d in DIMENSIONS.values() for w in (d.zh, d.en, *d.synonyms_zh, *d.synonyms_en)]
    return "\n".join(w.lower() for w in words)


def _catalog_word(word: str) -> bool:
    return word.lower() in _catalog_text()


def _is_noun(word: str) -> bool:
    if not CJK.search(word):
        return True
    import jieba.posseg as posseg

    # Domain words added to jieba (合同, 返利 …) come back untagged ("x") or mis-tagged ("a"): nouns here.
    return any(p.flag.startswith(("n", "vn", "x", "a")) for p in posseg.lcut(word))


def _covered_share(scan: _Scan) -> float:
    """Recognised spans over spans plus the content words left."""
    spans = len(scan.spans)
    left = len(_content_left(scan))
    return spans / (spans + left) if spans + left else 0.0


COUNTED = re.compile(r"(?:前|后|倒数)?\s*(?:\d+|[一二两三四五六七八九十]+)\s*(个|名|大|家|位)?\s*(\S{0,6})")

# What ties a question to this company's data rather than to channel practice in general: a region, product or
# partner it names, a period, the previous answer, or an average over its partners or months (一般每月卖多少).
# 按销量排名可以吗 names only a metric and a ranking.
SPECIFIC_ANCHORS = frozenset({"entity", "name", "time", "follow_up", "streak", "previous", "per"})


def _short_name(name: str) -> str | None:
    """实收金额 → 实收: how a column named …金额 / …数量 is often asked, unless that word already names a figure
    (销售 of 销售数量 is 销售额)."""
    stem = re.sub(r"(?:金额|数量)$", "", name.strip())
    return stem if stem != name.strip() and len(stem) >= 2 and stem.lower() not in METRIC_WORDS else None


# Every word that already names a figure (销售 → revenue), so a column's short name never takes it over
METRIC_WORDS: dict[str, str] = {
    word.lower(): m.key for m in METRICS.values() for word in (*m.synonyms_zh, *m.synonyms_en, m.zh, m.en)
}
# An imported column (table.field) and the figure its own name asks for
# The imported files' own names for the fields a dimension reads (TERRITORY → region, 社保卡号 → partner)
HEADER_DIMENSIONS: dict[str, str] = {
    "sales.partner_id": "partner",
    "sales.partner_name": "partner",
    "sales.sold_to_region": "region",
    "sales.sold_to_province": "province",
    "sales.sold_to_city": "city",
    "sales.sold_to_country": "country",
    "sales.sku": "product",
    "partners.region": "region",
    "partners.province": "province",
    "partners.city": "city",
    "partners.country": "country",
}

HEADER_METRICS: dict[str, str] = {
    "sales.revenue": "revenue",
    "sales.quantity": "quantity",
    "costs.amount": "cost",
    "targets.target_revenue": "target",
}

# The data each metric and partner attribute needs (company.capabilities).
METRIC_INPUTS: dict[str, tuple[str, ...]] = {
    "target": ("targets",),
    "achievement": ("targets",),
    "gross_profit": ("unit_costs",),
    "gross_margin": ("unit_costs",),
    "cost": ("costs",),
    "expense_ratio": ("costs",),
    "rebate": ("rebates_paid",),
    "inventory": ("inventory",),
    "inventory_days": ("inventory",),
    "turnover": ("inventory", "unit_costs"),
    "collection_rate": ("collections",),
    "satisfaction": ("satisfaction",),
    "training_hours": ("training",),
    "credit_limit": ("credit_limits",),
    "return_amount": ("returns",),
    "return_lines": ("returns",),
}
DIMENSION_INPUTS: dict[str, tuple[str, ...]] = {"partner_type": ("partner_types",), "tier": ("tiers",)}


# Where each input lives in time, to tell "no targets at all" from "no targets for 2024".
INPUT_DATES = {
    "satisfaction": ("surveys", "quarter"),
    "training": ("surveys", "quarter"),
    "targets": ("targets", "quarter"),
    "costs": ("costs", "month"),
    "rebates_paid": ("costs", "month"),
    "inventory": ("inventory", "date"),
    "collections": ("collections", "month"),
}
INPUT_EN = {
    "targets": "quarterly targets",
    "costs": "channel costs (expenses)",
    "rebates_paid": "rebates paid",
    "inventory": "channel inventory (stock on hand)",
    "collections": "collections (payments received)",
    "unit_costs": "product unit costs",
    "partner_types": "partner types",
    "tiers": "partner tiers",
    "satisfaction": "satisfaction surveys",
    "training": "training records",
    "credit_limits": "credit limits",
    "returns": "returns (sales lines with a negative amount)",
}


def lacking_inputs(
    store: Store, spec: QuerySpec, language: Language, said: dict[str, str] | None = None
) -> Clarification | None:
    """「这份数据回答不了」 naming the missing input, instead of an empty or zero answer; also when the input
    exists but not for the window asked about (2024年完成率 with targets from 2025). `said`: each metric in the
    question's own words (销售目标完成), named before the catalog's label when they differ."""
    available = availability(store)
    used_dims = set(spec.dimensions) | {f.field for f in spec.filters if f.field in DIMENSIONS}
    needed = [k for m in spec.metrics for k in METRIC_INPUTS.get(m, ())]
    needed += [k for d in used_dims for k in DIMENSION_INPUTS.get(d, ())]
    needed = list(dict.fromkeys(needed))
    lacking = [k for k in needed if not available.has(k)]
    if lacking:
        names = "、".join(f"「{INPUTS[k].zh}」" for k in lacking)
        how = "；".join(INPUTS[k].how_to_add() for k in lacking)
        # what was asked for, then what it needs: 毛利 needs unit costs (the user asked about 毛利, not about costs)
        asked = [m for m in spec.metrics if any(k in lacking for k in METRIC_INPUTS.get(m, ()))]
        said = said or {}

        def named(m: str, lang: Language) -> str:
            label = METRICS[m].label(lang)
            words = said.get(m, "")
            return f"{words} → {label}" if words and words.lower() != label.lower() else label

        what_zh = "、".join(named(m, "zh") for m in asked)
        what_en = ", ".join(named(m, "en") for m in asked)
        return Clarification(
            question=f"这份数据回答不了这个问题{f'（{what_zh}）' if asked else ''}：缺少{names}。补充方法：{how}。"
            if language == "zh"
            else f"This data cannot answer that{f' ({what_en})' if asked else ''}: it has no "
            f"{', '.join(INPUT_EN.get(k, k) for k in lacking)}. To add it: {how}.",
            reason="unsupported",
            language=language,
        )
    for key in needed:
        if key not in INPUT_DATES:
            continue
        table, column = INPUT_DATES[key]
        if column == "quarter":
            inside = store.scalar(
                f"SELECT count(*) FROM {table} WHERE quarter BETWEEN ? AND ?",
                [_quarter_key(spec.window.start), _quarter_key(spec.window.end)],
            )
            span = store.query(f"SELECT min(quarter) AS lo, max(quarter) AS hi FROM {table}").iloc[0]
        else:
            inside = store.scalar(
                f"SELECT count(*) FROM {table} WHERE {column} BETWEEN ? AND ?",
                [date(spec.window.start.year, spec.window.start.month, 1), spec.window.end],
            )
            span = store.query(f"SELECT min({column}) AS lo, max({column}) AS hi FROM {table}").iloc[0]
        if not inside:
            lo, hi = str(span["lo"])[:10], str(span["hi"])[:10]
            return Clarification(
                question=f"这份数据回答不了这个问题：{spec.window.label}没有{INPUTS[key].zh}数据"
                f"（{INPUTS[key].zh}覆盖 {lo} ~ {hi}）。"
                if language == "zh"
                else f"This data cannot answer that: there are no {INPUT_EN.get(key, key)} for {spec.window.label} "
                f"(they cover {lo} ~ {hi}).",
                reason="unsupported",
                language=language,
            )
    return None


def _quarter_key(day: date) -> str:
    return f"{day.year}Q{(day.month - 1) // 3 + 1}"
