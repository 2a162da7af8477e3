"""The 方案 page through streamlit.testing: a plan just generated is the one shown, first in the list."""

from __future__ import annotations

import os
import time

from streamlit.testing.v1 import AppTest

from advisor.plans import PlanLibrary, generate
from tests.conftest import ROOT
from tests.test_ui_auth import sign_in
from tests.test_ui_data import texts

PAGE = str(ROOT / "ui" / "pages" / "plans.py")


def run_page() -> AppTest:
    app = sign_in(AppTest.from_file(PAGE, default_timeout=120))
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    return app


def test_a_generated_plan_is_shown_first_with_its_own_downloads(loaded_store, data_dir):
    library = PlanLibrary(data_dir / "plans")
    # Saved earlier: a plan drafted in the chat (its id sorts before dated ids) and one from this page.
    older = generate("strategy", {"region": "华北", "period": "latest"}, loaded_store, None)
    library.save(older, "draft-strategy-0123456789-v1")
    library.save(older)
    past = time.time() - 3600
    for path in (data_dir / "plans").glob("*.json"):
        os.utime(path, (past, past))

    app = run_page()
    assert "华北" in app.subheader[0].value  # the user was looking at an older plan …
    app.selectbox(key="new-kind").set_value("strategy")
    app.selectbox(key="new-region").set_value("华南")
    app.button(key="new-go").click().run()  # … and generates a new one
    assert not app.exception, [e.value for e in app.exception]

    choice = app.selectbox(key="plan_choice")
    new_id = choice.value
    assert choice.options[0] == choice.format_func(new_id), "the new plan is first in the list"
    assert new_id not in ("draft-strategy-0123456789-v1",) and library.load(new_id).args["region"] == "华南"
    assert "已生成" in texts(app) and "华南" in app.subheader[0].value
    downloads = {b.proto.label: b.key for b in app.get("download_button")}
    assert downloads == {"下载 Word（.docx）": f"docx-{new_id}", "下载 Markdown": f"md-{new_id}"}


def test_deleting_the_shown_plan_shows_the_newest_remaining(loaded_store, data_dir):
    library = PlanLibrary(data_dir / "plans")
    keep = library.save(generate("strategy", {"region": "华北", "period": "latest"}, loaded_store, None))
    time.sleep(0.01)
    gone = library.save(generate("strategy", {"region": "华南", "period": "latest"}, loaded_store, None))
    app = run_page()
    assert app.selectbox(key="plan_choice").value == gone
    app.button(key=f"delete-{gone}").click().run()
    assert not app.exception, [e.value for e in app.exception]
    assert app.selectbox(key="plan_choice").value == keep and "华北" in app.subheader[0].value


def test_regenerating_a_plan_keeps_what_the_form_does_not_change(loaded_store, data_dir):
    """A rebate plan revised in the chat to a 110% entry threshold, regenerated here with a budget: the new version
    keeps its tiers (the form shows region, period and budget only) and is a rebate plan, not a work plan."""
    from advisor import drafts

    draft = drafts.new_draft("incentive", loaded_store, {"region": "华东"}, None).draft
    revised, _changes = drafts.revise(loaded_store, draft, {"threshold": 1.1}, None)
    library = PlanLibrary(data_dir / "plans")
    plan_id = library.save(revised.draft.document)
    tiers = revised.draft.document.args["schedule"]["tiers"]
    assert tiers[0]["threshold"] == 1.1

    app = run_page()
    assert app.selectbox(key="plan_choice").value == plan_id
    assert app.selectbox(key=f"re-{plan_id}-kind").value == "incentive", "the form starts from the plan's own kind"
    app.number_input(key=f"re-{plan_id}-budget").set_value(300_000.0)
    app.button(key=f"re-{plan_id}-go").click().run()
    assert not app.exception, [e.value for e in app.exception]
    new_id = app.selectbox(key="plan_choice").value
    assert new_id != plan_id
    regenerated = library.load(new_id)
    assert regenerated.kind == "incentive" and regenerated.args["budget"] == 300_000.0
    assert regenerated.args["schedule"]["tiers"] == tiers and regenerated.args["region"] == "华东"
