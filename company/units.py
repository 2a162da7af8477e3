"""Currency and quantity units of a dataset: detection from an imported file, and labels for every display.

Each dataset has one currency (default CNY) and one quantity unit (default 件). Everything that shows
money (table headers, charts, documents, answers) takes its unit from here, so a dataset of US dollars
never shows 元.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass

DEFAULT_CURRENCY = "CNY"
DEFAULT_QUANTITY_UNIT = "件"


@dataclass(frozen=True)
class Currency:
    code: str
    zh: str  # unit word in Chinese labels: 元, 美元
    name_zh: str  # 人民币, 美元
    symbol: str

    def label(self, language: str = "zh") -> str:
        return self.zh if language == "zh" else self.code

    @property
    def wan(self) -> str:
        """万-unit label: 万元, 万美元."""
        return f"万{self.zh}"


CURRENCIES: dict[str, Currency] = {
    c.code: c
    for c in (
        Currency("CNY", "元", "人民币", "¥"),
        Currency("USD", "美元", "美元", "$"),
        Currency("EUR", "欧元", "欧元", "€"),
        Currency("GBP", "英镑", "英镑", "£"),
        Currency("JPY", "日元", "日元", "¥"),
        Currency("HKD", "港元", "港元", "HK$"),
        Currency("TWD", "新台币", "新台币", "NT$"),
        Currency("AUD", "澳元", "澳元", "A$"),
        Currency("CAD", "加元", "加元", "C$"),
        Currency("SGD", "新加坡元", "新加坡元", "S$"),
        Currency("KRW", "韩元", "韩元", "₩"),
        Currency("BRL", "雷亚尔", "巴西雷亚尔", "R$"),
        Currency("INR", "卢比", "印度卢比", "₹"),
        Currency("CHF", "瑞士法郎", "瑞士法郎", "CHF"),
    )
}

# Words and symbols in headers or cells, most specific first.
_MARKERS: tuple[tuple[str, str], ...] = (
    ("HK$", "HKD"),
    ("NT$", "TWD"),
    ("A$", "AUD"),
    ("C$", "CAD"),
    ("S$", "SGD"),
    ("R$", "BRL"),
    ("US$", "USD"),
    ("人民币", "CNY"),
    ("RMB", "CNY"),
    ("CNY", "CNY"),
    ("美元", "USD"),
    ("美金", "USD"),
    ("USD", "USD"),
    ("欧元", "EUR"),
    ("EUR", "EUR"),
    ("英镑", "GBP"),
    ("GBP", "GBP"),
    ("日元", "JPY"),
    ("JPY", "JPY"),
    ("港元", "HKD"),
    ("港币", "HKD"),
    ("HKD", "HKD"),
    ("€", "EUR"),
    ("£", "GBP"),
    ("₩", "KRW"),
    ("₹", "INR"),
    ("$", "USD"),
    ("¥", "CNY"),
    ("￥", "CNY"),
    ("元", "CNY"),
)
# Countries whose name in a country column hints at the currency (only a hint: never applied silently).
COUNTRY_CURRENCY = {
    "usa": "USD",
    "us": "USD",
    "united states": "USD",
    "美国": "USD",
    "uk": "GBP",
    "united kingdom": "GBP",
    "英国": "GBP",
    "japan": "JPY",
    "日本": "JPY",
    "中国": "CNY",
    "china": "CNY",
    "germany": "EUR",
    "france": "EUR",
    "spain": "EUR",
    "italy": "EUR",
    "netherlands": "EUR",
    "australia": "AUD",
    "canada": "CAD",
    "brazil": "BRL",
    "brasil": "BRL",
    "india": "INR",
}


def currency(code: str | None) -> Currency:
    return CURRENCIES.get((code or DEFAULT_CURRENCY).upper(), CURRENCIES[DEFAULT_CURRENCY])


def check_code(code: str) -> str:
    """Upper-cased known code, or ValueError naming the choices."""
    value = str(code).strip().upper()
    if value not in CURRENCIES:
        choices = "、".join(f"{c.code}（{c.name_zh}）" for c in CURRENCIES.values())
        raise ValueError(f"不认识的币种「{code}」。可选：{choices}。")
    return value


def detect_in_text(texts: Iterable[str]) -> tuple[str | None, str]:
    """(currency code, the text that showed it) from headers or cells; (None, '') when nothing says."""
    for text in texts:
        if not text:
            continue
        value = str(text)
        for marker, code in _MARKERS:
            if marker.isascii() and marker.isalpha():
                if re.search(rf"(?<![A-Za-z]){re.escape(marker)}(?![A-Za-z])", value):
                    return code, value
            elif marker in value:
                return code, value
    return None, ""


def detect_quantity_unit(headers: Iterable[str]) -> str | None:
    """'数量(箱)' -> 箱, 'Qty (cases)' -> 箱; None when the header names no unit."""
    for header in headers:
        match = re.search(r"[（(]\s*([^()（）]{1,6})\s*[)）]", str(header))
        if not match:
            continue
        unit = match.group(1).strip().lower()
        if unit in ("箱", "件", "瓶", "盒", "袋", "吨", "个", "台", "套", "包", "桶", "支", "kg", "千克", "公斤"):
            return unit
        if unit in ("cases", "case", "ctn", "cartons"):
            return "箱"
        if unit in ("units", "unit", "pcs", "pieces", "ea"):
            return "件"
    return None


# Money units in labels and sentences: 万元 / 亿元 / 元 after a number, a bracket or a slash, and CNY in English.
_ZH_UNIT = re.compile(r"(万元|亿元|(?<=[\d\s（(/,，：:])元(?![旦宵]))")
_EN_UNIT = re.compile(r"\bCNY\b")


def localise_text(text: str, code: str | None) -> str:
    """'销售额(元)', '1,234.00 元', '12.3 万元', 'Revenue (CNY)' in the dataset's currency; CNY leaves text as is."""
    money = currency(code)
    if money.code == DEFAULT_CURRENCY or not text:
        return text
    out = _ZH_UNIT.sub(lambda m: {"万元": f"万{money.zh}", "亿元": f"亿{money.zh}"}.get(m.group(0), money.zh), text)
    return _EN_UNIT.sub(money.code, out)


def localise_columns(frame, code: str | None):
    """A copy of a table with its headers in the dataset's currency (values untouched)."""
    if currency(code).code == DEFAULT_CURRENCY:
        return frame
    return frame.rename(columns=lambda c: localise_text(str(c), code))


def money(value: float | None, *, trim: bool = False) -> str:
    """元 as shown in answers and plans: 12.35 万元 from ten thousand up, else 1,234.00 元; — when missing.
    trim drops the trailing zeros of a 万 figure (12.3 万元, 15 万元), as rebate plans write them."""
    try:
        value = float(value)  # None and pandas' NA raise here
    except (TypeError, ValueError):
        return "—"
    if math.isnan(value):
        return "—"
    if abs(value) >= 10_000:
        number = f"{value / 10_000:,.2f}"
        return (number.rstrip("0").rstrip(".") if trim else number) + " 万元"
    return f"{value:,.2f} 元"


def percent(ratio: float | None, digits: int = 1, *, trim: bool = False) -> str:
    """0.853 → 85.3%; trim drops trailing zeros (0.015 → 1.5% with digits=2); — when missing."""
    try:
        ratio = float(ratio)
    except (TypeError, ValueError):
        return "—"
    if math.isnan(ratio):
        return "—"
    number = f"{ratio * 100:.{digits}f}"
    return (number.rstrip("0").rstrip(".") if trim and "." in number else number) + "%"
