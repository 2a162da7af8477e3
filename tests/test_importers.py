"""Importing CSV/XLSX: encodings, "NA" kept as a value, mapping, round trips, and bad input that changes nothing."""

from __future__ import annotations

import io
import json

import pandas as pd
import pytest

from company.errors import DataFileError, ImportRejected
from company.importers import import_file, parse_dates, parse_quarter, read_file
from company.schema import TABLES
from company.store import Store

LOAD_ORDER = ["partners", "products", "sales", "targets", "inventory", "costs", "collections", "surveys"]


def canonical(frame: pd.DataFrame, table: str) -> pd.DataFrame:
    """Comparable form of a table: schema columns, typed plainly, rows sorted."""
    spec = TABLES[table]
    out = pd.DataFrame(index=frame.index)
    for col in spec.columns:
        values = frame[col.name] if col.name in frame.columns else pd.Series(None, index=frame.index)
        if col.kind in ("date", "month"):
            values = pd.to_datetime(values).dt.strftime("%Y-%m-%d")
        elif col.kind in ("int", "float"):
            values = pd.to_numeric(values).astype("float64")
        values = values.astype(object).where(values.notna(), None)
        out[col.name] = values
    return out.sort_values(list(out.columns), na_position="first").reset_index(drop=True)


def snapshot(store: Store) -> dict[str, pd.DataFrame]:
    return {name: canonical(store.table(name), name) for name in TABLES} | {"_path": str(store.path())}


def assert_unchanged(store: Store, before: dict) -> None:
    after = snapshot(store)
    assert after["_path"] == before["_path"], "a rejected import must not swap the database file"
    for name in TABLES:
        pd.testing.assert_frame_equal(after[name], before[name])


def to_csv_bytes(frame: pd.DataFrame, encoding: str = "utf-8") -> bytes:
    return frame.to_csv(index=False).encode(encoding)


# ---- round trips -------------------------------------------------------------------------------
def test_csv_export_of_sample_company_round_trips_exactly(empty_store, small_company, tmp_path):
    for name in LOAD_ORDER:
        path = tmp_path / f"{name}.csv"
        small_company.tables[name].to_csv(path, index=False)
        report = import_file(empty_store, path, table=name)
        assert report.committed and report.rows_valid == len(small_company.tables[name])
        assert report.created_partners == []
    for name in LOAD_ORDER:
        pd.testing.assert_frame_equal(
            canonical(empty_store.table(name), name), canonical(small_company.tables[name], name), obj=name
        )


def test_table_is_detected_from_headers_without_table_argument(empty_store, small_company, tmp_path):
    for name in ["partners", "products", "sales", "targets", "inventory", "collections"]:
        path = tmp_path / f"{name}.csv"
        small_company.tables[name].to_csv(path, index=False)
        assert import_file(empty_store, path).table == name


def test_gbk_csv_with_chinese_headers_and_names(empty_store, tmp_path):
    frame = pd.DataFrame(
        {
            "经销商编号": ["G001", "G002", "G003"],
            "经销商名称": ["杭州鑫源商贸有限公司", "成都蜀润食品经销部", "哈尔滨冰城副食批发行"],
            "渠道类型": ["经销商", "批发商", "代理商"],
            "大区": ["华东", "西南", "东北"],
            "省份": ["浙江", "四川", "黑龙江"],
            "授权区域": ["浙江、上海", "四川", "黑龙江"],
            "信用额度(元)": ["1,200,000", "350000", "￥80,000"],
            "合同开始日期": ["2023/1/1", "2024-03-15", "2022年7月1日"],
        }
    )
    path = tmp_path / "partners_gbk.csv"
    path.write_bytes(frame.to_csv(index=False).encode("gbk"))
    report = import_file(empty_store, path)
    assert report.encoding == "GB18030" and report.table == "partners"
    got = empty_store.table("partners").set_index("partner_id")
    assert got.loc["G002", "name"] == "成都蜀润食品经销部"
    assert got.loc["G001", "territory"] == "浙江、上海"
    assert got["credit_limit"].to_dict() == {"G001": 1_200_000.0, "G002": 350_000.0, "G003": 80_000.0}
    assert [str(d.date()) for d in got["contract_start"]] == ["2023-01-01", "2024-03-15", "2022-07-01"]


def test_cp1252_csv_keeps_na_as_region_code(empty_store, tmp_path):
    text = (
        "CUSTOMERNAME,CUSTOMER ID,TERRITORY,COUNTRY,CITY\n"
        "Café Rouge,C1,NA,USA,NYC\n"
        "Böhm Spielwaren GmbH,C2,EMEA,Germany,München\n"
        "Atelier graphique,C3,EMEA,France,Nantes\n"
        "Toys4GrownUps.com,C4,NA,USA,Pasadena\n"
    )
    path = tmp_path / "customers.csv"
    path.write_bytes(text.encode("cp1252"))
    report = import_file(
        empty_store, path, table="partners", mapping={"TERRITORY": "region", "COUNTRY": "country", "CITY": "city"}
    )
    assert report.encoding == "cp1252"
    got = empty_store.table("partners").set_index("partner_id")
    assert got.loc["C1", "region"] == "NA" and got.loc["C4", "region"] == "NA"
    assert got.loc["C2", "name"] == "Böhm Spielwaren GmbH" and got.loc["C2", "city"] == "München"
    assert got["region"].notna().all()


@pytest.mark.parametrize("encoding", ["utf-8", "mac_roman"])
def test_old_mac_line_endings_with_one_crlf_at_the_end(empty_store, tmp_path, monkeypatch, encoding):
    """Tableau's Superstore sample ends lines in a bare \\r and its last line in \\r\\n; a quoted cell holds a comma."""
    import company.reading as reading

    monkeypatch.setattr(reading, "CHUNK", 7)  # chunk ends fall inside \r\n and inside rows
    lines = [
        "Order ID,Order Date,Customer ID,Customer Name,Region,Product ID,Sales,Quantity",
        'CA-1,08-11-16,C1,Claire Gute,South,P1,"1,261.96",2',
        "CA-2,12-06-16,C2,Darrin Van Huff,West,P2,14.62,2",
        "CA-3,15-04-17,C1,Claire Gute,South,P1,957.58,5",
        "CA-4,16-04-17,C3,Anna Häberlin,Central,P2,10.00,1",
    ]
    path = tmp_path / "superstore.csv"
    path.write_bytes(("\r".join(lines) + "\r\n").encode(encoding))
    report = import_file(empty_store, path)
    assert report.rows_valid == 4 and report.error_rows == 0
    sales = empty_store.table("sales").sort_values("order_id").reset_index(drop=True)
    assert list(sales["order_id"]) == ["CA-1", "CA-2", "CA-3", "CA-4"]
    assert list(sales["revenue"].round(2)) == [1261.96, 14.62, 957.58, 10.0]
    dates = ["2016-11-08", "2016-06-12", "2017-04-15", "2017-04-16"]
    assert list(pd.to_datetime(sales["date"]).dt.strftime("%Y-%m-%d")) == dates
    assert "Anna Häberlin" in set(empty_store.table("partners")["name"])  # Mac Roman's ä, not Windows-1252's Š


def test_xlsx_round_trip_with_real_dates_and_excel_serials(empty_store, small_company, tmp_path):
    partners = small_company.tables["partners"]
    path = tmp_path / "partners.xlsx"
    partners.to_excel(path, index=False)  # contract dates become real Excel date cells
    import_file(empty_store, path)
    products = small_company.tables["products"]
    import_file(empty_store, _xlsx(products, tmp_path / "products.xlsx"))
    for name in ("partners", "products"):
        pd.testing.assert_frame_equal(
            canonical(empty_store.table(name), name), canonical(small_company.tables[name], name)
        )
    sales = small_company.tables["sales"].head(50).copy()
    serial = (pd.to_datetime(sales["date"]) - pd.Timestamp("1899-12-30")).dt.days
    sales["date"] = serial  # as if the date column lost its cell format
    import_file(empty_store, _xlsx(sales, tmp_path / "sales.xlsx"), table="sales")
    got = canonical(empty_store.table("sales"), "sales")
    pd.testing.assert_frame_equal(got, canonical(small_company.tables["sales"].head(50), "sales"))


def _xlsx(frame: pd.DataFrame, path):
    frame.to_excel(path, index=False)
    return path


def test_sales_export_alone_creates_partners_and_reimport_does_not_double(empty_store, tmp_path):
    text = (
        "ORDERNUMBER,QUANTITYORDERED,PRICEEACH,ORDERLINENUMBER,SALES,ORDERDATE,STATUS,PRODUCTLINE,"
        "PRODUCTCODE,CUSTOMERNAME,CITY,COUNTRY,TERRITORY,DEALSIZE\n"
        "10107,30,95.7,2,2871,2/24/2003 0:00,Shipped,Motorcycles,S10_1678,Land of Toys Inc.,NYC,USA,NA,Small\n"
        "10121,34,81.35,5,2765.9,5/7/2003 0:00,Shipped,Motorcycles,S10_1678,Reims Collectables,Reims,France,"
        "EMEA,Small\n"
        "10134,41,94.74,2,3884.34,7/1/2003 0:00,Shipped,Motorcycles,S10_1678,Lyon Souveniers,Paris,France,"
        "EMEA,Medium\n"
        "10145,45,83.26,6,3746.7,8/25/2003 0:00,Shipped,Motorcycles,S10_1678,Land of Toys Inc.,NYC,USA,NA,"
        "Medium\n"
    )
    path = tmp_path / "sales_data_sample.csv"
    path.write_bytes(text.encode("cp1252"))
    report = import_file(empty_store, path)
    assert report.table == "sales"
    names = {p["name"]: p for p in report.created_partners}
    assert set(names) == {"Land of Toys Inc.", "Reims Collectables", "Lyon Souveniers"}
    assert names["Land of Toys Inc."]["region"] == "NA"
    kept = {a["header"]: a for a in report.attributes}
    assert {"STATUS", "DEALSIZE"} <= set(kept) and kept["STATUS"]["kind"] == "dimension"
    assert report.ignored_columns == []
    partners = empty_store.table("partners")
    assert len(partners) == 3 and partners.loc[partners["name"] == "Land of Toys Inc.", "country"].item() == "USA"
    sales = empty_store.table("sales")
    assert sales["revenue"].sum() == pytest.approx(2871 + 2765.9 + 3884.34 + 3746.7)
    assert str(sales["date"].min().date()) == "2003-02-24"
    assert set(sales["sold_to_region"]) == {"NA", "EMEA"}

    again = import_file(empty_store, path)
    assert again.updated == 4 and again.inserted == 0 and again.created_partners == []
    assert len(empty_store.table("sales")) == 4 and len(empty_store.table("partners")) == 3


def test_mapping_override_and_upsert_by_key(loaded_store, small_company):
    first = small_company.tables["partners"].iloc[0]
    frame = pd.DataFrame({"客户全称": [first["name"] + "（更名）"], "代码": [first["partner_id"]]})
    report = import_file(
        loaded_store,
        to_csv_bytes(frame),
        filename="rename.csv",
        table="partners",
        mapping={"客户全称": "name", "代码": "partner_id"},
    )
    assert report.updated == 1 and report.inserted == 0
    got = loaded_store.table("partners").set_index("partner_id")
    assert got.loc[first["partner_id"], "name"].endswith("（更名）")
    assert len(got) == len(small_company.tables["partners"])


# ---- bad input: specific message, nothing changed -----------------------------------------------
def _targets_csv(**overrides) -> pd.DataFrame:
    frame = pd.DataFrame(
        {"partner_id": ["P0001", "P0002"], "quarter": ["2030Q1", "2030Q1"], "target_revenue": ["100000", "250000"]}
    )
    for key, value in overrides.items():
        frame[key] = value
    return frame


def _sales_csv(**overrides) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "order_id": ["X1", "X2"],
            "date": ["2030-01-05", "2030-01-06"],
            "partner_id": ["P0001", "P0002"],
            "sku": ["BEV-001", "BEV-001"],
            "quantity": ["10", "20"],
            "unit_price": ["50", "50"],
        }
    )
    for key, value in overrides.items():
        frame[key] = value
    return frame


BAD_INPUTS = {
    "empty file": (b"", DataFileError, "是空的"),
    "blank lines only": (b"\n\n  \n", DataFileError, "是空的"),
    "header only": (b"partner_id,quarter,target_revenue\n", DataFileError, "只有表头"),
    "unknown columns": (b"foo,bar,baz\n1,2,3\n", ImportRejected, "无法判断这是哪类数据"),
    "missing required column": (
        to_csv_bytes(_targets_csv().drop(columns=["quarter"])),
        ImportRejected,
        "缺少必填列「季度」",
    ),
    "text in numeric column": (
        to_csv_bytes(_targets_csv(target_revenue=["十万", "250000"])),
        ImportRejected,
        "值「十万」不是数字",
    ),
    "negative target": (to_csv_bytes(_targets_csv(target_revenue=["-5", "20"])), ImportRejected, "不能为负数"),
    "duplicate keys": (to_csv_bytes(_targets_csv(partner_id=["P0001", "P0001"])), ImportRejected, "与第2行重复"),
    "unparseable date": (
        to_csv_bytes(_sales_csv(date=["2030-13-45", "2030-01-06"])),
        ImportRejected,
        "值「2030-13-45」无法识别为日期",
    ),
    "undecodable bytes": (b"partner_id,name\n\x81 \x81 ,\x8d\x90\n", DataFileError, "无法识别文件编码"),
    "unknown partner": (
        to_csv_bytes(_targets_csv(partner_id=["P0001", "ZZ999"])),
        ImportRejected,
        "伙伴编号 ZZ999 不在伙伴表中",
    ),
    "bad quarter": (to_csv_bytes(_targets_csv(quarter=["2030Q5", "2030Q1"])), ImportRejected, "无法识别为季度"),
    "value outside choices": (
        to_csv_bytes(pd.DataFrame({"partner_id": ["Q1"], "name": ["某公司"], "type": ["加盟商"]})),
        ImportRejected,
        "只能是",
    ),
    "required value empty": (to_csv_bytes(_targets_csv(target_revenue=["", "1"])), ImportRejected, "必填项"),
    "ragged rows": (
        b"partner_id,quarter,target_revenue\nP0001,2030Q1,1,extra,more\n",
        DataFileError,
        "列数多于表头",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_is_rejected_with_a_specific_message_and_changes_nothing(loaded_store, case):
    content, error, fragment = BAD_INPUTS[case]
    before = snapshot(loaded_store)
    with pytest.raises(error) as caught:
        import_file(loaded_store, content, filename=f"{case}.csv")
    assert fragment in caught.value.message
    if error is ImportRejected:
        assert "原有数据保持不变" in caught.value.message
        assert caught.value.report.errors and caught.value.report.errors[0].file == f"{case}.csv"
    assert_unchanged(loaded_store, before)


def test_problem_points_at_file_row_and_column(loaded_store):
    frame = _sales_csv(quantity=["10", "abc"])
    frame.columns = ["订单号", "日期", "经销商编号", "产品编码", "数量", "单价"]
    with pytest.raises(ImportRejected) as caught:
        import_file(loaded_store, to_csv_bytes(frame, "gbk"), filename="订单.csv")
    problem = caught.value.report.errors[0]
    assert (problem.file, problem.row, problem.column) == ("订单.csv", 3, "数量")
    assert str(problem) == (
        "订单.csv 第3行 列「数量」：值「abc」不是数字，请只填阿拉伯数字（如 100000，可带千分位逗号）。"
    )


def test_file_over_the_size_limit(loaded_store, tmp_path):
    path = tmp_path / "big.csv"
    path.write_bytes(b"partner_id,quarter,target_revenue\n" + b"P0001,2030Q1,1\n" * 80_000)
    before = snapshot(loaded_store)
    with pytest.raises(DataFileError, match="超过上限 1 MB"):
        import_file(loaded_store, path, max_mb=1)
    with pytest.raises(DataFileError, match="超过上限 1 MB"):
        read_file(path.read_bytes(), "big.csv", max_mb=1)
    assert_unchanged(loaded_store, before)


def test_skip_bad_rows_loads_the_rest_and_reports_each_skipped_row(loaded_store):
    frame = _sales_csv(quantity=["很多", "20"])
    before = len(loaded_store.table("sales"))
    report = import_file(loaded_store, to_csv_bytes(frame), filename="s.csv", skip_bad_rows=True)
    assert report.rows_skipped == 1 and report.rows_valid == 1
    skipped = [p for p in report.warnings if "已按要求跳过" in p.message]
    assert [p.row for p in skipped] == [2]
    assert len(loaded_store.table("sales")) == before + 1


def test_failure_while_writing_leaves_previous_data(loaded_store, monkeypatch):
    import company.importers as importers

    before = snapshot(loaded_store)

    def broken(*_args):
        raise OSError("disk full")

    monkeypatch.setattr(importers, "_upsert", broken)
    with pytest.raises(OSError):
        import_file(loaded_store, to_csv_bytes(_targets_csv()), filename="t.csv")
    assert_unchanged(loaded_store, before)
    leftovers = [p.name for p in loaded_store.folder.iterdir() if p.suffix in (".tmp", ".wal")]
    assert leftovers == []


def test_wrong_mapping_target_and_bad_mapping_json(loaded_store):
    from company.importers import parse_mapping

    with pytest.raises(ImportRejected, match="目标字段不存在"):
        import_file(loaded_store, to_csv_bytes(_targets_csv()), filename="t.csv", mapping={"quarter": "季度字段"})
    with pytest.raises(DataFileError, match="不是有效的 JSON"):
        parse_mapping("{客户: name}")
    assert parse_mapping(json.dumps({"客户全称": "name"})) == {"客户全称": "name"}


def test_old_excel_format_is_explained(loaded_store):
    with pytest.raises(DataFileError, match=r"另存为 \.xlsx"):
        import_file(loaded_store, b"\xd0\xcf\x11\xe0 not really", filename="old.xls")


# ---- parsing -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "text, expected",
    [
        ("2025-03-01", "2025-03-01"),
        ("2025/3/1", "2025-03-01"),
        ("3/13/2025 0:00", "2025-03-13"),
        ("2025年3月1日", "2025-03-01"),
        ("20250301", "2025-03-01"),
        ("45717", "2025-03-01"),
        ("2025-03-01 14:30:00", "2025-03-01"),
        ("25/12/2025", "2025-12-25"),
        ("2025.3.1", "2025-03-01"),
    ],
)
def test_common_date_forms(text, expected):
    assert str(parse_dates(pd.Series([text]))[0].date()) == expected


def test_month_forms_become_first_of_month():
    got = parse_dates(pd.Series(["2025-03", "2025年4月", "2025/05/17", "202506"]), month=True)
    assert [str(d.date()) for d in got] == ["2025-03-01", "2025-04-01", "2025-05-01", "2025-06-01"]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("2025Q1", "2025Q1"),
        ("2025-Q2", "2025Q2"),
        ("2025年第3季度", "2025Q3"),
        ("Q4 2025", "2025Q4"),
        ("2025q4", "2025Q4"),
        ("2025Q5", None),
        ("上季度", None),
    ],
)
def test_quarter_forms(text, expected):
    assert parse_quarter(text) == expected


def test_na_and_empty_cells_read_as_text(tmp_path):
    frame, encoding = read_file(b"region,city\nNA,\nN/A,Boston\nnull,None\n", "x.csv")
    assert encoding == "utf-8"
    assert frame["region"].tolist() == ["NA", "N/A", "null"]
    assert frame["city"].isna().tolist() == [True, False, False]
    assert frame.loc[2, "city"] == "None"


def test_xlsx_reader_keeps_na_text(tmp_path):
    buffer = io.BytesIO()
    pd.DataFrame({"region": ["NA", "EMEA"], "n": [1, 2]}).to_excel(buffer, index=False)
    frame, _ = read_file(buffer.getvalue(), "r.xlsx")
    assert frame["region"].tolist() == ["NA", "EMEA"] and frame["n"].tolist() == ["1", "2"]
