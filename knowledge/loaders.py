"""Loaders for guidance documents: .md .txt .docx .pdf .html and .csv/.xlsx tables -> LoadedDocument.

Each loader yields blocks (paragraph, list or table row) with the heading path above them and a
location a citation can point at (page, paragraph or row); clean-up then drops boilerplate and
repeated passages.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import yaml

from company.errors import CanmouError
from knowledge.cleaning import duplicate_positions, is_boilerplate, rejoin, repeated_lines

SUPPORTED = (".md", ".markdown", ".txt", ".docx", ".pdf", ".html", ".htm", ".csv", ".xlsx")
HEADING_PATTERNS = (
    (1, re.compile(r"^第[一二三四五六七八九十百零〇\d]+[章篇部分]\s*\S")),
    (2, re.compile(r"^第[一二三四五六七八九十百零〇\d]+节\s*\S")),
    (2, re.compile(r"^[一二三四五六七八九十]+[、.．]\s*\S")),
    (3, re.compile(r"^[（(][一二三四五六七八九十]+[)）]\s*\S")),
    (3, re.compile(r"^\d+[、.．]\s*\S")),
    (4, re.compile(r"^\d+\.\d+(\.\d+)*\s*\S")),
)
MAX_HEADING_CHARS = 32


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


def heading_level(line: str) -> int | None:
    """Level of a plain-text heading such as 第一章 / 一、/ （二）/ 3. / 2.1, or None."""
    text = line.strip()
    if not text or len(text) > MAX_HEADING_CHARS or text[-1] in "。；;，,：:！？!?":
        return None
    for level, pattern in HEADING_PATTERNS:
        if pattern.match(text):
            return level
    return None


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


def load_markdown(text: str, source: str) -> LoadedDocument:
    meta, body = _front_matter(text)
    lines = body.splitlines()
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
    )


def _plain_title(first_lines: list[str], fallback: str) -> str:
    for line in first_lines:
        text = line.strip()
        if text:
            if len(text) <= 40 and text[-1] not in "。；;，,：:！？!?":
                return text
            break
    return fallback


def load_text(text: str, source: str) -> LoadedDocument:
    lines = [ln for ln in text.splitlines()]
    title = _plain_title(lines[:5], Path(source).stem)
    paragraphs = rejoin(lines, is_heading=lambda ln: heading_level(ln) is not None or ln.strip() == title)
    numbered = [(p, {"paragraph": i + 1}) for i, p in enumerate(paragraphs) if p.strip() != title]
    return LoadedDocument(source, title, _from_paragraphs(numbered, heading_level))


def load_docx(data: bytes, source: str) -> LoadedDocument:
    import docx

    try:
        document = docx.Document(io.BytesIO(data))
    except Exception as exc:  # python-docx raises several types for a damaged package
        raise DocumentError(f"无法打开 Word 文件 {source}：{exc}。请确认它是 .docx（不是 .doc）且没有加密。") from exc
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


def load_pdf(data: bytes, source: str) -> LoadedDocument:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        pages = [(page.extract_text() or "").splitlines() for page in reader.pages]
    except (PdfReadError, ValueError, KeyError) as exc:
        raise DocumentError(f"无法读取 PDF 文件 {source}：{exc}。请确认文件完整且没有加密。") from exc
    if not any(line.strip() for page in pages for line in page):
        raise DocumentError(f"PDF 文件 {source} 里没有可提取的文字（可能是扫描件）。请先做文字识别（OCR）后再上传。")
    running = repeated_lines(pages)
    meta_title = ""
    if reader.metadata is not None and reader.metadata.title:
        meta_title = str(reader.metadata.title).strip()
    title = meta_title or _plain_title(pages[0][:5], Path(source).stem)
    outline = _Outline()
    blocks: list[Block] = []
    for number, lines in enumerate(pages, start=1):
        kept = [ln for ln in lines if ln.strip() not in running]
        for paragraph in rejoin(kept, is_heading=lambda ln: heading_level(ln) is not None):
            if paragraph.strip() == title:
                continue
            level = heading_level(paragraph)
            if level is not None:
                outline.enter(level, paragraph)
                continue
            blocks.append(Block(paragraph, outline.path, {"page": number}))
    return LoadedDocument(source, title, blocks)


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
    from company.importers import detect_encoding

    return data.decode(detect_encoding(data))


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


def clean(document: LoadedDocument) -> LoadedDocument:
    """Drop boilerplate lines and exact or near-duplicate passages (uploads often repeat sections)."""
    kept: list[Block] = []
    for block in document.blocks:
        lines = [ln for ln in block.text.splitlines() if not is_boilerplate(ln)]
        document.dropped_boilerplate += len(block.text.splitlines()) - len(lines)
        text = "\n".join(lines).strip()
        if text:
            kept.append(Block(text, block.heading_path, block.location))
    duplicates = duplicate_positions([b.text for b in kept])
    document.dropped_duplicates = len(duplicates)
    document.blocks = [b for i, b in enumerate(kept) if i not in duplicates]
    return document


def load_document(data: bytes, source: str) -> LoadedDocument:
    """Read and clean one document; raises DocumentError with a message the user can act on."""
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
    document = clean(LOADERS[suffix](data, source))
    if not document.blocks:
        raise DocumentError(f"文档 {source} 里没有可用的正文（去掉页眉页脚、广告语和重复段落后为空）。")
    return document
