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


DEALER_EXPORT = (
    "ORDERNUMBER,ORDERDATE,CUSTOMERNAME,PRODUCTCODE,QUANTITYORDERED,PRICEEACH,SALES,STATUS,COUNTRY,Profit\n"
    "1,1/13/2025,Alpha Toys,S1,10,10,100,Shipped,Germany,20\n"
    "2,2/14/2025,Alpha Toys,S2,5,20,100,Cancelled,Germany,-5\n"
    "3,3/15/2025,Beta Gifts,S1,30,10,300,Shipped,Japan,60\n"
    "4,4/16/2025,Gamma Ltd,S1,1,1000,1000,Shipped,USA,100\n"
)


def import_dealer_export(folder: Path) -> Store:
    """A small dealer export imported as a user does (a data folder of its own): customers by name, a STATUS and a
    COUNTRY column, a Profit measure, and no targets, costs or inventory."""
    import pytest

    from advisor.settings import reset_settings
    from advisor.workspace import import_into_workspace

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CANMOU_DATA_DIR", str(folder))
        reset_settings()
        report = import_into_workspace(DEALER_EXPORT.encode("cp1252"), filename="dealers.csv")
        reset_settings()
    return Store(folder / "company" / report.dataset_id)


def import_lines(folder: Path, lines: list[str], filename: str = "export.csv") -> Store:
    """An export written as CSV lines (the header first), imported into a store of its own."""
    from company.importers import import_file

    store = Store(folder)
    import_file(store, ("\n".join(lines) + "\n").encode("utf-8"), filename=filename)
    return store


def one_value(store: Store, question: str) -> float:
    """The one figure a data question answers with (fails on a clarification or on several rows)."""
    from advisor.data_questions import DataAnswer, answer_data_question

    reply = answer_data_question(store, question)
    assert isinstance(reply, DataAnswer) and len(reply.frame) == 1, (question, reply)
    return float(reply.frame.select_dtypes("number").iloc[0, 0])
