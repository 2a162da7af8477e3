"""Text clean-up for uploaded documents: spacing, hard wraps, boilerplate, running headers, bylines, duplicates."""

from __future__ import annotations

import hashlib
import itertools
import re
import unicodedata
import zlib
from collections import Counter
from collections.abc import Callable, Collection

from rapidfuzz import fuzz

SENTENCE_END = "。！？；：.!?;:」”’）)】"
FULL_STOP = tuple("。！？；.!?;")
MID_SENTENCE = "，、,（(《“‘"
LIST_ITEM_RE = re.compile(
    r"^\s*([-*•·▪●○◆■]|\d+[.、)）]|[（(]\d+[)）]|[一二三四五六七八九十]+[、.．]|[（(][一二三四五六七八九十]+[)）]"
    r"|第[一二三四五六七八九十百零〇\d]+条(?=\s)|[a-zA-Z][.)])\s*"
)
PAGE_NUMBER_RE = re.compile(
    r"^(第\s*\d+\s*页(\s*[/，,]?\s*共\s*\d+\s*页)?|共\s*\d+\s*页\s*[，,]?\s*第\s*\d+\s*页"
    r"|page\s+\d+(\s+of\s+\d+)?|[-—–]\s*\d+\s*[-—–]|\d+\s*/\s*\d+)$",
    re.IGNORECASE,
)
BOILERPLATE_RES = tuple(
    re.compile(p, re.IGNORECASE)
    for p in (
        # "本文档由XX文库用户上传，仅供学习交流": the document talking about where it was downloaded from
        r"^(本|此)篇?(文档|文章|资料|文件|内容|范文|模板)(?=.*(上传|来源|来自|下载|收集|整理|转载|摘自|仅供))"
        r"(?=.*(文库|网|用户|平台|www|侵权|学习|交流))",
        r"仅供(个人)?(学习|交流)",
        r"(如有|若有|如涉及)侵权",
        r"(更多|海量|精品|免费|优质).{0,12}(资料|文档|模板|范文|资源|课件).{0,15}(访问|关注|下载|尽在|搜索|网|www|文库|公众号)",
        r"(免费|欢迎|付费)下载|下载后(可|即可)?(编辑|修改|打印)|可(自由)?编辑(修改)?[）)】\]]?$|转载请注明",
        r"^(免责声明|版权声明|版权所有|本站|copyright|all rights reserved|©)",
        r"^(扫码|扫一扫|微信扫|长按).{0,12}(关注|二维码|公众号|下载)",
        r"关注(我们|本号|公众号).{0,10}(获取|领取|了解|查看)更多",
        PAGE_NUMBER_RE.pattern,
        # A line that is only a web address (a footer); a sentence that mentions a site in passing stays.
        r"^[^\w]{0,3}(网址|官网|网站|链接|地址)?[:：]?\s*(https?://|www\.)\S+$",
    )
)
# Bylines under article titles: "来源：… 作者：… 发布时间：…".
BYLINE_KEY_RE = re.compile(
    r"(来源|作者|发布时间|发布日期|发表时间|更新时间|时间|日期|责任编辑|编辑|撰文|阅读量|阅读|浏览量|浏览|点击量|出处)\s*[:：]"
)
BYLINE_START_RE = re.compile(
    r"^(\d{4}[-/.年]\d{1,2}[-/.月]\d{1,2}日?\s*(\d{1,2}:\d{2}(:\d{2})?)?\s*)?"
    r"(来源|作者|发布时间|发布日期|发表时间|责任编辑|出处)\s*[:：]"
)
CJK = r"[\u3400-\u9fff\uf900-\ufaff\u3001-\u303f\uff01-\uff0f\uff1a-\uff20]"
# A single space between two characters that each stand alone: letter-spacing ("渠 道 管 理", "总　则").
SPACED_GAP_RE = re.compile(rf"(?<=(?<!\S){CJK}) (?={CJK}(?!\S))")
CLAUSE_RE = re.compile(r"[，,；;。：:]")
SHORT_ITEM_CHARS = 32
MAX_WRAP_WIDTH = 160
NEAR_DUPLICATE_SCORE = 90
MIN_DEDUPE_CHARS = 12
# MinHash LSH for near-duplicate candidates: 64 permutations in 16 bands of 4 rows. On 3,000 pairs edited
# at random until just above the ratio-90 line (the hardest near copies), 99.7% were proposed; on the 1 MB
# benchmark text an upload passage drew 0.5 false candidates on average (each costs one ratio).
MINHASH_PERMUTATIONS = 64
LSH_BANDS = (16, 4)
PROGRESS_EVERY = 2000


def is_boilerplate(line: str) -> bool:
    text = line.strip()
    return bool(text) and len(text) < 120 and any(p.search(text) for p in BOILERPLATE_RES)


def is_byline(line: str) -> bool:
    """A source/author/date line under an article title (it may also hold only one of them)."""
    text = line.strip()
    if not text or len(text) > 100 or text.endswith("。"):
        return False
    return len(BYLINE_KEY_RE.findall(text)) >= 2 or bool(BYLINE_START_RE.match(text))


def normalise_spacing(line: str) -> str:
    """Full-width and non-breaking spaces become plain ones; letter-spaced CJK ("渠 道 管 理") is closed up."""
    # A wider gap between letter-spaced words was a real break ("第 三 章  总 则" -> "第三章 总则").
    text = SPACED_GAP_RE.sub("", line.replace("\u3000", " ").replace("\xa0", " ").rstrip())
    indent = text[: len(text) - len(text.lstrip())]
    return indent + re.sub(r"[ \t]{2,}", " ", text.lstrip())


def display_width(text: str) -> int:
    """Columns the text takes in a fixed-width layout: CJK characters count two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def fills_line(line: str, width: int | None) -> bool:
    return width is not None and display_width(line.strip()) >= width - max(4, width // 8)


def wrap_width(lines: list[str]) -> int | None:
    """Columns at which the text was hard-wrapped (PDF text layers, fixed-width editors), or None."""
    texts = [ln.strip() for ln in lines]
    widths = sorted((display_width(t) for t in texts if t), reverse=True)
    if len(widths) < 4:
        return None
    width = widths[len(widths) // 10]  # the longest lines, a stray long URL aside
    if width > MAX_WRAP_WIDTH:
        return None
    broken = sum(1 for a, b in itertools.pairwise(texts) if b and fills_line(a, width) and not a.endswith(FULL_STOP))
    return width if broken >= 2 else None


def _is_cjk(ch: str) -> bool:
    return "\u4e00" <= ch <= "\u9fff" or ch in "，、；：“”（）《》"


def _joiner(current: str, line: str) -> str:
    """Chinese text is wrapped anywhere, even inside a number ("第44" / "3号"); English at spaces."""
    mostly_cjk = sum(map(_is_cjk, current[-20:])) * 2 > len(current[-20:])
    return "" if mostly_cjk or _is_cjk(current[-1]) or _is_cjk(line[0]) else " "


def _continues(current: str, last_line: str, width: int | None) -> bool:
    """Whether the next line carries on the paragraph whose last line is last_line."""
    if width is None:
        # A short list item with no punctuation at all ("1. 营业执照复印件") is complete as it stands.
        short_item = len(current) <= SHORT_ITEM_CHARS and LIST_ITEM_RE.match(current) and not CLAUSE_RE.search(current)
        return not short_item and not current.endswith(tuple(SENTENCE_END))
    # In a hard-wrapped text a short line ends its paragraph; a full one runs on unless a sentence ends there.
    return (fills_line(last_line, width) and not last_line.endswith(FULL_STOP)) or last_line.endswith(
        tuple(MID_SENTENCE)
    )


def paragraphs(lines: list[str], breaks: Collection[int] = (), width: int | None = None) -> list[tuple[int, str]]:
    """Join hard-wrapped lines into (first line index, paragraph) pairs.

    Blank lines, list items, table rows and the lines at `breaks` (headings, titles) start new paragraphs;
    the lines at `breaks` also stand alone. With a wrap width, only a line that fills it runs on.
    """
    out: list[tuple[int, str]] = []
    start, current, last = -1, "", ""
    for index, raw in enumerate(lines):
        line = raw.strip()
        if not line:
            if current:
                out.append((start, current))
            current = ""
            continue
        if line.startswith("|") and current.startswith("|"):  # a table stays one block, row by row
            current, last = current + "\n" + line, line
            continue
        item = LIST_ITEM_RE.match(line) and not current.endswith(tuple(MID_SENTENCE))
        starts_new = index in breaks or item or line.startswith("|")
        if current and not starts_new and start not in breaks and _continues(current, last, width):
            joiner = _joiner(current, line)
            if current.endswith("-") and line[:1].islower():  # hyphenated English word split over lines
                current, joiner = current[:-1], ""
            current, last = current + joiner + line, line
        else:
            if current:
                out.append((start, current))
            start, current, last = index, line, line
    if current:
        out.append((start, current))
    return out


def rejoin(lines: list[str], is_heading: Callable[[str], bool] = lambda _line: False) -> list[str]:
    """Join hard-wrapped lines into paragraphs; blank lines, headings and list items start new ones."""
    breaks = {i for i, line in enumerate(lines) if line.strip() and is_heading(line.strip())}
    return [text for _, text in paragraphs(lines, breaks)]


def text_pages(text: str) -> list[list[str]]:
    """Pages of a plain-text file: split at form feeds, or after page-number lines ("第 3 页 共 12 页")."""
    if "\f" in text:
        return [page.splitlines() for page in text.split("\f")]
    pages: list[list[str]] = [[]]
    for line in text.splitlines():
        pages[-1].append(line)
        if PAGE_NUMBER_RE.match(line.strip()):
            pages.append([])
    return pages


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
    return re.sub(r"\d+", "#", re.sub(r"\s+", "", line))


def _key(text: str) -> str:
    return re.sub(r"\s+", "", text).lower()


def _shingles(key: str) -> set[bytes]:
    """Character bigrams: for Chinese they behave like words, and one changed character alters only two."""
    return {key[i : i + 2].encode() for i in range(len(key) - 1)}


def duplicate_positions(texts: list[str], progress: Callable[[int, int], None] | None = None) -> set[int]:
    """Positions of passages that repeat an earlier one exactly or nearly (whitespace and small edits aside).

    Near duplicates are found without comparing every passage with every other (a 30 MB upload has tens of
    thousands): MinHash LSH over character bigrams proposes the earlier passages that may be near copies,
    and the same test as always (rapidfuzz ratio >= NEAR_DUPLICATE_SCORE, similar length) decides. Only
    passages that were kept are indexed, so a passage is compared with kept ones only, as before.
    """
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
    # crc32 is deterministic across runs (Python's hash() is not), so an upload deduplicates the same way
    # every time; datasketch mixes it with the MurmurHash3 finaliser before permuting.
    from datasketch import MinHash, MinHashLSH  # ~0.7 s to import: only when a document is added

    empty = MinHash(num_perm=MINHASH_PERMUTATIONS, seed=1, hashfunc=zlib.crc32)
    index = MinHashLSH(num_perm=MINHASH_PERMUTATIONS, params=LSH_BANDS)
    keys: dict[int, str] = {}
    for done, position in enumerate(candidates):
        if progress and done % PROGRESS_EVERY == 0:
            progress(done, len(candidates))
        key = _key(texts[position])
        sketch = empty.copy()
        sketch.update_batch(_shingles(key))
        if any(
            fuzz.ratio(key, keys[other], score_cutoff=NEAR_DUPLICATE_SCORE) and _similar_length(key, keys[other])
            for other in sorted(index.query(sketch))
        ):
            drop.add(position)
        else:
            keys[position] = key
            index.insert(position, sketch, check_duplication=False)
    return drop


def _similar_length(a: str, b: str) -> bool:
    return min(len(a), len(b)) >= 0.85 * max(len(a), len(b))
