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
