"""PlanDocument -> Markdown: title, metadata block, numbered headings, tables with units, charts, references.

The chat shows a draft as exactly this text; the Word file (documents/docx.py) renders the same document.
Every value from the data or a document (names, cells, quoted passages) goes through plain(): it shows as the text
it is, never as Markdown or HTML (a partner named ![t](http://…) made the browser fetch an outside image)."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from documents.kinds import PLAN_KINDS
from documents.model import Chart, Paragraph, PlanDocument, Reference, Table, numbered_headings
from documents.tables import header, numeric_columns, rows

EXCERPT = 160  # characters of a cited passage printed under its reference
REFERENCES_NOTE = "正文中的 [n] 指向下列指南段落；引用的句子均摘自这些段落原文。"


_INLINE = re.compile(r"([\\`*_|$]|~(?=\S)|(?<=\S)~)")  # emphasis, code, table cell, math, strikethrough (a ~
# with a space on both sides, as in 2026-07-01 ~ 2026-09-30, strikes nothing and stays as it is)
_ENTITY = re.compile(r"&(?=#?[0-9A-Za-z]+;)")  # &amp; &#60; would turn into other characters
_BRACKET = re.compile(r"\[\d{1,3}\](?![(:])|[\[\]]")  # a citation [n] stays; any other bracket is escaped
_BLOCK = re.compile(r"(?m)^([ \t]*)([#>+=-])")  # heading, quote, list item, rule at the start of a line
_NUMBERED = re.compile(r"(?m)^([ \t]*\d{1,9})([.)])")  # numbered list item at the start of a line


def plain(value: object) -> str:
    """A data or document value as Markdown that shows exactly this text: no link, image, HTML, emphasis, code,
    heading or list can come out of it. Citation markers [n] stay as they are (they are this document's own).

    No pinned library offers this (markdown-it-py only escapes HTML), so it is written here, once: CommonMark lets
    any ASCII punctuation be escaped with a backslash, and '<' becomes the entity &lt; (no tag, no autolink)."""
    text = _INLINE.sub(r"\\\1", str(value))
    text = _ENTITY.sub("&amp;", text).replace("<", "&lt;")
    text = _BRACKET.sub(lambda m: m.group(0) if len(m.group(0)) > 1 else "\\" + m.group(0), text)
    return _NUMBERED.sub(r"\1\\\2", _BLOCK.sub(r"\1\\\2", text))


_ESCAPED = re.compile(r"\\([!-/:-@\[-`{-~])")


def as_text(markdown: str) -> str:
    """What plain() escaped, shown as typed: a terminal prints Markdown as it is, and 2025-10-01\\~2026-09-30 or
    &lt; would be read literally there."""
    return _ESCAPED.sub(r"\1", markdown).replace("&lt;", "<").replace("&amp;", "&")


def metadata_lines(document: PlanDocument) -> list[tuple[str, str]]:
    """The cover facts, in the order both renderers print them."""
    meta = document.metadata
    pairs = [
        ("编制单位", meta.company),
        (PLAN_KINDS[document.kind].period_label, meta.period),
        ("适用范围", meta.scope),
    ]
    if meta.basis:
        pairs.append(("基础数据", meta.basis))
    pairs += [("编制部门", meta.author), ("编制日期", meta.date.isoformat()), ("版本", f"第 {meta.version} 版")]
    return pairs


def excerpt(reference: Reference, limit: int = EXCERPT) -> str:
    text = " ".join(reference.text.split())
    return text if len(text) <= limit else text[:limit].rstrip() + "……"


def markdown_table(table: Table) -> str:
    if table.frame.empty:
        return "（无数据）"
    flags = numeric_columns(table.frame)  # numbers are formatted here; text cells are the data's own
    body = [[c if n else plain(" ".join(c.splitlines())) for c, n in zip(r, flags, strict=True)] for r in rows(table)]
    frame = pd.DataFrame(body, columns=[plain(h) for h in header(table)])
    align = ["right" if flag else "left" for flag in flags]
    return frame.to_markdown(index=False, colalign=align, disable_numparse=True)


def render_markdown(document: PlanDocument, image_dir: Path | str | None = None, image_prefix: str = "") -> str:
    """The document as Markdown. With image_dir, charts are written there as fig-N.png and linked
    (as image_prefix + file name); without it, each chart is named in a note."""
    out = [f"# {plain(document.title)}", ""]
    out += ["> " + "　".join(f"**{k}**：{plain(v)}" for k, v in metadata_lines(document)), ""]
    for warning in document.warnings:
        out += [f"> 数据提示：{plain(warning)}", ""]
    table_no = chart_no = 0
    for heading, section in numbered_headings(document):
        if section is None:
            out += ["## " + plain(heading), "", REFERENCES_NOTE, ""]
            for ref in document.references:
                out += [f"[{ref.number}] {plain(ref.label)}", "", f"> {plain(excerpt(ref))}", ""]
            continue
        out += ["#" * (section.level + 1) + " " + plain(heading), ""]
        out += _paragraphs(section.paragraphs)
        for table in section.tables:
            table_no += 1
            out += [f"**表{table_no}　{plain(table.caption)}**", "", markdown_table(table), ""]
            if table.note:
                out += [f"*{plain(table.note)}*", ""]
        for chart in section.charts:
            chart_no += 1
            out += [_chart(chart, chart_no, image_dir, image_prefix), ""]
        out += _paragraphs(section.closing)
    return "\n".join(out).rstrip() + "\n"


def _paragraphs(paragraphs: list[Paragraph]) -> list[str]:
    out = []
    for paragraph in paragraphs:
        out += [{"body": "", "bullet": "- ", "note": "> "}[paragraph.style] + plain(paragraph.text), ""]
    return out


def _chart(chart: Chart, number: int, image_dir: Path | str | None, prefix: str) -> str:
    caption = f"图{number}　{plain(chart.caption or chart.title)}"
    if image_dir is None:
        return f"*{caption}（图表见 Word 版）*"
    folder = Path(image_dir)
    folder.mkdir(parents=True, exist_ok=True)
    name = f"fig-{number}.png"
    from documents.charts import render_png  # matplotlib (~0.8 s) only when a chart is drawn

    (folder / name).write_bytes(render_png(chart))
    return f"![{caption}]({prefix}{name})\n\n*{caption}*"


def export_markdown(document: PlanDocument, path: Path | str) -> Path:
    """Write <path>.md with its charts beside it in <stem>_files/."""
    path = Path(path)
    folder = path.parent / f"{path.stem}_files"
    path.write_text(render_markdown(document, folder, f"{folder.name}/"), encoding="utf-8")
    return path
