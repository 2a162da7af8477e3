"""Loaders for guidance documents: .md .txt .docx .pdf .html and .csv/.xlsx tables -> LoadedDocument.

Each loader yields blocks (paragraph, list or table row) with the heading path above them and a
location a citation can point at (page, paragraph or row); clean-up then drops boilerplate and
repeated passages.
"""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import NamedTuple

import yaml

from company.errors import CanmouError
from knowledge.cleaning import (
    BYLINE_KEY_RE,
    FULL_STOP,
    LIST_ITEM_RE,
    SENTENCE_END,
    duplicate_positions,
    fills_line,
    is_boilerplate,
    is_byline,
    normalise_spacing,
    paragraphs,
    rejoin,
    repeated_lines,
    text_pages,
    wrap_width,
)

SUPPORTED = (".md", ".markdown", ".txt", ".docx", ".pdf", ".html", ".htm", ".csv", ".xlsx")
# The built-in guides' topics (their front matter's `topic`), in the order the 知识库 page lists them; an uploaded
# document's own topic is shown as written.
GUIDE_TOPICS = (
    "strategy",
    "selection",
    "training",
    "incentive",
    "monitoring",
    "optimisation",
    "relationship",
    "control",
    "vms",
    "programming",
    "alliance",
    "internet",
    "conflict",
    "templates",
)
CN_NUMERAL = "[一二三四五六七八九十百零〇]+"
HEADING_PATTERNS = (
    (1, re.compile(r"^第(?P<n>[一二三四五六七八九十百零〇\d]+)[章篇部分]\s*\S")),
    (2, re.compile(r"^第(?P<n>[一二三四五六七八九十百零〇\d]+)节\s*\S")),
    (2, re.compile(rf"^(?P<n>{CN_NUMERAL})[、.．]\s*\S")),
    (3, re.compile(rf"^[（(](?P<n>{CN_NUMERAL})[)）]\s*\S")),
    (4, re.compile(r"^(?P<n>\d+(\.\d+)+)\s*[^\d.%]")),
    (3, re.compile(r"^(?P<n>\d+)[、.．](?!\d)\s*\S")),
)
DATE_RE = re.compile(r"\d{4}\s*[-/.年]\s*\d{1,2}\s*[-/.月]\s*\d{1,2}")  # a dated line is not a title
FIRST_NUMERALS = frozenset({"一", "1", "1.1"})
MAX_HEADING_CHARS = 32
MAX_TITLE_CHARS = 40
HEADING_STOPS = "。；;，,：:！？!?"
TITLE_STOPS = "。；;，,：:、"
DANGLING = "的和与及或对把将被从向给并而在"  # a line ending on these breaks off mid-sentence
URL_RE = re.compile(r"https?://|www\.", re.IGNORECASE)
PDF_TAIL_BYTES = 2048  # where a complete PDF's closing %%EOF marker is
READ_SHARE = 0.6  # of load_document's progress: reading and structure; the rest is clean-up
ARTICLE_LEVEL = 0  # an article title in a file that joins several: above every numbered heading
SUB_LEVEL = 9  # an unnumbered heading inside a numbered section: below every numbered heading


Progress = Callable[[float, str], None]


class DocumentError(CanmouError):
    """A document cannot be read; the message says which and what to do."""


@dataclass
class Block:
    text: str
    heading_path: tuple[str, ...]
    location: dict[str, int]  # {"page": 3} | {"paragraph": 12} | {"row": 5}


@dataclass
class LoadedDocument:
    source: str
    title: str
    blocks: list[Block]
    topic: str | None = None
    tags: list[str] = field(default_factory=list)
    dropped_boilerplate: int = 0
    dropped_duplicates: int = 0


def location_label(location: dict[str, int]) -> str:
    if "page" in location:
        return f"第{location['page']}页"
    if "row" in location:
        return f"第{location['row']}行"
    if "paragraph" in location:
        return f"第{location['paragraph']}段"
    return ""


class Numbering(NamedTuple):
    style: int  # which of HEADING_PATTERNS
    level: int
    numeral: str
    chapter: bool  # 第X章 / 第X节 never number list items


def numbering(line: str) -> Numbering | None:
    """The numbering a line opens with (第一章 / 一、/ （二）/ 2.1 / 3.), whatever follows it."""
    text = line.strip()
    for style, (level, pattern) in enumerate(HEADING_PATTERNS):
        if match := pattern.match(text):
            return Numbering(style, level, match.group("n"), pattern.pattern.startswith("^第"))
    return None


def heading_level(line: str) -> int | None:
    """Level of a plain-text heading such as 第一章 / 一、/ （二）/ 3. / 2.1, or None."""
    text = line.strip()
    if not text or len(text) > MAX_HEADING_CHARS or text[-1] in HEADING_STOPS:
        return None
    found = numbering(text)
    return found.level if found else None


class _Outline:
    """Tracks the heading path while blocks are read in order."""

    def __init__(self):
        self.levels: list[tuple[int, str]] = []

    def enter(self, level: int, text: str) -> None:
        self.levels = [(lv, t) for lv, t in self.levels if lv < level] + [(level, text.strip())]

    @property
    def path(self) -> tuple[str, ...]:
        return tuple(t for _, t in self.levels)


def _from_paragraphs(
    paragraphs: list[tuple[str, dict[str, int]]], level_of: Callable[[str], int | None], skip_title: str | None = None
) -> list[Block]:
    outline = _Outline()
    blocks = []
    for text, location in paragraphs:
        level = level_of(text)
        if level is not None:
            if text.strip() != skip_title:
                outline.enter(level, text.lstrip("#").strip())
            continue
        blocks.append(Block(text, outline.path, location))
    return blocks


# ---- plain text and PDF text layers: structure from the lines alone -------------------------------
@dataclass
class _Layout:
    """Stripped lines of a plain-text or PDF document (blank ones kept as ""), the width they wrap at, the title."""

    lines: list[str]
    width: int | None
    title: str
    pages: list[int]  # the page each line is on

    def neighbour(self, index: int, step: int) -> int | None:
        """Index of the nearest non-blank line before (step -1) or after (step 1) the given one."""
        other = index + step
        while 0 <= other < len(self.lines):
            if self.lines[other]:
                return other
            other += step
        return None

    def runs_on(self, index: int) -> bool:
        """The line fills the wrap width mid-sentence and the next line carries the sentence on."""
        line = self.lines[index]
        after = self.lines[index + 1] if index + 1 < len(self.lines) else ""
        return (
            fills_line(line, self.width)
            and not line.endswith(FULL_STOP)
            and bool(after)
            and numbering(after) is None
            and not LIST_ITEM_RE.match(after)
            and not is_byline(after)
        )

    def byline_runs_on(self, index: int) -> bool:
        """A byline too long for the line goes on in a short tail ("间：2024-03-12")."""
        tail = self.lines[index + 1] if index + 1 < len(self.lines) else ""
        return (
            fills_line(self.lines[index], self.width)
            and 0 < len(tail) <= MAX_HEADING_CHARS
            and not fills_line(tail, self.width)
            and not tail.endswith(FULL_STOP)
        )

    def opens_paragraph(self, index: int, heads: dict[int, Numbering]) -> bool:
        before = self.lines[index - 1] if index else ""
        return (
            not before
            or before.endswith(tuple(SENTENCE_END))
            or index - 1 in heads
            or before == self.title
            or (self.width is not None and not fills_line(before, self.width))
        )

    def followed_by_body(self, index: int) -> bool:
        """The next line is a heading, a list item or prose, not another short line (a table cell, a signature)."""
        after = self.neighbour(index, 1)
        if after is None:
            return False
        text = self.lines[after]
        if self.pages[after] != self.pages[index]:
            return False  # a line at the foot of a page more likely runs on over the page break
        if numbering(text) or LIST_ITEM_RE.match(text):
            return True
        if after == index + 1 and self.width is None:
            # Without a known wrap width the line may be the first half of a sentence.
            return text.endswith(tuple(SENTENCE_END)) and len(text) > len(self.lines[index])
        return text.endswith(tuple(SENTENCE_END)) or fills_line(text, self.width) or len(text) > MAX_TITLE_CHARS


def _sibling_groups(lines: list[str], numbered: dict[int, Numbering]) -> list[list[int]]:
    """Numbered lines in one style with no other numbering or list item between them: one list or one outline level."""
    groups: list[list[int]] = []
    open_group = False
    for i, line in enumerate(lines):
        if i in numbered:
            if open_group and numbered[groups[-1][-1]].style == numbered[i].style:
                groups[-1].append(i)
            else:
                groups.append([i])
            open_group = True
        elif LIST_ITEM_RE.match(line):
            open_group = False
    return groups


def _numbered_headings(layout: _Layout) -> dict[int, Numbering]:
    """Numbered lines that open a section.

    Left as text: an item wrapped onto the next line, a run of items in one numbering style, a section
    with nothing in it, and every line of a sibling group that mostly numbers sentences (a list).
    """
    lines = layout.lines
    numbered = {i: found for i, line in enumerate(lines) if line and (found := numbering(line))}
    candidates = {
        i for i, found in numbered.items() if heading_level(lines[i]) and (found.chapter or not layout.runs_on(i))
    }
    listed = {
        i
        for group in _sibling_groups(lines, numbered)
        if 2 * sum(i not in candidates for i in group) > len(group)
        for i in group
    }
    heads = {}
    for i in sorted(candidates):
        found = numbered[i]
        before, after = layout.neighbour(i, -1), layout.neighbour(i, 1)
        in_run = any(j in numbered and numbered[j].style == found.style for j in (before, after))
        empty = after is None or (after in candidates and numbered[after].level <= found.level)
        if not empty and (found.chapter or not (i in listed or in_run)):
            heads[i] = found
    return heads


def _title_like(line: str, width: int | None, bylined: bool) -> bool:
    if not line or len(line) > MAX_TITLE_CHARS or fills_line(line, width):
        return False
    if numbering(line) or LIST_ITEM_RE.match(line) or is_byline(line):
        return False
    if not re.search(r"[\u4e00-\u9fff]{2}|[A-Za-z]{3}", line) or DATE_RE.search(line) or URL_RE.search(line):
        return False
    if bylined:
        return line[-1] not in TITLE_STOPS
    # Without a byline a title must not read like a sentence or stop on a word that leads on.
    return line[-1] not in TITLE_STOPS + DANGLING + "！？!?" and not re.search("[，,；;]", line)


def _titles(layout: _Layout, heads: dict[int, Numbering]) -> dict[int, bool]:
    """Un-numbered title lines standing alone above body text, each with whether a byline follows it."""
    titles = {}
    for i, line in enumerate(layout.lines):
        after = layout.neighbour(i, 1)
        bylined = after is not None and is_byline(layout.lines[after])
        if (
            _title_like(line, layout.width, bylined)
            and layout.opens_paragraph(i, heads)
            and (bylined or layout.followed_by_body(i))
        ):
            titles[i] = bylined
    return titles


def _levels(heads: dict[int, Numbering], titles: dict[int, bool]) -> dict[int, int]:
    """Level of every section-opening line.

    An un-numbered title starts a new article (above all numbered headings) when a byline follows it,
    when no numbered section is open, or when the numbering restarts after it; otherwise it is a
    sub-heading inside the open numbered section.
    """
    levels: dict[int, int] = {}
    seen: set[int] = set()
    top: int | None = None  # the highest numbered level open in the current article
    order = sorted(heads.keys() | titles.keys())
    for position, i in enumerate(order):
        if i in heads:
            levels[i] = heads[i].level
            seen.add(heads[i].style)
            top = levels[i] if top is None else min(top, levels[i])
            continue
        later = order[position + 1] if position + 1 < len(order) else None
        restart = (
            later in heads
            and heads[later].numeral in FIRST_NUMERALS
            and heads[later].style in seen
            and heads[later].level <= (top or 0)
        )
        if titles[i] or top is None or restart:
            levels[i], top = ARTICLE_LEVEL, None
        else:
            levels[i] = SUB_LEVEL
    return levels


def _drop_empty(levels: dict[int, int], layout: _Layout) -> dict[int, int]:
    """A heading with nothing under it (the next line closes it, or the text ends) is kept as text."""
    kept = {}
    for i, level in levels.items():
        after = layout.neighbour(i, 1)
        if after is not None and not (after in levels and levels[after] <= level):
            kept[i] = level
    return kept


def _bylines(layout: _Layout, titles: dict[int, bool]) -> set[int]:
    """Byline lines under titles, and lines naming two or more of source / author / date anywhere."""
    under_titles = {layout.neighbour(i, 1) for i, bylined in titles.items() if bylined}
    listed = {i for i, line in enumerate(layout.lines) if is_byline(line) and len(BYLINE_KEY_RE.findall(line)) >= 2}
    found = {i for i in under_titles | listed if i is not None}
    return found | {i + 1 for i in found if layout.byline_runs_on(i)}


def _layout(pages: list[list[str]]) -> tuple[_Layout, int]:
    """The document's lines without running headers, footers and download-site notices; how many were dropped."""
    running = repeated_lines(pages)
    kept = [
        (line.strip(), number)
        for number, page in enumerate(pages, start=1)
        for line in page
        if line.strip() not in running and not is_boilerplate(line)
    ]
    dropped = sum(1 for page in pages for line in page if line.strip()) - sum(1 for line, _ in kept if line)
    lines = [line for line, _ in kept]
    # A title printed only as the running header still names the document.
    first_page = next(([ln.strip() for ln in page] for page in pages if any(ln.strip() for ln in page)), [])
    header = next((ln for ln in first_page if ln in running and _title_like(ln, None, bylined=True)), "")
    width = wrap_width(lines)
    first = next((line for line in lines[:5] if line), "")
    title = first if _title_like(first, width, bylined=True) else header
    return _Layout(lines, width, title, [number for _, number in kept]), dropped


def _joins_articles(layout: _Layout, titles: dict[int, bool], levels: dict[int, int]) -> bool:
    """The file joins several articles, the first line being the first article's title rather than the file's."""
    first = layout.lines.index(layout.title) if layout.title in layout.lines else None
    numbered = [i for i, level in levels.items() if ARTICLE_LEVEL < level < SUB_LEVEL]
    after_sections = any(levels[i] == ARTICLE_LEVEL and numbered and numbered[0] < i for i in titles)
    return first in titles and (sum(titles.values()) >= 2 or after_sections)


def _plain_blocks(
    text: list[str], layout: _Layout, levels: dict[int, int], skipped: set[int], by_page: bool
) -> list[Block]:
    outline = _Outline()
    blocks: list[Block] = []
    for number, (start, paragraph) in enumerate(paragraphs(text, levels.keys() | skipped, layout.width), start=1):
        if start in levels:
            outline.enter(levels[start], paragraph)
        elif start not in skipped:
            location = {"page": layout.pages[start]} if by_page else {"paragraph": number}
            blocks.append(Block(paragraph, outline.path, location))
    return blocks


def _load_plain(pages: list[list[str]], source: str, meta_title: str = "", by_page: bool = False) -> LoadedDocument:
    """Shared by .txt and PDF: headings, article titles and wrapped lines found from the text alone."""
    layout, dropped = _layout([[normalise_spacing(line) for line in page] for page in pages])
    heads = _numbered_headings(layout)
    titles = _titles(layout, heads)
    levels = _drop_empty(_levels(heads, titles), layout)
    bylines = _bylines(layout, titles)
    joined = _joins_articles(layout, titles, levels)
    title = meta_title or (Path(source).stem if joined or not layout.title else layout.title)
    skipped = set() if joined else {i for i, line in enumerate(layout.lines) if line == title}
    text = ["" if i in bylines else line for i, line in enumerate(layout.lines)]
    levels = {i: level for i, level in levels.items() if i not in skipped}
    blocks = _plain_blocks(text, layout, levels, skipped, by_page)
    return LoadedDocument(source, title, blocks, dropped_boilerplate=dropped + len(bylines))


# ---- formats ------------------------------------------------------------------------------------
def _front_matter(text: str) -> tuple[dict, str]:
    if not text.startswith("---"):
        return {}, text
    end = text.find("\n---", 3)
    if end < 0:
        return {}, text
    try:
        meta = yaml.safe_load(text[3:end]) or {}
    except yaml.YAMLError:
        return {}, text
    return (meta if isinstance(meta, dict) else {}), text[end + 4 :].lstrip("\n")


def _markdown_level(line: str) -> int | None:
    match = re.match(r"^(#{1,6})\s+\S", line.strip())
    return len(match.group(1)) if match else None


FENCE = re.compile(r"^\s*(```|~~~)\s*([\w+#.-]*)")
CODE_COMMENT = re.compile(r"^(?://+|#+|--|/\*+|\*)\s*(.*?)\s*(?:\*/)?$")


def code_block(language: str, code: list[str]) -> list[str]:
    """A fenced code block as a lead and list items, so that what it says survives rejoining and chunking: a
    specification's `// 1. 业绩贡献（30分）` above `performance: {…}` becomes the item "1. 业绩贡献（30分）：
    performance；score: number；…", each line as written (less an opening bracket); a line outside any commented
    group is an item of its own. Joined as prose, the block was one run-on sentence cut anywhere, its comments
    apart from their fields."""
    rows = [line.strip() for line in code]
    first = next((r for r in rows if r), "")
    opened = bool(re.search(r"[{(\[:]\s*$", first)) and not CODE_COMMENT.match(first)
    lead = re.sub(r"\s*[{(\[:]\s*$", "", first) if opened else f"代码（{language or 'code'}）"
    items: list[list[str]] = []
    group: list[str] | None = None
    depth = opened_at = 0  # brackets open before the row; the depth the current group's comment stands at
    for row in rows[rows.index(first) + 1 :] if opened else rows:
        if not row or depth < opened_at:
            group = None  # a blank line, or a bracket closing around the comment, ends its group
        before, depth = depth, depth + row.count("{") + row.count("[") - row.count("}") - row.count("]")
        if not row or re.fullmatch(r"[})\];,]+", row):
            continue
        if comment := CODE_COMMENT.match(row):
            if comment.group(1):
                group, opened_at = [comment.group(1)], before
                items.append(group)
            continue
        field_text = re.sub(r"\s*:?\s*[{(\[]\s*$", "", re.sub(r"\s+", " ", row))  # as written, less `: {`
        if group is not None:
            group.append(field_text)
        else:
            items.append([field_text])
    lines = [f"{lead}："]
    for item in items:
        head, rest = item[0], item[1:]
        lines.append(f"- {head}：{'；'.join(rest)}" if rest else f"- {head}")
    return [*lines, ""]


def _code_blocks(lines: list[str]) -> list[str]:
    """Markdown lines with each fenced code block read by code_block (an unclosed fence runs to the end)."""
    out: list[str] = []
    i = 0
    while i < len(lines):
        fence = FENCE.match(lines[i])
        if not fence:
            out.append(lines[i])
            i += 1
            continue
        end = next((j for j in range(i + 1, len(lines)) if lines[j].strip().startswith(fence.group(1))), len(lines))
        out += ["", *code_block(fence.group(2), lines[i + 1 : end])]
        i = end + 1
    return out


def load_markdown(text: str, source: str) -> LoadedDocument:
    meta, body = _front_matter(text)
    body = re.sub(r"<!--.*?-->", "", body, flags=re.DOTALL)  # comments are not shown, so not content
    lines = [normalise_spacing(line) for line in _code_blocks(body.splitlines())]
    dropped = sum(1 for line in lines if is_boilerplate(line))
    lines = [line for line in lines if not is_boilerplate(line)]
    title = str(meta.get("title") or "").strip()
    if not title:
        first = next((ln for ln in lines if _markdown_level(ln) == 1), None)
        title = first.lstrip("#").strip() if first else Path(source).stem
    paragraphs = rejoin(lines, is_heading=lambda ln: _markdown_level(ln) is not None)
    numbered = [(p, {"paragraph": i + 1}) for i, p in enumerate(paragraphs)]
    blocks = _from_paragraphs(numbered, _markdown_level)
    # A level-1 heading equal to the title is the title, not a section.
    blocks = [
        Block(b.text, b.heading_path[1:] if b.heading_path[:1] == (title,) else b.heading_path, b.location)
        for b in blocks
    ]
    tags = meta.get("tags") or []
    return LoadedDocument(
        source,
        title,
        blocks,
        topic=meta.get("topic"),
        tags=[str(t) for t in tags] if isinstance(tags, list) else [str(tags)],
        dropped_boilerplate=dropped,
    )


def load_text(text: str, source: str) -> LoadedDocument:
    return _load_plain(text_pages(text), source)


def load_docx(data: bytes, source: str) -> LoadedDocument:
    import docx

    try:
        document = docx.Document(io.BytesIO(data))
    except Exception as exc:  # python-docx raises several types for a damaged package
        raise DocumentError(
            f"{source} 已损坏或不完整，无法作为 Word 文档打开。请在 Word 或 WPS 中打开它并另存为 .docx 后再上传"
            "（旧版 .doc 也请另存为 .docx；加密的文件请先去掉密码）。"
        ) from exc
    title = (document.core_properties.title or "").strip()
    outline = _Outline()
    blocks: list[Block] = []
    number = 0
    for paragraph in document.paragraphs:
        text = paragraph.text.strip()
        if not text:
            continue
        number += 1
        style = (paragraph.style.name if paragraph.style is not None else "") or ""
        match = re.search(r"(heading|标题)\s*(\d)", style, re.IGNORECASE)
        if style.lower() == "title" or (not title and number == 1 and (match or len(text) <= 40)):
            title = title or text
            continue
        level = int(match.group(2)) if match else heading_level(text)
        if level is not None:
            outline.enter(level, text)
            continue
        blocks.append(Block(text, outline.path, {"paragraph": number}))
    for t_index, table in enumerate(document.tables, start=1):
        rows = [[cell.text.strip() for cell in row.cells] for row in table.rows]
        if len(rows) < 2:
            continue
        header = rows[0]
        for r_index, row in enumerate(rows[1:], start=2):
            text = "；".join(f"{h}：{v}" for h, v in zip(header, row, strict=False) if v)
            if text:
                blocks.append(Block(text, (*outline.path[:1], f"表{t_index}"), {"row": r_index}))
    return LoadedDocument(source, title or Path(source).stem, blocks)


def _pdf_problem(data: bytes, source: str, exc: Exception) -> DocumentError:
    """What is wrong with a PDF that pypdf could not read, in words the user can act on (no library text)."""
    from pypdf.errors import FileNotDecryptedError, LimitReachedError

    if isinstance(exc, FileNotDecryptedError):
        problem = "设置了打开密码，无法读取其中的文字。请在 PDF 阅读器中去掉密码后另存一份再上传。"
    elif b"%%EOF" not in data[-PDF_TAIL_BYTES:]:
        # Every complete PDF ends with %%EOF: without it the file was cut off while downloading or copying.
        problem = "不完整（文件在中途被截断，可能下载或复制没有完成），无法读取。请重新下载或导出完整的文件后再上传。"
    elif isinstance(exc, LimitReachedError | RecursionError):
        problem = (
            "内部结构已损坏（对象互相引用成环），无法读取。"
            "请用 PDF 阅读器或 WPS 打开后「另存为」或「打印为 PDF」，再上传新生成的文件。"
        )
    else:
        problem = "已损坏或不是标准的 PDF，无法读取。请用 PDF 阅读器打开确认，另存为新的 PDF 后再上传。"
    return DocumentError(f"PDF 文件 {source} {problem}")


def load_pdf(data: bytes, source: str) -> LoadedDocument:
    from pypdf import PdfReader

    # pypdf logs each repair it attempts ("EOF marker not found"); the error below says what is wrong instead.
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            reader.decrypt("")  # an owner password only restricts printing; an open password fails below
        pages = [(page.extract_text() or "").splitlines() for page in reader.pages]
        meta_title = str(reader.metadata.title).strip() if reader.metadata and reader.metadata.title else ""
    except Exception as exc:  # pypdf parses untrusted bytes and raises many types (LimitReachedError, KeyError ...)
        raise _pdf_problem(data, source, exc) from exc
    if not any(line.strip() for page in pages for line in page):
        raise DocumentError(f"PDF 文件 {source} 里没有可提取的文字（可能是扫描件）。请先做文字识别（OCR）后再上传。")
    return _load_plain(pages, source, meta_title, by_page=True)


class _HTMLText(HTMLParser):
    SKIP = frozenset({"script", "style", "nav", "footer", "header", "aside", "noscript", "form", "button"})
    BLOCK = frozenset({"p", "div", "li", "br", "tr", "section", "article", "blockquote", "pre", "td", "th", "dd", "dt"})

    def __init__(self):
        super().__init__()
        self.title = ""
        self.items: list[tuple[int | None, str]] = []  # (heading level or None, text)
        self._buffer: list[str] = []
        self._skip = 0
        self._in_title = False
        self._heading: int | None = None

    def _flush(self) -> None:
        text = re.sub(r"\s+", " ", "".join(self._buffer)).strip()
        self._buffer = []
        if text:
            self.items.append((self._heading, text))

    def handle_starttag(self, tag, attrs):
        if tag in self.SKIP:
            self._skip += 1
        elif tag == "title":
            self._in_title = True
        elif re.fullmatch(r"h[1-6]", tag):
            self._flush()
            self._heading = int(tag[1])
        elif tag in self.BLOCK:
            self._flush()

    def handle_endtag(self, tag):
        if tag in self.SKIP:
            self._skip = max(0, self._skip - 1)
        elif tag == "title":
            self._in_title = False
        elif re.fullmatch(r"h[1-6]", tag):
            self._flush()
            self._heading = None
        elif tag in self.BLOCK:
            self._flush()

    def handle_data(self, data):
        if self._in_title:
            self.title += data
        elif not self._skip:
            self._buffer.append(data)

    def close(self):
        super().close()
        self._flush()


def load_html(text: str, source: str) -> LoadedDocument:
    parser = _HTMLText()
    parser.feed(text)
    parser.close()
    h1 = next((t for level, t in parser.items if level == 1), None)
    title = parser.title.strip() or h1 or Path(source).stem
    outline = _Outline()
    blocks: list[Block] = []
    for number, (level, item) in enumerate(parser.items, start=1):
        if level is not None:
            if item != title:
                outline.enter(level, item)
            continue
        blocks.append(Block(item, outline.path, {"paragraph": number}))
    return LoadedDocument(source, title, blocks)


def load_table(data: bytes, source: str) -> LoadedDocument:
    """A CSV/XLSX file as text: one block per row, 'column: value' pairs."""
    from company.importers import read_file

    frame, _ = read_file(data, source)
    blocks = []
    for position, row in enumerate(frame.itertuples(index=False), start=2):
        text = "；".join(
            f"{col}：{value}" for col, value in zip(frame.columns, row, strict=True) if isinstance(value, str) and value
        )
        if text:
            blocks.append(Block(text, (), {"row": position}))
    return LoadedDocument(source, Path(source).stem, blocks)


def _decode(data: bytes, source: str) -> str:
    from company.errors import DataFileError
    from company.importers import detect_encoding

    try:
        return data.decode(detect_encoding(data))
    except (DataFileError, UnicodeDecodeError) as exc:  # the encoding is guessed from a sample; bad bytes after it
        raise DocumentError(
            f"{source} 不是可识别的文本（不是 UTF-8、GBK/GB18030 或 Windows-1252 编码），可能已损坏或其实是别的格式。"
            "请用记事本或 WPS 打开确认，另存为 UTF-8 编码后再上传。"
        ) from exc


LOADERS: dict[str, Callable[[bytes, str], LoadedDocument]] = {
    ".md": lambda data, source: load_markdown(_decode(data, source), source),
    ".markdown": lambda data, source: load_markdown(_decode(data, source), source),
    ".txt": lambda data, source: load_text(_decode(data, source), source),
    ".docx": load_docx,
    ".pdf": load_pdf,
    ".html": lambda data, source: load_html(_decode(data, source), source),
    ".htm": lambda data, source: load_html(_decode(data, source), source),
    ".csv": load_table,
    ".xlsx": load_table,
}


def clean(document: LoadedDocument, progress: Progress | None = None) -> LoadedDocument:
    """Drop boilerplate lines and exact or near-duplicate passages (uploads often repeat sections)."""
    kept: list[Block] = []
    for block in document.blocks:
        lines = [ln for ln in block.text.splitlines() if not is_boilerplate(ln)]
        document.dropped_boilerplate += len(block.text.splitlines()) - len(lines)
        text = "\n".join(lines).strip()
        if text:
            kept.append(Block(text, block.heading_path, block.location))

    def step(done: int, total: int) -> None:
        if progress:
            progress(done / total, f"合并重复段落：{done:,}/{total:,} 段")

    duplicates = duplicate_positions([b.text for b in kept], step)
    document.dropped_duplicates = len(duplicates)
    document.blocks = [b for i, b in enumerate(kept) if i not in duplicates]
    return document


def load_document(data: bytes, source: str, progress: Progress | None = None) -> LoadedDocument:
    """Read and clean one document; raises DocumentError with a message the user can act on.

    progress(fraction, message) is told how far reading and cleaning have come (a 30 MB text takes minutes)."""
    notify = progress or (lambda _f, _m: None)
    suffix = Path(source).suffix.lower()
    if suffix not in LOADERS:
        raise DocumentError(f"不支持的文档类型 {suffix or '（无扩展名）'}：请上传 {' '.join(SUPPORTED)} 格式的文件。")
    if not data.strip():
        raise DocumentError(f"文档 {source} 是空的。")
    if suffix == ".docx" and data[:2] != b"PK":
        raise DocumentError(
            f"{source} 不是有效的 .docx 文件（可能是旧版 .doc 改了扩展名）。请在 Word/WPS 中另存为 .docx。"
        )
    if suffix == ".pdf" and not data.lstrip().startswith(b"%PDF"):
        raise DocumentError(f"{source} 不是有效的 PDF 文件。")
    notify(0.0, f"读取 {source}（{len(data) / 1024 / 1024:.1f} MB）")
    loaded = LOADERS[suffix](data, source)
    notify(READ_SHARE, f"已识别标题与章节：{len(loaded.blocks):,} 段，正在去掉广告语与重复段落")
    document = clean(loaded, lambda f, m: notify(READ_SHARE + (1 - READ_SHARE) * f, m))
    if not document.blocks:
        raise DocumentError(f"文档 {source} 里没有可用的正文（去掉页眉页脚、广告语和重复段落后为空）。")
    notify(1.0, f"清理完成：{len(document.blocks):,} 段")
    return document
