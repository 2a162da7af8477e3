"""Plan documents end to end: CLI (one plan, all regions), the plan library, and the 方案 page."""

from __future__ import annotations

import docx
from streamlit.testing.v1 import AppTest

from advisor.plans import PlanLibrary, generate
from tests.conftest import ROOT
from tests.test_cli import run
from tests.test_ui_auth import sign_in
from tests.test_ui_data import texts
from tools.registry import TOOLS

PAGE = str(ROOT / "ui" / "pages" / "plans.py")


def test_cli_writes_a_plan_and_all_regional_plans(tmp_path):
    data = tmp_path / "data"
    assert run(data, "data", "sample", "--partners", "40", "--months", "12").returncode == 0
    one = run(data, "plan", "quarterly", "--region", "华东", "--out", str(tmp_path / "east.docx"))
    assert one.returncode == 0, one.stderr
    document = docx.Document(tmp_path / "east.docx")
    headings = [p.text for p in document.paragraphs if p.style.name.startswith("Heading")]
    assert any("季度目标" in h for h in headings) and any("阶段安排" in h for h in headings)
    assert document.inline_shapes, "charts are embedded"
    every = run(data, "plan", "quarterly", "--all-regions", "--out", str(tmp_path / "all"))
    assert every.returncode == 0, every.stderr
    files = sorted((tmp_path / "all").glob("*.docx"))
    regions = {p.stem.rsplit("-", 1)[-1] for p in files}
    assert "全公司汇总" in regions and len(files) >= 4
    assert "生成" in every.stderr, "progress is shown"
    incentive = run(data, "plan", "incentive", "--budget", "500000", "--out", str(tmp_path / "rebate"))
    assert incentive.returncode == 0, incentive.stderr
    assert (tmp_path / "rebate.docx").exists() and (tmp_path / "rebate.md").exists()
    bad = run(data, "plan", "quarterly", "--out", str(tmp_path / "x.pdf"))
    assert bad.returncode == 2 and ".docx 或 .md" in bad.stderr


def test_library_round_trip_and_numbers(loaded_store, tmp_path):
    document = generate("work_plan", {"quarter": None, "region": None}, loaded_store, None)
    library = PlanLibrary(tmp_path / "plans")
    plan_id = library.save(document)
    assert [p.plan_id for p in library.list()] == [plan_id]
    again = library.load(plan_id)
    assert again.title == document.title and again.args["kind"] == "work_plan"
    goals = again.section("季度目标").tables[0].frame.set_index("目标")
    expected = TOOLS["quarterly_work_plan"](loaded_store, {}).figures
    assert goals.loc["销售额", "目标值"] == expected["revenue_target"]


def test_plans_page_generates_edits_and_offers_downloads(loaded_store):
    app = sign_in(AppTest.from_file(PAGE, default_timeout=180))
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    assert "还没有保存的方案" in texts(app)
    app.button(key="new-go").click().run()
    assert not app.exception, [e.value for e in app.exception]
    assert "已生成「" in texts(app)
    labels = [b.label for b in app.get("download_button")]
    assert "下载 Word（.docx）" in labels and "下载 Markdown" in labels
    area = app.text_area[0]
    area.set_value("本季度重点：守住价格体系，稳步提升完成率。").run()
    next(b for b in app.button if b.key and b.key.startswith("save-")).click().run()
    assert not app.exception
    assert "修改已保存" in texts(app) and "守住价格体系" in texts(app)


def test_plans_page_without_data(data_dir):
    app = sign_in(AppTest.from_file(PAGE, default_timeout=60))
    app.run()
    assert not app.exception and "还没有公司数据" in texts(app)
