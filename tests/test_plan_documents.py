"""A chat draft is a plan document: the Word file downloaded from the chat is the draft the user read (headings,
tables, numbers, citations), also after 门槛提高到110%再算 and after the company data has changed; the 方案 page
gives the same text for the same arguments; one vocabulary names the plan kinds everywhere."""

from __future__ import annotations

import io
import re
import shutil
from typing import get_args

import pytest
from docx import Document
from streamlit.testing.v1 import AppTest

from advisor import drafts
from advisor.cli import build_parser
from advisor.pipeline import HANDLERS, Context, answer
from advisor.plans import KIND_NAMES, PlanError, PlanLibrary, draft_document, generate
from advisor.router import CLARIFY_OPTIONS, OPTION_INTENTS
from advisor.settings import Settings
from advisor.types import Draft
from advisor.workspace import open_knowledge
from documents.builders import BUILDERS
from documents.kinds import PLAN_KINDS, PlanKindId, plan_kind
from documents.markdown import as_text, render_markdown
from documents.model import Metadata, PlanDocument
from tests.conftest import ROOT
from tests.test_ui_auth import sign_in
from ui.render import draft_docx

HEADING = re.compile(r"^#{2,4} (.+)$")
NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?")
CITED = re.compile(r"\[(\d+)\]")
ALIGN_ROW = re.compile(r"^\|(\s*:?-+:?\s*\|)+$")
CHART_NOTE = "（图表见 Word 版）"  # the chat names a chart the Word file embeds


@pytest.fixture
def ctx(loaded_store, guides_kb, tmp_path):
    return Context(store=loaded_store, kb=guides_kb, settings=Settings(data_dir=tmp_path / "data"))


def flat(text: str) -> str:
    return " ".join(text.split())


# ---- the chat's Markdown, taken apart --------------------------------------------------------------------------
def md_headings(markdown: str) -> list[str]:
    return [as_text(m.group(1)) for line in markdown.splitlines() if (m := HEADING.match(line))]


def md_tables(markdown: str) -> list[list[list[str]]]:
    tables, current = [], []
    for line in [*markdown.splitlines(), ""]:
        if line.startswith("|"):
            if not ALIGN_ROW.match(line):
                cells = re.split(r"(?<!\\)\|", line.strip()[1:-1])
                current.append([as_text(c.strip()) for c in cells])
        elif current:
            tables.append(current)
            current = []
    return tables


def md_text_units(markdown: str) -> list[str]:
    """Every line of running text (paragraphs, bullets, notes, captions, references), without Markdown marks."""
    units = []
    for line in markdown.splitlines()[1:]:  # the first line is the title (the Word cover's)
        if not line.strip() or line.startswith(("|", "#", "> **")):  # tables, headings, the metadata block
            continue
        text = re.sub(r"^(- |> )", "", line).replace(CHART_NOTE, "")
        units.append(flat(as_text(text.strip("*"))))
    return units


# ---- the Word file, taken apart -------------------------------------------------------------------------------
def word_headings(doc) -> list[str]:
    return [p.text for p in doc.paragraphs if p.style.name.startswith("Heading")]


def word_tables(doc) -> list[list[list[str]]]:
    return [[[c.text for c in row.cells] for row in table.rows] for table in doc.tables[1:]]  # [0] is the cover's


def word_body(doc) -> list[str]:
    """The paragraphs after the table of contents, whitespace-normalised (a reference line has a tab)."""
    texts = [p.text for p in doc.paragraphs]
    start = next(i for i, t in enumerate(texts) if t.startswith("提示：目录页码")) + 1
    return [flat(t) for t in texts[start:] if t.strip()]


def word_text(doc) -> str:
    return "\n".join([p.text for p in doc.paragraphs] + [c.text for t in doc.tables for r in t.rows for c in r.cells])


def assert_word_is_the_draft(word: bytes, draft: Draft) -> None:
    doc = Document(io.BytesIO(word))
    markdown = draft.markdown
    assert word_headings(doc) == md_headings(markdown)
    assert word_tables(doc) == md_tables(markdown)
    assert set(NUMBER.findall(word_text(doc))) == set(NUMBER.findall(markdown))
    body, units = word_body(doc), md_text_units(markdown)
    flat_markdown, flat_body = flat(as_text(markdown)), "\n".join(body)
    assert [p for p in body if p not in flat_markdown] == []
    assert [u for u in units if u not in flat_body] == []
    cited = {int(n) for n in CITED.findall(markdown)}
    assert cited and cited == {int(n) for n in CITED.findall("\n".join(body))}
    assert cited == {r.number for r in draft.document.references}
    assert len(doc.inline_shapes) == markdown.count(CHART_NOTE) == len(draft.document.charts())
    cover = [[c.text for c in row.cells] for row in doc.tables[0].rows]
    assert ["适用范围", draft.document.metadata.scope] in cover and ["版本", f"第 {draft.version} 版"] in cover


# ---- the acceptance tests ----------------------------------------------------------------------------------------
def test_word_downloaded_from_a_chat_draft_is_the_draft_shown_also_after_a_revision(ctx, data_dir):
    first = answer("设计一个返利方案，预算150万", ctx)
    assert first.draft is not None and first.draft.markdown in first.markdown  # what the chat shows
    ctx.draft = first.draft
    revised = answer("门槛提高到110%再算", ctx)
    assert revised.route.intent == "revise", revised.markdown
    assert revised.changes[:3] == [
        "入门门槛：90% → 110%",
        "其余档位门槛顺延：100%/110% → 120%/130%",
        "封顶完成率：130% → 150%",  # the cap keeps its room above the top tier, so 110% can be asked for
    ]
    assert revised.draft.version == 2 and revised.draft.markdown in revised.markdown
    assert "| 110%档 " in revised.draft.markdown and "| 90%档 " not in revised.draft.markdown

    # The company data changes before the downloads: each Word file is still the draft the user read.
    shutil.rmtree(data_dir / "company")
    for draft in (first.draft, revised.draft):
        assert_word_is_the_draft(draft_docx(draft), draft)
    assert md_tables(first.draft.markdown)[0][1][0] == "90%档"  # each version keeps its own tiers
    assert md_tables(revised.draft.markdown)[0][1][0] == "110%档"

    saved = PlanLibrary(data_dir / "plans")  # each downloaded version is also on the 方案 page
    listed = saved.list()
    assert sorted(p.plan_id.rsplit("-", 1)[-1] for p in listed) == ["v1", "v2"]
    by_version = {p.plan_id.rsplit("-", 1)[-1]: saved.load(p.plan_id) for p in listed}
    assert render_markdown(by_version["v2"]) == revised.draft.markdown
    assert {p.kind for p in listed} == {"incentive"}


@pytest.mark.parametrize("kind", list(PLAN_KINDS))
def test_chat_draft_and_plan_document_for_the_same_arguments_have_the_same_text(ctx, kind):
    draft = drafts.new_draft(kind, ctx.store, {}, ctx.kb.search).draft  # what the chat's 起草 runs
    assert draft.kind == kind and draft.document.references
    document = generate(kind, draft.args, ctx.store, ctx.kb.search)  # what the 方案 page and `plan` call
    assert [s.heading for s in document.walk()] == [s.heading for s in draft.document.walk()]
    for page, chat in zip(document.walk(), draft.document.walk(), strict=True):
        assert [p.text for p in page.paragraphs + page.closing] == [p.text for p in chat.paragraphs + chat.closing]
    assert render_markdown(document) == draft.markdown


def test_plans_page_generates_the_text_of_the_chat_draft(loaded_store, data_dir):
    kb = open_knowledge()  # the knowledge base the 方案 page searches
    chat = Context(store=loaded_store, kb=kb, settings=Settings(data_dir=data_dir))
    draft = answer("起草一份华南的渠道策略", chat).draft
    assert draft.args == {"period": "latest", "region": "华南"}

    app = sign_in(AppTest.from_file(str(ROOT / "ui" / "pages" / "plans.py"), default_timeout=180))
    app.run()
    app.selectbox(key="new-kind").set_value("strategy")
    app.selectbox(key="new-region").set_value("华南")
    app.button(key="new-go").click().run()
    assert not app.exception, [e.value for e in app.exception]
    page = PlanLibrary(data_dir / "plans").load(app.selectbox(key="plan_choice").value)
    assert render_markdown(page) == draft.markdown


def test_a_draft_saved_before_drafts_carried_their_document_says_what_to_do():
    old = Draft(kind="incentive", title="全国渠道返利方案", args={"budget": 1_000_000}, markdown="## 一、适用对象")
    with pytest.raises(PlanError, match=r"旧版本生成.*请重新起草一次"):
        draft_document(old)


# ---- one vocabulary --------------------------------------------------------------------------------------------------
def test_one_vocabulary_names_the_plan_kinds_everywhere(capsys):
    kinds = set(PLAN_KINDS)
    assert kinds == set(get_args(PlanKindId)) == set(BUILDERS) == set(drafts.REVISIONS)
    assert kinds <= set(HANDLERS)  # every kind is a chat intent that drafts
    assert KIND_NAMES == {k.id: k.zh for k in PLAN_KINDS.values()}  # the 方案 page's choices
    for kind in PLAN_KINDS.values():
        option = f"起草{kind.zh}"
        assert option in CLARIFY_OPTIONS and OPTION_INTENTS[option] == kind.id  # the router's options
        assert plan_kind(kind.en).id == plan_kind(kind.zh).id == kind.id
        assert kind.name("en") == kind.en and kind.name("zh") == kind.zh
        assert build_parser().parse_args(["plan", kind.id]).kind == kind.id
    assert build_parser().parse_args(["plan", "quarterly"]).kind == "work_plan"  # the README's spelling
    with pytest.raises(SystemExit):
        build_parser().parse_args(["plan", "memo"])
    assert "不认识的方案类型「memo」。可选：work_plan（季度渠道工作计划）" in capsys.readouterr().err


def test_a_document_saved_under_an_earlier_kind_name_reopens():
    saved = PlanDocument(kind="work_plan", title="计划", metadata=Metadata(company="示例公司", period="2026年第4季度"))
    earlier = saved.to_json().replace('"kind": "work_plan"', '"kind": "quarterly_plan"')
    assert '"quarterly_plan"' in earlier
    assert PlanDocument.from_json(earlier).kind == "work_plan"
    with pytest.raises(ValueError, match="不认识的方案类型"):
        PlanDocument.from_json(saved.to_json().replace('"kind": "work_plan"', '"kind": "memo"'))
