"""Small hand-made companies for tool tests: write plain rows, get a Store whose answers you can work out."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from company.store import Store


def make_store(folder: Path, **tables: list[dict] | pd.DataFrame) -> Store:
    """make_store(tmp_path, partners=[{...}], sales=[{...}], ...): missing tables are empty, missing columns NULL.

    Dates may be given as 'YYYY-MM-DD' strings; months as 'YYYY-MM-01'.
    """
    frames = {name: rows if isinstance(rows, pd.DataFrame) else pd.DataFrame(rows) for name, rows in tables.items()}
    store = Store(folder / "company")
    store.replace_all(frames, meta={"source": "fixture"})
    return store


def partner(pid: str, **extra) -> dict:
    row = {
        "partner_id": pid,
        "name": f"伙伴{pid}",
        "type": "经销商",
        "tier": "B",
        "channel_level": 2,
        "region": "华东",
        "province": "江苏",
        "city": "南京",
        "country": "中国",
        "territory": "江苏",
    }
    row.update(extra)
    return row


def product(sku: str, **extra) -> dict:
    row = {
        "sku": sku,
        "name": f"产品{sku}",
        "category": "饮料",
        "list_price": 100.0,
        "floor_price": 85.0,
        "unit_cost": 60.0,
    }
    row.update(extra)
    return row


def sale(pid: str, sku: str, day: str, quantity: float, price: float, **extra) -> dict:
    row = {
        "order_id": f"{pid}-{sku}-{day}",
        "line_no": 1,
        "date": day,
        "partner_id": pid,
        "sku": sku,
        "quantity": quantity,
        "unit_price": price,
        "revenue": round(quantity * price, 2),
        "sold_to_region": "华东",
        "sold_to_province": "江苏",
        "sold_to_country": "中国",
    }
    row.update(extra)
    return row
