"""The interface speaks one language at a time: the string table is complete, pages write no Chinese of their
own outside it, and in English every page's own words (titles, labels, buttons, captions, messages, chart and
column titles) are English — the data (names of partners, datasets, documents) and quoted passages excepted.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest
from streamlit.testing.v1.element_tree import Block

from advisor.llm_backends import BACKENDS
from advisor.settings import reset_settings
from advisor.workspace import open_knowledge
from tests.conftest import ROOT
from tests.test_ui_auth import sign_in
from tools.scorecard import KPIS
from ui.i18n import ONLY_EN, ONLY_ZH, TEXT_FILE, TextTableError, placeholders, shared, table

# Chinese characters, CJK punctuation (「」，。、：) and full-width forms (（）｜)
CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\u3000-\u303f\uff00-\uffef]")
# A data value inside interface text stands in quotes: “示例公司” in English, 「示例公司」 in Chinese.
QUOTED = re.compile(r"“[^”]*”|「[^」]*」")
UI_FILES = [ROOT / "app.py", *sorted((ROOT / "ui").rglob("*.py"))]

# Entries written in both languages on purpose: the language switch (see ui/text.yaml).
BILINGUAL = {"settings.language.label", "settings.language.chinese", "settings.language.english"}
# Chinese literals in ui/ that are not interface text: names of the answer tables advisor/pipeline.py makes
# (结果 / 数值 / 排名) and the note advisor/composer.py writes under a cut table, which ui/render.py matches
# to know what to leave out. They are never shown; if advisor exported them as constants, ui would import them.
PROTOCOL = {"数值", "排名", r"^（共 \d+ 行，此处显示前 \d+ 行，完整表格见下方。）$"}
# The chat draft's download block in ui/render.py is being rewritten by another change at the same time (it
# must not be edited here); its labels are in the table (answer.download.*) for that block to use. The lead
# replaces these literals with t("answer.download.markdown" / "answer.download.word" / "answer.download.old_draft")
# and empties this set.
PENDING: set[str] = set()


def chinese_ui_text(text: str) -> str | None:
    """The text if it holds Chinese outside its quoted data values, else None."""
    return text if CJK.search(QUOTED.sub("", str(text))) else None


# ---- the string table ------------------------------------------------------------------------------------------


def test_every_entry_has_both_languages_with_the_same_placeholders():
    entries = table()
    assert len(entries) > 250
    for key, texts in entries.items():
        assert set(texts) == {"zh", "en"}, key
        assert texts["zh"].strip() and texts["en"].strip(), key
        zh, en = placeholders(texts["zh"]), placeholders(texts["en"])
        assert shared(zh) == shared(en), (key, zh, en)
        assert not any(n.endswith(ONLY_EN) for n in zh) and not any(n.endswith(ONLY_ZH) for n in en), key


def test_english_texts_hold_no_chinese_and_chinese_texts_are_chinese():
    entries = table()
    english = {k: v["en"] for k, v in entries.items() if k not in BILINGUAL and chinese_ui_text(v["en"])}
    assert not english, f"English texts with Chinese in them: {english}"
    # A Chinese entry that is plain English is most likely an untranslated copy (brand and format-only
    # entries, such as "API Key" or "{name}：{message}", have no letters to translate).
    words = re.compile(r"[a-z]{4,}")
    untranslated = {
        k: v["zh"]
        for k, v in entries.items()
        if k not in BILINGUAL and v["zh"] == v["en"] and not CJK.search(v["zh"]) and words.search(v["zh"])
    }
    assert not untranslated, untranslated


def test_a_malformed_table_is_refused_with_the_key_named(tmp_path, monkeypatch):
    from ui import i18n

    broken = tmp_path / "text.yaml"
    broken.write_text('chat:\n  title: {zh: "你好 {name}", en: "Hello"}\n', encoding="utf-8")
    monkeypatch.setattr(i18n, "TEXT_FILE", broken)
    i18n.table.cache_clear()
    try:
        with pytest.raises(TextTableError, match=r"chat\.title"):
            i18n.table()
        broken.write_text('chat:\n  title: {zh: "你好"}\n', encoding="utf-8")
        i18n.table.cache_clear()
        with pytest.raises(TextTableError, match=r"chat\.title"):
            i18n.table()
    finally:
        monkeypatch.undo()
        i18n.table.cache_clear()
    assert i18n.TEXT_FILE == TEXT_FILE and table()


def test_names_of_things_owned_elsewhere_keep_their_owners_chinese():
    """KPI and LLM-backend names are defined by their owners; the table adds English and must not drift."""
    entries = table()
    for name, (label, _unit, _direction) in KPIS.items():
        assert entries[f"settings.scorecard.kpi.{name}"]["zh"] == label, name
    for name in ("offline", "openai"):
        assert entries[f"settings.llm.backends.{name}"]["zh"] == BACKENDS[name].label, name


# ---- the pages' source -----------------------------------------------------------------------------------------


def literals(path: Path):
    """(line, text) of every string literal in a module, f-string pieces included, docstrings left out."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                docstrings.add(id(first.value))
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            yield node.lineno, node.value


def test_no_chinese_string_literal_in_the_interface_code_outside_the_table():
    found = [
        f"{path.relative_to(ROOT)}:{line}: {text!r}"
        for path in UI_FILES
        for line, text in literals(path)
        if CJK.search(text) and text not in PROTOCOL | PENDING
    ]
    assert not found, "write these through ui/text.yaml and t():\n" + "\n".join(found)


def test_the_scan_finds_a_chinese_literal(tmp_path):
    """The scan itself: a page with a Chinese button label is caught, its docstring is not."""
    page = tmp_path / "page.py"
    page.write_text('"""页面说明。"""\nimport streamlit as st\nst.button(f"保存{1}")\n', encoding="utf-8")
    assert [(line, text) for line, text in literals(page) if CJK.search(text)] == [(3, "保存")]


def keys_used(path: Path) -> tuple[set[str], set[str]]:
    """The table keys a module names: whole keys (any string literal) and prefixes of f-string keys."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    whole, prefixes = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            whole.add(node.value)
        elif isinstance(node, ast.JoinedStr) and node.values and isinstance(node.values[0], ast.Constant):
            prefixes.add(str(node.values[0].value))
    return whole, prefixes


def called_keys(path: Path) -> set[str]:
    """The literal first arguments of t(…) and has(…) calls, including both sides of a conditional."""
    keys = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("t", "has"):
            arg = node.args[0] if node.args else None
            for value in (arg.body, arg.orelse) if isinstance(arg, ast.IfExp) else (arg,):
                if isinstance(value, ast.Constant) and isinstance(value.value, str):
                    keys.add(value.value)
    return keys


def test_every_key_called_exists_and_every_entry_is_used():
    entries = set(table())
    called = set().union(*(called_keys(path) for path in UI_FILES))
    assert called <= entries, f"t() keys missing from {TEXT_FILE.name}: {sorted(called - entries)}"
    whole, prefixes = set(), set()
    for path in UI_FILES:
        w, p = keys_used(path)
        whole |= w
        prefixes |= {prefix for prefix in p if prefix.endswith(".")}
    unused = {k for k in entries if k not in whole and not any(k.startswith(p) for p in prefixes)}
    assert not unused, f"entries no page uses: {sorted(unused)}"


# ---- the example questions ---------------------------------------------------------------------------------------


def test_the_english_example_questions_are_answered_as_the_chinese_ones(loaded_store, guides_kb):
    """Each English example question is answered (no clarifying question) in English, by the same route as its
    Chinese counterpart: the data question gets data, the rebate question a rebate plan, and so on."""
    from advisor.pipeline import Context, answer
    from advisor.settings import get_settings

    context = Context(store=loaded_store, kb=guides_kb, settings=get_settings())
    starters = {k: v for k, v in table().items() if k.startswith("chat.starter.")}
    assert len(starters) == 9
    for key, texts in starters.items():
        chinese, english = answer(texts["zh"], context), answer(texts["en"], context)
        assert english.route.clarify is None and not english.route.options, (key, english.markdown[:200])
        assert english.route.language == "en", key
        assert english.route.intent == chinese.route.intent is not None, (key, english.route, chinese.route)
        assert "没有找到相关依据" not in english.markdown, key


# ---- every page in English (AppTest) ---------------------------------------------------------------------------


def is_content(block: Block) -> bool:
    """A container keyed content-… (the assistant's answer, quoted passages, a plan document) or bilingual-…."""
    key = getattr(getattr(block, "proto", None), "id", "") or ""
    return "-content-" in key or "-bilingual-" in key


def interface_texts(node, out: list[str]) -> list[str]:
    """Every text the interface itself writes, outside content containers and data cells."""
    if isinstance(node, Block) or not hasattr(node, "proto"):
        if isinstance(node, Block) and is_content(node):
            return out
        if getattr(node, "label", None):  # expanders, tabs
            out.append(node.label)
        for child in getattr(node, "children", {}).values():
            interface_texts(child, out)
        return out
    proto = node.proto
    for name in ("label", "body", "placeholder", "help"):
        value = getattr(proto, name, None)
        if isinstance(value, str) and value:
            out.append(value)
    if node.type in ("dataframe", "arrow_data_frame"):  # the columns the page names (cells are data)
        out += [str(c) for c in node.value.columns]
    if node.type == "plotly_chart":
        layout = json.loads(proto.spec).get("layout", {})
        titles = [layout.get("title"), layout.get("legend", {}).get("title")]
        titles += [layout.get(axis, {}).get("title") for axis in ("xaxis", "yaxis")]
        out += [t.get("text", "") for t in titles if isinstance(t, dict)]
    return out


def english_page(page: str) -> AppTest:
    app = sign_in(AppTest.from_file(str(ROOT / "ui" / "pages" / page), default_timeout=120))
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    return app


@pytest.fixture
def english(monkeypatch, loaded_store):
    monkeypatch.setenv("CANMOU_UI_LANGUAGE", "en")
    reset_settings()
    yield loaded_store
    reset_settings()


def assert_english(app: AppTest, page: str) -> None:
    texts = interface_texts(app._tree, [])
    assert len(texts) >= 2, texts  # at least the title and one more text: the walk found the page
    chinese = [text for text in texts if chinese_ui_text(text)]
    assert not chinese, f"{page} in English shows Chinese interface text: {chinese}"


@pytest.mark.parametrize("page", ["data_center.py", "knowledge_base.py", "plans.py", "settings.py"])
def test_every_page_is_english_in_english_mode(english, page):
    assert_english(english_page(page), page)


@pytest.mark.parametrize("page", ["chat.py", "data_center.py", "plans.py"])
def test_the_first_run_pages_are_english_too(data_dir, monkeypatch, page):
    """An empty data folder: the pages that explain how to start."""
    monkeypatch.setenv("CANMOU_UI_LANGUAGE", "en")
    reset_settings()
    assert_english(english_page(page), f"{page} (empty data folder)")


def test_the_chat_is_english_around_english_answers(english):
    """The welcome, the example questions, and the frame of a data and a guidance answer."""
    open_knowledge().add("rebates.txt", "返利门槛一般设三档：90%、100%、110%，门槛以季度目标完成率计算。".encode())
    app = english_page("chat.py")
    starters = [b.label for b in app.button if b.key and b.key.startswith("starter-")]
    assert len(starters) == 9 and all(not chinese_ui_text(s) for s in starters), starters
    assert_english(app, "chat.py (welcome)")
    app.chat_input[0].set_value("Revenue by region").run()
    app.chat_input[0].set_value("How should rebate thresholds be set?").run()
    assert not app.exception, [e.value for e in app.exception]
    labels = [e.label for e in app.expander]
    assert "Query (SQL) and period" in labels and any(label.startswith("Sources (") for label in labels), labels
    assert_english(app, "chat.py (answers)")


def test_the_plans_page_is_english_around_a_chinese_plan_document(english):
    app = english_page("plans.py")
    app.selectbox(key="new-kind").set_value("strategy")
    app.button(key="new-go").click().run()
    assert not app.exception, [e.value for e in app.exception]
    assert app.selectbox(key="plan_choice").value, "a plan was generated and is shown"
    assert {b.proto.label for b in app.get("download_button")} == {"Download Word (.docx)", "Download Markdown"}
    assert_english(app, "plans.py (a plan shown)")


def test_chinese_mode_is_unchanged(loaded_store):
    """The same walk in Chinese finds the Chinese titles: the check above is not vacuous."""
    app = english_page("plans.py")
    texts = interface_texts(app._tree, [])
    assert "方案" in texts and any(chinese_ui_text(text) for text in texts)
