"""Citing retrieved passages: [1], [2] … in the order an answer first cites them, and the passage sentences that
answer a question. Shared by the chat answers (advisor/) and the plan documents (documents/)."""

from __future__ import annotations

import re

from pydantic import BaseModel, Field

from retrieval.chunking import sentences
from retrieval.search import analyse

MARKDOWN_NOISE = re.compile(r"\*\*|__|`|^#+\s*|^[-*]\s+|^\d+[.、]\s*|^>\s*")


class Citation(BaseModel):
    """[n] in an answer points at this retrieved passage."""

    number: int
    source: str
    title: str
    heading_path: list[str] = Field(default_factory=list)
    location: str = ""
    text: str
    chunk_id: str

    @classmethod
    def from_chunk(cls, number: int, chunk) -> Citation:
        """Cite a retrieval.chunking.Chunk as [number]."""
        return cls(
            number=number,
            source=chunk.source,
            title=chunk.title,
            heading_path=list(chunk.heading_path),
            location=chunk.location_label,
            text=chunk.text,
            chunk_id=chunk.chunk_id,
        )


class Citations:
    """Numbers passages [1], [2] ... in the order they are first cited in one answer."""

    def __init__(self, start: int = 1):
        self.items: list[Citation] = []
        self._by_chunk: dict[str, int] = {}
        self._next = start

    def cite(self, evidence) -> int:
        chunk = evidence.chunk
        if chunk.chunk_id not in self._by_chunk:
            number = self._next
            self._next += 1
            self._by_chunk[chunk.chunk_id] = number
            self.items.append(Citation.from_chunk(number, chunk))
        return self._by_chunk[chunk.chunk_id]

    def reference_list(self) -> str:
        if not self.items:
            return ""
        lines = [
            f"- [{c.number}] {c.title}"
            + (f" > {' > '.join(c.heading_path)}" if c.heading_path else "")
            + f"（{c.source}{' ' + c.location if c.location else ''}）"
            for c in self.items
        ]
        return "\n".join(lines)


def key_sentences(text: str, query: str, limit: int = 2) -> list[str]:
    """The passage sentences that share most words with the question, in their original order."""
    terms = set(analyse(query).expanded)
    candidates = []
    for position, raw in enumerate(sentences(text)):
        sentence = MARKDOWN_NOISE.sub("", raw.strip()).strip()
        if len(sentence) < 8 or sentence.startswith("|"):
            continue
        overlap = sum(1 for term in terms if term in sentence)
        candidates.append((overlap, -position, sentence))
    best = sorted(candidates, reverse=True)[:limit]
    ordered = sorted(best, key=lambda c: -c[1])
    return [s if s[-1] in "。！？.!?；;：:" else s + "。" for _o, _p, s in ordered]
