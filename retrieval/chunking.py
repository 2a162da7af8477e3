"""Sentence-aware chunking of loaded documents into ~300-character passages that cite their place."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from knowledge.loaders import Block, LoadedDocument, location_label
from retrieval.tokens import count_tokens

TARGET_CHARS = 300
MAX_CHARS = 450
MIN_UNIT_CHARS = 8
ARTICLE = re.compile(r"\s*第[一二三四五六七八九十百零〇\d]{1,6}条[\s　]")
SENTENCE_RE = re.compile(r"[^。！？!?；;\n]*[。！？!?；;\n]+[”’」）)]*|[^。！？!?；;\n]+$")
CLAUSE_RE = re.compile(r"[^，,、：:]*[，,、：:]|[^，,、：:]+$")
# A heading that states a figure (整体评分：7.5/10, 预算：120 万元): the fact is the heading's, so it is also the
# first line of its section's first passage, where a search for the figure finds it and an answer quotes it.
VALUE_HEADING = re.compile(
    r"^\W*[^：:]{1,20}[：:]\s*[^：:\dA-Za-z]{0,12}\d[\d.,/%～~\-]*\s*(?:分|万元|万|亿|元|%|天|人天|家|个|次|倍|小时)?\W*$"
)


@dataclass
class Chunk:
    chunk_id: str
    doc_id: str
    position: int
    source: str
    title: str
    heading_path: tuple[str, ...]
    location: dict[str, int]
    text: str
    topic: str | None = None
    tokens: int = 0
    extra: dict = field(default_factory=dict)

    @property
    def prefix(self) -> str:
        return " > ".join((self.title, *self.heading_path))

    @property
    def indexed_text(self) -> str:
        """What the indexes see: the title and heading path, the passage, then the articles it refers to
        (违反本条例第二十四条规定的 is found by what article 24 is about)."""
        refers = self.extra.get("refers")
        return f"{self.prefix}\n{self.text}" + (f"\n{refers}" if refers else "")

    @property
    def location_label(self) -> str:
        return location_label(self.location)

    def dense_units(self) -> list[str]:
        """Texts embedded for this chunk: the whole passage, then its sentences two at a time.

        A short question matches one or two sentences better than a 300-character average;
        the chunk's dense score is the best of its units (measured: fusion hit@5 0.89 -> 0.92).
        """
        heading = " > ".join(self.heading_path) or self.title
        parts = [s.strip() for s in sentences(self.text) if len(s.strip()) >= MIN_UNIT_CHARS]
        pairs = ["".join(parts[i : i + 2]) for i in range(0, len(parts), 2)]
        return [self.indexed_text, *(f"{heading}：{pair}" for pair in pairs if len(parts) > 1)]


def sentences(text: str) -> list[str]:
    """Split on Chinese and Western sentence ends, keeping the punctuation; long sentences split on commas."""
    out: list[str] = []
    for sentence in (s for s in SENTENCE_RE.findall(text) if s.strip()):
        if len(sentence) <= MAX_CHARS:
            out.append(sentence)
            continue
        piece = ""
        for clause in CLAUSE_RE.findall(sentence):
            if len(piece) + len(clause) > TARGET_CHARS and piece:
                out.append(piece)
                piece = ""
            while len(clause) > MAX_CHARS:  # one endless clause: cut it
                out.append(clause[:TARGET_CHARS])
                clause = clause[TARGET_CHARS:]
            piece += clause
        if piece:
            out.append(piece)
    return out


def _units(block: Block) -> list[str]:
    # Table rows and list items stay whole; prose splits into sentences.
    if block.text.startswith(("|", "-", "*")) or len(block.text) <= TARGET_CHARS:
        return [block.text]
    return [s.strip() for s in sentences(block.text) if s.strip()]


def chunk_document(document: LoadedDocument, doc_id: str, count=count_tokens) -> list[Chunk]:
    """Pack each section's sentences into passages of about TARGET_CHARS, never across headings."""
    chunks: list[Chunk] = []
    pending: list[str] = []
    pending_location: dict[str, int] = {}
    pending_path: tuple[str, ...] = ()

    def flush() -> None:
        nonlocal pending
        text = "\n".join(pending).strip()
        if text:
            chunk = Chunk(
                f"{doc_id}:{len(chunks):04d}",
                doc_id,
                len(chunks),
                document.source,
                document.title,
                pending_path,
                pending_location,
                text,
                document.topic,
            )
            chunk.tokens = count(chunk.indexed_text)
            chunks.append(chunk)
        pending = []

    for block in document.blocks:
        starts_article = ARTICLE.match(block.text) and pending
        new_section = block.heading_path != pending_path
        if new_section or (starts_article and sum(len(p) + 1 for p in pending) + len(block.text) > TARGET_CHARS):
            flush()  # a new section, or an article of a regulation (第十五条 …) that would not fit whole
            pending_path = block.heading_path
            heading = block.heading_path[-1] if new_section and block.heading_path else ""
            if VALUE_HEADING.match(heading.replace("*", "")):
                pending_location = dict(block.location)
                pending.append(heading)
        for unit in _units(block):
            size = sum(len(p) + 1 for p in pending)
            if (
                pending
                and size + len(unit) > TARGET_CHARS
                and (size >= TARGET_CHARS * 0.5 or size + len(unit) > MAX_CHARS)
            ):
                flush()
            if not pending:
                pending_location = dict(block.location)
            pending.append(unit)
    flush()
    _resolve_references(chunks)
    return chunks


# 本条例第十六条、第十七条 / 本法第三十条第二款: references to other articles of the same document
REFERENCE = re.compile(
    r"本(?:条例|法|办法|规定|细则|制度|准则)((?:第[一二三四五六七八九十百零〇\d]{1,6}条(?:第[一二三四五六七八九十]{1,3}款)?[、，,和及或至与]*)+)"
)
ARTICLE_NUMBER = re.compile(r"第([一二三四五六七八九十百零〇\d]{1,6})条")
REFERRED_CHARS = 160  # of each referred article, enough for what it is about
CN_DIGIT = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}


def article_number(text: str) -> int | None:
    """第二十九条 → 29, 第105条 → 105."""
    if text.isdigit():
        return int(text)
    total, digit = 0, 0
    for char in text:
        if char in CN_DIGIT:
            digit = CN_DIGIT[char]
        elif char in "十百":
            total += (digit or 1) * (10 if char == "十" else 100)
            digit = 0
        else:
            return None
    return total + digit


def _resolve_references(chunks: list[Chunk]) -> None:
    """A penalty article says only 违反本条例第二十四条规定的: index it with the text of the article it names."""
    articles: dict[int, str] = {}
    for chunk in chunks:
        for line in chunk.text.splitlines():
            if (m := ARTICLE.match(line)) and (n := article_number(ARTICLE_NUMBER.search(m.group(0)).group(1))):
                articles.setdefault(n, line.strip()[:REFERRED_CHARS])
    if not articles:
        return
    for chunk in chunks:
        own = {
            article_number(m.group(1))
            for line in chunk.text.splitlines()
            if (m := ARTICLE.match(line) and ARTICLE_NUMBER.search(line))
        }
        named: list[int] = []
        for ref in REFERENCE.finditer(chunk.text):
            for m in ARTICLE_NUMBER.finditer(ref.group(1)):
                n = article_number(m.group(1))
                if n in articles and n not in own and n not in named:
                    named.append(n)
        if named:
            chunk.extra["refers"] = "\n".join(articles[n] for n in named[:4])
