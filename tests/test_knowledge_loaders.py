"""Loading user documents: titles, heading paths, locations, hard wraps, boilerplate, duplicates, chunks."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from knowledge.cleaning import is_boilerplate
from knowledge.loaders import DocumentError, load_document
from retrieval.chunking import MAX_CHARS, article_number, chunk_document
from retrieval.tokens import count_tokens, encoding

DOCUMENTS = Path(__file__).parent / "documents"

WRAPPED = """渠道冲突处理手册

本文档由某某文库网站收集整理，仅供学习交流使用，如有侵权请联系删除。

一、窜货的识别
发现经销商跨区域销售时，首先要核对出库单和物流单据，确认货物的实际流向，再与授权区
域进行比对，不能只凭终端一句话就下结论。核对完成后，把证据整理成书面材料，交由渠道
管理部复核。

二、处理步骤
第一步，书面通知违规经销商，限期说明情况；第二步，按协议扣减当季返利；第三步，情节严
重的暂停供货，直至解除合作。
更多精品资料模板请访问 www.example-docs.com 免费下载

二、处理步骤
第一步，书面通知违规经销商，限期说明情况；第二步，按协议扣减当季返利；第三步，情节严
重的暂停供货，直至解除合作。

三、预防措施
在合同中写明授权区域和违约责任，产品外箱喷印区域码，便于追溯。
"""


def test_hard_wrapped_text_with_repeated_section_becomes_clean_unique_chunks():
    doc = load_document(WRAPPED.encode("utf-8"), "冲突手册.txt")
    assert doc.title == "渠道冲突处理手册"
    texts = [b.text for b in doc.blocks]
    assert any("再与授权区域进行比对" in t for t in texts), "a line broken mid-sentence must be re-joined"
    assert any("情节严重的暂停供货" in t for t in texts)
    assert not any("文库" in t or "www." in t for t in texts), "download-site boilerplate must be dropped"
    assert sum("书面通知违规经销商" in t for t in texts) == 1, "the repeated section must be collapsed"
    assert doc.dropped_boilerplate == 2 and doc.dropped_duplicates == 1
    chunks = chunk_document(doc, "doc:test")
    assert sum("书面通知违规经销商" in c.text for c in chunks) == 1
    step_chunk = next(c for c in chunks if "书面通知" in c.text)
    assert step_chunk.heading_path == ("二、处理步骤",)
    assert step_chunk.prefix == "渠道冲突处理手册 > 二、处理步骤"
    assert step_chunk.indexed_text.startswith("渠道冲突处理手册 > 二、处理步骤\n")
    assert step_chunk.location == {"paragraph": step_chunk.location["paragraph"]} and step_chunk.location_label


def test_near_duplicate_paragraphs_are_collapsed():
    para = (
        "季度返利按回款额计算，完成率达到百分之百的经销商返点百分之三，超过一百一十的返点百分之四点五，未达九十不返。"
    )
    near = para.replace("经销商", "经销商们")
    text = f"返利说明\n\n{para}\n\n{near}\n\n另外一段完全不同的内容，讲的是培训安排与考核方式。\n"
    doc = load_document(text.encode("gbk"), "返利.txt")
    assert [b.text for b in doc.blocks] == [para, "另外一段完全不同的内容，讲的是培训安排与考核方式。"]


def test_markdown_front_matter_and_heading_paths():
    text = (
        "---\ntitle: 返利设计\ntopic: incentive\ntags: [返利, 门槛]\n---\n# 返利设计\n\n## 档位\n\n"
        "### 门槛\n\n完成率九成起返。\n\n## 预算\n\n预算按上年返利额的一点一倍测算。\n"
    )
    doc = load_document(text.encode(), "rebate.md")
    assert (doc.title, doc.topic, doc.tags) == ("返利设计", "incentive", ["返利", "门槛"])
    assert [(b.heading_path, b.text) for b in doc.blocks] == [
        (("档位", "门槛"), "完成率九成起返。"),
        (("预算",), "预算按上年返利额的一点一倍测算。"),
    ]


def test_docx_headings_paragraph_numbers_and_tables():
    import docx

    document = docx.Document()
    document.add_heading("经销商管理办法", level=0)
    document.add_heading("第一章 总则", level=1)
    document.add_paragraph("本办法适用于公司所有签约经销商。")
    document.add_heading("第二章 考核", level=1)
    document.add_paragraph("每季度考核一次，结果用于分级。")
    table = document.add_table(rows=3, cols=2)
    for row, values in zip(table.rows, [("等级", "返点"), ("A", "3%"), ("B", "2%")], strict=True):
        row.cells[0].text, row.cells[1].text = values
    buffer = io.BytesIO()
    document.save(buffer)
    doc = load_document(buffer.getvalue(), "办法.docx")
    assert doc.title == "经销商管理办法"
    blocks = {b.text: b for b in doc.blocks}
    assert blocks["本办法适用于公司所有签约经销商。"].heading_path == ("第一章 总则",)
    assert blocks["每季度考核一次，结果用于分级。"].location == {"paragraph": 5}
    assert blocks["等级：A；返点：3%"].location == {"row": 2}


def test_pdf_pages_running_footer_and_wrapped_lines(tmp_path):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    from matplotlib import pyplot as plt
    from matplotlib.backends.backend_pdf import PdfPages

    path = tmp_path / "guide.pdf"
    bodies = [
        [
            "Channel Review Guide",
            "",
            "1. Quarterly review",
            "Every quarter the regional manager compares sales",
            "against target for each distributor and records the gap.",
        ],
        [
            "2. Price checks",
            "Store visits check shelf prices against the floor price",
            "list before any rebate is paid.",
        ],
        ["3. Follow-up", "Distributors below target get an improvement plan with", "dated actions."],
    ]
    with PdfPages(path) as pdf:
        for number, lines in enumerate(bodies, start=1):
            fig = plt.figure(figsize=(8.27, 11.69))
            for i, line in enumerate(lines):
                fig.text(0.1, 0.9 - i * 0.03, line, fontsize=11)
            fig.text(0.1, 0.05, "Confidential - ACME Foods channel team", fontsize=8)
            fig.text(0.85, 0.05, str(number), fontsize=8)
            pdf.savefig(fig)
            plt.close(fig)
    doc = load_document(path.read_bytes(), "guide.pdf")
    assert doc.title == "Channel Review Guide"
    texts = {b.text: b for b in doc.blocks}
    first = "Every quarter the regional manager compares sales against target for each distributor and records the gap."
    assert texts[first].location == {"page": 1} and texts[first].heading_path == ("1. Quarterly review",)
    assert not any("Confidential" in t for t in texts), "a footer on every page is dropped"
    assert any(b.location == {"page": 3} for b in doc.blocks)


def test_html_title_headings_and_scripts():
    html = (
        "<html><head><title>O2O 渠道打法</title><script>var x=1;</script></head><body><nav>首页 | 关于</nav>"
        "<h2>门店自提</h2><p>线上下单、门店自提可以带动到店客流。</p><h2>价格</h2><p>线上线下同价，避免互相抢客。</p>"
        "<footer>版权所有</footer></body></html>"
    )
    doc = load_document(html.encode("utf-8"), "o2o.html")
    assert doc.title == "O2O 渠道打法"
    assert [(b.heading_path, b.text) for b in doc.blocks] == [
        (("门店自提",), "线上下单、门店自提可以带动到店客流。"),
        (("价格",), "线上线下同价，避免互相抢客。"),
    ]


def test_csv_and_xlsx_become_row_passages():
    import pandas as pd

    frame = pd.DataFrame({"政策": ["季度返利", "年度奖励"], "条件": ["完成率≥90%", "全年无窜货"]})
    for name, data in (("政策.csv", frame.to_csv(index=False).encode("gbk")), ("政策.xlsx", _xlsx(frame))):
        doc = load_document(data, name)
        assert [(b.text, b.location) for b in doc.blocks] == [
            ("政策：季度返利；条件：完成率≥90%", {"row": 2}),
            ("政策：年度奖励；条件：全年无窜货", {"row": 3}),
        ]


def _xlsx(frame) -> bytes:
    buffer = io.BytesIO()
    frame.to_excel(buffer, index=False)
    return buffer.getvalue()


@pytest.mark.parametrize(
    "name, data, fragment",
    [
        ("空.txt", b"  \n", "是空的"),
        ("a.doc", b"\xd0\xcf\x11\xe0", "不支持的文档类型 .doc"),
        ("fake.docx", b"not a zip", "不是有效的 .docx"),
        ("fake.pdf", b"hello", "不是有效的 PDF"),
        ("only-ads.txt", "下载更多精品资料请访问 www.example.com\n".encode(), "没有可用的正文"),
    ],
)
def test_unusable_documents_are_explained(name, data, fragment):
    with pytest.raises(DocumentError) as caught:
        load_document(data, name)
    assert fragment in caught.value.message


def test_chunks_are_sentence_aware_and_carry_token_counts():
    sentence = "经销商的库存天数等于平均库存除以日均出货量，超过四十五天就要预警。"
    text = "库存管理\n\n一、库存天数\n" + sentence * 40 + "\n"
    doc = load_document(text.encode(), "库存.txt")
    chunks = chunk_document(doc, "doc:inv")
    assert len(chunks) >= 4
    for chunk in chunks:
        assert len(chunk.text) <= MAX_CHARS
        assert chunk.text.endswith("。"), "chunks end at a sentence boundary"
        assert chunk.tokens == len(encoding().encode(chunk.indexed_text)) > 0
    assert 200 <= sorted(len(c.text) for c in chunks)[len(chunks) // 2] <= 330


def test_tiktoken_works_offline_from_the_packaged_files():
    assert encoding().encode("hello world") == [15339, 1917]
    assert count_tokens("渠道") > 0


# ---- real-world shapes: tests/documents/ holds our own texts in the layouts uploads arrive in ------------------
def _paths(doc) -> dict[str, tuple[str, ...]]:
    return {b.text: b.heading_path for b in doc.blocks}


def _path_of(doc, start: str) -> tuple[str, ...]:
    return next(b.heading_path for b in doc.blocks if b.text.startswith(start))


@pytest.mark.parametrize("blank_lines", [True, False], ids=["paragraphs", "no-blank-lines"])
def test_articles_joined_in_one_file_each_get_their_title_as_heading(blank_lines):
    text = (DOCUMENTS / "joined_articles.txt").read_text(encoding="utf-8")
    if not blank_lines:
        text = "\n".join(line for line in text.splitlines() if line.strip())
    doc = load_document(text.encode("utf-8"), "渠道文章合集.txt")
    assert doc.title == "渠道文章合集", "a file of several articles is not named after its first article"
    tops = list(dict.fromkeys(b.heading_path[0] for b in doc.blocks))
    assert tops == [
        "经销商返利政策该怎么定",
        "窜货治理的三个抓手",
        "新品上市时如何调动二级批发商",
        "经销商年度评估怎么做",
    ]
    assert _path_of(doc, "返利是厂家调动") == ("经销商返利政策该怎么定",)
    assert _path_of(doc, "返利只按回款额计算") == ("经销商返利政策该怎么定", "二、返利要和回款挂钩")
    assert _path_of(doc, "第二个抓手是保证金") == ("窜货治理的三个抓手",)
    # The last article has no byline; its numbering restarting at 一、 shows it is a new article.
    assert _path_of(doc, "评估结果分为优秀") == ("经销商年度评估怎么做", "二、结果应用")
    everything = " ".join(t + "".join(p) for t, p in _paths(doc).items())
    assert not any(word in everything for word in ("来源：", "作者：", "发布时间", "阅读量")), "bylines are dropped"
    assert doc.dropped_boilerplate == 3
    chunk = next(c for c in chunk_document(doc, "doc:joined") if "保证金" in c.text)
    assert chunk.prefix == "渠道文章合集 > 窜货治理的三个抓手"


def test_hard_wrapped_numbered_items_are_joined_not_taken_as_headings():
    doc = load_document((DOCUMENTS / "wrapped_rules.txt").read_bytes(), "华东区经销商管理办法.txt")
    assert doc.title == "华东区经销商管理办法"
    assert {b.heading_path for b in doc.blocks} == {
        ("第一章 总则", "一、目的"),
        ("第一章 总则", "二、适用范围"),
        ("第二章 经销商日常管理", "（一）进销存管理"),
        ("第二章 经销商日常管理", "（二）返利政策"),
        ("第三章 窜货处理", "一、窜货的认定"),
        ("第三章 窜货处理", "二、处罚措施"),
    }, "only the real headings open sections"
    paths = _paths(doc)
    item = "1. 经销商应当在每月5日前提交上月的进销存报表，逾期两次取消季度返利。"
    assert paths[item] == ("第二章 经销商日常管理", "（一）进销存管理"), "a wrapped item is one block"
    assert paths["3. 严禁虚报库存"] == paths[item], "a short item in a list stays text"
    assert "1. 首次窜货的，扣除当季返利的百分之五十，并由渠道管理部发出书面警告。" in paths
    assert any(t.startswith("季度返利按实际回款额计算") and t.endswith("返点百分之四。") for t in paths)


def test_a_run_of_short_numbered_items_is_a_list_under_the_real_heading():
    text = (
        "新签约材料\n\n一、新签经销商\n1. 营业执照复印件\n2. 法定代表人身份证复印件\n3. 近一年的银行流水\n"
        "以上材料须加盖公章。\n二、续约经销商\n续约经销商只需提交上一年度的进销存汇总表。\n"
    )
    doc = load_document(text.encode("utf-8"), "材料.txt")
    assert [(b.heading_path, b.text) for b in doc.blocks] == [
        (("一、新签经销商",), "1. 营业执照复印件"),
        (("一、新签经销商",), "2. 法定代表人身份证复印件"),
        (("一、新签经销商",), "3. 近一年的银行流水"),
        (("一、新签经销商",), "以上材料须加盖公章。"),
        (("二、续约经销商",), "续约经销商只需提交上一年度的进销存汇总表。"),
    ]


def test_download_site_notices_and_page_furniture_are_dropped_but_content_stays():
    doc = load_document((DOCUMENTS / "download_notices.txt").read_bytes(), "窜货规定.txt")
    assert doc.title == "经销商窜货管理规定"
    everything = "\n".join(b.text for b in doc.blocks)
    for notice in ("文库", "下载后可编辑", "精品资料", "公众号", "免责声明", "侵权", "第 1 页", "内部资料"):
        assert notice not in everything, notice
    assert doc.dropped_boilerplate == 12
    paths = _paths(doc)
    assert paths["经销商可登录公司渠道服务平台www.example.com/area查询本区域的授权范围。"] == ("一、总则",)
    assert paths["订货和申诉请登录经销商门户 https://dealer.example.com"] == ("三、处理流程",)
    assert "以下处罚标准仅供参考，以当年签订的经销协议为准。" in paths
    assert "经销商每月下载对账单后，须在订货平台确认窜货扣款明细。" in paths
    joined = "涉事经销商应当在接到通知后三个工作日内提交书面说明，逾期未说明的按窜货处理。"
    assert paths[joined] == ("二、窜货的认定",), "a sentence broken by a page footer and header is joined"


@pytest.mark.parametrize(
    "line",
    [
        "本文档由XX文库用户上传，仅供学习交流",
        "更多精品资料请访问 www.xxx.com",
        "下载后可编辑",
        "第 3 页 共 12 页",
        "- 7 -",
        "扫一扫关注公众号",
        "免责声明：本站所有资源均由网友上传",
        "www.example-wenku.com",
        "如有侵权请联系删除",
    ],
)
def test_download_site_notices_are_boilerplate(line):
    assert is_boilerplate(line)


@pytest.mark.parametrize(
    "line",
    [
        "经销商每月下载对账单后，须在订货平台确认扣款明细。",
        "门店可引导顾客扫码关注品牌公众号，领取新品优惠券。",
        "以下返利比例仅供参考，以年度协议为准。",
        "订货请登录经销商门户 https://dealer.example.com",
        "本办法所称经销商包括来自公司电商平台的签约客户。",
        "更多返利细则请向区域经理索取。",
    ],
)
def test_content_that_mentions_sites_or_downloads_is_kept(line):
    assert not is_boilerplate(line)


def _scanned_pdf(text_layer: Path) -> bytes:
    """Draw each line of each form-feed-separated page on its own, as a scanned page's text layer has it."""
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    from matplotlib import pyplot as plt
    from matplotlib.backends.backend_pdf import PdfPages

    from documents.charts import chinese_font

    font = chinese_font()
    buffer = io.BytesIO()
    with PdfPages(buffer) as pdf:
        for page in text_layer.read_text(encoding="utf-8").split("\f"):
            fig = plt.figure(figsize=(8.27, 11.69))
            for i, line in enumerate(page.splitlines()):
                fig.text(0.1, 0.92 - i * 0.03, line, fontproperties=font, fontsize=11)
            pdf.savefig(fig)
            plt.close(fig)
    return buffer.getvalue()


@pytest.mark.parametrize("form", ["pdf", "text layer"])
def test_scanned_layout_keeps_headings_and_joins_lines_across_pages(form):
    layer = DOCUMENTS / "scanned_policy.txt"
    data, name = (_scanned_pdf(layer), "返利细则.pdf") if form == "pdf" else (layer.read_bytes(), "返利细则.txt")
    doc = load_document(data, name)
    assert doc.title == "渠道返利管理细则", "letter-spaced title closed up"
    blocks = {b.text: b for b in doc.blocks}
    first = blocks["第一条 为规范经销商返利的计算、审核和发放，防止返利被挪作降价资金扰乱市场价格，制定本细则。"]
    assert first.heading_path == ("第一章 总则",), "full-width and letter spacing normalised in headings"
    base = blocks["返利以经销商当季实际回款额为计算基数，未回款的提货额、退货额和公司赠品不计入基数。"]
    assert base.heading_path == ("第二章 返利的计算", "（一）计算基数")
    item = blocks["1. 完成季度回款目标百分之九十至百分之一百的，按回款额的百分之二计算返利。"]
    assert item.heading_path == ("第二章 返利的计算", "（二）档位与比例")
    article = next(b for t, b in blocks.items() if t.startswith("第三条"))
    assert article.text.endswith("经销商不得要求折算为现金。") and article.heading_path == ("第三章 审核与发放",)
    assert blocks["（一）查实有跨区域窜货行为的；"].heading_path == ("第三章 审核与发放",), (
        "list items are not headings"
    )
    assert not any("华东食品有限公司" in t or t.startswith("- ") for t in blocks), "running header and page numbers"
    if form == "pdf":
        assert (base.location, article.location) == ({"page": 1}, {"page": 2}), "cited on the page they start"


def test_a_penalty_article_is_indexed_with_the_article_it_names():
    text = (
        "# 某某管理条例\n\n## 第二章 经营活动\n\n"
        "第十六条 特许人要求被特许人在订立合同前支付费用的，应当以书面形式说明该部分费用的用途以及退还的条件。\n\n"
        "## 第四章 法律责任\n\n"
        "第二十六条 特许人违反本条例第十六条、第十九条规定的，由商务主管部门责令改正，可以处1万元以下的罚款。\n"
    )
    chunks = chunk_document(load_document(text.encode(), "条例.md"), "doc")
    penalty = next(c for c in chunks if c.text.startswith("第二十六条"))
    assert "书面形式说明该部分费用的用途" in penalty.indexed_text  # article 16, named by article 26
    assert "书面形式" not in penalty.text  # only indexed, never quoted
    obligation = next(c for c in chunks if c.text.startswith("第十六条"))
    assert "refers" not in obligation.extra
    assert article_number("二十九") == 29 and article_number("一百零五") == 105 and article_number("十") == 10


SPEC_WITH_CODE = """# 伙伴系统改进建议

## 健康度评分

**评分模型**：
```typescript
interface PartnerScore {
  partnerId: string
  total: number  // 0-100

  parts: {
    // 1. 进货表现（40分）
    buying: {
      growth: number
      orderDays: number
    }

    // 2. 配合程度（60分）
    cooperation: {
      trainingHours: number
    }
  }
  level: 'gold' | 'silver' | 'bronze'
}
```

评分每季度更新一次。
"""


def test_a_fenced_code_block_keeps_each_comment_with_its_fields_as_one_list():
    """A specification's typescript: `// 1. 进货表现（40分）` stays with `buying` and its fields, in one list under
    the interface's name; joined as prose the block was one run-on sentence cut anywhere."""
    doc = load_document(SPEC_WITH_CODE.encode("utf-8"), "spec.md")
    text = "\n".join(b.text for b in doc.blocks)
    assert "interface PartnerScore：" in text
    assert "- 1. 进货表现（40分）：buying；growth: number；orderDays: number" in text
    assert "- 2. 配合程度（60分）：cooperation；trainingHours: number" in text
    assert "- total: number // 0-100" in text and "- level: 'gold' | 'silver' | 'bronze'" in text
    assert "```" not in text and "评分每季度更新一次。" in text
    chunks = chunk_document(doc, "doc:spec")
    scored = next(c for c in chunks if "进货表现（40分）" in c.text)
    assert "interface PartnerScore：" in scored.text and "配合程度（60分）" in scored.text
