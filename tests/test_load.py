"""Load test: five signed-in users (admin, managers, executive) asking at once for 30 seconds while the admin replaces
the sales table on the 数据中心 page; the same harness as `python -m eval bench load` (20 users for 5 minutes).

Marked slow (a load test of about a minute on two cores); it still runs in `make test`.
"""

from __future__ import annotations

import math

import pytest

from eval.bench_load import FAMILIES, Record, Shared, compare, cycle, personas, run

pytestmark = pytest.mark.load


def test_five_users_for_30_seconds_while_the_admin_imports(guides_kb):
    figures = run(users=5, duration=30, imports=2, partners=40, months=12, seed=3, guides=guides_kb.folder)

    assert figures["errors"] == 0, "\n".join(
        f"[{e['at_s']} s] {e['user']} {e['family']} {e['question']}: {e['error']}" for e in figures["error_list"]
    )
    assert figures["roles"] == {"admin": 1, "manager": 3, "executive": 1}
    assert all(answered > 0 for answered in figures["answers_by_user"].values()), figures["answers_by_user"]
    assert set(figures["families"]) == set(FAMILIES), "every kind of question was asked"
    imports = figures["imports"]
    assert [i["error"] for i in imports] == [None, None]
    sales = figures["sample"]["sales_rows"]
    assert f"删除原有 {sales:,} 行，写入 {imports[0]['rows']:,} 行" in imports[0]["outcome"], "one line in ten left out"
    assert f"写入 {sales:,} 行" in imports[1]["outcome"], "then the whole export again"
    during = figures["during_import"]
    assert during["answers"] > 0 and during["errors"] == 0, "users were answered while the data was swapped, all well"
    assert figures["compared"] > 0 and figures["latency"]["max_s"] < 60


def test_an_answer_that_is_neither_the_old_nor_the_new_datas_is_an_error():
    """The check behind 'never a corrupt answer': a first answer must equal what the user gets alone on a version of
    the data that existed while it was being answered."""

    class Alone:  # the answers alone: version 0 says 100, version 1 (after the import) says 90
        def get(self, version, scope, question):
            return {0: "销售额 100", 1: "销售额 90"}[version]

    shared = Shared(started=0.0, deadline=30.0)
    shared.swapped(1, commit_from=10.0, commit_to=12.0)
    before, during, after, mixed, stale = (
        Record("mgr02", "manager", "data_zh", "华东上季度销售额是多少", start, 1.0, True, ("华东",), fingerprint=text)
        for start, text in (
            (2.0, "销售额 100"),
            (11.0, "销售额 90"),
            (20.0, "销售额 90"),
            (11.0, "销售额 95"),
            (20.0, "销售额 100"),
        )
    )
    records = [before, during, after, mixed, stale]
    compare(records, shared, Alone())

    assert before.matches == [0] and during.matches == [1] and after.matches == [1]
    assert not (before.error or during.error or after.error)
    assert during.alive == [0, 1] and during.changed
    assert "neither the old nor the new" in mixed.error, "half old, half new: neither version's answer"
    assert "neither the old nor the new" in stale.error, "old data long after the import had finished"
    assert shared.versions == [[0, -math.inf, 12.0], [1, 10.0, math.inf]]


def test_the_users_are_a_mix_of_roles_and_a_manager_is_refused_another_region():
    people = personas(20)
    assert [p.role for p in people].count("manager") == 12 and [p.role for p in people].count("executive") == 4
    manager = next(p for p in people if p.role == "manager")
    refusals = [t for conversation in cycle(manager) for t in conversation if t.family == "refusal"]
    assert [t.question for t in refusals] == ["华北上季度销售额是多少"] and refusals[0].expect == "不在您的权限范围内"
    executive = next(p for p in people if p.role == "executive")
    asked = [t for conversation in cycle(executive) for t in conversation]
    assert not [t for t in asked if t.family in ("draft", "revise")], "an executive's draft request is refused"
