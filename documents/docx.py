"""PlanDocument -> Word (.docx): cover page, table of contents, styled headings, formatted tables, charts,
page numbers and the numbered reference list, with East Asian fonts set so Word shows Chinese properly.

Fields (TOC, PAGE, NUMPAGES) are real Word fields marked dirty, and the settings ask Word to update
fields on open, so the table of contents gets its page numbers the first time the file is opened.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from pathlib import Path

from docx import Document as new_document
from docx.document import Document
from docx.enum.style import WD_STYLE_TYPE
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_BREAK
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Cm, Emu, Pt, RGBColor
from docx.table import Table as DocxTable
from docx.text.paragraph import Paragraph as DocxParagraph

from documents.kinds import PLAN_KINDS
from documents.markdown import REFERENCES_NOTE, excerpt, metadata_lines
from documents.model import CITATION, Paragraph, PlanDocument, Table, numbered_headings
from documents.tables import header, numeric_columns, rows


@dataclass(frozen=True)
class DocxStyle:
    """Fonts and colours of the Word output; Chinese text uses the East Asian fonts."""

    body_font: str = "宋体"  # SimSun, on every Chinese Windows and with Office for Mac
    heading_font: str = "微软雅黑"  # Microsoft YaHei
    latin_font: str = "Calibri"
    body_size: float = 10.5  # 五号
    accent: str = "1F4E79"
    header_fill: str = "1F4E79"
    stripe_fill: str = "F2F6FA"
    border: str = "A6A6A6"
    page_width_cm: float = 21.0  # A4
    page_height_cm: float = 29.7
    margin_cm: float = 2.2
    chart_width_cm: float = 16.0


# ---- low-level XML helpers -------------------------------------------------------------------------


# Successors in the OOXML schema's element order: Word rejects a file whose children are out of order.
AFTER_PBDR = (
    "w:shd", "w:tabs", "w:suppressAutoHyphens", "w:kinsoku", "w:wordWrap", "w:overflowPunct", "w:topLinePunct",
    "w:autoSpaceDE", "w:autoSpaceDN", "w:bidi", "w:adjustRightInd", "w:snapToGrid", "w:spacing", "w:ind",
    "w:contextualSpacing", "w:mirrorIndents", "w:suppressOverlap", "w:jc", "w:textDirection", "w:textAlignment",
    "w:textboxTightWrap", "w:outlineLvl", "w:divId", "w:cnfStyle", "w:rPr", "w:sectPr", "w:pPrChange",
)  # fmt: skip
AFTER_TBLBORDERS = ("w:shd", "w:tblLayout", "w:tblCellMar", "w:tblLook", "w:tblCaption", "w:tblDescription")
AFTER_TCSHD = ("w:noWrap", "w:tcMar", "w:textDirection", "w:tcFitText", "w:vAlign", "w:hideMark")
AFTER_UPDATEFIELDS = (
    "w:hdrShapeDefaults", "w:footnotePr", "w:endnotePr", "w:compat", "w:docVars", "w:rsids", "w:attachedSchema",
    "w:themeFontLang", "w:clrSchemeMapping", "w:doNotIncludeSubdocsInStats", "w:doNotAutoCompressPictures",
    "w:forceUpgrade", "w:captions", "w:readModeInkLockDown", "w:smartTagType", "w:shapeDefaults",
    "w:doNotEmbedSmartTags", "w:decimalSymbol", "w:listSeparator",
)  # fmt: skip


def _set_fonts(element, latin: str, east_asia: str) -> None:
    """Set w:rFonts on a style or run element, dropping the theme fonts that would override them."""
    fonts = element.get_or_add_rPr().get_or_add_rFonts()
    for theme in ("w:asciiTheme", "w:hAnsiTheme", "w:eastAsiaTheme", "w:cstheme"):
        fonts.attrib.pop(qn(theme), None)
    fonts.set(qn("w:ascii"), latin)
    fonts.set(qn("w:hAnsi"), latin)
    fonts.set(qn("w:eastAsia"), east_asia)
    fonts.set(qn("w:cs"), latin)


def _field(paragraph: DocxParagraph, instruction: str, shown: str = "", size: float | None = None) -> None:
    """A complex field (PAGE, NUMPAGES ...) with `shown` as its current result; marked dirty so Word refreshes it."""
    _field_begin(paragraph, instruction)
    run = paragraph.add_run(shown)
    if size:
        run.font.size = Pt(size)
    _field_char(paragraph, "end")


def _field_char(paragraph: DocxParagraph, kind: str, dirty: bool = False) -> None:
    char = OxmlElement("w:fldChar")
    char.set(qn("w:fldCharType"), kind)
    if dirty:
        char.set(qn("w:dirty"), "true")
    paragraph.add_run()._r.append(char)


def _field_begin(paragraph: DocxParagraph, instruction: str) -> None:
    _field_char(paragraph, "begin", dirty=True)
    text = OxmlElement("w:instrText")
    text.set(qn("xml:space"), "preserve")
    text.text = f" {instruction} "
    paragraph.add_run()._r.append(text)
    _field_char(paragraph, "separate")


def _shade(cell, fill: str) -> None:
    shading = OxmlElement("w:shd")
    shading.set(qn("w:val"), "clear")
    shading.set(qn("w:color"), "auto")
    shading.set(qn("w:fill"), fill)
    cell._tc.get_or_add_tcPr().insert_element_before(shading, *AFTER_TCSHD)


def _table_borders(table: DocxTable, color: str, inside: bool = True) -> None:
    borders = OxmlElement("w:tblBorders")
    for edge in ("top", "left", "bottom", "right", "insideH", "insideV"):
        element = OxmlElement(f"w:{edge}")
        visible = inside or edge in ("top", "bottom")
        element.set(qn("w:val"), "single" if visible else "nil")
        element.set(qn("w:sz"), "4")
        element.set(qn("w:space"), "0")
        element.set(qn("w:color"), color)
        borders.append(element)
    tbl_pr = table._tbl.tblPr
    existing = tbl_pr.find(qn("w:tblBorders"))
    if existing is not None:
        tbl_pr.remove(existing)
    tbl_pr.insert_element_before(borders, *AFTER_TBLBORDERS)


def _fixed_layout(table: DocxTable) -> None:
    table.autofit = False  # w:tblLayout fixed: Word keeps the column widths we computed


def _repeat_header(row) -> None:
    tr_pr = row._tr.get_or_add_trPr()
    for tag in ("w:tblHeader", "w:cantSplit"):
        element = OxmlElement(tag)
        tr_pr.append(element)


def _bottom_rule(paragraph: DocxParagraph, color: str, size: int = 12) -> None:
    p_pr = paragraph._p.get_or_add_pPr()
    borders = OxmlElement("w:pBdr")
    bottom = OxmlElement("w:bottom")
    bottom.set(qn("w:val"), "single")
    bottom.set(qn("w:sz"), str(size))
    bottom.set(qn("w:space"), "4")
    bottom.set(qn("w:color"), color)
    borders.append(bottom)
    p_pr.insert_element_before(borders, *AFTER_PBDR)


# ---- styles ------------------------------------------------------------------------------------------------


def _setup(doc: Document, style: DocxStyle) -> None:
    section = doc.sections[0]
    section.page_width, section.page_height = Cm(style.page_width_cm), Cm(style.page_height_cm)
    for side in ("left_margin", "right_margin", "top_margin", "bottom_margin"):
        setattr(section, side, Cm(style.margin_cm))
    section.header_distance = section.footer_distance = Cm(1.2)

    # docDefaults: Chinese language and fonts for anything that names no font of its own
    defaults = doc.styles.element.find(qn("w:docDefaults"))
    rpr_default = defaults.find(qn("w:rPrDefault")).find(qn("w:rPr"))
    fonts = rpr_default.get_or_add_rFonts()
    for theme in ("w:asciiTheme", "w:hAnsiTheme", "w:eastAsiaTheme", "w:cstheme"):
        fonts.attrib.pop(qn(theme), None)
    for attr, value in (
        ("w:ascii", style.latin_font),
        ("w:hAnsi", style.latin_font),
        ("w:eastAsia", style.body_font),
        ("w:cs", style.latin_font),
    ):
        fonts.set(qn(attr), value)
    lang = rpr_default.find(qn("w:lang"))  # the default template carries one (en-US)
    if lang is not None:
        lang.set(qn("w:val"), "zh-CN")
        lang.set(qn("w:eastAsia"), "zh-CN")

    normal = doc.styles["Normal"]
    _set_fonts(normal.element, style.latin_font, style.body_font)
    normal.font.size = Pt(style.body_size)
    normal.paragraph_format.space_after = Pt(6)
    normal.paragraph_format.line_spacing = 1.35

    sizes = {1: 16, 2: 13, 3: 11.5}
    for level, size in sizes.items():
        heading = doc.styles[f"Heading {level}"]
        _set_fonts(heading.element, style.latin_font, style.heading_font)
        heading.font.size = Pt(size)
        heading.font.bold = True
        heading.font.italic = False
        heading.font.color.rgb = RGBColor.from_string(style.accent if level < 3 else "262626")
        heading.paragraph_format.space_before = Pt(18 if level == 1 else 12)
        heading.paragraph_format.space_after = Pt(8 if level == 1 else 6)
        heading.paragraph_format.keep_with_next = True
        heading.paragraph_format.line_spacing = 1.2

    for name in ("Title", "Caption", "List Bullet", "Header", "Footer"):
        _set_fonts(
            doc.styles[name].element,
            style.latin_font,
            style.heading_font if name in ("Title", "Caption") else style.body_font,
        )
    caption = doc.styles["Caption"]
    caption.font.size = Pt(9.5)
    caption.font.bold = True
    caption.font.italic = False
    caption.font.color.rgb = RGBColor.from_string("262626")
    caption.paragraph_format.space_before = Pt(6)
    caption.paragraph_format.space_after = Pt(4)
    doc.styles["List Bullet"].paragraph_format.space_after = Pt(3)

    for level in (1, 2):
        toc = doc.styles.add_style(f"toc {level}", WD_STYLE_TYPE.PARAGRAPH)
        toc.base_style = normal
        toc.paragraph_format.left_indent = Cm(0 if level == 1 else 0.74)
        toc.paragraph_format.space_after = Pt(3)
        toc.font.size = Pt(11 if level == 1 else 10.5)
        toc.font.bold = level == 1

    settings = doc.settings.element
    update = OxmlElement("w:updateFields")
    update.set(qn("w:val"), "true")
    settings.insert_element_before(update, *AFTER_UPDATEFIELDS)
    theme_lang = settings.find(qn("w:themeFontLang"))
    if theme_lang is not None:  # theme East Asian fonts resolve for Chinese, not Japanese
        theme_lang.set(qn("w:eastAsia"), "zh-CN")


# ---- document parts ---------------------------------------------------------------------------------------


def _cover(doc: Document, document: PlanDocument, style: DocxStyle) -> None:
    meta = document.metadata
    spacer = doc.add_paragraph()
    spacer.paragraph_format.space_before = Cm(3.5)
    company = doc.add_paragraph(meta.company)
    company.alignment = WD_ALIGN_PARAGRAPH.CENTER
    run = company.runs[0]
    run.font.size, run.font.color.rgb = Pt(16), RGBColor.from_string(style.accent)
    _set_fonts(run._r, style.latin_font, style.heading_font)

    title = doc.add_paragraph(style="Title")
    title.alignment = WD_ALIGN_PARAGRAPH.CENTER
    title.paragraph_format.space_before = Pt(18)
    title_run = title.add_run(document.title)
    title_run.font.size, title_run.font.bold = Pt(26), True
    title_run.font.color.rgb = RGBColor.from_string("1F1F1F")
    _bottom_rule(title, style.accent, size=18)

    kind = doc.add_paragraph(f"{PLAN_KINDS[document.kind].zh} · 第 {meta.version} 版")
    kind.alignment = WD_ALIGN_PARAGRAPH.CENTER
    kind.paragraph_format.space_after = Cm(2.5)
    kind.runs[0].font.size, kind.runs[0].font.color.rgb = Pt(12), RGBColor.from_string("595959")

    facts = metadata_lines(document)
    table = doc.add_table(rows=len(facts), cols=2)
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    _fixed_layout(table)
    _table_borders(table, "D9D9D9", inside=False)
    widths = (Cm(3.2), Cm(9.3))
    for column, width in zip(table.columns, widths, strict=True):
        column.width = width
    for row, (label, value) in zip(table.rows, facts, strict=True):
        for cell, text, width in zip(row.cells, (label, value), widths, strict=True):
            cell.width = width
            paragraph = cell.paragraphs[0]
            paragraph.paragraph_format.space_before = paragraph.paragraph_format.space_after = Pt(4)
            paragraph.paragraph_format.first_line_indent = Pt(0)
            run = paragraph.add_run(text)
            run.font.size = Pt(11)
            if text == label:
                run.font.bold = True
                run.font.color.rgb = RGBColor.from_string("595959")
                paragraph.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    note = doc.add_paragraph("内部资料 · 请勿外传")
    note.alignment = WD_ALIGN_PARAGRAPH.CENTER
    note.paragraph_format.space_before = Cm(2.5)
    note.runs[0].font.size, note.runs[0].font.color.rgb = Pt(9), RGBColor.from_string("7F7F7F")
    note.add_run().add_break(WD_BREAK.PAGE)


def _contents(doc: Document, document: PlanDocument, style: DocxStyle) -> None:
    heading = doc.add_paragraph("目　录")
    heading.alignment = WD_ALIGN_PARAGRAPH.CENTER
    heading.paragraph_format.space_after = Pt(18)
    run = heading.runs[0]
    run.font.size, run.font.bold, run.font.color.rgb = Pt(16), True, RGBColor.from_string(style.accent)
    _set_fonts(run._r, style.latin_font, style.heading_font)

    # The cached result lists the headings (without page numbers) so the page reads well even before
    # Word refreshes the field; Word replaces it with the numbered table of contents on open.
    entries = [(text, s.level if s else 1) for text, s in numbered_headings(document) if s is None or s.level <= 2]
    first = doc.add_paragraph(style="toc 1")
    _field_begin(first, 'TOC \\o "1-2" \\h \\z \\u')
    paragraphs = [first]
    for number, (text, level) in enumerate(entries):
        paragraph = first if number == 0 else doc.add_paragraph(style=f"toc {level}")
        if number == 0 and level != 1:
            paragraph.style = doc.styles[f"toc {level}"]
        paragraph.add_run(text)
        if number:
            paragraphs.append(paragraph)
    if not entries:
        first.add_run("（在 Word 中右键此处，选择「更新域」生成目录）")
    _field_char(paragraphs[-1], "end")
    tip = doc.add_paragraph("提示：目录页码在 Word 打开时自动更新；如未更新，可右键目录选择「更新域」。")
    tip.paragraph_format.space_before = Pt(12)
    tip.runs[0].font.size, tip.runs[0].font.color.rgb = Pt(8.5), RGBColor.from_string("7F7F7F")
    tip.add_run().add_break(WD_BREAK.PAGE)


def _header_footer(doc: Document, document: PlanDocument) -> None:
    section = doc.sections[0]
    section.different_first_page_header_footer = True  # the cover carries neither
    header_paragraph = section.header.paragraphs[0]
    header_paragraph.text = f"{document.metadata.company}　|　{document.title}"
    header_paragraph.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    for run in header_paragraph.runs:
        run.font.size, run.font.color.rgb = Pt(8.5), RGBColor.from_string("7F7F7F")
    _bottom_rule(header_paragraph, "BFBFBF", size=4)

    footer = section.footer.paragraphs[0]
    footer.alignment = WD_ALIGN_PARAGRAPH.CENTER
    for part in ("第 ", ("PAGE", "1"), " 页 / 共 ", ("NUMPAGES", "1"), " 页"):
        if isinstance(part, tuple):
            _field(footer, part[0], part[1], size=9)
        else:
            footer.add_run(part).font.size = Pt(9)


def _text(paragraph: DocxParagraph, text: str) -> None:
    """Write text with each citation marker [n] as a superscript run."""
    position = 0
    for match in CITATION.finditer(text):
        if match.start() > position:
            paragraph.add_run(text[position : match.start()])
        marker = paragraph.add_run(match.group(0))
        marker.font.superscript = True
        marker.font.color.rgb = RGBColor.from_string("1F4E79")
        position = match.end()
    if position < len(text):
        paragraph.add_run(text[position:])


def _paragraph(doc: Document, paragraph: Paragraph) -> None:
    if paragraph.style == "bullet":
        out = doc.add_paragraph(style="List Bullet")
    else:
        out = doc.add_paragraph()
        if paragraph.style == "body":
            out.paragraph_format.first_line_indent = Pt(21)
    _text(out, paragraph.text)
    if paragraph.style == "note":
        for run in out.runs:
            run.font.size, run.font.color.rgb = Pt(9), RGBColor.from_string("595959")


KEEP_TABLE_ROWS = 15  # tables up to this many rows are not broken across pages
KEEP_ROW = 240  # rows with less text than this never break across pages
SHORT_TEXT = 12  # display width (a Chinese character counts 2) up to which a text column is kept on one line


def _display_width(text: str) -> int:
    return sum(2 if ord(ch) > 0x2E7F else 1 for ch in text)


def _column_widths(head: list[str], body: list[list[str]], numeric: list[bool], total: int, size: float) -> list[int]:
    """Widths in EMU: numbers and short texts (dates, names, owners) never wrap; long texts share what is left."""
    char = Pt(size).emu / 2 * 1.08  # one half-width character at this size, with a little slack
    padding = Cm(0.4).emu
    need, fixed = [], []
    for i, name in enumerate(head):
        longest = max((_display_width(row[i]) for row in body), default=0)
        title = _display_width(name)
        short = numeric[i] or longest <= SHORT_TEXT
        chars = max(longest, (title + 1) // 2 if short else min(title, 8), 4)
        need.append(min(chars, 120) * char + padding)
        fixed.append(short)
    if sum(need) <= total:
        return [int(n * total / sum(need)) for n in need]
    kept = sum(n for n, short in zip(need, fixed, strict=True) if short)
    flexible = sum(n for n, short in zip(need, fixed, strict=True) if not short)
    if not flexible or kept >= total * 0.8:
        return [int(n * total / sum(need)) for n in need]
    room = total - kept
    floor = Cm(2.6).emu
    # a short flexible column (措施) keeps a readable minimum; the long ones (说明) share the rest
    narrow = [not short and n * room / flexible < floor for n, short in zip(need, fixed, strict=True)]
    held = sum(min(n, floor) for n, low in zip(need, narrow, strict=True) if low)
    rest = sum(n for n, short, low in zip(need, fixed, narrow, strict=True) if not short and not low)
    widths = []
    for n, short, low in zip(need, fixed, narrow, strict=True):
        widths.append(n if short else min(n, floor) if low else n * (room - held) / rest if rest else n)
    return [int(w) for w in widths]


def _table(doc: Document, table: Table, number: int, style: DocxStyle) -> None:
    caption = doc.add_paragraph(f"表{number}　{table.caption}", style="Caption")
    caption.paragraph_format.keep_with_next = True
    head, body, numeric = header(table), rows(table), numeric_columns(table.frame)
    if not body:
        doc.add_paragraph("（无数据）")
        return
    size = 9 if len(head) <= 6 else 8
    usable = Cm(style.page_width_cm - 2 * style.margin_cm).emu
    widths = _column_widths(head, body, numeric, usable, size)
    out = doc.add_table(rows=1 + len(body), cols=len(head))
    out.alignment = WD_TABLE_ALIGNMENT.CENTER
    _fixed_layout(out)
    _table_borders(out, style.border)
    for r, values in enumerate([head, *body]):
        row = out.rows[r]
        if r == 0:
            _repeat_header(row)
        elif max(map(_display_width, values)) <= KEEP_ROW:
            row._tr.get_or_add_trPr().append(OxmlElement("w:cantSplit"))
        for c, value in enumerate(values):
            cell = row.cells[c]
            cell.width = Emu(widths[c])
            paragraph = cell.paragraphs[0]
            paragraph.paragraph_format.space_before = Pt(2)
            paragraph.paragraph_format.space_after = Pt(2)
            paragraph.paragraph_format.line_spacing = 1.1
            paragraph.paragraph_format.first_line_indent = Pt(0)
            # short tables stay on one page: every row but the last keeps with the next
            paragraph.paragraph_format.keep_with_next = r < len(body) and len(body) <= KEEP_TABLE_ROWS
            run = paragraph.add_run(value)
            run.font.size = Pt(size)
            if r == 0:
                run.font.bold = True
                run.font.color.rgb = RGBColor(0xFF, 0xFF, 0xFF)
                _set_fonts(run._r, style.latin_font, style.heading_font)
                _shade(cell, style.header_fill)
                paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
            else:
                paragraph.alignment = WD_ALIGN_PARAGRAPH.RIGHT if numeric[c] else WD_ALIGN_PARAGRAPH.LEFT
                if r % 2 == 0:
                    _shade(cell, style.stripe_fill)
    for column, width in zip(out.columns, widths, strict=True):
        column.width = Emu(width)
    if table.note:
        note = doc.add_paragraph(table.note)
        note.paragraph_format.space_before = Pt(3)
        note.runs[0].font.size, note.runs[0].font.color.rgb = Pt(8.5), RGBColor.from_string("595959")
    else:
        doc.add_paragraph().paragraph_format.space_after = Pt(2)


def _chart(doc: Document, chart, number: int, style: DocxStyle) -> None:
    picture = doc.add_paragraph()
    picture.alignment = WD_ALIGN_PARAGRAPH.CENTER
    picture.paragraph_format.keep_with_next = True
    picture.paragraph_format.first_line_indent = Pt(0)
    from documents.charts import render_png  # matplotlib (~0.8 s) only when a chart is drawn

    picture.add_run().add_picture(io.BytesIO(render_png(chart)), width=Cm(style.chart_width_cm))
    caption = doc.add_paragraph(f"图{number}　{chart.caption or chart.title}", style="Caption")
    caption.alignment = WD_ALIGN_PARAGRAPH.CENTER


def _references(doc: Document, document: PlanDocument, heading: str) -> None:
    doc.add_heading(heading, level=1)
    intro = doc.add_paragraph(REFERENCES_NOTE)
    intro.runs[0].font.size, intro.runs[0].font.color.rgb = Pt(9), RGBColor.from_string("595959")
    for ref in document.references:
        line = doc.add_paragraph()
        line.paragraph_format.left_indent = Cm(0.9)
        line.paragraph_format.first_line_indent = Cm(-0.9)
        line.paragraph_format.space_after = Pt(1)
        line.paragraph_format.keep_with_next = True
        number = line.add_run(f"[{ref.number}]\t")
        number.font.bold = True
        line.add_run(ref.label)
        quote = doc.add_paragraph()
        quote.paragraph_format.left_indent = Cm(0.9)
        quote.paragraph_format.space_after = Pt(6)
        run = quote.add_run(excerpt(ref))
        run.font.size, run.font.color.rgb = Pt(8.5), RGBColor.from_string("595959")


def build_docx(document: PlanDocument, style: DocxStyle | None = None) -> Document:
    """The python-docx Document for a plan (save it with .save(path or stream))."""
    style = style or DocxStyle()
    doc = new_document()
    _setup(doc, style)
    core = doc.core_properties
    core.title, core.author, core.subject = document.title, document.metadata.author, PLAN_KINDS[document.kind].zh
    core.keywords = f"渠道参谋;{document.metadata.scope};{document.metadata.period}"
    core.language = "zh-CN"
    _cover(doc, document, style)
    _contents(doc, document, style)
    _header_footer(doc, document)
    for warning in document.warnings:
        _paragraph(doc, Paragraph(text=f"数据提示：{warning}", style="note"))
    table_no = chart_no = 0
    for heading, section in numbered_headings(document):
        if section is None:
            _references(doc, document, heading)
            continue
        doc.add_heading(heading, level=min(section.level, 3))
        for paragraph in section.paragraphs:
            _paragraph(doc, paragraph)
        for table in section.tables:
            table_no += 1
            _table(doc, table, table_no, style)
        for chart in section.charts:
            chart_no += 1
            _chart(doc, chart, chart_no, style)
        for paragraph in section.closing:
            _paragraph(doc, paragraph)
    return doc


def render_docx(document: PlanDocument, style: DocxStyle | None = None) -> bytes:
    buffer = io.BytesIO()
    build_docx(document, style).save(buffer)
    return buffer.getvalue()


def export_docx(document: PlanDocument, path: Path | str, style: DocxStyle | None = None) -> Path:
    path = Path(path)
    path.write_bytes(render_docx(document, style))
    return path


SAFE_NAME = re.compile(r'[\\/:*?"<>|\s]+')


def file_name(document: PlanDocument, suffix: str = ".docx") -> str:
    """A file name a manager can send as is: 2026年第4季度渠道工作计划（华东）_v1.docx."""
    return SAFE_NAME.sub("_", document.title) + f"_v{document.metadata.version}{suffix}"
