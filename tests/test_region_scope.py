"""Region scope where the data is read: a manager's store holds only their regions' partners and everything keyed by
them, no SQL reaches the rest, writes are refused, another region's question is refused in words, and each user's
conversations are their own."""

from __future__ import annotations

import sqlite3

import duckdb
import pandas as pd
import pytest

from advisor.accounts import User, scope_violation
from advisor.history import History
from advisor.pipeline import Context, answer
from advisor.settings import Settings
from company.errors import CanmouError, StoreError
from company.importers import commit, plan_import
from company.reading import read_source
from company.schema import TABLES
from tools.registry import TOOLS

EAST = User("lily", "manager", ("华东",))
REFUSED = "不在您的权限范围内"


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values(list(frame.columns)).reset_index(drop=True)


def _expected(whole, table: str, regions: set[str]) -> pd.DataFrame:
    """What a manager of `regions` should see of a table, worked out with pandas from the whole dataset."""
    partners = whole.table("partners")
    mine = set(partners.loc[partners["region"].isin(regions), "partner_id"])
    frame = whole.table(table)
    if table == "partners":
        return frame[frame["region"].isin(regions)]
    if "partner_id" not in frame.columns:
        return frame
    keep = frame["partner_id"].isin(mine)
    if "region" in frame.columns:  # costs booked to a region, not to a partner
        keep |= frame["partner_id"].isna() & frame["region"].isin(regions)
    return frame[keep.fillna(False)]


@pytest.mark.parametrize("regions", [{"华东"}, {"华南", "西北"}])
def test_a_scoped_store_sees_only_its_regions_in_every_table(loaded_store, regions):
    scoped = loaded_store.scoped(regions)
    assert scoped.region_names() == sorted(regions)
    assert len(loaded_store.region_names()) == 7
    for table in TABLES:
        seen, expected = scoped.table(table), _expected(loaded_store, table, regions)
        if table in ("sales", "targets", "inventory", "costs", "collections", "surveys"):
            assert 0 < len(seen) < len(loaded_store.table(table)), table
        pd.testing.assert_frame_equal(_sorted(seen), _sorted(expected), check_dtype=False, obj=table)
    assert scoped.meta("source") == "sample"
    assert scoped.meta("manifest") is None, "the sample's manifest names planted anomalies of every region"


def test_no_sql_run_on_a_scoped_store_reaches_other_regions(loaded_store):
    scoped = loaded_store.scoped(["华东"])
    east = int(scoped.scalar("SELECT count(*) FROM partners"))
    assert east == int(loaded_store.scalar("SELECT count(*) FROM partners WHERE region = '华东'"))
    # Qualified names name the same scoped tables: the whole version is not in this database at all.
    assert int(scoped.scalar("SELECT count(*) FROM main.partners")) == east
    files = set(scoped.query("SELECT path FROM duckdb_databases() WHERE path IS NOT NULL")["path"])
    assert files == {str(scoped.path())} and str(loaded_store.path()) not in files
    assert set(scoped.query("SELECT DISTINCT region FROM partners")["region"]) == {"华东"}
    whole_file = str(loaded_store.path())
    for sql in (f"ATTACH '{whole_file}' AS whole (READ_ONLY)", f"SELECT * FROM read_csv('{whole_file}')"):
        with pytest.raises(duckdb.Error):
            scoped.query(sql)
    with pytest.raises(duckdb.Error):
        scoped.query("SET enable_external_access = true")


def test_a_scoped_store_refuses_every_write_in_chinese(loaded_store, small_company):
    version = loaded_store.version()
    for user in (EAST, User("ed", "executive")):
        scoped = user.permissions.store(loaded_store)
        attempts = [
            lambda s=scoped: s.replace_all(small_company.tables),
            lambda s=scoped: s.write(lambda con: con.execute("DELETE FROM sales")),
            lambda s=scoped: s.update_profile(name="改名"),
        ]
        for attempt in attempts:
            with pytest.raises(StoreError, match=r"只能查看.*不能导入、替换或修改"):
                attempt()
        raw = read_source("经销商编号,经销商名称,大区\nQ9001,新伙伴,华东\n".encode(), "partners.csv")
        plan = plan_import(raw, "partners.csv", store=scoped)
        with pytest.raises(StoreError, match="只能查看"):
            commit(plan, scoped)
    assert loaded_store.version() == version and loaded_store.profile().name == "示例公司"


def test_a_scoped_store_follows_each_new_version(loaded_store, small_company):
    scoped = loaded_store.scoped(["华东"])
    first = scoped.path()
    tables = dict(small_company.tables)
    partners = tables["partners"].copy()
    partners.loc[partners["region"] == "华南", "region"] = "华东"  # the company moves 华南 into 华东
    loaded_store.replace_all({**tables, "partners": partners}, meta={"source": "sample"})
    second = scoped.path()
    assert second != first
    assert len(scoped.table("partners")) == int((partners["region"] == "华东").sum())
    # Like the versions themselves, the copy of the previous version stays for readers that just opened it;
    # the one before that is removed.
    loaded_store.replace_all(tables, meta={"source": "sample"})
    assert scoped.path() not in (first, second) and second.exists() and not first.exists()
    assert len(scoped.table("partners")) == int((tables["partners"]["region"] == "华东").sum())


def _ctx(store, user=None, history=None) -> Context:
    return Context(store=store, kb=None, settings=Settings(), user=user, history=history or [])


def test_another_regions_question_is_refused_and_the_managers_own_is_answered(loaded_store):
    whole = answer("华东的销售额是多少", _ctx(loaded_store))
    mine = answer("华东的销售额是多少", _ctx(loaded_store, EAST))
    assert REFUSED not in mine.markdown and mine.numbers and mine.numbers == whole.numbers

    for question in ("华南的销售额是多少", "华南的经销商记分卡", "给华南做一份返利方案"):
        refused = answer(question, _ctx(loaded_store, EAST))
        assert refused.markdown.startswith(REFUSED) and "华南" in refused.markdown, question
        assert not refused.tables and not refused.numbers and refused.draft is None
    # A follow-up that keeps the previous question's frame (华南呢？) is refused the same way.
    follow = answer("华南呢？", _ctx(loaded_store, EAST, [{"role": "assistant", "spec": mine.spec}]))
    assert follow.markdown.startswith(REFUSED)
    english = answer("What was the revenue of South China?", _ctx(loaded_store, EAST))
    assert english.markdown.startswith("Outside your permissions") and "华南" in english.markdown
    # Admins and executives see every region.
    assert REFUSED not in answer("华南的销售额是多少", _ctx(loaded_store, User("ed", "executive"))).markdown


def test_places_and_partners_of_other_regions_count_as_other_regions(loaded_store):
    partners = loaded_store.table("partners")
    south = partners[partners["region"] == "华南"].iloc[0]
    provinces_east = set(partners.loc[partners["region"] == "华东", "province"])
    province_south = next(p for p in partners.loc[partners["region"] == "华南", "province"] if p not in provinces_east)
    for question in (f"{south['name']}的销售额", f"{south['partner_id']}的销售额", f"{province_south}的销售额"):
        assert REFUSED in (scope_violation(question, EAST, loaded_store) or ""), question
    east = partners[partners["region"] == "华东"].iloc[0]
    assert scope_violation(f"{east['name']}的销售额", EAST, loaded_store) is None
    spec = {"metrics": ["revenue"], "filters": [{"field": "region", "op": "eq", "value": "华南"}]}
    assert REFUSED in scope_violation(spec, EAST, loaded_store)
    spec["filters"][0]["value"] = "华东"
    assert scope_violation(spec, EAST, loaded_store) is None


def _cells(tables) -> set[str]:
    """Every text cell of the tables (partner ids and names, whatever the columns are labelled)."""
    return {v for t in tables for c in t.columns for v in t[c].dropna() if isinstance(v, str)}


def test_a_managers_rebate_plan_and_tools_cover_only_their_region(loaded_store):
    partners = loaded_store.table("partners")
    east = partners[partners["region"] == "华东"]
    others = set(partners["partner_id"]) - set(east["partner_id"]) | set(partners["name"]) - set(east["name"])

    whole_plan = answer("设计一个返利方案", _ctx(loaded_store))
    plan = answer("设计一个返利方案", _ctx(loaded_store, EAST))
    assert plan.draft is not None and REFUSED not in plan.markdown
    assert "华东" in plan.draft.title and "全国" not in plan.draft.title, plan.draft.title  # the plan is 华东's
    assert any(name in whole_plan.markdown for name in others), "the whole company's plan names other regions"
    assert not any(name in plan.markdown for name in others)
    cells = _cells(t.frame for t in plan.tables)
    assert cells & set(east["name"]) and not cells & others

    scoped = EAST.permissions.store(loaded_store)
    rebate = TOOLS["simulate_rebate"](scoped, {})
    assert any(set(east["partner_id"]) <= _cells([t]) for t in rebate.tables.values()), "every 华东 partner is there"
    for name in ("simulate_rebate", "partner_scorecard", "detect_conflicts", "cost_analysis"):
        result = TOOLS[name](scoped, {})
        assert not _cells(result.tables.values()) & others, name
        assert _cells(TOOLS[name](loaded_store, {}).tables.values()) & others, f"{name} on the whole company"


def test_a_manager_of_two_regions_gets_plans_titled_with_their_regions_not_all_of_china(loaded_store):
    both = User("wang", "manager", ("华南", "华东"))
    for request in ("设计一个返利方案", "做一份下季度工作计划", "做一份渠道策略"):
        plan = answer(request, _ctx(loaded_store, both))
        assert plan.draft is not None and REFUSED not in plan.markdown, request
        title, scope = plan.draft.title, plan.draft.document.metadata.scope
        assert "全国" not in title + scope and "华东、华南" in title + scope, (request, title, scope)
        ctx = _ctx(loaded_store, both)
        ctx.draft = plan.draft
        revised = answer("只看华东", ctx)
        assert revised.draft is not None and "范围：华东、华南 → 华东" in revised.changes, (request, revised.changes)
        assert "华东" in revised.draft.title and "华南" not in revised.draft.title
    whole = answer("设计一个返利方案", _ctx(loaded_store))
    assert "全国" in whole.draft.title, "the whole company's plan is still 全国"


def test_each_user_sees_reads_continues_and_deletes_only_their_own_conversations(tmp_path):
    path = tmp_path / "history.sqlite"
    alice, bob = History(path, owner="alice"), History(path, owner="bob")
    mine = alice.start("华东的销售额")
    alice.add(mine, "user", "华东的销售额")
    theirs = bob.start("我的问题")

    assert [c.id for c in alice.conversations()] == [mine]
    assert [c.id for c in bob.conversations()] == [theirs]
    assert bob.messages(mine) == [] and bob.turns(mine) == [] and not bob.exists(mine)
    with pytest.raises(CanmouError, match="没有编号为"):
        bob.add(mine, "user", "偷看")
    assert not bob.delete(mine)
    assert [m.content for m in alice.messages(mine)] == ["华东的销售额"]
    assert alice.delete(mine) and alice.conversations() == []


def test_conversations_from_before_accounts_belong_to_local(tmp_path):
    path = tmp_path / "history.sqlite"
    with sqlite3.connect(path) as db:  # the first release's schema: no owner column
        db.executescript(
            "CREATE TABLE conversations (id TEXT PRIMARY KEY, title TEXT NOT NULL, created_at TEXT NOT NULL, "
            "updated_at TEXT NOT NULL);"
            "INSERT INTO conversations VALUES ('old1', '旧对话', '2026-01-01T00:00:00', '2026-01-01T00:00:00');"
        )
    assert History(path, owner="alice").conversations() == []
    assert [c.id for c in History(path, owner="local").conversations()] == ["old1"]
    assert [c.id for c in History(path).conversations()] == ["old1"], "the command line on the server sees all"


def test_an_executive_cannot_draft_a_plan_through_any_entry(loaded_store):
    executive = User("ed", "executive")
    for question in ("设计一个返利方案", "Draft a channel strategy"):
        reply = answer(question, _ctx(loaded_store, executive))
        assert reply.draft is None and ("只读" in reply.markdown or "read-only" in reply.markdown), reply.markdown[:200]
    assert answer("设计一个返利方案", _ctx(loaded_store, EAST)).draft is not None  # a manager still drafts
