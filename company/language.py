"""One language detector for the whole assistant: the router, the data parser and the answers agree on zh / en."""

from __future__ import annotations

import re
import unicodedata
from typing import Literal

Language = Literal["zh", "en"]

CJK = re.compile(r"[\u4e00-\u9fff]")
# Quoted names and codes (P0001, SKU-12) say nothing about the language the user writes in.
QUOTED_TEXT = re.compile(
    r"\"[^\"]{1,200}\"|“[^”]{1,200}”|「[^」]{1,200}」|『[^』]{1,200}』|《[^》]{1,200}》|‘[^’]{1,200}’"
)
CODES = re.compile(r"(?<![a-z])[a-z]{0,4}-?\d[a-z0-9_-]*")


def language_of(question: str) -> Language:
    """zh or en: whichever script opens the question (without quoted names and codes), unless the other clearly
    dominates (华东销售额'; DROP TABLE sales → zh; revenue of 鑫源 → en; SKU销量排名 → zh;
    How many 直营 outlets do we have in 华中? → en)."""
    text = CODES.sub(" ", QUOTED_TEXT.sub(" ", unicodedata.normalize("NFKC", question).lower()))
    cjk = len(CJK.findall(text))
    words = re.findall(r"[a-z]{2,}", text)
    first_word = re.search(r"[a-z]{2,}", text)
    first_cjk = CJK.search(text)
    if first_cjk is None:
        return "en" if words else "zh"
    if first_word is None:
        return "zh"
    if first_cjk.start() < first_word.start():
        return "en" if len(words) > cjk else "zh"
    return "zh" if cjk > 2 * len(words) else "en"
