"""Deterministic router: question -> intent and slots (region, period, budget, thresholds ...), Chinese and English.

Each intent scores the cue words it finds; the best score wins when it is clear enough, otherwise the
route is a clarifying question with options the UI shows as buttons.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from advisor.data_questions import named_quarter, to_number
from advisor.types import INTENT_NAMES, Intent, Route
from company import clock
from company.language import language_of
from company.schema import PARTNER_TYPES, REGIONS
from documents.kinds import PLAN_KINDS

CJK_RE = re.compile(r"[\u4e00-\u9fff]")
REGION_EN = {
    "east china": "华东",
    "south china": "华南",
    "north china": "华北",
    "central china": "华中",
    "southwest": "西南",
    "south-west": "西南",
    "northwest": "西北",
    "north-west": "西北",
    "northeast": "东北",
    "north-east": "东北",
}
TYPE_EN = {
    "distributor": "经销商",
    "distributors": "经销商",
    "agent": "代理商",
    "agents": "代理商",
    "wholesaler": "批发商",
    "wholesalers": "批发商",
    "retailer": "零售商",
    "retailers": "零售商",
    "e-commerce": "电商平台",
    "ecommerce": "电商平台",
    "direct": "直营",
}


@dataclass(frozen=True)
class Cue:
    pattern: str
    weight: float


def _cues(*items: tuple[str, float]) -> tuple[Cue, ...]:
    return tuple(Cue(p, w) for p, w in items)


CUES: dict[Intent, tuple[Cue, ...]] = {
    "help": _cues(
        (r"^(帮助|help|\?|？)$", 5),
        (r"你能做什么|能帮我做什么|怎么用|使用说明|功能有哪些", 4),
        # help as a request (help / what can you help with), not a word of a question (does that help us)
        (r"what can you do|how do i use|^\s*help\b|what can you help|how (?:can|do|could) you help", 4),
    ),
    "incentive": _cues(
        (r"返利方案|激励方案|返点方案|返利政策|激励政策|奖励方案", 4),
        (r"返利|返点|激励|奖励", 1.5),
        (r"设计|测算|模拟|预算|门槛|档位|阶梯", 1),
        (r"rebate|incentive", 2.5),
        (r"scheme|plan|design|simulat|budget|tiers?", 1),
    ),
    "work_plan": _cues(
        (r"工作计划|季度计划|分销计划|行动计划|下季度.*(计划|怎么做)", 4),
        (r"计划", 1.5),
        (r"work ?plan|quarterly plan|action plan|plan for (next|the) quarter", 4),
    ),
    "strategy": _cues(
        (r"渠道策略|分销策略|渠道战略|渠道规划|策略草案|渠道结构", 4),
        (r"channel strateg|distribution strateg|channel structure", 4),
    ),
    "scorecard": _cues(
        (r"记分卡|评分卡|打分|评分|分级|考核|升级|降级|综合得分|哪些.*(A|B|C|D)级", 3),
        (r"scorecard|score|tier|grading|rank(ing)? (the )?partners", 3),
    ),
    "cost": _cues(
        (r"费用分析|成本分析|投入产出|服务成本|集中度|HHI|渠道长度|费用结构|成本效益|ROI|roi", 3),
        (r"费用率|费用|毛利", 1.5),
        (r"cost analysis|cost-to-serve|expense analysis|\broi\b|concentration", 3),
        (r"expense ratio|costs?|margin", 1.5),
    ),
    "conflict": _cues(
        (r"窜货|乱价|跨区|串货|冲货|砸价|压货|低价|低于限价|渠道冲突|异常", 3),
        (r"cross-region|outside (its|their) territory|below (the )?floor|stuffing|conflict|anomal", 3),
    ),
    "data": _cues(
        (r"销售额|销量|完成率|达成率|回款率|库存天数|库存|营收|收入|毛利率|费用率|伙伴数|单价|目标", 1.5),
        (
            r"多少|哪些|哪个|最高|最低|前\d+|前[一二三四五六七八九十]+|排名|同比|环比|对比|趋势|各(区域|渠道|省|品类|产品|月)",
            1.5,
        ),
        (r"低于|高于|超过|不到|不足|以上|以下|<|>|%", 1),
        (
            r"how much|how many|which|top \d+|bottom \d+|highest|lowest|revenue|sales|achievement|"
            r"collection rate|inventory|by region|by channel|year over year|yoy|trend",
            1.5,
        ),
    ),
    "guidance": _cues(
        (
            r"怎么(办|做|处理|定|算|设计|选|写|管|控制|应对|解决|评估|制定|避免|防止|搞)|如何|怎样|为什么|应该|"
            r"建议|方法|步骤|原则|注意|技巧|要点|是什么|有哪些.*(方法|做法|原则)",
            2,
        ),
        (
            r"how (should|do|can|to)|what (is|are) (the )?(best|right|key)|why|advice|best practice|"
            r"steps|principles?",
            2,
        ),
    ),
}
REVISE_CUES = _cues(
    (
        r"按预算|控制在预算|压到预算|改成|改为|改到|提高到|降低到|降到|调到|调整为|调为|设为|再算|重新算|重算|只看|换成|"
        r"加上|去掉|提高|降低|上调|下调",
        2,
    ),
    (r"预算|门槛|返点|档位|区域|季度|增长|费用率|回款率|分段|全额", 1),
    (r"change|set .* to|raise|lower|increase|decrease|only (show|look)|recalculate|instead", 2),
)
REVISABLE = {"budget", "threshold", "rate_delta", "region", "period", "growth", "mode", "fit_budget"}
# Asking for something to be run or listed, as opposed to asking how something should be done.
ACTION_RE = re.compile(
    r"有没有|哪些|哪个|哪家|多少|找出|查一下|查查|排查|列出|检查|看看|分析|算一下|测算|给我|帮我|做一个|做一份|设计一|起草|生成|"
    r"制定一|出一份|are there|\bfind\b|\blist\b|\bcheck\b|\bshow\b|\brun\b|which|how much|how many|\btop\b|"
    r"^(please )?(design|draft|make|create|build|prepare)\b",
    re.IGNORECASE,
)
CLARIFY_OPTIONS = [
    "指南问答：渠道管理怎么做",
    "数据问答：查销售额、完成率等",
    f"起草{PLAN_KINDS['incentive'].zh}",  # not the bare name: typing 渠道策略 asks about it, not for a draft
    f"起草{PLAN_KINDS['work_plan'].zh}",
    "伙伴记分卡与分级",
    "窜货乱价排查",
    "费用与投入产出分析",
    f"起草{PLAN_KINDS['strategy'].zh}",
]
OPTION_INTENTS: dict[str, Intent] = dict(
    zip(
        CLARIFY_OPTIONS,
        ["guidance", "data", "incentive", "work_plan", "scorecard", "conflict", "cost", "strategy"],
        strict=True,
    )
)


def _score(text: str, cues: tuple[Cue, ...]) -> float:
    return sum(c.weight for c in cues if re.search(c.pattern, text, re.IGNORECASE))


def _parse_money(number: str, unit: str | None) -> float | None:
    value = to_number(number)
    if value is None:
        return None
    scale = {
        "万": 1e4,
        "万元": 1e4,
        "亿": 1e8,
        "亿元": 1e8,
        "千": 1e3,
        "k": 1e3,
        "m": 1e6,
        "million": 1e6,
        "元": 1,
        None: 1,
        "": 1,
    }
    return value * scale.get((unit or "").lower(), 1)


def extract_slots(text: str) -> dict:
    """Slots any intent may use; values already in the tools' vocabulary (华东, 经销商, 1500000.0, 1.1)."""
    slots: dict = {}
    lowered = text.lower()
    for region in REGIONS:
        if region in text:
            slots["region"] = region
    for english, region in REGION_EN.items():
        if english in lowered:
            slots["region"] = region
    for partner_type in PARTNER_TYPES:
        if partner_type in text:
            slots["partner_type"] = partner_type
    for english, partner_type in TYPE_EN.items():
        if re.search(rf"\b{english}\b", lowered) and "partner_type" not in slots:
            slots["partner_type"] = partner_type
    if re.search(r"下个?季度|next quarter", lowered):
        slots["period"] = "next"  # the quarter ahead: a plan's period, never a data question's
    elif quarter := named_quarter(text, clock.today()):
        slots["period"] = quarter  # 2026 Q4 / 2026年第四季度 / 上季度 / this quarter: the data questions' time words
    budget = re.search(
        r"(?:预算|budget)\s*(?:改成|改为|调到|设为|是|为|of|to|:|：)?\s*(?:¥|￥|\$)?\s*"
        r"([\d.]+|[一二两三四五六七八九十百千]+)\s*(万元|万|亿元|亿|千|元|k|m|million)?",
        lowered,
    )
    if budget:
        value = _parse_money(budget.group(1), budget.group(2))
        if value:
            slots["budget"] = value
    threshold = re.search(r"(?:门槛|起返点|入门|threshold)[^\d]{0,8}([\d.]+)\s*%", lowered)
    if threshold:
        slots["threshold"] = float(threshold.group(1)) / 100
    rate = re.search(
        r"(?:返点|返利率|rates?)[^\d]{0,10}(提高|增加|上调|降低|减少|下调|raise|increase|lower|cut)"
        r"[^\d]{0,4}([\d.]+)\s*(?:个百分点|个点|点|%|points?|pp)",
        lowered,
    )
    if rate:
        sign = -1 if rate.group(1) in ("降低", "减少", "下调", "lower", "cut") else 1
        slots["rate_delta"] = sign * float(rate.group(2)) / 100
    growth = re.search(r"(?:增长|growth)[^\d]{0,8}([\d.]+)\s*%", lowered)
    if growth:
        slots["growth"] = float(growth.group(1)) / 100
    if re.search(r"分段累进|marginal", lowered):
        slots["mode"] = "marginal"
    elif re.search(r"全额累进|full[- ]amount|retroactive", lowered):
        slots["mode"] = "full"
    fit = r"按预算(调整|压|控制|修改)|控制在预算(内|以内)|压到预算|符合预算|fit (it |the )?(to |within )?(the )?budget"
    if re.search(fit + r"|within (the )?budget", lowered):
        slots["fit_budget"] = True
    if re.search(r"全国|所有区域|全部区域|all regions|nationwide", lowered):
        slots["region"] = None
    return slots


def route(text: str, *, has_draft: bool = False) -> Route:
    """Pick an intent for the question; ask back when nothing scores or two intents tie."""
    question = text.strip()
    language = language_of(question)
    slots = extract_slots(question)
    if question in OPTION_INTENTS:
        return Route(intent=OPTION_INTENTS[question], confidence=1.0, slots=slots, language=language)
    scores = {intent: _score(question, cues) for intent, cues in CUES.items()}
    if has_draft:
        revise = _score(question, REVISE_CUES)
        # A short instruction that changes a number of the current draft is a revision, not a new request.
        if revise >= 2 and slots.keys() & REVISABLE:
            scores["revise"] = revise + 2.5
    if scores["guidance"] > 0 and not ACTION_RE.search(question) and scores.get("revise", 0) == 0:
        # "窜货怎么处理？" asks for guidance about a topic, not for the conflict scan.
        scores["guidance"] += max(scores.values())
    ranked = sorted(scores.items(), key=lambda kv: -kv[1])
    (best, top), (_second, runner_up) = ranked[0], ranked[1]
    if top <= 0:
        return _clarify(question, language, slots)
    # The data engine covers plain metric questions; analysis words pull towards the tools.
    if best == "data" and top - runner_up < 1 and ranked[1][0] in ("cost", "scorecard", "conflict"):
        best = ranked[1][0]
    confidence = min(1.0, top / 4) * (1.0 if top - runner_up >= 1 else 0.6)
    if confidence < 0.3:
        return _clarify(question, language, slots)
    return Route(intent=best, confidence=round(confidence, 2), slots=slots, language=language)


def _clarify(question: str, language: str, slots: dict) -> Route:
    ask = (
        "我不太确定您想做什么。请选择一项，或换个说法（例如：「上季度华东哪些经销商完成率低于80%？」、"
        "「设计一个返利方案，预算150万」、「经销商窜货怎么处理？」）："
    )
    if language == "en":
        ask = (
            'I am not sure what you need. Pick one, or rephrase (e.g. "Which distributors in East China were below '
            '80% of target last quarter?", "Design a rebate plan with a budget of 1.5 million"):'
        )
    return Route(
        intent=None, confidence=0.0, slots=slots, language=language, clarify=ask, options=list(CLARIFY_OPTIONS)
    )


def describe(route_: Route) -> str:
    if route_.intent is None:
        return "需要澄清"
    parts = [INTENT_NAMES[route_.intent]]
    parts += [f"{k}={v}" for k, v in route_.slots.items() if v is not None]
    return "，".join(parts)
