"""Sales exports in the shapes real systems write, made here (no third-party rows are committed).

Each maker returns (bytes, filename, expected) where `expected` is computed independently with pandas
from the same rows: row count, revenue total, revenue by year. The shapes copy what real exports do:
Windows-1252 text with two month-first date forms and extra columns (a US dealer system), a European
superstore export with ';', decimal commas and day-first dates, a retail till export with returns and
blank customers, and a Chinese ERP export in GBK with weekday-suffixed dates.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass
class Export:
    name: str
    content: bytes
    rows: int
    revenue: float
    by_year: dict[int, float]
    customers: int
    needs_date_order: bool = False


def _expected(frame: pd.DataFrame, dates: pd.Series, revenue: pd.Series, customers: pd.Series) -> dict:
    by_year = revenue.groupby(dates.dt.year).sum().round(2)
    return {
        "rows": len(frame),
        "revenue": round(float(revenue.sum()), 2),
        "by_year": {int(k): float(v) for k, v in by_year.items()},
        "customers": int(customers.nunique()),
    }


def us_dealer(lines: int = 240, seed: int = 1) -> Export:
    """cp1252, 'M/D/YYYY 0:00' and 'MM-DD-YYYY 00:00' in one column, SALES ≠ QUANTITY × PRICE (price capped),
    TERRITORY 'NA', names with accents, and columns no schema field matches (STATUS, DEALSIZE, PHONE)."""
    rng = np.random.default_rng(seed)
    days = pd.Timestamp("2023-01-05") + pd.to_timedelta(rng.integers(0, 800, lines), unit="D")
    dash = rng.random(lines) < 0.45
    text = np.where(dash, days.strftime("%m-%d-%Y 00:00"), days.strftime("%-m/%-d/%Y 0:00"))
    customers = np.array(
        ["Land of Toys Inc.", "Reims Collectables", "Berguvsvägen Handel", "Mini Gifts Ltd.", "Café Ré"]
    )
    qty = rng.integers(10, 60, lines)
    price = np.minimum(rng.integers(50, 200, lines), 100).astype(float)
    sales = np.round(qty * price * rng.uniform(1.0, 1.9, lines), 2)
    frame = pd.DataFrame(
        {
            "ORDERNUMBER": 10100 + np.arange(lines) // 3,
            "QUANTITYORDERED": qty,
            "PRICEEACH": price,
            "ORDERLINENUMBER": np.arange(lines) % 3 + 1,
            "SALES": sales,
            "ORDERDATE": text,
            "STATUS": np.where(rng.random(lines) < 0.1, "Cancelled", "Shipped"),
            "PRODUCTLINE": np.array(["Motorcycles", "Classic Cars", "Planes"])[rng.integers(0, 3, lines)],
            "MSRP": 120,
            "PRODUCTCODE": np.char.add("S10_", rng.integers(1000, 1010, lines).astype(str)),
            "CUSTOMERNAME": customers[rng.integers(0, len(customers), lines)],
            "PHONE": "2125557818",
            "CITY": "NYC",
            "COUNTRY": np.array(["USA", "France", "Sweden"])[rng.integers(0, 3, lines)],
            "TERRITORY": np.array(["NA", "EMEA", "NA"])[rng.integers(0, 3, lines)],
            "DEALSIZE": np.where(sales > 3000, "Medium", "Small"),
        }
    )
    content = frame.to_csv(index=False, lineterminator="\r\n").encode("cp1252")
    exp = _expected(frame, pd.Series(days), frame["SALES"], frame["CUSTOMERNAME"])
    return Export("sales_data_sample.csv", content, **exp)


def superstore_eu(lines: int = 200, seed: int = 2) -> Export:
    """UTF-8 with BOM, ';' separated, decimal commas ('36,5'), thousands dots ('1.234,50'), day-first dates."""
    rng = np.random.default_rng(seed)
    days = pd.Timestamp("2021-01-03") + pd.to_timedelta(rng.integers(0, 700, lines), unit="D")
    sales = np.round(rng.uniform(1, 3000, lines), 2)
    frame = pd.DataFrame(
        {
            "Row ID": np.arange(1, lines + 1),
            "Order ID": [f"ES-2021-{100000 + i // 2}" for i in range(lines)],
            "Order Date": days.strftime("%d/%m/%Y"),
            "Ship Mode": "Standard Class",
            "Customer ID": [f"AB-{10000 + i % 37}" for i in range(lines)],
            "Customer Name": [f"Kunde {i % 37}" for i in range(lines)],
            "Segment": np.array(["Consumer", "Corporate"])[rng.integers(0, 2, lines)],
            "Country/Region": "Germany",
            "City": "Berlin",
            "Product ID": [f"OFF-PA-{1000 + i % 23}" for i in range(lines)],
            "Category": np.array(["Office Supplies", "Technology"])[rng.integers(0, 2, lines)],
            "Sales": sales,
            "Quantity": rng.integers(1, 9, lines),
            "Discount": np.round(rng.uniform(0, 0.3, lines), 2),
            "Profit": np.round(sales * rng.uniform(-0.2, 0.3, lines), 2),
        }
    )
    out = frame.copy()
    for column in ("Sales", "Discount", "Profit"):
        out[column] = out[column].map(lambda v: f"{v:,.2f}".replace(",", "X").replace(".", ",").replace("X", "."))
    content = "\ufeff".encode() + out.to_csv(index=False, sep=";").encode("utf-8")
    exp = _expected(frame, pd.Series(days), frame["Sales"], frame["Customer ID"])
    return Export("Sample - Superstore.csv", content, **exp)


def till_export(lines: int = 300, seed: int = 3, ambiguous: bool = False) -> Export:
    """A retail till export (UCI-like): InvoiceNo with C-prefixed cancellations and negative quantities,
    blank CustomerID, InvoiceDate 'M/D/YYYY H:MM'; ambiguous=True keeps every day ≤ 12 (asks the order)."""
    rng = np.random.default_rng(seed)
    span = 12 if ambiguous else 300
    days = pd.Timestamp("2010-12-01") + pd.to_timedelta(rng.integers(0, span, lines), unit="D")
    if ambiguous:
        days = pd.to_datetime({"year": 2011, "month": rng.integers(1, 13, lines), "day": rng.integers(1, 13, lines)})
    qty = rng.integers(1, 24, lines)
    cancelled = rng.random(lines) < 0.05
    qty = np.where(cancelled, -qty, qty)
    price = np.round(rng.uniform(0.5, 10, lines), 2)
    customer = np.where(rng.random(lines) < 0.2, "", rng.integers(12000, 12060, lines).astype(str))
    frame = pd.DataFrame(
        {
            "InvoiceNo": [("C" if c else "") + str(536000 + i // 4) for i, c in enumerate(cancelled)],
            "StockCode": np.char.add("85", rng.integers(100, 130, lines).astype(str)),
            "Description": "WHITE HANGING HEART T-LIGHT HOLDER",
            "Quantity": qty,
            "InvoiceDate": pd.Series(days).dt.strftime("%-m/%-d/%Y %-H:%M").str.replace(" 0:00", " 8:26"),
            "UnitPrice": price,
            "CustomerID": customer,
            "Country": "United Kingdom",
        }
    )
    content = frame.to_csv(index=False).encode("utf-8")
    revenue = (frame["Quantity"] * frame["UnitPrice"]).round(2)
    exp = _expected(frame, pd.Series(days), revenue, frame["CustomerID"].replace("", "未指定客户"))
    return Export("online_retail.csv", content, needs_date_order=ambiguous, **exp)


def chinese_erp(lines: int = 150, seed: int = 4) -> Export:
    """GBK, Chinese headers, dates like '2018-01-01 星期一' and '2018/1/2', 金额(元) with thousands commas."""
    rng = np.random.default_rng(seed)
    days = pd.Timestamp("2018-01-01") + pd.to_timedelta(rng.integers(0, 200, lines), unit="D")
    weekday = np.array(list("一二三四五六日"))[days.dayofweek]
    text = np.where(rng.random(lines) < 0.5, days.strftime("%Y-%m-%d") + " 星期" + weekday, days.strftime("%Y/%-m/%-d"))
    qty = rng.integers(1, 20, lines)
    price = np.round(rng.uniform(5, 300, lines), 1)
    amount = np.round(qty * price, 2)
    frame = pd.DataFrame(
        {
            "单据编号": [f"XS{20180000 + i}" for i in range(lines)],
            "购药时间": text,
            "客户名称": np.array(["华东医药连锁", "好药师大药房", "国大药房", "一心堂"])[rng.integers(0, 4, lines)],
            "商品编码": rng.integers(230000, 230020, lines).astype(str),
            "商品名称": "强力VC银翘片",
            "销售数量": qty,
            "应收金额": amount,
            "实收金额": [f"{v:,.2f}" for v in amount],
            "门店": np.array(["朝阳店", "海淀店"])[rng.integers(0, 2, lines)],
        }
    )
    content = frame.to_csv(index=False).encode("gbk")
    exp = _expected(frame, pd.Series(days), pd.Series(amount), frame["客户名称"])
    return Export("销售数据.csv", content, **exp)


def as_frame(content: bytes, encoding: str, sep: str = ",") -> pd.DataFrame:
    return pd.read_csv(io.BytesIO(content), encoding=encoding, sep=sep, dtype=str, keep_default_na=False)
