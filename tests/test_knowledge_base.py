"""The knowledge base: guides indexed, hybrid search with citations, gate, filters, add/remove, consistency."""

from __future__ import annotations

import socket

import pytest

from retrieval.knowledge_base import GUIDES_DIR, KnowledgeBase, KnowledgeError
from retrieval.search import NOT_FOUND

DOC = (
    "经销商年度大会筹备要点\n\n一、会议目的\n表彰优秀经销商，发布新一年的返利政策和新品计划，"
    "让核心伙伴提前了解公司的市场推广节奏。\n\n二、会场布置\n主会场按三百人准备，"
    "签到处安排两名专员，并准备经销商荣誉墙。\n"
)


@pytest.fixture
def small_kb(tmp_path) -> KnowledgeBase:
    return KnowledgeBase(tmp_path / "knowledge")


def test_guides_are_indexed_with_vectors_for_every_chunk(guides_kb):
    stats = guides_kb.stats()
    assert stats["documents"] >= 20 and stats["vectors"] > stats["chunks"] > 200
    assert guides_kb.ensure_guides() == 0, "a second prepare must not index the guides twice"
    topics = {d.topic for d in guides_kb.documents()}
    assert {"incentive", "conflict", "templates", "control"} <= topics


def test_search_cites_the_passage_it_found(guides_kb):
    result = guides_kb.search("经销商跨区窜货怎么处理", k=5)
    assert result.found and result.message is None
    top = result.passages[0]
    assert top.relevant and top.chunk.topic in {"conflict", "control"}
    data = top.to_dict()
    assert data["source"].endswith(".md") and data["title"] and data["location_label"]
    assert data["text"] in (GUIDES_DIR / data["source"]).read_text(encoding="utf-8").replace("\n", "") or all(
        line in (GUIDES_DIR / data["source"]).read_text(encoding="utf-8") for line in data["text"].splitlines()
    )
    assert set(data["legs"]) <= {"words", "bigrams", "dense"} and data["legs"]


def test_synonyms_and_english_reach_the_same_passages(guides_kb):
    rebate = guides_kb.search("返点门槛怎么定", k=5)
    assert "返利" in rebate.expanded_terms
    assert any("返利" in p.chunk.title for p in rebate.passages[:3])
    english = guides_kb.search("How should we set rebate tiers and thresholds for distributors?", k=5)
    assert english.found
    assert any(p.chunk.topic == "incentive" for p in english.passages[:3])


def test_evidence_gate_refuses_unrelated_questions(guides_kb):
    for question in ("红烧肉怎么做才好吃", "What is the capital of Australia?"):
        result = guides_kb.search(question, k=5)
        assert not result.found and result.message == NOT_FOUND
        assert result.relevant == []


def test_topic_and_source_filters(guides_kb):
    only = guides_kb.search("怎么设计激励", k=8, topics=["templates"])
    assert only.passages and {p.chunk.topic for p in only.passages} == {"templates"}
    source = guides_kb.documents()[0].source
    by_source = guides_kb.search("渠道", k=5, sources=[source])
    assert by_source.passages and {p.chunk.source for p in by_source.passages} == {source}


def test_add_list_search_remove_and_persist(small_kb, tmp_path):
    outcome = small_kb.add("年会.txt", DOC.encode("gbk"))
    assert outcome.ok and outcome.document.title == "经销商年度大会筹备要点"
    assert small_kb.add("年会-副本.txt", DOC.encode("gbk")).duplicate_of == outcome.document.doc_id
    reopened = KnowledgeBase(tmp_path / "knowledge")
    assert [d.doc_id for d in reopened.documents()] == [outcome.document.doc_id]
    hit = reopened.search("年会会场怎么布置", k=3).passages[0]
    assert hit.chunk.heading_path == ("二、会场布置",) and hit.chunk.source == "年会.txt"
    reopened.remove(outcome.document.doc_id)
    assert reopened.documents() == [] and reopened.stats() == {"documents": 0, "chunks": 0, "vectors": 0}
    assert reopened.search("年会会场怎么布置").passages == []
    with pytest.raises(KnowledgeError, match="没有编号为"):
        reopened.remove("doc:nothing")


def test_add_files_reports_each_failure_and_keeps_the_rest(small_kb, tmp_path):
    good = tmp_path / "good.txt"
    good.write_text(DOC, encoding="utf-8")
    empty = tmp_path / "empty.txt"
    empty.write_text("", encoding="utf-8")
    (tmp_path / "x.exe").write_bytes(b"MZ")
    outcomes = small_kb.add_files([good, empty, tmp_path / "missing.md", tmp_path / "x.exe"])
    assert [o.ok for o in outcomes] == [True, False, False, False]
    assert "是空的" in outcomes[1].error and "找不到文件" in outcomes[2].error and "不支持" in outcomes[3].error
    assert len(small_kb.documents()) == 1


def test_interrupted_add_leaves_the_index_consistent(small_kb, tmp_path, monkeypatch):
    small_kb.add("first.txt", DOC.encode())
    before = small_kb.stats()

    def crash(*args, **kwargs):
        raise KeyboardInterrupt  # the process is stopped after vectors were written, before the commit

    monkeypatch.setattr(small_kb, "_commit_document", crash)
    monkeypatch.setattr(small_kb, "_discard_vectors", lambda ids: None)  # no clean-up: as if killed
    with pytest.raises(KeyboardInterrupt):
        small_kb.add("second.txt", DOC.replace("三百人", "五百人").encode())
    assert small_kb._chroma().count() > before["vectors"], "the crash left orphan vectors behind"
    reopened = KnowledgeBase(tmp_path / "knowledge")
    assert reopened.stats() == before
    assert [d.source for d in reopened.documents()] == ["first.txt"]
    assert not list((tmp_path / "knowledge" / "files").glob("*.tmp"))
    assert all(p.chunk.source == "first.txt" for p in reopened.search("会场布置五百人", k=5).passages)


def test_failed_add_changes_nothing(small_kb):
    before = small_kb.stats()
    with pytest.raises(Exception, match="不是有效的 PDF"):
        small_kb.add("bad.pdf", b"not a pdf")
    assert small_kb.stats() == before


def test_reindex_rebuilds_from_stored_originals(small_kb):
    small_kb.add("年会.txt", DOC.encode())
    before = small_kb.stats()
    outcomes = small_kb.reindex()
    assert [o.ok for o in outcomes] == [True]
    assert small_kb.stats() == before and before["vectors"] >= before["chunks"] > 0


def test_chromadb_default_embedding_is_never_called(tmp_path, monkeypatch):
    from chromadb.utils import embedding_functions

    def forbidden(*args, **kwargs):
        raise AssertionError("chromadb's default embedding function was called")

    monkeypatch.setattr(embedding_functions.DefaultEmbeddingFunction, "__call__", forbidden)
    monkeypatch.setattr(embedding_functions.ONNXMiniLM_L6_V2, "__call__", forbidden)
    kb = KnowledgeBase(tmp_path / "knowledge")
    kb.add("年会.txt", DOC.encode())
    assert kb.search("年会会场", k=2).passages


def test_retrieval_needs_no_network(tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise OSError("network access attempted during retrieval")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    kb = KnowledgeBase(tmp_path / "knowledge")
    kb.add("年会.txt", DOC.encode())
    result = kb.search("经销商年会表彰", k=2)
    assert result.found and result.passages[0].chunk.source == "年会.txt"


def test_a_new_process_searches_the_vector_snapshot_without_chromadb(guides_kb, tmp_path):
    """The `ask` of a new process: the snapshot written for exactly SQLite's passages is searched in memory, so
    chromadb is never imported (1.3 s); a document added since makes it stale, and it is rebuilt with it."""
    import shutil
    import subprocess
    import sys

    folder = tmp_path / "knowledge"
    shutil.copytree(guides_kb.folder, folder)
    KnowledgeBase(folder).search("窜货怎么处理", k=3)  # writes the snapshot if the copy has none yet
    probe = (
        "import sys; from retrieval.knowledge_base import KnowledgeBase; "
        f"r = KnowledgeBase({str(folder)!r}).search('经销商年度大会的会场按多少人准备', k=5); "
        "print('chromadb' in sys.modules, r.passages[0].chunk.source, r.passages[0].similarity is not None)"
    )

    def run_probe() -> list[str]:
        done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-2000:]
        return done.stdout.split()

    assert run_probe()[0] == "False"
    KnowledgeBase(folder).add("年会.txt", DOC.encode("utf-8"))
    imported, source, dense = run_probe()
    assert (imported, source, dense) == ("True", "年会.txt", "True"), "a stale snapshot is rebuilt from chromadb"
    assert run_probe()[:2] == ["False", "年会.txt"]


def test_the_snapshot_finds_what_chromadbs_index_finds(guides_kb, monkeypatch):
    from retrieval import knowledge_base

    kb = KnowledgeBase(guides_kb.folder)
    questions = ["阶梯返利一般分几档", "How do we stop cross-region selling?", "经销商满意度调查多久做一次"]
    exact = {q: [p.chunk.chunk_id for p in kb.search(q, k=5).passages] for q in questions}
    monkeypatch.setattr(knowledge_base, "VECTOR_SNAPSHOT_MAX", 0)  # too many vectors: chromadb's own index
    through_index = KnowledgeBase(guides_kb.folder)
    assert through_index._snapshot([c.chunk_id for c in through_index.chunks()]) is None
    for question in questions:
        assert [p.chunk.chunk_id for p in through_index.search(question, k=5).passages] == exact[question]


def test_a_damaged_vector_snapshot_is_rebuilt_and_loses_nothing(small_kb):
    small_kb.add("年会.txt", DOC.encode("utf-8"))
    small_kb.search("会场按多少人准备", k=3)
    path = small_kb._snapshot_path()
    path.write_bytes(b"not a zip file")  # a disk full or a killed write left it unreadable
    reopened = KnowledgeBase(small_kb.folder)
    first = reopened.search("会场按多少人准备", k=3).passages[0]
    assert first.chunk.source == "年会.txt" and first.similarity is not None
    assert path.read_bytes()[:2] == b"PK", "the snapshot is written again"
    assert reopened.stats()["documents"] == 1


def test_shop_floor_words_reach_the_formal_words_of_a_rule(small_kb):
    """店庆打折 / 装机费 / 商场 are how a shop asks about 折价、减价 / 安装 / 交易场所 in a regulation."""
    filler = (
        "具体执行中的问题，由县级以上主管部门结合本地交易习惯予以说明，并在公开渠道发布参考样式和解释口径，便于经营者对照执行。"
        * 2
    )
    rules = "".join(
        f"{article}\n\n"
        for article in (
            "第一条 为了规范商品促销和经营者的价格行为，保护消费者的合法权益，制定本办法。" + filler,
            "第二条 交易场所提供者不得强制场所内经营者参加折价、减价活动。" + filler,
            "第三条 经营者有偿提供配送、安装等附带服务的，应当对附带服务单独标价。" + filler,
            "第四条 经营者应当保存进货凭证不少于两年，以备主管部门检查。" + filler,
        )
    )
    from retrieval.synonyms import expand_terms

    pairs = (
        ("打折", "折价"),
        ("装机", "安装"),
        ("商场", "交易场所"),
        ("结账", "结算"),
        ("烫伤", "人身损害"),
        ("吊牌价", "标示价格"),
        ("收货", "进货"),
        ("说明书", "产品说明"),
        ("索赔", "赔偿"),
        ("对不上", "不符"),
        ("不让", "禁止"),
        ("拿货", "进货"),
        ("为啥", "原因"),
        ("账本", "财务资料"),
        ("上调", "提价"),
        ("地盘", "授权区域"),
        ("客人", "消费者"),
        ("单子", "清单"),
        ("次品", "以次充好"),
        ("冒充", "以假充真"),
    )
    for said, formal in pairs:
        assert formal in expand_terms([said]), said
    small_kb.add("促销办法.md", rules.encode())
    for question, article in (
        ("商场非要入驻的店跟着搞店庆打折，能不参加吗", "第二条"),
        ("顺带收的装机费要标出来吗", "第三条"),
    ):
        result = small_kb.search(question, k=2)
        assert result.passages and result.passages[0].chunk.text.startswith(article), (question, result.passages[0])


def test_a_base_indexed_by_an_older_tokenizer_is_retokenised_once_and_keeps_its_documents(small_kb, tmp_path):
    """Domain words added to jieba (标示价格 as one word) must cut the stored passages as they cut the question: a base
    whose tokens came from another tokenizer gets them again from its stored text, in one transaction, and only once."""
    import sqlite3

    small_kb.add("年会.txt", DOC.encode("utf-8"))
    db = sqlite3.connect(small_kb.folder / "kb.sqlite")
    with db:
        fresh = dict(db.execute("SELECT chunk_id, words FROM chunks"))
        db.execute("UPDATE chunks SET words = 'stale', bigrams = 'stale'")
        db.execute("UPDATE meta SET value = 'an-older-tokenizer' WHERE key = 'tokenizer'")
    db.close()
    reopened = KnowledgeBase(small_kb.folder)
    assert reopened.reconcile()["retokenized"] == len(fresh)
    db = sqlite3.connect(small_kb.folder / "kb.sqlite")
    assert dict(db.execute("SELECT chunk_id, words FROM chunks")) == fresh
    db.close()
    result = reopened.search("会场签到处安排几个人？", k=3)
    assert result.found and result.passages[0].chunk.source == "年会.txt"
    assert KnowledgeBase(small_kb.folder).reconcile()["retokenized"] == 0  # once
    assert reopened.stats()["documents"] == 1
