"""Plan documents: the Word file a manager hands on carries the tools' numbers, charts, fields and citations,
the Markdown says the same, a saved document reopens unchanged, and a missing Chinese font is reported."""

from __future__ import annotations

import io
import re
import sys
import warnings

import pandas as pd
import pytest
from docx import Document
from docx.oxml.ns import qn

from advisor.drafts import incentive_args, initial_args
from documents import charts
from documents.builders import build_incentive_plan, build_plan, build_quarterly_plan, build_strategy
from documents.docx import render_docx
from documents.kinds import UnknownPlanKind
from documents.markdown import render_markdown
from documents.model import Chart, PlanDocument, numbered_headings
from documents.tables import parse_number
from documents.wording import KB_MISSING
from tools.registry import TOOLS

PNG = b"\x89PNG\r\n\x1a\n"
NUMERAL_PREFIX = re.compile(r"^(?:[一二三四五六七八九十]+、|（[一二三四五六七八九十]+）)")


# ---- reading a .docx back ---------------------------------------------------------------------------------
def read(document: PlanDocument):
    return Document(io.BytesIO(render_docx(document)))


def headings(doc) -> list[str]:
    return [NUMERAL_PREFIX.sub("", p.text) for p in doc.paragraphs if p.style.name.startswith("Heading")]


def table_with(doc, first_columns: list[str]):
    """The Word table whose header row starts with these column names."""
    for table in doc.tables:
        head = [c.text for c in table.rows[0].cells]
        if head[: len(first_columns)] == first_columns:
            return table
    raise AssertionError(f"no table with columns {first_columns}")


def column(table, name: str) -> list[float | None]:
    head = [c.text for c in table.rows[0].cells]
    index = head.index(name)
    return [parse_number(row.cells[index].text) for row in table.rows[1:]]


def instructions(element) -> str:
    return " ".join(t.text for t in element.iter(qn("w:instrText")))


def images(doc) -> list[bytes]:
    return [part.blob for part in doc.part.related_parts.values() if part.content_type == "image/png"]


def cited_sentences_come_from_their_passages(document: PlanDocument) -> int:
    texts = {ref.number: re.sub(r"\*\*|__|`", "", ref.text) for ref in document.references}  # bold marks dropped
    checked = 0
    for section in document.walk():
        for paragraph in section.paragraphs + section.closing:
            for sentence, number in re.findall(r"([^\[\]]+?)\[(\d+)\]", paragraph.text):
                assert int(number) in texts, f"[{number}] has no reference"
                assert sentence.strip().rstrip("。")[:10] in texts[int(number)], sentence
                checked += 1
    return checked


# ---- quarterly work plan -----------------------------------------------------------------------------------
def test_quarterly_plan_docx_carries_the_work_plan_numbers_charts_and_fields(loaded_store, guides_kb):
    document = build_quarterly_plan(loaded_store, guides_kb.search)
    doc = read(document)

    assert headings(doc) == [
        "季度目标",
        "现状回顾",
        "伙伴分级",
        "渠道费用",
        "分领域措施",
        "阶段安排",
        "激励安排",
        "风险与应对",
        "考核指标与复盘日期",
        "参考依据",
        "需要补充的数据",  # the 12-month sample has no year-ago sales, so growth is not scored
    ]
    plan = TOOLS["quarterly_work_plan"](loaded_store, {}).data
    goals = table_with(doc, ["领域", "目标", "基线", "目标值"])
    assert [c.text for c in goals.columns[1].cells[1:]] == [g.name for g in plan.goals]
    assert column(goals, "基线") == [g.baseline for g in plan.goals]
    assert column(goals, "目标值") == [g.target for g in plan.goals]

    basis = plan.basis_period.split("（")[0]
    tiers = TOOLS["partner_scorecard"](loaded_store, {"period": basis_key(basis)})
    assert column(table_with(doc, ["级别", "级别名称", "伙伴数"]), "伙伴数") == [
        float(v) for v in tiers.tables["tier_distribution"]["partners"]
    ]
    phases = table_with(doc, ["阶段", "周次", "开始", "结束"])
    assert [c.text for c in phases.columns[2].cells[1:]] == [p.start.isoformat() for p in plan.phases]

    # tier distribution bar chart and the Gantt chart of the three phases, embedded as PNG
    assert len(doc.inline_shapes) == 2
    assert len(images(doc)) == 2 and all(blob.startswith(PNG) for blob in images(doc))
    assert [c.kind for c in document.charts()] == ["bar", "gantt"]

    body = doc.element.body
    assert 'TOC \\o "1-2"' in instructions(body)
    assert "PAGE" in instructions(doc.sections[0].footer._element)
    assert "NUMPAGES" in instructions(doc.sections[0].footer._element)
    assert doc.settings.element.find(qn("w:updateFields")) is not None

    cover = "\n".join(p.text for p in doc.paragraphs[:6]) + "\n".join(
        c.text for row in doc.tables[0].rows for c in row.cells
    )
    for text in ("示例公司", document.title, document.metadata.period, "全国", "渠道管理部", "第 1 版"):
        assert text in cover
    assert doc.sections[0].different_first_page_header_footer  # no header or page number on the cover

    normal_fonts = doc.styles["Normal"].element.rPr.find(qn("w:rFonts"))
    heading_fonts = doc.styles["Heading 1"].element.rPr.find(qn("w:rFonts"))
    assert normal_fonts.get(qn("w:eastAsia")) == "宋体"
    assert heading_fonts.get(qn("w:eastAsia")) == "微软雅黑"
    assert heading_fonts.get(qn("w:asciiTheme")) is None  # a theme font would override the one we set

    assert document.references and cited_sentences_come_from_their_passages(document) >= 3
    text = "\n".join(p.text for p in doc.paragraphs)
    for ref in document.references:
        assert f"[{ref.number}]" in text


def basis_key(label: str) -> str:
    """'2026年第3季度' -> '2026Q3'."""
    return f"{label[:4]}Q{label.split('第')[1][0]}"


def test_regional_quarterly_plan_uses_the_regional_figures(loaded_store, guides_kb):
    document = build_quarterly_plan(loaded_store, guides_kb.search, region="华东", revenue_growth=0.1)
    plan = TOOLS["quarterly_work_plan"](loaded_store, {"region": "华东", "revenue_growth": 0.1}).data
    assert "华东" in document.title and document.metadata.scope == "华东"
    goals = next(t for t in document.tables() if t.caption.endswith("季度目标")).frame
    assert goals["目标值"].tolist() == [g.target for g in plan.goals]


# ---- incentive plan ------------------------------------------------------------------------------------------
def test_incentive_plan_payout_by_tier_equals_the_rebate_simulation(loaded_store, guides_kb):
    args = incentive_args({"budget": 300_000})
    document = build_incentive_plan(loaded_store, guides_kb.search, args)
    doc = read(document)
    assert headings(doc) == [
        "适用对象",
        "返利档位与返点",
        "前置条件",
        "测算结果与预算",
        "各档位测算",
        "预算对比",
        "分区域测算",
        "兑现时间与方式",
        "计算示例",
        "设计依据",
        "参考依据",
    ]
    result = TOOLS["simulate_rebate"](loaded_store, {k: v for k, v in args.items() if v is not None})
    by_tier = table_with(doc, ["档位", "完成率区间", "返点(%)", "伙伴数(家)"])
    expected = result.tables["by_tier"]
    assert [c.text for c in by_tier.columns[0].cells[1:]] == expected["tier"].tolist()
    assert column(by_tier, "返利(元)") == expected["rebate_amount"].tolist()
    assert column(by_tier, "伙伴数(家)") == [float(v) for v in expected["partners"]]

    budget = table_with(doc, ["返利合计(元)", "预算(元)"])
    assert column(budget, "预算(元)") == [300_000.0]
    assert column(budget, "返利合计(元)") == [result.figures["rebate_total"]]
    assert len(doc.inline_shapes) == 2  # payout by tier, and payout against the budget

    examples = document.section("计算示例")
    paid = result.tables["rebate_detail"].sort_values("rebate_amount", ascending=False).iloc[0]
    assert paid["name"] in examples.paragraphs[0].text
    assert "fit_rebate_budget" not in render_markdown(document)  # tool names stay out of a boss's document
    assert cited_sentences_come_from_their_passages(document) >= 2


def test_incentive_plan_can_be_fitted_to_its_budget(loaded_store):
    args = {**incentive_args({"budget": 100_000}), "fit": True}
    document = build_incentive_plan(loaded_store, None, args)
    total = next(t for t in document.tables() if t.caption == "测算返利与预算对比").frame["返利合计(元)"].iloc[0]
    assert total <= 100_000
    assert any("已按预算调整返点" in p.text for p in document.section("返利档位与返点").paragraphs)


# ---- strategy -----------------------------------------------------------------------------------------------
def test_strategy_tables_and_chart_come_from_the_cost_analysis(loaded_store, guides_kb):
    document = build_strategy(loaded_store, guides_kb.search)
    doc = read(document)
    assert headings(doc) == [
        "渠道现状",
        "渠道类型",
        "渠道长度",
        "渠道长度、宽度与类型的选择",
        "伙伴选择标准",
        "渠道控制手段",
        "实施路线图",
        "参考依据",
        "需要补充的数据",
    ]
    cost = TOOLS["cost_analysis"](loaded_store, {"period": "latest"})
    by_type = cost.tables["by_channel_type"].sort_values("revenue", ascending=False)
    table = table_with(doc, ["渠道类型", "伙伴数", "销售额(元)"])
    assert [c.text for c in table.columns[0].cells[1:]] == by_type["channel_type"].tolist()
    assert column(table, "销售额(元)") == by_type["revenue"].tolist()
    assert column(table, "费用率(%)") == by_type["expense_ratio"].tolist()
    length = table_with(doc, ["渠道层级", "层级名称"])
    assert column(length, "贡献率(%)") == cost.tables["channel_length"]["contribution_margin"].tolist()
    assert len(images(doc)) == 1
    assert cited_sentences_come_from_their_passages(document) >= 3


def test_without_a_knowledge_base_the_document_says_so_and_cites_nothing(loaded_store):
    document = build_strategy(loaded_store, None, region="华东")
    assert document.references == []
    assert any(p.text == KB_MISSING for s in document.walk() for p in s.paragraphs + s.closing)
    assert "参考依据" not in headings(read(document))
    assert "[1]" not in render_markdown(document)


# ---- Markdown, JSON, the chat drafts' arguments ---------------------------------------------------------------
@pytest.mark.parametrize("kind", ["work_plan", "incentive", "strategy"])
def test_markdown_carries_the_same_headings_and_numbers_as_the_docx(loaded_store, guides_kb, kind, tmp_path):
    document = build_plan(kind, initial_args(kind, {}), loaded_store, guides_kb.search)
    doc = read(document)
    markdown = render_markdown(document, tmp_path / "img", "img/")

    md_headings = [NUMERAL_PREFIX.sub("", line.lstrip("#").strip()) for line in markdown.splitlines()]
    md_headings = [
        h
        for line, h in zip(markdown.splitlines(), md_headings, strict=True)
        if line.startswith("## ") or line.startswith("### ")
    ]
    assert md_headings == headings(doc)
    assert markdown.startswith(f"# {document.title}\n")
    for table in doc.tables[1:]:  # the first table is the cover's
        for row in table.rows[1:]:
            for cell in row.cells:
                if re.fullmatch(r"-?[\d,]+(\.\d+)?", cell.text):
                    assert cell.text in markdown
    for number, chart in enumerate(document.charts(), start=1):
        assert f"](img/fig-{number}.png)" in markdown
        assert (tmp_path / "img" / f"fig-{number}.png").read_bytes().startswith(PNG)
        assert chart.title
    for ref in document.references:
        assert f"[{ref.number}] {ref.title}" in markdown


def test_a_saved_document_reopens_unchanged(loaded_store, guides_kb, tmp_path):
    document = build_quarterly_plan(loaded_store, guides_kb.search, region="华东")
    path = document.save(tmp_path / "plan.json")
    reopened = PlanDocument.load(path)

    assert reopened.to_json() == document.to_json()
    assert [h for h, _s in numbered_headings(reopened)] == [h for h, _s in numbered_headings(document)]
    for before, after in zip(document.tables(), reopened.tables(), strict=True):
        pd.testing.assert_frame_equal(before.frame, after.frame, check_dtype=False)
    assert all(c.model_dump() == d.model_dump() for c, d in zip(document.charts(), reopened.charts(), strict=True))
    assert render_markdown(reopened) == render_markdown(document)
    assert reopened.references == document.references


def test_unknown_draft_kind_is_a_clear_error(loaded_store):
    with pytest.raises(UnknownPlanKind, match="不认识的方案类型「memo」。可选：work_plan（季度渠道工作计划）"):
        build_plan("memo", {}, loaded_store, None)


# ---- charts and the Chinese font ------------------------------------------------------------------------------
def test_charts_draw_chinese_text_without_missing_glyphs():
    frame = pd.DataFrame(
        {
            "档位": ["未达门槛", "90%档", "100%档"],
            "返利(元)": [0.0, 163_552.49, 204_494.76],
            "开始": ["2026-10-01", "2026-11-01", "2026-12-01"],
            "结束": ["2026-10-31", "2026-11-30", "2026-12-31"],
        }
    )
    specs = [
        Chart(kind="bar", title="各档位返利（测试）", data=frame, x="档位", y="返利(元)"),
        Chart(kind="line", title="返利走势（测试）", data=frame, x="档位", y=["返利(元)"], y_label="返利"),
        Chart(
            kind="gantt",
            title="阶段安排（测试）",
            data=frame,
            x="档位",
            y=["开始", "结束"],
            label="档位",
            markers=["2026-11-05"],
        ),
    ]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pngs = [charts.render_png(spec) for spec in specs]
    assert not [w for w in caught if "missing from font" in str(w.message)]
    for png in pngs:
        assert png.startswith(PNG)
        assert int.from_bytes(png[16:20], "big") == 1280  # IHDR width


def test_a_missing_font_file_is_reported_in_chinese(tmp_path):
    with pytest.raises(charts.FontMissingError, match="pip install noto-cjk-sans-otc"):
        charts.chinese_font(tmp_path / "NotoSansCJK-Regular.ttc")
    not_a_font = tmp_path / "broken.ttc"
    not_a_font.write_bytes(b"not a font")
    with pytest.raises(charts.FontMissingError, match="找不到图表用的中文字体"):
        charts.chinese_font(not_a_font)


def test_a_missing_font_package_is_reported_in_chinese(monkeypatch):
    monkeypatch.setitem(sys.modules, "noto_cjk_sans_otc", None)  # as if the package were not installed
    with pytest.raises(charts.FontMissingError, match="没有安装 noto-cjk-sans-otc"):
        charts.font_file()
