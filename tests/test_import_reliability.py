"""The reliability probe's cases, one test each: partial updates, --replace, concurrency, absurd numbers,
decimal commas, dates after today, killed imports, readers during a write."""

from __future__ import annotations

import threading
import time

import pandas as pd
import pytest

from company.errors import ImportRejected, StoreError
from company.importers import import_file
from company.periods import data_span
from company.store import Store
from tests.fixtures import make_store, partner, product, sale
from tests.test_importers import snapshot


def csv(text: str) -> bytes:
    return text.encode("utf-8")


@pytest.fixture
def company(tmp_path) -> Store:
    return make_store(
        tmp_path,
        partners=[partner("P1", tier="A", credit_limit=500_000), partner("P2", tier="B", region="华南")],
        products=[product("X")],
        sales=[sale("P1", "X", "2026-01-10", 10, 100), sale("P2", "X", "2026-02-10", 5, 100)],
        targets=[{"partner_id": "P1", "quarter": "2026Q1", "target_revenue": 900}],
    )


def test_a_partner_file_with_some_columns_updates_only_those_columns(company):
    report = import_file(company, csv("partner_id,tier\nP1,C\n"), filename="tiers.csv")
    assert (report.updated, report.inserted) == (1, 0)
    p1 = company.table("partners").set_index("partner_id").loc["P1"]
    assert p1["tier"] == "C"
    assert (p1["name"], p1["region"], p1["territory"], p1["credit_limit"]) == ("伙伴P1", "华东", "江苏", 500_000)


def test_replacing_partners_that_sales_use_is_refused_with_counts_and_nothing_changes(company):
    before = snapshot(company)
    with pytest.raises(ImportRejected) as caught:
        import_file(company, csv("partner_id,name\nP1,伙伴P1\n"), filename="one.csv", replace_table=True)
    message = caught.value.message
    assert "会删除 1 个伙伴，其中 1 个还被其它表引用（销售明细 1 行）" in message and "--cascade" in message
    assert snapshot(company)["_path"] == before["_path"]


def test_replacing_with_cascade_deletes_the_dependants_and_reports_clear_counts(company):
    report = import_file(
        company, csv("partner_id,name\nP1,伙伴P1\n"), filename="one.csv", replace_table=True, cascade=True
    )
    assert (report.deleted, report.inserted, report.cascaded) == (2, 1, {"sales": 1})
    assert report.summary().startswith(
        "已导入 one.csv → 渠道伙伴（partners）：删除原有 2 行，写入 1 行，连带删除销售明细 1 行"
    )
    assert set(company.table("sales")["partner_id"]) == {"P1"}
    assert "新增 -" not in report.summary()


def test_two_imports_at_once_give_new_customers_different_ids(company, tmp_path):
    files = [csv(f"订单号,日期,客户名称,产品编码,数量,单价\nA{n},2026-03-01,新客户{n},X,1,10\n") for n in range(2)]
    errors: list[Exception] = []

    def run(content: bytes, n: int) -> None:
        try:
            import_file(Store(company.folder), content, filename=f"s{n}.csv")
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(content, n)) for n, content in enumerate(files)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    partners = company.table("partners")
    created = partners[partners["name"].str.startswith("新客户")]
    assert len(created) == 2 and created["partner_id"].is_unique
    assert partners["partner_id"].is_unique


@pytest.mark.parametrize(
    "value, message", [("inf", "不是有限的数字"), ("1e300", "大得不合理"), ("nan", "不是有限的数字")]
)
def test_non_finite_and_absurd_numbers_are_refused(company, value, message):
    with pytest.raises(ImportRejected) as caught:
        import_file(company, csv(f"partner_id,quarter,target_revenue\nP1,2026Q2,{value}\n"), filename="t.csv")
    assert message in caught.value.message


def test_decimal_comma_in_a_semicolon_file_is_read_as_a_decimal(company):
    content = csv("partner_id;quarter;target_revenue\nP1;2026Q2;36,5\nP2;2026Q2;1.234,75\n")
    report = import_file(company, content, filename="eu.csv")
    assert report.decimal_comma
    targets = company.table("targets").set_index(["partner_id", "quarter"])["target_revenue"]
    assert targets[("P1", "2026Q2")] == 36.5 and targets[("P2", "2026Q2")] == 1234.75


def test_a_date_after_today_is_warned_and_kept_out_of_latest_until_confirmed(company):
    span = data_span(company)
    assert span.last.isoformat() == "2026-02-10"
    report = import_file(
        company, csv("订单号,日期,伙伴编号,产品编码,数量,单价\nZ9,2099-01-01,P1,X,1,10\n"), filename="typo.csv"
    )
    assert report.future_dates == 1 and any("晚于今天" in p.message for p in report.warnings)
    after = data_span(company)
    assert after.last.isoformat() == "2026-02-10" and after.unconfirmed == 1
    company.update_profile(dates_confirmed=True)
    assert data_span(company).last.isoformat() == "2099-01-01"


def test_the_report_shows_the_date_range_and_yearly_totals(company):
    content = csv(
        "订单号,日期,伙伴编号,产品编码,数量,单价\nY1,2024-03-01,P1,X,1,10\nY2,2025-03-01,P1,X,2,10\nY3,2025-04-01,P2,X,3,10\n"
    )
    report = import_file(company, content, filename="years.csv")
    assert (report.date_min, report.date_max) == ("2024-03-01", "2025-04-01")
    assert report.yearly == [{"year": 2024, "rows": 1, "revenue": 10.0}, {"year": 2025, "rows": 2, "revenue": 50.0}]
    assert "  2025 年：2 行，销售额 50.00 元" in report.overview_lines()


def test_a_whole_column_in_the_wrong_format_is_not_offered_as_rows_to_skip(company):
    rows = "\n".join(f"W{i},soon-ish {i},P1,X,1,10" for i in range(12))
    with pytest.raises(ImportRejected) as caught:
        import_file(company, csv("订单号,日期,伙伴编号,产品编码,数量,单价\n" + rows + "\n"), filename="w.csv")
    assert "像是整列的格式问题" in caught.value.message or caught.value.report.column_problems
    assert "跳过有问题的行" not in caught.value.message


def test_a_killed_import_leaves_nothing_behind_at_the_next_open(company):
    leftover = company.folder / "company-20260101T000000000000.tmp"
    leftover.write_bytes(b"half a database")
    (company.folder / "company-20260101T000000000000.tmp.wal").write_bytes(b"x")
    import company.store as store_module

    store_module._CLEANED.discard(company.folder)
    Store(company.folder)  # the next open
    assert not leftover.exists() and not list(company.folder.glob("*.tmp*"))


def test_readers_never_see_a_missing_database_during_writes(company):
    stop = threading.Event()
    failures: list[str] = []

    def read() -> None:
        reader = Store(company.folder)
        while not stop.is_set():
            try:
                reader.query("SELECT count(*) FROM partners")
            except StoreError as exc:
                failures.append(exc.message)

    readers = [threading.Thread(target=read) for _ in range(2)]
    for thread in readers:
        thread.start()
    for n in range(8):
        import_file(company, csv(f"partner_id,quarter,target_revenue\nP2,2027Q{n % 4 + 1},{n}\n"), filename="t.csv")
    stop.set()
    for thread in readers:
        thread.join()
    assert failures == []


def test_a_second_writer_waits_then_fails_with_a_clear_message(company):
    held = threading.Event()
    release = threading.Event()

    def hold() -> None:
        with Store(company.folder).lock():
            held.set()
            release.wait(5)

    holder = threading.Thread(target=hold)
    holder.start()
    held.wait(5)
    started = time.monotonic()
    with pytest.raises(StoreError, match="另一个导入或写入正在进行"):
        with Store(company.folder).lock(timeout=0.3):
            pass
    assert time.monotonic() - started >= 0.3
    release.set()
    holder.join()


def test_sample_company_runs_to_the_last_complete_month_before_today(tmp_path, monkeypatch):
    from advisor.settings import reset_settings
    from advisor.workspace import load_sample, workspaces

    monkeypatch.setenv("CANMOU_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("CANMOU_TODAY", "2027-03-15")
    reset_settings()
    load_sample(partners=20, months=12)
    store = workspaces().active_store()
    last = pd.Timestamp(store.query("SELECT max(date) AS d FROM sales")["d"].iloc[0])
    assert (last.year, last.month) == (2027, 2)
    assert store.profile().is_sample


def test_a_partial_file_cannot_add_a_row_without_its_required_columns(company):
    with pytest.raises(ImportRejected) as caught:
        import_file(company, csv("partner_id,tier\nP1,C\nP9,B\n"), filename="tiers.csv")
    assert "P9 在渠道伙伴中还不存在：这个文件没有「伙伴名称」列，只能更新已有的记录" in caught.value.message
    assert company.table("partners").set_index("partner_id").loc["P1", "tier"] == "A"  # nothing written


def test_readers_in_other_threads_are_never_cut_off_when_a_write_swaps_versions(company):
    """A new version used to close the old version's shared connection under other threads' running queries
    (ResourceInUseException / Connection already closed during an import)."""
    stop = threading.Event()
    errors: list[str] = []

    def read() -> None:
        while not stop.is_set():
            try:
                company.query("SELECT partner_id, sum(revenue) FROM sales GROUP BY 1")
            except Exception as exc:  # any failure of a reader is the bug
                errors.append(f"{type(exc).__name__}: {exc}")

    readers = [threading.Thread(target=read) for _ in range(6)]
    for thread in readers:
        thread.start()
    for _ in range(20):
        company.write(lambda con: con.execute("UPDATE sales SET revenue = revenue + 1"))
    stop.set()
    for thread in readers:
        thread.join()
    assert errors == []


def test_a_pinned_store_reads_one_version_while_writes_go_on(company):
    pinned = company.pinned()
    before = pinned.scalar("SELECT sum(revenue) FROM sales")
    company.write(lambda con: con.execute("UPDATE sales SET revenue = revenue + 1"))
    assert pinned.scalar("SELECT sum(revenue) FROM sales") == before  # one answer, one version
    assert company.scalar("SELECT sum(revenue) FROM sales") == before + 2
    for _ in range(3):  # the pinned version is gone at last: the current one, never an error
        company.write(lambda con: con.execute("UPDATE sales SET revenue = revenue + 1"))
    assert pinned.scalar("SELECT sum(revenue) FROM sales") in (before, before + 8)
