"""Text clean-up for uploaded documents: re-join hard-wrapped lines, drop boilerplate, drop duplicates."""

from __future__ import annotations

import hashlib
import re
from collections import Counter

from rapidfuzz import fuzz, process

SENTENCE_END = "。！？；：.!?;:」”’）)】"
LIST_ITEM_RE = re.compile(r"^\s*([-*•·▪●○◆■]|\d+[.、)）]|[（(]\d+[)）]|[一二三四五六七八九十]+[、.．]|[a-zA-Z][.)])\s*")
BOILERPLATE_RES = tuple(
    re.compile(p, re.IGNORECASE)
    for p in (
        r"(本|此)(文档?|资料|文章)?.{0,12}(来源|来自|下载|收集|整理).{0,20}(网|网站|平台|文库|www)",
        r"(下载|收藏|分享|转载).{0,15}(网|网站|文库|平台|www)",
        r"(更多|海量|精品|免费).{0,12}(资料|文档|模板|范文).{0,15}(请|尽在|访问|关注|下载)",
        r"仅供(学习|参考|个人|交流).{0,10}(使用|交流|参考|研究)?.{0,20}(删除|侵权|联系)",
        r"(如有|若有)侵权.{0,12}(联系|删除)",
        r"^(免责声明|版权声明|版权所有|copyright|all rights reserved)",
        r"(扫码|扫一扫|长按).{0,10}(关注|二维码|公众号)",
        r"^\s*(第\s*\d+\s*页\s*(/|共)\s*\d+\s*页?|page\s+\d+\s+of\s+\d+|-\s*\d+\s*-)\s*$",
        r"(https?://|www\.)\S+\s*$",
    )
)
NEAR_DUPLICATE_SCORE = 90
MIN_DEDUPE_CHARS = 12


def is_boilerplate(line: str) -> bool:
    text = line.strip()
    return bool(text) and len(text) < 120 and any(p.search(text) for p in BOILERPLATE_RES)


def _is_cjk(ch: str) -> bool:
    return "\u4e00" <= ch <= "\u9fff" or ch in "，、；：“”（）《》"


def rejoin(lines: list[str], is_heading=lambda _line: False) -> list[str]:
    """Join hard-wrapped lines into paragraphs; blank lines, headings and list items start new ones."""
    paragraphs: list[str] = []
    current = ""
    for raw in lines:
        line = raw.strip()
        if not line:
            if current:
                paragraphs.append(current)
            current = ""
            continue
        if line.startswith("|") and current.startswith("|"):  # a table stays one block, row by row
            current += "\n" + line
            continue
        starts_new = is_heading(line) or LIST_ITEM_RE.match(line) or line.startswith("|")
        if current and not starts_new and not current.endswith(tuple(SENTENCE_END)) and not is_heading(current):
            joiner = "" if _is_cjk(current[-1]) or _is_cjk(line[0]) else " "
            if current.endswith("-") and line[:1].islower():  # hyphenated English word split over lines
                current, joiner = current[:-1], ""
            current += joiner + line
        else:
            if current:
                paragraphs.append(current)
            current = line
    if current:
        paragraphs.append(current)
    return paragraphs


def repeated_lines(pages: list[list[str]], min_share: float = 0.5) -> set[str]:
    """Lines that recur on at least half of the pages (running headers and footers)."""
    if len(pages) < 3:
        return set()
    # Page numbers differ from page to page, so digits are masked before counting.
    counts = Counter(_page_key(line) for page in pages for line in {ln.strip() for ln in page} if line)
    limit = max(3, int(len(pages) * min_share))
    frequent = {key for key, n in counts.items() if n >= limit and len(key) < 80}
    return {line.strip() for page in pages for line in page if line.strip() and _page_key(line) in frequent}


def _page_key(line: str) -> str:
    return re.sub(r"\d+", "#", line.strip())


def _key(text: str) -> str:
    return re.sub(r"\s+", "", text).lower()


def duplicate_positions(texts: list[str]) -> set[int]:
    """Positions of passages that repeat an earlier one exactly or nearly (whitespace and small edits aside)."""
    drop: set[int] = set()
    seen: dict[str, int] = {}
    for i, text in enumerate(texts):
        digest = hashlib.sha1(_key(text).encode()).hexdigest()
        # Short lines ("填写提示：", "化解措施：") legitimately recur; only passages are deduplicated.
        if digest in seen and len(_key(text)) >= MIN_DEDUPE_CHARS:
            drop.add(i)
        else:
            seen[digest] = i
    candidates = [i for i in range(len(texts)) if i not in drop and len(_key(texts[i])) >= MIN_DEDUPE_CHARS]
    if len(candidates) < 2:
        return drop
    keys = [_key(texts[i]) for i in candidates]
    # Compare in blocks so that a very long upload stays bounded in memory.
    block = 2000
    for start in range(0, len(keys), block):
        rows = keys[start : start + block]
        matrix = process.cdist(
            rows, keys[: start + len(rows)], scorer=fuzz.ratio, score_cutoff=NEAR_DUPLICATE_SCORE, workers=1
        )
        for r in range(len(rows)):
            a = start + r
            earlier = matrix[r, :a]
            hits = earlier.nonzero()[0]
            for b in hits:
                if candidates[b] not in drop and _similar_length(keys[a], keys[b]):
                    drop.add(candidates[a])
                    break
    return drop


def _similar_length(a: str, b: str) -> bool:
    return min(len(a), len(b)) >= 0.85 * max(len(a), len(b))
