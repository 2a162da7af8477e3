"""Routing by evidence: a question goes where something can answer it, not where its words point.

The cue router (advisor.router) proposes an intent. This module checks it against evidence: can the data
engine parse the question into a query over this company's catalog (metrics, dimensions, values, names)?
Does it ask how / why / what (guidance) or ask for a plan to be drafted? Does the knowledge base hold
relevant passages? 有哪些 / 哪几种 / 多少 alone are not data cues; a plan is drafted only when asked to
draft one; a question with both a how-to part and a data part gets both answers; a question nothing can
answer gets one line saying so and what the assistant can do.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from documents.kinds import PLAN_KINDS

# Asking for a plan to be written, not about one.
DRAFT = re.compile(
    r"设计|制定|起草|拟定|拟一|做一[个份套版]|写一[个份篇]|出一[个份套]|帮我(?:做|写|出|拟|起草|设计|制定)|"
    r"给我(?:做|写|出|拟|来)一|生成一|\bdraft\b|\bdesign\b|\bmake (?:a|me|us)\b|\bcreate (?:a|an)\b|"
    r"\bprepare (?:a|an)\b|\bwrite (?:a|an|me)\b|\bput together\b|\bbuild (?:a|an)\b",
    re.IGNORECASE,
)
# Asking how / why / what something is: the knowledge base answers these unless they name company data.
GUIDANCE = re.compile(
    r"怎么(?!样)|咋(?!样)|如何(?!$|[？?])|怎样(?!$|[？?])|为什么|为啥|为何|应该|应当|要不要|该不该|"
    # root causes are asked as why: 乱价压不住，根子到底在哪 / 问题出在哪 / what causes it
    r"根子|根源|症结|问题出在|原因(?:是|在|出在)|什么原因|怎么回事|\broot causes?\b|\bwhat causes\b|"
    r"是否(?:应该|需要|要|可以)|可不可以|能不能|建议|方法|"
    r"步骤|流程|原则|注意|技巧|要点|是什么|什么是|啥是|指什么|(?:啥|什么)意思|含义|定义|区别|作用|目的|意义|好处|"
    r"几档|几级|(?<!有)几种|(?<!有)几类|哪几(?:种|类|档|级|步|个方面|方面|点|条)|哪些(?:方法|做法|原则|形式|方式|手段|要求|条件|内容|步骤|方面|因素|标准|情况|"
    r"指标|权利|义务|责任|措施|环节|特点)|看啥|看什么|考虑什么|包括什么|包含什么|有什么用|"
    r"\bhow (?:to|should|do|does|can|could|would)\b|\bwhy\b|\bwhat (?:does|should|makes|happens)\b|"
    # what is / are, unless a figure follows within three words (what is the average age of our customers, what is
    # our Q3 revenue: the company's data); the best way / most common causes are practice
    r"\bwhat (?:is|are)\b(?!(?: [\w'-]+){0,2} (?:total|average|avg|mean|median|sum|number|count|share|percentage|"
    r"percent|ratio|rate|growth|revenue|sales|profit|margin|returns?|inventory|stock|orders?|quantity|discount|top|"
    r"best|worst|highest|lowest|most|least)\b)|"
    r"\bwhat (?:is|are) the (?:best|most common|main|biggest|usual|top) (?:way|ways|practice|practices|cause|causes|"
    r"reason|reasons|approach|method|mistake|mistakes|risk|risks)\b|"
    r"\bshould\b|\bbest practice|\badvice\b|\bdifference between\b|\bwhich (?:factors|criteria|steps)\b|"
    r"\bwhat to (?:check|look|include|do)\b|\bmeaning of\b|\bdefine\b|"
    # yes/no and criteria questions about practice: 直接按销量排名可以吗 / 多少分算A级 / 多久查一次 / 要守哪些规矩
    r"(?:可以|行|合适|对|正常|合理|妥当|有用|靠谱|合法|违法|允许)吗|行不行|比较(?:正常|合适|合理)|算(?:正常|合理|合格|达标)|"
    # 这合规吗 / 这样违规不 / 算不算违法: whether something breaks a rule is a question about the rules
    r"(?:合规|违规|违法|犯法|侵权|违约|合法)(?:吗|么|不|没)|算不算(?:违|侵|合)|合不合规|违不违|"
    # what a piece of work takes: 要几个人天
    r"(?:要|需要|得|花)(?:几|多少)个?(?:人天|人日|人月|工时)|"
    r"\bhow much effort\b|\bhow many (?:person|man)[- ]days\b|"
    # 装机费也得标出来吗 / 必须备案吗: whether a rule requires something; 按啥顺序算 / 先后顺序: the order of steps
    r"(?:(?<![获取记])得(?![分到了出])|必须|需要)[^，,。？?！!什怎这那多]{1,10}(?:吗|么)(?=\s*[？?。！!]?\s*$)|(?:按|以|照)(?:啥|什么)(?:顺序|次序|先后)|先后顺序|啥顺序|什么顺序|"
    # 平时拿来干啥 / 用在哪些场景 / 主要看哪些数据 / 占几分: what a thing is for, what a score is made of
    r"(?:拿来|用来)(?:干|做)|用在哪|(?:哪些|什么|啥)场景|看哪些|看哪几|(?:占|值|算)(?:几|多少)分|"
    r"(?:要|该|应该|得|可以)(?:给|留)[^，,。？?]{0,6}(?:几|多少)|才算|多少分算|算[A-Da-d]级|多久.{0,8}一次|多长时间|多久之内|多久内|几天内|多少天内|什么要求|哪些要求|有何要求|"
    r"规矩|规定|要守|遵守|需要满足|需要具备|具备什么|条件是|资格|什么情况下|哪些情况下|什么时候(?:可以|能|应该|要)|能否|可否|"
    r"最多能|最多可以|最少要|至少要|最高能|上限是|下限是|不得超过|不能超过|"
    # who decides, and what a rule's parameter may be set to: 谁说了算 / 权重可以拉到多少
    r"谁说了算|谁来定|谁决定|由谁|归谁管|哪个部门|哪级部门|"
    # what comes next: 评审完了下一步要干啥 / what are the next steps
    r"(?:下一步|接下来|然后)(?:要|该|应该|得|怎么|做|干|是)|\bnext steps?\b|\bwhat(?:'s| is| comes) next\b|"
    r"(?:可以|能|该|应该)(?:拉|调|提|设|定|给|放|降)到?多少|(?:权重|门槛|档位|系数|返点)[^，,。？?]{0,6}(?:设|定)(?:成|为|在)?多少|"
    r"能多?(?:给|拿|返|享受|得到|领)多少|算(?:提升|增长|下降|提高)了?多少|能(?![帮给]我|查|看|列|统计|算|不能)[^，,。？?]{1,12}吗|"
    r"\bcan (?:we|i|you|a|an|one|the|they)\b|\bis it (?:ok|okay|fine|allowed|legal|normal|reasonable|worth)\b|"
    r"\bdo(?:es)? (?:we|i|a|an|the|they) (?:need|have to)\b|\bhow (?:long|often|soon|many days)\b|\bwhat counts as\b|"
    r"\bwhen (?:can|should|must|may|is|are|does|do)\b|\bwho (?:should|can|must|may)\b|"
    # what others usually do: do ppl usually set aside / what's typical
    r"\b(?:do|does|would) (?:people|ppl|companies|brands|firms|others|most (?!of\b)[a-z]+)\b[^?？]{0,40}"
    r"\b(?:usually|typically|normally|generally)\b|\bwhat(?:'s| is) (?:typical|normal|usual|standard)\b|"
    r"\bwhat (?:do|does) .{0,40}\bneed\b|"
    r"\bwhat (?:rules|requirements|conditions)\b|\ballowed to\b|\bdefin(?:e|ed|ition)\b|"
    r"\bhow (?:is|are)\b.{0,60}\b(?:calculated|computed|measured|worked out|set)\b",
    re.IGNORECASE,
)
# A question about what a document says (评审报告里…, 按规定…, per the template, does the review say …): the
# knowledge base holds the document, whatever data words the question also uses (partner types, collection rate).
DOCUMENT = re.compile(
    r"(?:报告|评审|文件|文档|规定|条例|办法|法规|法律|模板|指南|手册|制度)(?:里|中|上|内|说|提到|要求|规定)|"
    r"(?:按|根据|依照|依据|按照)(?:这份|该|本|这个|那份|这部|那部)?(?:报告|评审|文件|文档|规定|条例|办法|法规|法律|模板|指南|手册|制度)|"
    # 例子里 / 那个算例中 / in the 10-yuan product example: a worked example of a document
    r"(?:例子|示例|案例|算例|举例)(?:里|中)|\bin (?:the|that|this) (?:[\w-]+ ){0,4}example\b|"
    r"\b(?:per|according to|under|in|does|do|did) (?:the|this|that|our)(?: [\w-]+){0,3}? "
    r"(?:review|report|regulations?|rules|law|template|guides?|playbook|policy|document|doc|file|"
    r"handbook|manual|plan template)\b|"
    r"\bthe (?:review|report|regulation|template|playbook|handbook) (?:say|says|said|want|wants|recommend|recommends|"
    r"require|requires|suggest|suggests|put|puts|list|lists)\b",
    re.IGNORECASE,
)
# The nouns a question names a document by, and how the document's own title may say them (likeliest first; a
# group in brackets is equally likely).
DOCUMENT_NOUNS: dict[str, tuple[str | tuple[str, ...], ...]] = {
    "报告": ("报告", "report", "review"),
    "评审": ("评审", "review"),
    "规定": ("规定",),
    "条例": ("条例",),
    "办法": ("办法",),
    "法规": (("法", "规定", "条例", "办法"),),  # laws and regulations alike: one of them, or none named
    "法律": ("法",),
    "模板": ("模板", "template"),
    "手册": ("手册", "handbook", "manual"),
    "制度": ("制度", "policy"),
    "review": ("review", "评审", "报告"),
    "report": ("report", "报告"),
    "regulation": ("规定", "条例", "办法", "regulation"),
    "rules": ("规定", "规则", "rules"),
    "law": ("法", "law"),
    "template": ("模板", "template"),
    "handbook": ("手册", "handbook"),
    "manual": ("手册", "manual"),
    "policy": ("制度", "政策", "policy"),
}


def named_document(question: str, documents: list[tuple[str, str]]) -> str | None:
    """The one uploaded document a question is about (评审报告里… / what does this regulation say…), among
    (doc_id, title and file name) of the company's own documents: the question refers to a document and names it
    by a noun its title holds. None when it names none, or several match."""
    low = " ".join(m.group(0) for m in DOCUMENT.finditer(question)).lower()  # the words that refer to it
    if not low:
        return None
    said = [
        titles for noun, titles in DOCUMENT_NOUNS.items() if re.search(rf"{noun}s?\b" if noun.isascii() else noun, low)
    ]
    for titles in said:  # each noun's likeliest title word first: a regulation is a 规定 before it is a 办法
        for title in titles:
            alike = (title,) if isinstance(title, str) else title
            matches = [doc_id for doc_id, name in documents if any(t in name.lower() for t in alike)]
            if matches:
                return matches[0] if len(matches) == 1 else None
    return None


# Words that lean towards practice but also open questions about the company's own figures (哪些渠道上季度销售额下降了,
# 华东区一般每月卖多少, 4到6月每个月都卖出的药有几种): guidance only when the data does not answer the question
# outright.
GUIDANCE_WEAK = re.compile(
    r"一般|通常|有几种|有几类|哪些(?:类型|渠道|问题)|哪类|哪种|哪几|"
    # 这样有问题吗 / is that a problem (上季度华东销售额有问题吗 is the data's); 流失率预计能压到多少: what a change is
    # expected to bring (下季度销售额预计能达到多少 the data answers or names back)
    r"(?<!数据)(?:有|没)(?:问题|毛病)(?:吗|么|没)|有没有(?:问题|毛病)(?=\s*[？?。！!]?\s*$)|会不会有问题|"
    r"\bis (?:that|this|it) (?:a problem|an issue|ok)\b|预计(?:能|会|可以|可|要|将)|预期(?:能|会|可以|效果|目标)",
    re.IGNORECASE,
)
# A tool the user names (the scan, the scorecard, the cost analysis) rather than a figure they ask for.
EXPLICIT = {
    "scorecard": re.compile(
        r"记分卡|评分卡|打分|评分|给.{0,8}分级|做分级|分级情况|升降级|综合得分|\bscorecard\b|\bscore (?:the|our)\b|"
        r"\bgrading\b|\btier (?:the|our) partners\b",
        re.IGNORECASE,
    ),
    "cost": re.compile(
        r"费用分析|成本分析|投入产出|服务成本|集中度|HHI|渠道长度|费用结构|成本效益|\bROI\b|cost analysis|"
        r"cost[- ]to[- ]serve|concentration",
        re.IGNORECASE,
    ),
    "conflict": re.compile(
        r"窜货|乱价|串货|冲货|砸价|压货|低于限价|渠道冲突|跨区销售|跨区|\bcross[- ]region|below (?:the )?floor|"
        r"stuffing|channel conflict",
        re.IGNORECASE,
    ),
}
# Asking for a tool to be run on the company's data.
RUN = re.compile(
    r"查(?![到出获实明处])|排查|扫描|检查|筛查|分析|看看|看一下|有没有|有无|列出|列一下|统计|算一下|做一[下个份]|跑一[下遍]|给.{0,12}(?:打分|评分|分级)|"
    # 哪些经销商 / 哪几家: which of the company's own (哪些数据 / 哪些行为 ask what a method looks at)
    r"哪些(?:经销商|代理商|客户|伙伴|门店|区域|大区|省|城市|产品|渠道|批发商|零售商)|哪几(?:家|个(?:经销商|客户|伙伴|区域|门店))|"
    r"情况|最近|本月|上月|本季|上季|今年|去年|我们|咱们|我司|\b(?:run|check|scan|show|list|find|analy[sz]e|any|which|our|we)\b",
    re.IGNORECASE,
)
PLANS = tuple(PLAN_KINDS)

Decision = Literal["keep", "data", "guidance", "both", "out_of_scope", "clarify"]


@dataclass(frozen=True)
class Evidence:
    """What the question's words and the company's data support."""

    draft: bool
    guidance: bool
    tools: tuple[str, ...]
    # weak: a metric word with nothing else of the data's; partial: words the data has nothing for
    data: Literal["answer", "weak", "partial", "ask", "none"]
    run: bool = False  # asks for the named tool to be run on the company's data (我们最近有吗 / 查一下)
    # only words like 一般 / 哪些渠道 lean towards guidance: the data wins when it answers outright
    guidance_weak: bool = False

    @property
    def data_strong(self) -> bool:
        return self.data in ("answer", "ask")


def words(question: str) -> tuple[bool, bool, tuple[str, ...]]:
    return (
        bool(DRAFT.search(question)),
        bool(GUIDANCE.search(question) or GUIDANCE_WEAK.search(question) or DOCUMENT.search(question)),
        tuple(name for name, pattern in EXPLICIT.items() if pattern.search(question)),
    )


def only_weak_guidance(question: str) -> bool:
    """一般 / 哪些渠道 and no how / why / should: a question the company's figures may answer by themselves."""
    return bool(GUIDANCE_WEAK.search(question)) and not GUIDANCE.search(question)


def asks_to_run(question: str) -> bool:
    """查一下窜货 / 给经销商打分 / run the scorecard: an action on the company's data, not 第二次窜货停货几天."""
    return bool(RUN.search(question))


def decide(intent: str | None, evidence: Evidence, kb_found: bool | None) -> Decision:
    """Where the question goes, given the cue router's intent and the evidence."""
    if intent in ("help", "revise"):
        return "keep"
    if intent in PLANS and evidence.draft:
        return "keep"
    if evidence.tools and (evidence.draft or not evidence.guidance) and intent in evidence.tools:
        return "both" if evidence.guidance and evidence.data_strong else "keep"
    if evidence.guidance and not (evidence.guidance_weak and evidence.data_strong and not evidence.tools):
        if evidence.data == "answer" and not evidence.tools:
            return "data" if evidence.guidance_weak else "both"
        if evidence.tools and not evidence.draft:  # 窜货怎么处理？我们最近有吗: the method, then the scan
            return "both" if evidence.run or (intent in evidence.tools and evidence.data_strong) else "guidance"
        return "guidance"
    if evidence.data in ("answer", "ask"):
        return "data"
    if evidence.tools and intent in evidence.tools:
        return "keep"
    if evidence.data == "partial":  # words the data has nothing for: the knowledge base decides
        return "guidance" if kb_found else "data"
    if intent in PLANS and not evidence.draft:
        return "guidance" if kb_found else "data" if evidence.data == "weak" else "guidance"
    if evidence.data == "weak":
        return "data"
    if kb_found:
        return "guidance"
    if intent is not None and intent not in ("data", "guidance"):
        return "keep"
    return "out_of_scope" if kb_found is False else "clarify"
