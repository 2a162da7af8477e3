"""What a shared deployment must keep to itself, and what it must not take from its data.

The saved API key goes only to the saved endpoint address; no piece of the key (8+ characters) reaches the history,
the screen or a log line, even when the endpoint echoes it; files holding secrets are private from the moment they
exist; names and passages from the data are shown as text, never as Markdown (no image fetched, no link).
"""

from __future__ import annotations

import json
import logging
import os
import stat

import openai
import pandas as pd
import pytest
from markdown_it import MarkdownIt

from advisor.audit import AuditLog
from advisor.conversation import Conversation, Deps
from advisor.history import History
from advisor.llm import check_typed_connection, create_chat_model
from advisor.llm_backends import StreamRedactor, guard_logs, redact
from advisor.settings import Settings, get_settings, save_settings, settings_file
from company.store import Profile, Store
from documents.builders import build_plan
from documents.markdown import plain, render_markdown
from documents.model import Metadata, Paragraph, PlanDocument, Reference, Section, Table
from tests.stub_openai import StubOpenAI

KEY = "sk-probe-3f9a7c21d84e6b50a1c9e7"  # 30 characters, like the key the reliability probe used
IMAGE = "![t](http://example.invalid/x.png)"


def pieces(key: str = KEY, length: int = 8) -> set[str]:
    return {key[i : i + length] for i in range(len(key) - length + 1)}


def leaks(text: str, key: str = KEY) -> list[str]:
    return sorted(p for p in pieces(key) if p in text)


@pytest.fixture
def stub():
    with StubOpenAI(api_key=KEY) as server:
        yield server


@pytest.fixture
def other():
    """A second endpoint on another port. It expects KEY too, so `authorized` tells whether KEY was sent to it."""
    with StubOpenAI(api_key=KEY) as server:
        yield server


def saved_for(stub: StubOpenAI) -> Settings:
    return Settings(
        llm_backend="openai", llm_base_url=stub.base_url, llm_api_key=KEY, llm_model=stub.model, llm_timeout_s=10
    )


# ---- finding 1: the connection test never sends the saved key to a new address ------------------------------


def test_the_connection_test_sends_the_saved_key_only_to_the_saved_address(stub, other):
    saved = saved_for(stub)
    typed = {"llm_backend": "openai", "llm_base_url": other.base_url, "llm_model": other.model}

    ok, message = check_typed_connection(saved, typed, typed_key="")
    assert not ok and "需要重新填写 API Key" in message and other.base_url in message
    assert other.requests == [], "nothing at all goes to the new address without a typed key"
    assert not leaks(message)

    ok, message = check_typed_connection(saved, typed, typed_key="sk-typed-for-the-new-address")
    assert not ok and "HTTP 401" in message  # the typed key went there, and the new server refused it
    assert [r.authorized for r in other.chat_requests()] == [False], "the saved key never reached the new server"

    ok, message = check_typed_connection(saved, {**typed, "llm_base_url": stub.base_url + "/"})
    assert ok and [r.authorized for r in stub.chat_requests()] == [True], "the saved address still gets the saved key"

    # With 离线 chosen on the page, the endpoint fields are still tested (as the page did before).
    ok, _message = check_typed_connection(saved, {"llm_backend": "offline", "llm_base_url": stub.base_url})
    assert ok and len(stub.chat_requests()) == 2


def test_saving_a_new_address_without_a_new_key_drops_the_saved_key(data_dir, stub, other):
    save_settings({"llm_backend": "openai", "llm_base_url": stub.base_url, "llm_api_key": KEY})
    save_settings({"llm_base_url": stub.base_url + "/", "llm_model": stub.model})  # the same address: key kept
    assert get_settings().llm_api_key.get_secret_value() == KEY

    save_settings({"llm_base_url": other.base_url, "llm_model": other.model})
    assert "llm_api_key" not in json.loads(settings_file().read_text(encoding="utf-8"))
    assert get_settings().llm_api_key is None
    with pytest.raises(openai.AuthenticationError):  # the next chat goes to the new address without the old key
        create_chat_model(get_settings()).invoke("ping")
    assert [r.authorized for r in other.chat_requests()] == [False]
    changes = [json.loads(d)["changed"] for d in AuditLog(data_dir).read()["details"]]
    assert changes[-1]["llm_api_key"].startswith("（已清除：接口地址改变")
    assert not leaks((data_dir / "audit.sqlite").read_bytes().decode("utf-8", "replace"))


# ---- finding 2: no piece of the key in history, on screen or in a log ----------------------------------------


def test_every_piece_of_eight_or_more_characters_is_masked():
    for piece in (KEY, KEY[2:28], KEY[10:18], f"Bearer {KEY}"):
        masked = redact(f"服务返回：{piece}。", KEY)
        assert not leaks(masked) and "***" in masked
    assert redact(f"前缀 {KEY[:7]} 不算", KEY) == f"前缀 {KEY[:7]} 不算"  # 7 characters are not the key
    assert redact("没有 Key 时原样", None) == "没有 Key 时原样"

    text = f"第一次 {KEY} 第二次 {KEY[3:29]}，还有 {KEY[:6]}。"
    for size in (1, 3, 7):  # however the stream cuts it, what is shown equals redact() of the whole
        stream = StreamRedactor(KEY)
        shown = "".join(stream.feed(text[i : i + size]) for i in range(0, len(text), size)) + stream.flush()
        assert shown == redact(text, KEY) and not leaks(shown)


def test_an_endpoint_echoing_the_key_gets_none_of_it_into_history_screen_or_logs(stub, loaded_store, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    settings = saved_for(stub).model_copy(update={"data_dir": tmp_path / "data"})
    deps = Deps(store=loaded_store, kb=None, settings=settings, history=History(tmp_path / "data" / "history.sqlite"))
    shown: list[str] = []

    def on_event(kind, value):
        if kind == "token":
            shown.append(value)
        elif kind == "step":
            shown.append(f"{value.label} {value.detail}")

    stub.enqueue_text(f"您的 Key 是 {KEY}，请妥善保管。")  # the whole key
    stub.enqueue_text(f"部分回显：{KEY[2:28]}。")  # 26 of its 30 characters, as the probe saw
    stub.enqueue_error(400, f"upstream rejected {KEY[:-4]}")  # and in an error the endpoint returns
    conversation = Conversation.start(deps, "各区域的销售额")
    replies = [conversation.ask("各区域的销售额", on_event) for _ in range(3)]
    logging.getLogger("some.library").warning("request failed for key %s", KEY[4:24])

    assert "***" in replies[0].markdown and "***" in replies[1].markdown
    assert any("大模型调用失败" in flag and "***" in flag for flag in replies[2].flags)
    stored = (tmp_path / "data" / "history.sqlite").read_bytes().decode("utf-8", "replace")
    texts = [stored, "".join(shown), caplog.text, *(r.markdown for r in replies)]
    texts += [flag for reply in replies for flag in reply.flags]
    texts += [json.dumps([m.content for m in deps.history.messages(conversation.id)], ensure_ascii=False)]
    texts += [(tmp_path / "data" / "audit.sqlite").read_bytes().decode("utf-8", "replace")]
    for text in texts:
        assert not leaks(text), leaks(text)


def test_a_key_typed_into_a_question_is_masked_before_it_is_stored(stub, loaded_store, tmp_path):
    settings = saved_for(stub).model_copy(update={"data_dir": tmp_path / "data", "llm_backend": "offline"})
    deps = Deps(store=loaded_store, kb=None, settings=settings, history=History(tmp_path / "data" / "history.sqlite"))
    conversation = Conversation.start(deps, "帮助")
    conversation.ask(f"我的 key 是 {KEY} 怎么用")
    assert deps.history.messages(conversation.id)[0].content == "我的 key 是 *** 怎么用"
    assert not leaks((tmp_path / "data" / "audit.sqlite").read_bytes().decode("utf-8", "replace"))


def test_log_lines_of_any_library_never_show_the_key(caplog):
    caplog.set_level(logging.DEBUG)
    guard_logs(KEY)  # done wherever a key is handed to a client
    logging.getLogger("httpx").debug("Authorization: Bearer %s", KEY)
    logging.getLogger("openai").info(f"echo {KEY[1:25]}")
    try:
        raise RuntimeError(f"server said {KEY[5:]}")
    except RuntimeError:
        logging.getLogger("app").exception("failed")
    assert "server said ***" in caplog.text and not leaks(caplog.text)
    assert not any(leaks(record.getMessage()) for record in caplog.records)


# ---- finding 3: files holding secrets are private from the start ---------------------------------------------


def test_every_file_holding_secrets_is_created_private(data_dir, monkeypatch, tmp_path):
    old_umask = os.umask(0o022)  # the usual umask: a file created without care is world-readable
    chmods: list[str] = []
    monkeypatch.setattr(os, "chmod", lambda path, mode, **kw: chmods.append(str(path)))  # no narrowing afterwards
    try:
        save_settings({"llm_backend": "openai", "llm_base_url": "http://127.0.0.1:9/v1", "llm_api_key": KEY})
        history = History(data_dir / "history.sqlite")
        history.add(history.start("问题"), "user", "问题")
        AuditLog(data_dir).record("question", "local", question="问题")
        exported = AuditLog(data_dir).export_csv(tmp_path / "审计.csv")
    finally:
        os.umask(old_umask)
    created = sorted(p for p in data_dir.rglob("*") if p.is_file())
    assert {p.name for p in created} == {"settings.json", "history.sqlite", "audit.sqlite"}
    for path in [*created, exported]:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert chmods == [], "created with mode 600, not narrowed after a window at 644"


def test_an_older_world_readable_history_is_narrowed_when_opened(tmp_path):
    path = tmp_path / "history.sqlite"
    History(path)
    os.chmod(path, 0o644)
    History(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


# ---- finding 5: values from data and documents render as text ------------------------------------------------

RENDERER = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])  # HTML on: the strictest


def elements(markdown: str) -> list[str]:
    """The HTML elements that would fetch something or lead somewhere."""
    html = RENDERER.render(markdown)
    return [tag for tag in ("<img", "<a ", "<script", "<iframe") if tag in html]


def test_the_escaping_keeps_the_text_and_drops_every_construct():
    values = [IMAGE, "[官网](http://example.invalid)", "<img src=x onerror=alert(1)>", "<http://example.invalid>"]
    values += ["# x", "~~删~~", "**粗**", "`代码`", "A & B &amp; C", "1. 第一", "> 引用", "$x$", "a|b", "C:\\路径"]
    for value in values:
        rendered = RENDERER.render(plain(value))
        assert not elements(plain(value)), value
        text = rendered.removeprefix("<p>").removesuffix("</p>\n")
        unescaped = text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&").replace("&quot;", '"')
        assert unescaped == value, (value, text)
    assert plain("返利按季度核算[1][2]。") == "返利按季度核算[1][2]。", "the document's own citations stay"


def test_a_plan_document_shows_data_and_passages_as_text(tmp_path):
    document = PlanDocument(
        kind="incentive",
        title=f"返利方案 {IMAGE}",
        metadata=Metadata(company="<img src=http://example.invalid/c.png>公司", period="2026年第1季度", scope=IMAGE),
        sections=[
            Section(
                heading=f"伙伴 {IMAGE}",
                paragraphs=[Paragraph(text=f"重点伙伴 {IMAGE} 与 [链接](http://example.invalid)[1]")],
                tables=[Table(caption=IMAGE, frame=pd.DataFrame({"伙伴": [IMAGE], "返利": [1.5]}))],
            )
        ],
        references=[
            Reference(number=1, title=IMAGE, source="上传.md", text=f"原文里有图片 {IMAGE} 和 <a href=x>链接</a>")
        ],
        warnings=[f"数据提示 {IMAGE}"],
    )
    markdown = render_markdown(document)
    assert not elements(markdown), markdown
    assert IMAGE.replace("[", "\\[").replace("]", "\\]") in markdown  # the name is there, as text


def test_a_partner_named_like_an_image_stays_text_in_every_plan_and_answer(small_company, tmp_path):
    from advisor.composer import answer_tool
    from advisor.types import Route
    from tools.registry import TOOLS

    tables = {name: frame.copy() for name, frame in small_company.tables.items()}
    tables["partners"]["name"] = [f"![t{i}](http://example.invalid/{i}.png)" for i in range(len(tables["partners"]))]
    store = Store(tmp_path / "company" / "evil")
    store.replace_all(tables, meta={"source": "fixture"})
    store.save_profile(Profile(name=f"公司 {IMAGE}", kind="company"))

    for kind in ("work_plan", "incentive", "strategy"):
        markdown = render_markdown(build_plan(kind, {}, store, None))
        assert not elements(markdown), (kind, [line for line in markdown.splitlines() if "example.invalid" in line])
    names = "![t"
    shown = []
    for tool in ("partner_scorecard", "detect_conflicts"):
        reply = answer_tool("问题", Route(intent="scorecard", confidence=1.0), TOOLS[tool](store, {}), None, [])
        assert not elements(reply.markdown), reply.markdown
        shown.append(reply.markdown)
    assert any(names.replace("[", "\\[") in text for text in shown), "the names are shown, as text"
