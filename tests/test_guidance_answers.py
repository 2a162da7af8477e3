"""Guidance answers (issue 12): routing by evidence, answers that open with the answer, fair ranking of the
company's own documents next to the built-in guides, the switch that leaves the guides out, crash forms."""

from __future__ import annotations

import json
import shutil

import pytest

from advisor.composer import answer_guidance
from advisor.guidance_answer import choose, rank_units, render, shape_of, units_of, whole_list
from advisor.pipeline import Context, answer
from advisor.settings import Settings
from advisor.types import Route
from retrieval.chunking import Chunk
from retrieval.knowledge_base import KnowledgeBase
from retrieval.search import Evidence, SearchResult, analyse
from tests.test_cli import run


def passage(text: str, *, rank: int = 1, doc_id: str = "guide:demo", title: str = "示例指南") -> Evidence:
    chunk = Chunk(f"{doc_id}#{rank}", doc_id, rank, "demo.md", title, ("一节",), {"paragraph": rank}, text)
    return Evidence(rank=rank, score=1.0 / rank, chunk=chunk, relevant=True, similarity=0.5, coverage=0.5)


LIST_PASSAGE = passage(
    "评估培训不能只看签到表。可以按由浅到深四个层次设计：\n"
    "1. **反应层**：学员觉得课程是否有用。\n"
    "2. **学习层**：学员是否掌握了知识。\n"
    "3. **行为层**：回到岗位后做法是否改变。\n"
    "4. **结果层**：业务指标是否改善。\n"
    "前两层在培训结束当天就能评估。"
)


# ---- the units a passage is quoted in ---------------------------------------------------------------------------
def test_a_list_keeps_its_lead_in_and_all_its_items():
    units = units_of(LIST_PASSAGE)
    lists = [u for u in units if u.kind == "list"]
    assert len(lists) == 1
    assert lists[0].lead == "可以按由浅到深四个层次设计："
    assert [i.split("：")[0] for i in lists[0].items] == ["反应层", "学习层", "行为层", "结果层"]
    # the lead-in is never a sentence of its own, and no sentence joins two items
    assert not any(u.kind == "sentence" and u.lead.endswith("：") for u in units)


def test_an_enumeration_question_gets_the_whole_list_each_item_cited():
    best = choose("培训效果分哪几个层次", [LIST_PASSAGE])[0]
    lines = render(best, 1)
    assert lines[0] == "可以按由浅到深四个层次设计：[1]"
    assert lines[1:] == [
        "1. 反应层：学员觉得课程是否有用。[1]",
        "2. 学习层：学员是否掌握了知识。[1]",
        "3. 行为层：回到岗位后做法是否改变。[1]",
        "4. 结果层：业务指标是否改善。[1]",
    ]


def test_a_lead_in_whose_list_is_in_the_next_passage_is_not_quoted_alone():
    units = units_of(passage("培训预算被砍是常事。提取口径有两种："))
    assert [u.lead for u in units] == ["培训预算被砍是常事。"]


def test_a_table_row_is_quoted_with_its_header():
    table = passage(
        "| 级别 | 综合得分 | 定位 |\n|---|---|---|\n| A 战略 | 85 分及以上 | 区域标杆 |\n| B 核心 | 70–84 分 | 主力 |"
    )
    best = choose("综合评分多少分算A级", [table])[0]
    assert render(best, 2) == ["级别：A 战略；综合得分：85 分及以上；定位：区域标杆。[2]"]


def test_a_legal_article_is_one_sentence_across_its_semicolons():
    article = passage(
        "第四十五条 违反本条例规定，未取得直销员证从事直销活动的，由工商行政管理部门责令改正，"
        "可以处2万元以下的罚款；情节严重的，处2万元以上20万元以下的罚款。"
    )
    (unit,) = units_of(article)
    assert "2万元以下的罚款；情节严重的，处2万元以上20万元以下的罚款。" in unit.lead


@pytest.mark.parametrize(
    "question, shape",
    [
        ("返利一般分几档", "figure"),
        ("培训效果分哪几个层次", "enumeration"),
        ("What are the main clauses of a distribution agreement?", "enumeration"),
        ("渠道宽度是什么意思", "definition"),
        ("窜货怎么处理", "howto"),
        ("How long should a training lesson be?", "figure"),
    ],
)
def test_question_shapes(question, shape):
    assert shape_of(question) == shape


def test_a_figure_question_opens_with_the_sentence_that_has_the_figure():
    text = passage("档位设计要兼顾激励和成本。档位数量一般以三到五档为宜。档位太多，经销商记不住。")
    reply = answer_guidance("返利一般分几档", Route(intent="guidance", confidence=1.0), _result(text), [])
    assert reply.markdown.startswith("档位数量一般以三到五档为宜。[1]")


def _result(*passages: Evidence) -> SearchResult:
    return SearchResult("q", list(passages))


def test_the_source_is_named_as_it_is_and_english_gets_english_framing():
    own = passage("加盟商应当在签约后十五日内提交备案材料。", doc_id="doc:abc123", title="公司加盟管理办法")
    zh = answer_guidance("签约后多久备案", Route(intent="guidance", confidence=1.0), _result(own), [])
    assert "以上摘自您上传的文件《公司加盟管理办法》。" in zh.markdown
    assert "根据渠道管理指南" not in zh.markdown
    en = answer_guidance(
        "How soon must we file?", Route(intent="guidance", confidence=1.0, language="en"), _result(LIST_PASSAGE), []
    )
    assert en.markdown.startswith('From the built-in guide "示例指南" (quoted in Chinese):')
    assert "**Sources**" in en.markdown


# ---- routing by evidence, through the pipeline -------------------------------------------------------------------
@pytest.fixture
def ctx(loaded_store, guides_kb, tmp_path):
    return Context(store=loaded_store, kb=guides_kb, settings=Settings(data_dir=tmp_path / "data"))


@pytest.mark.parametrize(
    "question",
    [
        "评优秀经销商，直接按销量排名可以吗？",  # a metric and a ranking, asked as a yes/no about practice
        "经销商一年里第二次窜货，停货停几天？",  # names 窜货 but asks the rule, not for a scan
        "返利一般分几档？",  # 多少 / 几 alone are no data cues
        "What does channel width actually mean?",
        "考察完给结论，一般分成几种？",
        "门店按标准做陈列，每月给店主多少陈列费？",  # a month and a store type, but a question of practice
        "分销工作计划里，月度经营分析会一般定在每月哪天开？",
    ],
)
def test_practice_questions_reach_the_knowledge_base(ctx, question):
    reply = answer(question, ctx)
    assert reply.route.intent == "guidance" and reply.citations, reply.markdown


def test_a_root_cause_question_naming_a_conflict_gets_the_causes_before_the_scan(ctx):
    """乱价压不住，根子在哪 asks why (the knowledge base), not only for the scan its 乱价 points to."""
    reply = answer("稽查天天在查，低价乱价还是压不住，根子到底在哪？", ctx)
    assert reply.citations and "激励" in reply.markdown.split("---")[0], reply.markdown[:400]


@pytest.mark.parametrize(
    "question",
    [
        "哪些渠道上季度销售额下降了",  # 哪些渠道 leans to practice, but the data answers it outright
        "华东区一般每月卖多少",  # 一般每月 is an average per month
        "华东区哪几个城市卖得最好",  # 哪几 alone is no practice question
    ],
)
def test_questions_the_data_answers_outright_stay_data(ctx, question):
    reply = answer(question, ctx)
    assert reply.route.intent == "data" and reply.tables, reply.markdown


def test_a_measure_the_data_lacks_is_named_not_replaced(ctx):
    reply = answer("退货率最高的品类", ctx)
    assert reply.route.intent == "data" and "退货率" in reply.markdown and not reply.tables


def test_the_answer_states_the_fact_first(ctx):
    reply = answer("返利一般分几档？", ctx)
    assert reply.markdown.splitlines()[0].startswith("档位数量一般以三到五档为宜")


def test_a_scan_request_still_runs_the_tool(ctx):
    reply = answer("最近有没有窜货", ctx)
    assert reply.route.intent == "conflict" and reply.tables


def test_a_figure_the_data_does_not_have_is_named(ctx):
    reply = answer("What's the headcount of each distributor?", ctx)
    assert reply.route.intent == "data" and "headcount" in reply.markdown and not reply.tables


# ---- the company's own documents next to the built-in guides -----------------------------------------------------
OWN_POLICY = """# 区域服务商星级认证办法

## 一、认证条件

区域服务商申请星级认证，须连续经营满两年，服务网点不少于十二个，并提交近两年的服务台账。

## 二、星级复审

星级认证每年复审一次，复审不合格的服务商降一星，连续两次不合格的取消星级认证资格。
"""


@pytest.fixture
def mixed_kb(guides_kb, tmp_path) -> KnowledgeBase:
    """The guides plus one document of the company's own, in a private copy."""
    folder = tmp_path / "kb"
    shutil.copytree(guides_kb.folder, folder)
    kb = KnowledgeBase(folder)
    kb.add("星级认证办法.md", OWN_POLICY.encode("utf-8"))
    return kb


def test_the_companys_document_is_not_buried_by_the_guides(mixed_kb):
    result = mixed_kb.search("服务商申请星级认证要满足什么条件", k=5)
    assert result.passages[0].chunk.source == "星级认证办法.md"
    assert "不少于十二个" in result.passages[0].chunk.text
    guide = mixed_kb.search("阶梯返利一般分几档", k=5)
    assert guide.passages[0].chunk.doc_id.startswith("guide:")  # a guides question still finds the guides first


OWN_RULES = """# 华东大区经销商窜货处理细则

## 第一章 总则

第一条 为维护华东大区市场秩序，保护守约经销商的利益，制定本细则。

第二条 本细则适用于与公司签订经销协议的华东大区全部经销商。

## 第二章 认定

第三条 经销商将产品销往授权区域以外，经稽查人员凭防伪码追溯确认的，认定为窜货。

第四条 稽查人员应当在发现后三个工作日内将追溯记录、照片和购货凭证报大区渠道管理部。

## 第三章 处理

第五条 首次认定窜货的，书面警告，并扣除当季返利的百分之二十。

第六条 一年内第二次认定窜货的，扣除当季返利的百分之五十，并从保证金中扣罚五万元。

第七条 一年内第三次认定窜货的，终止经销协议，保证金不予退还。
"""


def test_a_company_document_that_covers_the_question_as_well_as_the_guides_is_ranked_on_its_own(guides_kb, tmp_path):
    """窜货 is the guides' subject too: raw fusion let them take four of the first five places. The company's own
    rules hold the question's ideas as well as the guides do, so each source is ranked on its own: the document's
    passages keep the order they have when it is searched alone and share the first places fairly."""
    folder = tmp_path / "kb"
    shutil.copytree(guides_kb.folder, folder)
    kb = KnowledgeBase(folder)
    kb.add("华东窜货处理细则.md", OWN_RULES.encode("utf-8"))
    question = "经销商第二次窜货怎么罚"
    mixed = [p.chunk.chunk_id for p in kb.search(question, k=5).passages]
    alone = [p.chunk.chunk_id for p in kb.search(question, k=5, sources=["华东窜货处理细则.md"]).passages]
    own = [c for c in mixed if c in alone]
    assert len(own) >= 2 and own == alone[: len(own)], (mixed, alone)
    assert any(c not in alone for c in mixed[:3]), "the guides' best passages still take their share"


def test_the_built_in_guides_can_be_switched_off(mixed_kb, loaded_store, tmp_path):
    mixed_kb.use_guides = False
    assert {p.chunk.source for p in mixed_kb.search("阶梯返利一般分几档", k=5).passages} <= {"星级认证办法.md"}
    context = Context(store=loaded_store, kb=mixed_kb, settings=Settings(data_dir=tmp_path / "data"))
    own = answer("星级认证多久复审一次", context)
    assert own.markdown.startswith("星级认证每年复审一次") and "您上传的文件" in own.markdown


def test_the_setting_reaches_the_knowledge_base(data_dir, monkeypatch):
    from advisor.settings import reset_settings
    from advisor.workspace import open_knowledge

    monkeypatch.setenv("CANMOU_BUILTIN_GUIDES", "false")
    reset_settings()
    assert open_knowledge().use_guides is False


# ---- crash forms -----------------------------------------------------------------------------------------------
def test_ask_with_an_english_quarter_written_q4_does_not_crash(tmp_path):
    data = tmp_path / "data"
    assert run(data, "data", "sample", "--partners", "30", "--months", "12").returncode == 0
    for question in ("What was revenue in Q4?", "revenue 2025 Q4 by region", "Q4 sales of East China"):
        result = run(data, "ask", question, "--json")
        assert result.returncode == 0, result.stderr
        assert "Traceback" not in result.stderr
        assert json.loads(result.stdout)["route"]["intent"] == "data"


def test_router_and_parser_share_one_language_detector():
    from advisor import data_questions, router
    from company.language import language_of

    assert router.language_of is language_of and data_questions.language_of is language_of
    assert route_language("How many 直营 outlets do we have in 华中?") == "en"
    assert route_language("华东 Q3 销售额") == "zh"


def route_language(question: str) -> str:
    from advisor.router import route

    return route(question, has_draft=False).language


def test_a_mixed_question_gets_the_method_and_the_scan(ctx):
    reply = answer("窜货怎么处理？我们最近有吗", ctx)
    assert reply.citations and reply.tables  # the guide's method, then the conflict scan's findings
    assert "出处" in reply.markdown and "窜货" in reply.markdown


def test_a_list_continued_from_the_previous_passage_keeps_its_own_numbers():
    steps = passage("**第四步：经济处罚。** 按合同扣减当季返利。\n**第五步：暂停供货。** 暂停供货 7 到 15 天。")
    (unit,) = units_of(steps)
    assert render(unit, 1) == [
        "- 第四步：经济处罚。 按合同扣减当季返利。[1]",
        "- 第五步：暂停供货。 暂停供货 7 到 15 天。[1]",
    ]
    numbered = passage("3. 第三项内容写清楚。\n4. 第四项内容写清楚。")
    assert render(units_of(numbered)[0], 2) == ["3. 第三项内容写清楚。[2]", "4. 第四项内容写清楚。[2]"]
    listed = passage("应当提供下列信息：\n（五）持续提供经营指导的具体内容；\n（六）特许经营网点投资预算；")
    assert render(units_of(listed)[0], 3) == [
        "应当提供下列信息：[3]",
        "- （五）持续提供经营指导的具体内容；[3]",
        "- （六）特许经营网点投资预算；[3]",
    ]


def test_a_short_article_and_a_qualifying_sentence_stay_whole():
    article = passage("第十三条 特许经营合同约定的特许经营期限应当不少于3年。但是，被特许人同意的除外。")
    assert [u.text for u in units_of(article)] == [
        "第十三条 特许经营合同约定的特许经营期限应当不少于3年。但是，被特许人同意的除外。"
    ]
    guide = passage("返利一般按季度兑现。但年度返利要等审计结束后才发放。另起一句讲别的事情。")
    assert [u.text for u in units_of(guide)] == [
        "返利一般按季度兑现。但年度返利要等审计结束后才发放。",
        "另起一句讲别的事情。",
    ]


def test_a_definition_question_opens_with_the_sentence_that_defines_the_thing_asked():
    passages = [
        passage("管理型的前提是有实力让别人愿意跟你走。管理型不依靠所有权，而是由实力最强的一方来协调其他成员。"),
    ]
    best = choose("管理型是什么意思？", passages)[0]
    assert best.text.startswith("管理型不依靠所有权")
    formula = [passage("合规指标的口径要固定。\n- 价格合规率 = 抽检中不低于限价的终端数 ÷ 抽检终端总数。")]
    assert "÷" in choose("价格合规率的口径是什么", formula)[0].text


def test_a_penalty_question_opens_with_the_penalty_article_not_the_rule_it_enforces():
    rules = passage("第十六条 特许人要求被特许人在订立合同前支付费用的，应当以书面形式说明该费用的用途以及退还的条件。")
    penalty = passage("第二十六条 特许人违反本条例第十六条规定的，由主管部门责令改正，可以处1万元以下的罚款。", rank=2)
    best = choose("签约前先收了费用却没书面讲清用途和退还条件，会罚多少？", [rules, penalty])[0]
    assert best.text.startswith("第二十六条")


def test_a_number_that_is_no_fine_does_not_answer_a_penalty_question():
    """在本企业工作1年以上 is a number but no fine: the article that fines answers 会罚多少."""
    trainers = passage(
        "第十九条 对直销员进行业务培训的授课人员应当是直销企业的正式员工，并符合下列条件：\n"
        "（一）在本企业工作1年以上；\n（二）具有高等教育本科以上学历和相关的法律、市场营销专业知识。"
    )
    penalty = passage(
        "第四十六条 直销企业进行直销员业务培训违反本条例规定的，由工商行政管理部门责令改正，"
        "处3万元以上10万元以下的罚款。",
        rank=2,
    )
    best = choose("直销员培训的授课人员不符合条件，会罚多少？", [trainers, penalty])[0]
    assert best.text.startswith("第四十六条"), best.text


def test_a_penalty_for_a_later_paragraph_of_an_article_is_found_through_it():
    rules = passage(
        "第十七条 特许人向被特许人收取的推广、宣传费用，应当按照合同约定的用途使用。\n"
        "特许人在推广、宣传活动中，不得有欺骗、误导的行为，其发布的广告中不得含有宣传被特许人收益的内容。"
    )
    penalty = passage(
        "第二十七条 特许人违反本条例第十七条第二款规定的，由工商行政管理部门责令改正，处3万元以上10万元以下的罚款。",
        rank=2,
    )
    assert choose("招商广告里吹加盟收益，被查了罚多少钱", [rules, penalty])[0].text.startswith("第二十七条")


def test_a_why_question_opens_with_the_reason():
    passages = [
        passage(
            "第二条 在中华人民共和国境内从事直销活动的，应当遵守本条例。\n"
            "第一条 为规范直销行为，防止欺诈，保护消费者的合法权益，制定本条例。"
        )
    ]
    best = choose("国家为啥要出个条例管直销", passages)[0]
    assert best.text.startswith("第一条")


def test_a_long_list_does_not_outrank_the_sentence_that_answers_by_its_length_alone():
    # The checklist shares 定 / 哪几个 / 指标 with the question across its many items; the answer names 培训部门.
    checklist = passage(
        "确定渠道类型和模式时，可以逐项打勾：\n"
        "- 目标客户主要在哪几个触点购买？\n"
        "- 每个触点需要的渠道职能是什么？\n"
        "- 每条渠道的负责人和考核指标是否明确？\n"
        "- 进入新渠道的试点区域和退出条件是否写明？",
        rank=1,
    )
    answer = passage("同时给培训部门自己也设指标：课程覆盖率、考试合格率、受训后三个月的行为改变率。", rank=2)
    best = choose("培训部门自己的KPI该怎么定，看哪几个指标？", [checklist, answer])[0]
    assert "课程覆盖率" in best.text


def test_a_quoted_passage_of_an_uploaded_document_is_shown_as_text_never_as_markdown():
    from markdown_it import MarkdownIt

    upload = passage(
        "收货规则如下：\n- 到货当天验收 ![t](http://example.invalid/x.png)\n- 异常拍照上报 <img src=x>",
        doc_id="upload:abc",
        title="收货制度",
    )
    lines = [line for unit in choose("收货规则有哪些", [upload]) for line in render(unit, 1)]
    html = MarkdownIt("commonmark", {"html": True}).render("\n".join(lines))
    assert "<img" not in html and "<a " not in html
    assert "到货当天验收" in html


# ---- quotes that say the whole thing --------------------------------------------------------------------------
def test_a_question_mark_inside_quotes_does_not_end_the_sentence():
    text = (
        "和业务员单独聊十分钟往往比和老板谈一小时更有用。"
        '可以问他们："主推哪个牌子？""老板最看重什么？"——答案会比老板的介绍更真实。'
    )
    assert [u.lead for u in units_of(passage(text))] == [
        "和业务员单独聊十分钟往往比和老板谈一小时更有用。",
        '可以问他们："主推哪个牌子？""老板最看重什么？"——答案会比老板的介绍更真实。',
    ]
    assert [u.lead for u in units_of(passage("他问：“到底谁的货？”大家都答不上。下一句。"))] == [
        "他问：“到底谁的货？”大家都答不上。",
        "下一句。",
    ]


def test_a_short_opening_sentence_is_quoted_with_the_sentence_that_says_it():
    text = '代理商和经销商最容易混淆，判断标准是"货是谁的"。买断的是经销商，库存风险在他；只促成交易拿提成的是代理商。'
    best = choose("代理商跟经销商咋区分", [passage(text)])[0]
    assert best.lead == text, "the criterion and what it decides, not the criterion alone"
    long_first = (
        "经销商的选择要兼顾资金实力、网络覆盖、团队能力、配合意愿和信誉，任何一项明显不合格都不宜签约。其余从略。"
    )
    assert choose("选经销商看什么", [passage(long_first)])[0].lead == long_first.split("。")[0] + "。"


CUT_LIST = (
    "第三十条 出现下列情形之一，主管部门可以使用保证金：\n（一）无正当理由不向直销员支付报酬的；",
    "（二）发生停业、解散等情况，无力支付退货款的；\n（三）因产品问题给消费者造成损失、无力赔偿的。\n第三十一条 其他。",
)


def _cut_list_passages() -> tuple[Evidence, Evidence]:
    first, second = (passage(text, rank=rank, doc_id="law") for rank, text in ((1, CUT_LIST[0]), (2, CUT_LIST[1])))
    return first, second


def test_a_list_cut_between_two_passages_is_quoted_whole():
    first, second = _cut_list_passages()
    chunks = {0: first.chunk, 1: second.chunk}

    def neighbour(chunk, step):
        index = 0 if chunk is first.chunk else 1
        return chunks.get(index + step)

    question = "什么情况下可以动用保证金"
    half = next(u for u in choose(question, [first]) if u.kind == "list")
    assert len(half.items) == 1, "without its neighbours the passage holds one item"
    whole = next(u for u in choose(question, [first], neighbour=neighbour) if u.kind == "list")
    assert whole.lead == "第三十条 出现下列情形之一，主管部门可以使用保证金："
    assert [i[:5] for i in whole.items] == ["无正当理由", "发生停业、", "因产品问题"]
    # found from its second half, the list still opens with its lead-in and first item
    found_late = next(u for u in choose("无力赔偿时保证金能用吗", [second], neighbour=neighbour) if u.kind == "list")
    assert found_late.lead.startswith("第三十条") and len(found_late.items) == 3
    other_section = Chunk("law#9", "law", 9, "demo.md", "示例指南", ("另一节",), {}, "（四）别的内容。")
    assert len(whole_list(half, lambda chunk, step: other_section if step == 1 else None).items) == 1


def test_a_list_running_over_three_passages_is_quoted_whole():
    """A specification's fields: the lead-in and two items, then two passages of items only, then the next part."""
    texts = (
        "健康度评分由以下维度构成：\n- 业绩贡献（30分）\n- 合作深度（25分）",
        "- 活跃度（25分）\n- 满意度（20分）",
        "- 预警规则：连续两季下滑\n- 改进建议：按维度给出",
        "评分每季度更新一次。",
    )
    passages = [passage(text, rank=rank, doc_id="spec") for rank, text in enumerate(texts, start=1)]
    chunks = [p.chunk for p in passages]

    def neighbour(chunk, step):
        index = chunks.index(chunk) + step
        return chunks[index] if 0 <= index < len(chunks) else None

    whole = next(u for u in choose("健康度评分分哪几个维度", passages[:1], neighbour=neighbour) if u.kind == "list")
    assert [item[:3] for item in whole.items] == ["业绩贡", "合作深", "活跃度", "满意度", "预警规", "改进建"]


def test_the_knowledge_base_answers_with_the_whole_list(tmp_path):
    duties = [
        "每周一中午前报送上周的进货、销售和库存数量，按单品逐行填写，不得合并",
        "新开终端在开户当周录入门店名称、地址、联系人和所属业务员",
        "月末盘点后三天内上传盘点表，差异超过百分之二的须附书面说明",
        "退货和调拨单据当天录入，注明原因、批次号和对方经销商的编号",
        "价格调整须在执行前一天报备，写明调整范围、起止日期和申请人",
        "促销活动结束后五个工作日内提交核销资料，包括照片和签收单",
        "系统账号专人专用，人员离职当天停用，交接记录由区域经理签字",
        "每季度末配合厂家稽查人员抽盘仓库，抽盘结果双方签字确认存档",
    ]
    items = "\n".join(f"{n}. 第{n}项要求：{duty}；" for n, duty in enumerate(duties, start=1))
    kb = KnowledgeBase(tmp_path / "kb")
    kb.add("报数制度.md", f"# 报数制度\n\n## 报数要求\n\n经销商报数的要求如下：\n\n{items}\n".encode())
    assert len(kb.chunks()) > 1, "the list is longer than one passage"
    reply = answer_guidance(
        "报数有哪些要求",
        Route(intent="guidance", confidence=1.0),
        kb.search("报数有哪些要求", k=8),
        [],
        kb.similarities,
        kb.neighbour,
    )
    first = reply.markdown.split("\n\n")[0]
    assert first.startswith("经销商报数的要求如下：") and all(f"第{n}项要求" in first for n in range(1, 9)), first
    assert reply.markdown.count("经销商报数的要求如下") == 1, "the list's two passages are quoted once"
    lines = first.splitlines()
    assert lines[1].endswith("[1]") and lines[-1].endswith("[2]"), "each item cites the passage it was read from"
    assert "- [2] 报数制度" in reply.markdown


def test_a_sentence_announcing_its_questions_is_quoted_with_them():
    """可以问四个问题：…？…？…？…？ is a list written inline: cut at each ？ the announcement answered nothing."""
    text = (
        "渠道要贴着客户走。做客户匹配时可以问四个问题：他们在哪里获取信息？在哪里下单？多快要拿到货？"
        "买之前要不要先摸到实物？答案不同，渠道就不同。"
    )
    units = units_of(passage(text))
    announced = [u for u in units if "四个问题" in u.lead]
    assert len(announced) == 1 and announced[0].lead.endswith("买之前要不要先摸到实物？"), units
    assert not any(u.lead == "在哪里下单？" for u in units), "the items are not quoted one by one"
    best = choose("匹配目标客户时要先问清楚哪几个问题", [passage(text)])[0]
    assert "在哪里获取信息" in best.text and "先摸到实物" in best.text
    two = units_of(passage("注意两点：口径要提前约定；目标要拆到月。另外要留余量。"))
    assert [u.lead for u in two][:2] == ["注意两点：口径要提前约定；目标要拆到月。", "另外要留余量。"], two


def test_asking_how_something_is_defined_by_law_gets_the_definition():
    assert shape_of("法律上说的不正当竞争到底怎么界定的？") == "definition"
    assert shape_of("我们的经销商名单算不算商业秘密") == "definition"
    rules = passage(
        "第四条 县级以上人民政府履行工商行政管理职责的部门对不正当竞争行为进行查处。\n"
        "本法所称的不正当竞争行为，是指经营者在生产经营活动中，违反本法规定，扰乱市场竞争秩序的行为。"
    )
    best = choose("不正当竞争怎么界定", [rules])[0]
    assert best.lead.startswith("本法所称的不正当竞争行为，是指"), best


OWN_RETURNS = """# 加盟门店退换货规定

## 一、适用范围

本规定适用于与公司签订加盟合同的全部加盟门店，直营门店另行规定。

## 二、退货条件

加盟门店收货后发现质量问题的，应在收货之日起 7 日内提出退货，并附照片和批号。

加盟门店因滞销申请退货的，每季度只能申请一次，退货金额不超过该加盟门店上季度进货额的 5%。

## 三、换货

临期商品（剩余保质期不足三分之一）可以在加盟门店之间调换，由区域督导审批，运费由调出方承担。

## 四、处理时限

区域督导应在收到加盟门店退换货申请后 3 个工作日内给出审批意见，逾期未答复的视为同意。

## 五、违规处理

加盟门店虚报质量问题骗取退货的，第一次扣减当季返利的 30%，第二次终止加盟合同。
"""


@pytest.mark.parametrize(
    "question, figure",
    [
        ("Our franchise store in Shanghai wants to return slow sellers it took last quarter. What's the cap?", "5%"),
        ("who signs off a franchise store's return - the area supervisor? and by when?", "加盟门店"),
    ],
)
def test_a_question_in_the_words_of_the_companys_document_is_answered_from_it(
    guides_kb, loaded_store, tmp_path, question, figure
):
    """加盟 / franchise is the uploaded rule's own subject (far more common in it than in the guides): a question
    naming a city and a quarter, which the data side could only ask back about, is answered from the document."""
    folder = tmp_path / "kb"
    shutil.copytree(guides_kb.folder, folder)
    kb = KnowledgeBase(folder)
    kb.add("加盟门店退换货规定.md", OWN_RETURNS.encode("utf-8"))
    assert kb.search(question, k=5).own_words, "the question speaks the document's words"
    context = Context(store=loaded_store, kb=kb, settings=Settings(data_dir=tmp_path / "data"))
    reply = answer(question, context)
    assert reply.route.intent == "guidance" and reply.citations, reply.markdown
    assert figure in reply.markdown and reply.citations[0].source == "加盟门店退换货规定.md", reply.markdown


def test_what_counts_as_and_what_happens_if_are_read_for_what_they_ask():
    assert shape_of("What counts as 'direct selling' legally?") == "definition"
    assert shape_of("What's a 'direct-selling enterprise' under the regs - any company selling door to door?") == (
        "definition"
    )
    assert shape_of("加盟备案一直拖着没办，被发现了会怎样？") == "figure", "a consequence: the sanction is the answer"
    rules = passage(
        "第八条 特许人应当自首次订立特许经营合同之日起15日内向商务主管部门备案。\n"
        "第二十五条 特许人未依照本条例第八条的规定备案的，由商务主管部门责令限期备案，处1万元以上5万元以下的罚款。"
    )
    best = choose("备案一直拖着没办，被发现了会怎样", [rules])[0]
    assert "责令限期备案" in best.text, best


def test_a_sentence_that_points_back_is_quoted_with_the_sentence_it_points_to():
    """这样经销商会更重视培训 alone does not say what 这样 is: the practice it follows is quoted with it."""
    fund = passage(
        "培训基金一般从渠道利润中提取。另一种常见做法是经销商按进货额的一定比例配套出资，厂家等额匹配，双方共管。"
        "这样经销商会更重视培训，不会把参加培训当成给厂家面子。"
    )
    texts = [u.text for u in units_of(fund)]
    assert texts[-1].startswith("另一种常见做法") and texts[-1].endswith("给厂家面子。"), texts
    best = choose("经销商也出钱的培训基金怎么操作", [fund])[0]
    assert "配套出资" in best.text and "更重视培训" in best.text, best


def test_a_one_line_runner_up_still_fits_after_a_long_list():
    """A long list used to close the answer to every runner-up, however close: a sentence of one line still fits."""
    steps = "\n".join(f"{n}. 第{n}项工作要写清楚负责人和完成时间；" for n in range(1, 12))
    plan = passage(f"联合生意计划的步骤：\n{steps}", rank=1)
    grain = passage("联合生意计划的颗粒度要适中：年度计划到季度和主要品类即可，季度计划细化到月度和重点单品。", rank=2)
    chosen = choose("联合生意计划怎么做，颗粒度多细", [plan, grain])
    assert chosen[0].kind == "list" and len(chosen[0].items) == 11, chosen
    assert any("月度和重点单品" in u.text for u in chosen[1:]), chosen


def test_an_enumeration_question_takes_the_list_whose_lead_in_names_what_is_asked():
    principles = passage(
        "起草原则：\n- 可执行：每条义务都对应可以核查的指标。\n- 对等：厂家的义务同样写清楚，例如供货时效。\n"
        "- 可退出：写明终止条件。",
        rank=1,
    )
    duties = passage(
        "厂家的主要义务：\n- 按约定时效供货，缺货时的通知与补偿方式\n- 提供产品培训、销售物料\n- 按时兑现返利和费用",
        rank=2,
    )
    best = choose("经销合同里厂家的义务有哪些", [principles, duties])[0]
    assert best.lead == "厂家的主要义务：", best


def test_english_words_no_candidate_holds_do_not_water_down_the_words_that_match():
    """ongoing / behalf / certified have no Chinese in the glossary: counted, they shrink every match alike, so the
    retrieval rank and the shape bonus outweigh the words that do match."""
    rules = [
        passage("第十六条 特许人要求被特许人在订立合同前支付费用的，应当以书面形式说明费用的用途以及退还的条件。"),
        passage("第十三条 特许经营期限应当不少于3年。", rank=2),
    ]
    plain_question = [round(s, 6) for s, _ in rank_units("franchise fee refund?", rules)]
    padded = [round(s, 6) for s, _ in rank_units("ongoing franchise fee refund, certified on our behalf?", rules)]
    assert plain_question == padded


def test_yes_no_how_big_and_legal_definitions_are_read_as_asked():
    for question in (
        "加盟条件口头谈好就行了吧",
        "直销员没办营业执照，会被当成无照经营查吗",
        "条例管不管这事？",
        "If a dealer refuses to hand over any financial records, can we still work with them?",
        "Do we have to file before opening franchise stores",
    ):
        assert shape_of(question) == "yesno", question
    assert shape_of("How big is the security deposit - is there a cap?") == "figure"
    # a yes/no question is answered where the text permits or forbids
    rebates = [
        passage("返利用于降价销售的情况在年底尤其常见。", rank=1),
        passage("返利不得用于降价销售，发现后按乱价处理。", rank=2),
    ]
    assert choose("经销商拿返利去降价卖货，行不行？", rebates)[0].text.startswith("返利不得")
    # 本条例所称直销，是指…: the law's own definition, comma and all, of the very thing asked about
    law = [
        passage("本条例所称直销企业，是指依照本条例规定经批准采取直销方式销售产品的企业。", rank=1),
        passage(
            "本条例所称直销，是指直销企业招募直销员，由直销员在固定营业场所之外直接向最终消费者推销产品的经销方式。",
            rank=2,
        ),
    ]
    assert "固定营业场所之外" in choose("直销是什么意思", law)[0].text


def test_each_question_of_a_line_that_asks_two_gets_its_answer():
    """谁都能举报吗？会不会把我的名字透露出去: the second question is answered too, though its sentence shares few words
    with the first and would not pass as a runner-up."""
    law = [
        passage("第三十八条 任何单位和个人均有权对乱定价等价格违法行为进行举报，政府价格主管部门应当受理。"),
        passage("举报者的身份由主管部门保密，不得透露。", rank=3),
    ]
    text = "\n".join(u.text for u in choose("别家乱定价，谁都能举报吗？会不会把我的名字透露出去", law))
    assert "均有权" in text and "由主管部门保密" in text, text


def test_a_hyphenated_english_phrase_is_translated_whole_not_left_half_unread():
    """direct-selling is one glossary phrase (直销); its two words used to stay behind as ideas of their own, and
    'selling' (untranslated) counted against every Chinese passage."""
    concepts = analyse("Who counts as a direct-selling trainer?").concepts
    assert not any(c == frozenset({"selling"}) for c in concepts), concepts
    assert any("直销" in c for c in concepts), concepts
    assert shape_of("政府指导价到底咋回事？") == "definition"
    assert any("政府" in c for c in analyse("Can the government bureau fine us?").concepts)


IMPORT_RULES = """# 进口商品经营规定

第三条 经销商应当建立进货查验制度，查验供货商的营业执照和产品合格证明。

第四条 经销商不得销售没有中文标签的进口食品，也不得销售超过保质期的食品。

第五条 经销商应当保存进货凭证，保存期限不少于二年。

第六条 违反第四条的，由公司取消其当年全部返利。
"""


def test_an_english_word_the_glossary_lacks_reaches_the_documents_chinese_through_the_dictionary(guides_kb, tmp_path):
    """imported is in no glossary of ours; CC-CEDICT read backwards gives 进口, kept because the uploaded rules use
    it, so the English question finds its article among the 29 guides (labels → 标签 is the glossary's since
    questions about regulations needed it)."""
    folder = tmp_path / "kb"
    shutil.copytree(guides_kb.folder, folder)
    kb = KnowledgeBase(folder)
    kb.add("进口商品经营规定.md", IMPORT_RULES.encode("utf-8"))
    question = "can we sell imported food that has no labels?"
    terms = analyse(question, kb.searcher()._knows)
    assert any("进口" in concept and "imported" in concept for concept in terms.concepts)
    assert not any("进口" in concept for concept in analyse(question).concepts)  # nothing to check it against
    first = kb.search(question, k=5).passages[0]
    assert first.chunk.source == "进口商品经营规定.md" and "中文标签" in first.chunk.text and first.relevant
    # a built-in guide's question is not bent by everyday dictionary senses: only the documents' words count
    assert not any("看到" in concept for concept in analyse("we're seeing low prices", kb.searcher()._knows).concepts)


def test_a_question_for_a_total_opens_with_the_total_line_not_the_rows_it_adds_up():
    table = passage(
        "二期功能排期如下：\n| 序号 | 功能模块 | 工作量 |\n|---|---|---|\n| 1 | 培训管理 | 4人天 |\n"
        "| 2 | 资料库 | 3人天 |\n| 3 | 支持工单 | 5人天 |\n\n**总计：12人天**"
    )
    reply = answer_guidance("二期一共多少工作量", Route(intent="guidance", confidence=1.0), _result(table), [])
    assert reply.markdown.startswith("总计：12人天"), reply.markdown[:200]


def test_what_comes_next_is_a_practice_question_and_its_fillers_are_no_ideas():
    """评审完了下一步要干啥 was out of scope: no guidance cue, and 完 / 干 / 啥 counted as ideas no passage holds."""
    from advisor.evidence import words

    assert words("评审完了下一步要干啥")[1] and words("what are the next steps after the review?")[1]
    ideas = {t for concept in analyse("评审完了下一步要干啥").concepts for t in concept}
    assert "评审" in ideas and not ideas & {"完", "干", "啥"}


def test_a_question_that_names_the_uploaded_document_is_answered_from_it(mixed_kb, loaded_store, tmp_path):
    """办法里… / per the rules: the company's document named by the noun its title holds answers, not a guide that
    shares the question's words (经销商分级 is the guides' subject)."""
    from advisor.evidence import named_document

    docs = [("doc:1", "区域服务商星级认证办法 星级认证办法.md"), ("doc:2", "价格管理规定 price.md")]
    assert named_document("办法里对降级怎么规定的", docs) == "doc:1"
    assert named_document("what does this regulation say about discounts?", docs) == "doc:2"
    assert named_document("经销商怎么分级", docs) is None  # names no document
    laws = [("doc:3", "中华人民共和国产品质量法 产品质量法.md"), ("doc:4", "明码标价和禁止价格欺诈规定 price.md")]
    assert named_document("法规里说的价格欺诈怎么定义", laws) is None  # 法规: either of them
    assert named_document("按这部法律，销售者要担什么责任", laws) == "doc:3"
    context = Context(store=loaded_store, kb=mixed_kb, settings=Settings(data_dir=tmp_path / "data"))
    reply = answer("按办法里的规定，服务商不合格会怎样分级处理", context)
    assert reply.citations and {c.source for c in reply.citations} == {"星级认证办法.md"}, reply.markdown[:300]


def test_plain_words_reach_how_a_law_on_selling_says_them():
    """卖家 / 买家 / 厂家 / 说明不符 / 质量检查 are what a manager types; a law says 销售者 / 消费者 / 生产者 / 不符合 /
    监督检查."""
    from retrieval.synonyms import expand_terms

    expanded = set(expand_terms(["卖家", "买家", "厂家", "不符", "质量检查", "网上"]))
    assert {"销售者", "经营者", "消费者", "生产者", "不符合", "监督检查", "线上"} <= expanded
    assert "客户" not in set(expand_terms(["买家"]))  # 客户 are the company's partners, not a shop's buyers


def test_the_glossary_speaks_the_words_of_rules_and_labels():
    """How English questions about a regulation reach its Chinese: labels → 标识, repealed → 废止, unpackaged → 裸装;
    "sell in bulk" is selling loose goods, not the sell-in of stuffing the channel (压货)."""
    from retrieval.glossary import translate

    def terms(text: str) -> set[str]:
        return {t for _phrase, found in translate(text) for t in found}

    asked = terms("do we need labels on loose unpackaged food we sell in bulk?")
    assert {"标识", "裸装", "散装"} <= asked and "压货" not in asked
    assert "废止" in terms("which older rules did this regulation replace or repeal?")
    assert {"没收", "缺陷", "变质"} <= terms("confiscated defective or spoiled goods")
    assert "市场发展基金" in terms("what is the MDF module for?")  # a channel term as a translated document writes it
    assert {"牵头", "应当", "信息"} <= terms("can two departments co-lead it? what info must the tag show?")


def test_a_channel_word_typed_one_character_off_is_read_as_that_word():
    """经消商 is 经销商 typed wrong (one inner character, and no word of its own); 的客户 is no typo of 新客户 and a
    real word is left alone."""
    from retrieval.synonyms import respell
    from retrieval.tokens import known_word

    assert respell("代理商跟经消商咋区分啊", known_word) == "代理商跟经销商咋区分啊"
    assert respell("分销商和代里商", known_word) == "分销商和代理商"
    for text in ("经销商的客户", "新客户的返利", "阶梯返利怎么定"):
        assert respell(text, known_word) == text
    assert {"经销商"} <= {t for concept in analyse("代理商跟经消商咋区分").concepts for t in concept}


def test_how_two_things_are_told_apart_is_answered_with_the_criterion_and_what_follows_it(guides_kb):
    """代理商跟经销商咋区分: a definition question; the sentence that gives the criterion (判断标准是…) opens the
    answer with the sentence after it, which applies the criterion (买断的是经销商)."""
    assert shape_of("代理商跟经销商咋区分") == "definition"
    assert shape_of("what's the difference between an agent and a distributor?") == "definition"
    assert shape_of("how small a gap counts as no real difference?") != "definition"
    result = guides_kb.search("代理商跟经消商咋区分啊，老搞混", k=5)
    reply = answer_guidance("代理商跟经消商咋区分啊，老搞混", Route(intent="guidance", confidence=1.0), result, [])
    assert "判断标准是" in reply.markdown.split("\n\n")[0] and "买断的是经销商" in reply.markdown.split("\n\n")[0]


TABLE_PASSAGE = passage(
    "最常用的是基于购买行为的三维分群。每个维度按高低分两档，再合并成四个运营群：\n"
    "| 客户群 | 特征 | 运营策略 |\n|---|---|---|\n"
    "| 高价值忠诚客户 | 近期买过、频次高 | 会员专属权益 |\n"
    "| 潜力客户 | 近期买过、频次低 | 复购券 |\n"
    "| 流失预警客户 | 以前买得多、近期没买 | 定向召回 |\n"
    "| 低活跃客户 | 频次低、金额低 | 低成本触达 |"
)


def test_a_table_announced_by_its_lead_in_answers_an_enumeration_question_whole():
    """分成哪几类: the table the lead-in announces (再合并成四个运营群：) is the list of them, quoted with the
    lead-in; a question about one group still gets that group's row, and the rows are not quoted twice."""
    route = Route(intent="guidance", confidence=1.0)
    listed = answer_guidance("会员按购买行为一般分成哪几类", route, _result(TABLE_PASSAGE), []).markdown
    first = listed.split("\n\n")[0]
    assert first.startswith("每个维度按高低分两档，再合并成四个运营群：")
    assert all(group in first for group in ("高价值忠诚客户", "潜力客户", "流失预警客户", "低活跃客户"))
    assert listed.count("流失预警客户") == 1, listed
    one = answer_guidance("流失预警客户怎么运营", route, _result(TABLE_PASSAGE), []).markdown
    assert "定向召回" in one.split("\n\n")[0] and "高价值忠诚客户" not in one.split("\n\n")[0], one


def test_what_follows_a_breach_is_searched_with_the_words_rules_use_for_sanctions(guides_kb, tmp_path):
    """拒绝检查会咋样: the answer is the sanction (给予警告，责令改正), written under 罚则, which shares only 拒绝 and
    检查 with the question; the article that only forbids refusing is not enough."""
    rules = (
        "# 产品质量监督办法\n\n## 第二章 监督\n\n第十条 对依法进行的产品质量监督检查，销售者不得拒绝。\n\n"
        "第十一条 监督检查的样品由检查人员当场封存，检查结果应当在三十日内告知被检查人。\n\n"
        "## 第五章 罚则\n\n第三十条 销售者在产品中掺杂、掺假的，责令停止销售，没收违法销售的产品。\n\n"
        "第三十一条 拒绝接受依法进行的产品质量监督检查的，给予警告，责令改正；拒不改正的，责令停业整顿。\n"
    )
    folder = tmp_path / "kb"
    shutil.copytree(guides_kb.folder, folder)
    kb = KnowledgeBase(folder)
    kb.add("产品质量监督办法.md", rules.encode("utf-8"))
    assert shape_of("要是拒绝市场监管的质量检查会咋样") == "figure"
    terms = analyse("要是拒绝质量检查会咋样")
    assert {"罚则", "责令"} <= set(terms.expanded) and not any("罚则" in c for c in terms.concepts)
    result = kb.search("要是拒绝市场监管的质量检查会咋样", k=5)
    assert any("给予警告" in p.chunk.text for p in result.passages[:3]), [p.chunk.text[:30] for p in result.passages]


@pytest.mark.parametrize(
    "question",
    [
        "上个月刚复审过我们这家服务商，这个月又说要复审星级，这合规吗",  # a story, times, and whether it breaks a rule
        "服务商星级复审没过会咋样",  # what follows a breach
    ],
)
def test_whether_something_breaks_a_rule_or_what_it_is_for_is_asked_of_the_documents(
    mixed_kb, loaded_store, tmp_path, question
):
    """这合规吗 / 会咋样 ask about rules and what follows a breach: the company's document answers, even where the
    question tells a story with periods in it (上个月 / 这个月 sent it to the data, which asked for a name)."""
    context = Context(store=loaded_store, kb=mixed_kb, settings=Settings(data_dir=tmp_path / "data"))
    reply = answer(question, context)
    assert reply.route.intent == "guidance" and reply.citations, reply.markdown
    assert reply.citations[0].source == "星级认证办法.md", reply.markdown


def test_what_a_score_is_made_of_is_a_method_question_and_which_dealers_still_runs_the_data(ctx):
    method = answer("记分卡里完成率那块一般占几分，主要看哪些数据", ctx)
    assert method.route.intent == "guidance" and method.citations, method.markdown
    dealers = answer("哪些经销商上季度完成率低于80%", ctx)
    assert dealers.route.intent == "data" and dealers.tables


def test_rule_and_method_cues_and_which_of_our_own_asks_to_run_a_tool():
    from advisor.evidence import asks_to_run, words

    for question in (
        "这个月又要抽查同一个产品，这合规吗",
        "网店首页标价比详情页低，这样违规不",
        "评分里合作深度占几分",
        "健康度主要看哪些数据",
        "这个系统平时拿来干啥，用在哪些场景",
    ):
        assert words(question)[1], question
    assert not asks_to_run("健康度评分里合作深度占几分，主要看哪些数据")
    assert asks_to_run("哪些经销商上季度窜货了") and asks_to_run("最近窜货情况")


def test_a_passage_both_word_legs_rank_first_is_evidence_for_a_long_story_of_a_question():
    """上个月省里刚抽查过…这合规吗: sixteen ideas, most of them the story; the article both word legs rank first
    holds two (抽查, 产品) and is evidence, where the share of ideas alone (2 of 16) refused it. A passage that holds
    one idea only is not."""
    from retrieval.search import HybridSearcher
    from retrieval.tokens import bigrams, words

    texts = [
        "第十五条 国家对产品质量实行以抽查为主要方式的监督检查制度。上级监督抽查的产品，下级不得另行重复抽查。",
        "第二十条 经营者应当建立进货检查验收制度，验明产品合格证明。",
        "渠道冲突是指渠道成员之间因为目标、利益或认知不一致而产生的矛盾。",
    ]
    chunks = [
        Chunk(f"doc:x#{n}", "doc:x", n, "法.md", "法", ("一章",), {"paragraph": n}, t) for n, t in enumerate(texts)
    ]
    searcher = HybridSearcher(chunks, [words(t) for t in texts], [bigrams(t) for t in texts], None)
    story = searcher.search("上个月省里刚抽查过我们这款货，这个月市局又说要来抽同一个产品，这合规吗", k=3)
    assert story.passages[0].chunk.chunk_id == "doc:x#0" and story.passages[0].relevant
    assert story.passages[0].coverage < 0.45  # the share of ideas alone would not have made it evidence
    one_idea = searcher.search("上个月我们这款货卖得怎么样，这个月市局的人说要来，正常吗", k=3)
    assert not any(p.relevant for p in one_idea.passages)


def test_an_english_word_one_edit_off_a_glossary_word_is_read_as_it_and_pricing_rules_are_spoken():
    """sumary / goverment / franchize are typos of glossary words (one edit); rewriting is two edits from
    recruiting and stays itself. markdown, 'original price', honouring a price promise reach the pricing rules."""
    from retrieval.glossary import respell, translate

    assert respell("the sumary of the goverment review, our franchize fee") == (
        "the summary of the government review, our franchise fee"
    )
    assert respell("without rewriting the main text") == "without rewriting the main text"
    found = {
        t
        for _p, terms in translate("the original price of a markdown; stop honouring the price promise")
        for t in terms
    }
    assert {"原价", "折价", "履行", "价格承诺"} <= found


def test_a_table_opening_its_section_is_the_list_its_heading_names_and_an_order_question_is_a_how_to():
    """## 五个核心培训模块 then the table: asked 分成哪几大块, the modules are the answer, under the heading. 先搞哪个
    后搞哪个 asks for an order (a how-to), whatever it counts (那几种形式)."""
    table = Chunk(
        "guide:t#1",
        "guide:t",
        1,
        "t.md",
        "培训体系",
        ("培训体系", "五个核心培训模块"),
        {"paragraph": 1},
        "| 模块 | 主要内容 |\n|---|---|\n| 产品知识 | 卖点、竞品差异 |\n"
        "| 技术与售后 | 安装调试 |\n| 经营管理 | 库存、财务 |",
    )
    evidence = Evidence(rank=1, score=1.0, chunk=table, relevant=True, similarity=0.5, coverage=0.5)
    reply = answer_guidance(
        "经销商培训内容一般分成哪几大块", Route(intent="guidance", confidence=1.0), _result(evidence), []
    )
    first = reply.markdown.split("\n\n")[0]
    assert first.startswith("五个核心培训模块：") and all(m in first for m in ("产品知识", "技术与售后", "经营管理"))
    assert shape_of("产销联盟那几种形式，应该先搞哪个后搞哪个") == "howto"
    assert shape_of("产销联盟有哪几种形式") == "enumeration"


def test_a_question_naming_an_uploaded_document_finds_its_evidence_within_that_document():
    """which features does the review want built first: the review alone holds plausible evidence (among all
    passages the guides' general advice outranks it), so the question goes to the knowledge base, not out of scope."""
    from types import SimpleNamespace

    from advisor.pipeline import Context, _kb_plausible
    from advisor.settings import Settings

    class OneReview:
        def documents(self):
            return [SimpleNamespace(doc_id="doc:review", title="渠道管理系统 - 业务Review报告", source="review.md")]

        def search(self, question, k=5, sources=None):
            return SimpleNamespace(plausible=sources == ["doc:review"])

    ctx = Context(store=None, kb=OneReview(), settings=Settings())
    assert _kb_plausible("which features does the review want built right away?", ctx)
    assert _kb_plausible("评审报告里说系统眼下啥水平？", ctx)
    assert not _kb_plausible("which features should come first?", ctx)  # names no document


def test_the_first_five_places_keep_the_company_documents_best_four_and_the_guides_best_one():
    """Twelve guide passages outrank a regulation's article on raw scores: when the company's documents hold
    relevant passages, their best four and the guides' best one take the first five places, in score order; a
    source with nothing relevant among its best gives its places back."""
    from types import SimpleNamespace

    from retrieval.search import HybridSearcher, QueryTerms

    searcher = HybridSearcher.__new__(HybridSearcher)
    searcher.chunks = [SimpleNamespace(doc_id=f"guide:{i}") for i in range(6)] + [
        SimpleNamespace(doc_id=f"doc:{i}") for i in range(6, 11)
    ]
    searcher._group_sizes = (5, 6)
    searcher._df = {True: {}, False: {}}
    terms = QueryTerms([], [], [], [], [])
    order = list(range(11))  # guides 0-5 score highest, then the uploads 6-10
    relevant = {i: (0.5, True) for i in order}
    assert searcher._reserve(order, relevant, terms) == [0, 6, 7, 8, 9, 1, 2, 3, 4, 5, 10]
    unrelated = {**relevant, **{i: (0.1, False) for i in range(6, 11)}}
    assert searcher._reserve(order, unrelated, terms) == order


def test_whether_a_rule_requires_something_the_order_of_steps_and_a_documents_example_are_asked_of_the_documents():
    from advisor.evidence import words

    for question in (
        "卖空调顺带收的装机费也得公开标出来吗",  # whether a rule requires it
        "库存超了、回款不够、还跨区卖了货，几项扣返利按啥顺序算？",  # the order of the steps, not a scan
        "in the 10-yuan product example, how much does the factory net per unit?",  # a document's worked example
        "例子里的经销商到手价是多少",
    ):
        assert words(question)[1], question
    for question in ("上季度华东销售额多少", "华东经销商得了多少返利么", "需要补货的经销商有什么"):
        assert not words(question)[1], question  # 得了 / 什么: no rule asked about


def test_what_was_done_well_free_gifts_and_english_only_tags_reach_the_words_documents_use():
    ideas = {t for c in analyse("评审觉得这系统哪几点做得还不错？").concepts for t in c}
    assert "优势" in ideas  # a review lists them under 优势
    assert "赠品" in analyse("买东西送小礼品，礼品那块要写清楚啥").expanded
    english_only = analyse("can our price tags be English only, without Chinese characters?")
    assert {"外文", "外国", "汉字"} <= set(english_only.expanded)


def test_a_short_article_whose_opening_answers_is_quoted_whole_with_its_exception():
    """第十一条: the first paragraph says what to price; the second, who marks an outside installer's fee apart."""
    article = passage(
        "第十一条 经营者销售商品，同时有偿提供配送、搬运、安装、调试等附带服务的，应当对附带服务进行明码标价。\n"
        "附带服务不由销售商品的经营者提供的，应当以显著方式区分标记或者说明。\n"
        "第十二条 经营者可以选择采用标价签、标价牌、价目表等有效形式进行明码标价。",
        doc_id="upload:rules",
        title="规定",
    )
    best = choose("卖空调顺带安装，安装收费要怎么标价", [article])[0]
    assert best.lead.startswith("第十一条") and "以显著方式区分标记或者说明" in best.lead, best
    assert "第十二条" not in best.lead, "an article is quoted whole, never with the next one"


def test_an_english_question_quotes_one_more_runner_up_than_a_chinese_one():
    """Five short sentences of similar weight: an English question (matched through the glossary, a less certain
    ranking) gets one quote more than the same question asked in Chinese."""
    text = passage(
        "返利门槛要看历史完成率。返利档位一般三到五档。返利比例要算预算。返利兑现要按季度。返利条件要写清楚。"
        "返利台账要每月核对。"
    )
    zh = answer_guidance("返利怎么定", Route(intent="guidance", confidence=1.0), _result(text), [])
    en = answer_guidance(
        "how do we set rebates", Route(intent="guidance", confidence=1.0, language="en"), _result(text), []
    )
    body = [line for line in zh.markdown.split("\n\n") if line.endswith("[1]")]
    body_en = [line for line in en.markdown.split("\n\n") if line.endswith("[1]")]
    assert len(body_en) == len(body) + 1, (zh.markdown, en.markdown)


def test_an_english_question_trusts_the_embedding_more_than_a_chinese_one():
    """An English question reaches Chinese passages' words only through the glossary, so a passage only the
    multilingual embedding found counts for more than it does for a Chinese question."""
    from retrieval.search import ENGLISH_LEG_WEIGHTS, LEG_WEIGHTS, RRF_K, HybridSearcher
    from retrieval.tokens import bigrams, words

    texts = ["渠道冲突是指渠道成员之间因为目标或利益不一致而产生的矛盾。", "因产品缺陷要求赔偿的诉讼时效期间为二年。"]
    chunks = [Chunk(f"doc:y#{n}", "doc:y", n, "y.md", "y", ("一",), {"paragraph": n}, t) for n, t in enumerate(texts)]

    def dense(_query, _n, _where, _allowed):
        return [("doc:y#1", 0.5)]

    searcher = HybridSearcher(chunks, [words(t) for t in texts], [bigrams(t) for t in texts], dense)
    scores = {}
    for question in ("what is the deadline for a buyer?", "顾客多久之内能来找我们？"):
        found = {p.chunk.chunk_id: p for p in searcher.search(question, k=2).passages}
        assert set(found["doc:y#1"].legs) == {"dense"}, found["doc:y#1"].legs
        scores[question[:3]] = found["doc:y#1"].score
    assert ENGLISH_LEG_WEIGHTS["dense"] > LEG_WEIGHTS["dense"]
    assert scores["wha"] == pytest.approx(ENGLISH_LEG_WEIGHTS["dense"] / (RRF_K + 1))
    assert scores["顾客多"] == pytest.approx(LEG_WEIGHTS["dense"] / (RRF_K + 1))


def test_a_heading_that_states_a_figure_is_also_its_sections_first_line():
    """### 整体评分：7.5/10 holds the answer to 总体打了几分: the passage under it starts with it, so search finds the
    figure and the answer quotes it. A heading that states no figure (系统定位) stays a heading only."""
    from knowledge.loaders import load_document
    from retrieval.chunking import chunk_document

    text = (
        "# 系统评审报告\n\n## 一、系统整体评价\n\n### 系统定位\n\n管理渠道伙伴的关系、赋能和绩效。\n\n"
        "### **整体评分：7.5/10** ⭐⭐⭐⭐\n\n**优势**：\n- 核心功能完备\n- 权限管理清晰\n"
    )
    chunks = chunk_document(load_document(text.encode(), "评审.md"), "doc:r")
    scored = [c for c in chunks if "优势" in c.text]
    assert scored and scored[0].text.splitlines()[0].replace("*", "").startswith("整体评分：7.5/10"), scored
    assert not any("系统定位" in c.text for c in chunks)


def test_a_word_and_its_parts_are_one_idea_for_the_gate():
    """jieba's search mode gives 流失率 and 流失: the gate counts one idea, held by a passage with either. A part that
    is not most of the word (个人 of 个人所得税) stays its own idea: a passage about 个人 is not about income tax."""
    ideas = analyse("改完之后伙伴流失率预计能压到多少？").ideas
    assert sum(1 for idea in ideas if "流失" in idea or "流失率" in idea) == 1
    assert any({"流失", "流失率"} <= idea for idea in ideas)
    assert "预期" in next(idea for idea in ideas if "预计" in idea)  # the review writes 预期提升
    tax = analyse("个人所得税专项附加扣除有哪些").ideas
    assert not any({"个人", "个人所得税"} <= idea for idea in tax)
    assert len(analyse("改完之后伙伴流失率预计能压到多少？").concepts) > len(ideas)  # the composer weighs each word


def test_everyday_business_english_reaches_the_words_chinese_documents_use():
    """A-level reads as its last word (level); a reviewer, a support ticket, a padded customer list and the effort
    a module takes are what a review's 评审 / 工单 / 注水 / 人天 say. Words that only frame a question (want, would,
    tell) are no idea the gate counts."""
    from retrieval.glossary import translate

    found = {t for _p, terms in translate("rated A-level by the reviewer; a support ticket module") for t in terms}
    assert {"级别", "评审", "工单"} <= found
    found = {t for _p, terms in translate("a padded customer list, and the effort it takes") for t in terms}
    assert {"注水", "名单", "人天"} <= found
    ideas = {t for idea in analyse("what would the review want us to tell partners?").ideas for t in idea}
    assert not {"want", "would", "tell", "us"} & ideas


def test_a_question_of_only_framing_words_is_searched_without_dividing_by_zero():
    """why? / tell me more / 这种之后呢 leave no idea to cover: the gate says no evidence instead of failing."""
    from retrieval.search import HybridSearcher
    from retrieval.tokens import bigrams, words

    texts = ["渠道冲突是指渠道成员之间因为目标或利益不一致而产生的矛盾。"]
    chunks = [Chunk("doc:z#0", "doc:z", 0, "z.md", "z", ("一",), {"paragraph": 0}, texts[0])]

    def dense(_query, _n, _where, _allowed):
        return [("doc:z#0", 0.1)]

    searcher = HybridSearcher(chunks, [words(t) for t in texts], [bigrams(t) for t in texts], dense)
    for question in ("why?", "tell me more", "what would you say?", "这种之后呢？"):
        assert not searcher.search(question, k=1).found, question


def test_a_chain_of_parts_is_one_idea_and_a_negated_hyphen_word_is_not_its_last_part():
    """所得 → 所得税 → 个人所得税: one idea (a passage on 企业所得税 holds one of two, not two of three); non-compliant
    is not 合规."""
    from retrieval.glossary import translate

    ideas = analyse("个人所得税专项附加扣除有哪些").ideas
    assert sum(1 for idea in ideas if "所得税" in idea) == 1
    assert not translate("non-compliant")


def test_is_there_a_problem_and_expected_figures_lean_to_the_data_when_it_answers():
    """这样有问题吗 / 预计能 ask about practice only when the data has nothing to say: 上季度华东销售额有问题吗 is the
    data's. what is / are followed by a figure asks the figure; what is the best way asks practice."""
    from advisor.evidence import GUIDANCE, only_weak_guidance

    for question in ("上季度华东销售额有问题吗", "下季度销售额预计能达到多少"):
        assert only_weak_guidance(question), question
    assert not GUIDANCE.search("what is our Q3 revenue") and not GUIDANCE.search("what are the total sales in 2024")
    assert GUIDANCE.search("what is the best way to handle a dealer whose sales dropped")
    assert not GUIDANCE.search("do most of our dealers usually hit target?")
