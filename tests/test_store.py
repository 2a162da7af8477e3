"""The DuckDB store: read-only queries with bound parameters, status, atomic swaps."""

from __future__ import annotations

import duckdb
import pandas as pd
import pytest

from company.errors import StoreError
from company.schema import TABLES
from company.store import Store


def test_missing_data_gives_an_actionable_message(empty_store):
    assert not empty_store.exists()
    with pytest.raises(StoreError, match="python -m advisor data sample"):
        empty_store.query("SELECT 1")


def test_status_counts_and_date_ranges(loaded_store, small_company):
    status = {s.table: s for s in loaded_store.status()}
    assert set(status) == set(TABLES)
    for name, frame in small_company.tables.items():
        assert status[name].rows == len(frame)
    sales_dates = pd.to_datetime(small_company.tables["sales"]["date"])
    assert status["sales"].date_min == str(sales_dates.min().date())
    assert status["sales"].date_max == str(sales_dates.max().date())
    assert status["targets"].date_min == small_company.tables["targets"]["quarter"].min()


def test_queries_bind_values_and_cannot_write(loaded_store):
    first = loaded_store.query("SELECT partner_id FROM partners ORDER BY 1 LIMIT 1")["partner_id"].item()
    hostile = f"{first}'; DROP TABLE partners; --"
    assert loaded_store.query("SELECT count(*) AS n FROM partners WHERE partner_id = ?", [hostile])["n"].item() == 0
    assert loaded_store.query("SELECT count(*) AS n FROM partners WHERE partner_id = ?", [first])["n"].item() == 1
    with pytest.raises(duckdb.Error):
        loaded_store.query("DELETE FROM partners")
    assert len(loaded_store.table("partners")) > 0


def test_replace_all_swaps_versions_and_removes_old_files(loaded_store, small_company):
    old = loaded_store.path()
    with loaded_store.connect() as reader:  # an open reader keeps working across the swap
        loaded_store.replace_all({"partners": small_company.tables["partners"].head(5)})
        assert reader.execute("SELECT count(*) FROM partners").fetchone()[0] == len(small_company.tables["partners"])
    # The previous version stays until the next write, for readers that read the old pointer just before.
    assert loaded_store.path() != old and old.exists()
    assert len(loaded_store.table("partners")) == 5
    assert len(loaded_store.table("sales")) == 0
    loaded_store.replace_all({"partners": small_company.tables["partners"].head(3)})
    assert not old.exists()
    assert len(list(loaded_store.folder.glob("company-*.duckdb"))) == 2


def test_failed_write_keeps_current_version(loaded_store):
    before = loaded_store.path()

    def change(con):
        con.execute("DELETE FROM partners")
        raise ValueError("boom")

    with pytest.raises(ValueError):
        loaded_store.write(change)
    assert loaded_store.path() == before
    assert len(loaded_store.table("partners")) > 0
    assert sorted(p.name for p in loaded_store.folder.iterdir() if not p.name.startswith(".")) == sorted(
        ["CURRENT", "dataset.json", before.name]
    )


def test_meta_keeps_the_sample_manifest(loaded_store, small_company):
    assert loaded_store.meta("source") == "sample"
    assert loaded_store.meta("manifest") == small_company.manifest
    assert loaded_store.meta("nothing", "default") == "default"


def test_unknown_table_name_is_refused(loaded_store):
    with pytest.raises(StoreError, match="没有名为"):
        loaded_store.table("partners; DROP TABLE sales")


def test_store_created_from_tables_matches_schema_types(loaded_store):
    with loaded_store.connect() as con:
        for table in TABLES.values():
            described = con.execute(f'DESCRIBE "{table.name}"').df()
            assert described["column_name"].tolist() == table.names
            assert described["column_type"].tolist() == [c.sql_type for c in table.columns]


def test_two_stores_on_one_folder_see_the_same_version(loaded_store):
    other = Store(loaded_store.folder)
    assert other.path() == loaded_store.path()
