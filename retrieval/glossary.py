"""English → Chinese term glossary so English questions can use the lexical legs over a Chinese corpus."""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

GLOSSARY_FILE = Path(__file__).with_name("glossary_en_zh.tsv")
MAX_PHRASE_WORDS = 4
WORD_RE = re.compile(r"[a-z][a-z0-9]*(?:[-'][a-z0-9]+)*")
SUFFIXES = ("ies", "es", "s", "ing", "ed", "ly")


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
    for suffix in SUFFIXES:  # a light stemmer: dealers -> dealer, stocking -> stock
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            stem = word[: -len(suffix)]
            for candidate in (stem, stem + "e", stem + "y"):
                if candidate in table:
                    return table[candidate]
    return ()


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
            if terms:
                found.append((phrase, terms))
                i += size
                break
        else:
            i += 1
    return found
