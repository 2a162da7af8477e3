"""The authored guidance corpus: size, front matter, topics, and that every article loads into sections."""

from __future__ import annotations

from knowledge.loaders import GUIDE_TOPICS, load_document
from retrieval.knowledge_base import GUIDES_DIR


def test_corpus_is_large_enough_and_covers_every_topic():
    paths = sorted(GUIDES_DIR.glob("*.md"))
    assert len(paths) >= 20
    assert sum(len(p.read_text(encoding="utf-8")) for p in paths) >= 40_000
    docs = [load_document(p.read_bytes(), p.name) for p in paths]
    assert {d.topic for d in docs} == set(GUIDE_TOPICS) and len(GUIDE_TOPICS) == len(set(GUIDE_TOPICS))
    for doc in docs:
        assert doc.title and doc.tags, doc.source
        sections = {b.heading_path[0] for b in doc.blocks if b.heading_path}
        assert len(sections) >= 3, f"{doc.source} should have several ## sections"
        assert doc.dropped_duplicates == 0 and doc.dropped_boilerplate == 0, doc.source


def test_templates_cover_the_four_documents_managers_write():
    titles = " ".join(load_document(p.read_bytes(), p.name).title for p in GUIDES_DIR.glob("2[6-9]-*.md"))
    for word in ("制度", "工作计划", "策划方案", "激励"):
        assert word in titles
