"""Channel-management synonym groups used to expand queries (Chinese colloquial terms and English).

A query that names any member of a group also searches the others: 返点 finds 返利, "rebate"
finds 返利, 砸价 finds 乱价. Keep groups narrow: a loose group drags in unrelated passages.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache

GROUPS: tuple[tuple[str, ...], ...] = (
    ("经销商", "分销商", "代理商", "渠道商", "经销", "distributor", "distributors", "dealer", "dealers", "reseller"),
    ("渠道伙伴", "伙伴", "合作伙伴", "客户", "partner", "partners"),
    ("返利", "返点", "返现", "折让", "rebate", "rebates", "kickback"),
    ("阶梯返利", "返利梯度", "返点梯度", "阶梯", "tiered rebate", "ladder", "tier", "tiers"),
    ("激励", "奖励", "奖金", "incentive", "incentives", "bonus", "reward"),
    ("门槛", "起返点", "达标线", "threshold", "thresholds"),
    ("窜货", "跨区销售", "跨区", "冲货", "越区", "串货", "cross-region", "territory", "outside", "diversion"),
    ("乱价", "砸价", "低价", "低于限价", "价格混乱", "破价", "限价", "price", "pricing", "undercut", "undercutting"),
    ("压货", "囤货", "塞货", "库存积压", "冲量", "stuffing", "overstock"),
    ("库存", "存货", "库存天数", "库存周转", "inventory", "stock"),
    ("完成率", "达成率", "目标达成", "achievement", "attainment", "target"),
    ("回款", "回款率", "收款", "账期", "应收", "collection", "collections", "receivable", "payment"),
    ("费用率", "费用", "成本", "渠道费用", "cost", "costs", "expense", "expenses"),
    ("毛利", "毛利率", "利润", "margin", "profit", "profitability"),
    ("投入产出", "roi", "回报", "投资回报", "return"),
    ("考核", "评估", "评价", "记分卡", "打分", "评分", "scorecard", "evaluation", "evaluate", "kpi", "kpis"),
    ("分级", "分层", "等级", "ranking", "grading", "segmentation"),
    ("培训", "赋能", "训练", "training", "train", "coaching"),
    ("选择", "筛选", "甄选", "招商", "准入", "select", "selection", "recruit", "recruiting", "onboarding"),
    ("考察", "实地考察", "走访", "尽调", "visit", "inspection", "due diligence"),
    ("协议", "合同", "合作协议", "条款", "agreement", "contract", "clause", "clauses"),
    ("冲突", "矛盾", "纠纷", "conflict", "conflicts", "dispute"),
    ("沟通", "协同", "对接", "例会", "communication", "meeting", "meetings", "relationship"),
    ("渠道长度", "层级", "扁平化", "中间环节", "length", "levels", "flatten"),
    ("渠道宽度", "独家分销", "选择性分销", "密集分销", "width", "exclusive", "selective", "intensive"),
    ("直销", "直营", "direct", "direct sales"),
    ("电商", "线上", "网上", "网店", "电商平台", "直播", "online", "e-commerce", "ecommerce", "livestream"),
    ("社群", "微信", "私域", "社交", "social", "wechat", "community"),
    ("线上线下", "o2o", "全渠道", "omnichannel", "omni-channel"),
    ("垂直营销", "垂直营销系统", "一体化", "vertical", "vms"),
    ("联盟", "战略联盟", "产销联盟", "入股", "合资", "alliance", "joint venture"),
    ("分销规划", "联合规划", "programming", "joint planning"),
    ("物流", "配送", "仓储", "logistics", "warehouse", "delivery"),
    ("铺货", "铺货率", "覆盖率", "网点", "coverage", "outlets", "distribution"),
    ("动销", "终端销售", "出货", "sell-out", "sellout", "sell through"),
    ("预算", "费用预算", "budget", "budgets"),
    ("工作计划", "计划", "季度计划", "work plan", "plan", "plans", "quarterly"),
    ("模板", "范本", "格式", "大纲", "template", "templates", "outline"),
    ("满意度", "满意", "satisfaction", "survey"),
    ("优化", "调整", "改进", "optimise", "optimize", "optimization", "improve"),
    ("淘汰", "清退", "退出", "terminate", "termination", "remove"),
    ("保证金", "押金", "deposit"),
    # How rules and regulations say what managers say plainly (加盟商 → 被特许人, 罚多少 → 罚款).
    ("加盟", "特许经营", "特许", "franchise", "franchising"),
    ("加盟商", "被特许人", "franchisee", "franchisees"),
    ("加盟费", "特许经营费用", "franchise fee", "franchise fees"),
    ("品牌方", "特许人", "franchisor"),
    ("牌照", "许可证", "经营许可", "licence", "license"),
    ("罚款", "处罚", "罚", "fine", "fines", "penalty"),
    ("后果", "法律责任", "罚则", "consequence", "consequences"),
    # 贴了假的认证标志 is what a law calls 伪造或者冒用 (假冒 / fakes stay with counterfeit goods, not forged marks)
    ("伪造", "冒用", "仿冒", "冒充", "假", "forged", "forgery"),
    # 分成哪几大块 is asked of a table of 模块; 优先级 of a field called priority (a specification's code)
    ("模块", "板块", "大块", "module", "modules"),
    ("优先级", "优先顺序", "priority", "priorities"),
    ("标识", "标签", "标注", "label", "labels"),
    ("废止", "取代", "repeal", "repealed", "supersede", "superseded"),
    ("备案", "登记", "filing", "register"),
    ("生效", "施行", "实施", "take effect", "effective"),
    # Plain words for what documents say formally (去哪投诉 → 举报, 要不要担责 → 连带责任).
    ("投诉", "举报", "检举", "告发", "report", "complain", "complaint", "whistleblower"),
    ("担责", "承担责任", "连带责任", "赔偿责任", "liable", "liability", "responsible"),
    ("个体户", "个体工商户", "sole trader", "self-employed"),
    ("退货", "退款", "退还", "退回", "refund", "refunds"),
    ("征求意见", "听意见", "座谈", "访谈", "过一遍", "consult", "feedback"),
    ("止损", "叫停", "退出条件", "止损线", "stop-loss"),
    ("核实", "查询", "查证", "核查", "verify", "check"),
    ("摩擦", "掐架", "抢生意", "争抢", "friction", "clash"),
    ("课程", "培训内容", "课程体系", "curriculum", "course", "courses"),
    ("代价", "弊端", "坏处", "缺点", "downside", "drawback", "drawbacks"),
    # 哪几点做得还不错 is asked of a list headed 优势; 送的小礼品 of what a rule calls 赠品
    ("优势", "优点", "长处", "亮点", "做得好", "不错", "strength", "strengths"),
    ("赠品", "礼品", "小礼品", "赠送", "gift", "gifts", "freebie", "freebies"),
    ("骗", "欺诈", "欺骗", "诈骗", "fraud", "scam", "cheat"),
    ("口头", "口头约定", "verbal", "oral"),
    ("公司章程", "章程", "重大变更", "articles of association"),
    # Who is who in a law on selling (卖家 is 销售者 / 经营者, 买家 is 消费者, 厂家 is 生产者).
    ("卖家", "商家", "店家", "销售者", "经营者", "seller", "sellers", "merchant", "merchants"),
    ("买家", "顾客", "客人", "消费者", "购买者", "buyer", "buyers", "consumer", "consumers", "shopper", "shoppers"),
    ("厂家", "生产者", "制造商", "manufacturer", "manufacturers", "producer", "producers"),
    ("不符", "不符合", "不一致", "对不上", "mismatch"),
    ("禁止", "不得", "不准", "不许", "不让", "prohibited", "forbidden"),
    ("质量检查", "质检", "监督检查", "抽查", "quality inspection", "quality check"),
    ("标价", "明码标价", "价签", "标价签", "price tag", "price tags", "price label"),
    ("吊牌价", "标示价格", "tag price", "marked price"),
    ("上调", "调高", "提价", "涨价", "抬价", "raise the price"),
    ("账本", "账目", "财务资料", "财务报表", "流水", "books", "financial records"),
    ("地盘", "授权区域"),
    ("单子", "清单", "单据", "小票", "receipt", "receipts"),
    ("次品", "残次品", "劣质", "不合格产品", "以次充好", "substandard"),
    ("说明书", "产品说明", "使用说明", "instructions", "user manual"),
    ("收货", "进货", "验收", "到货", "拿货", "goods receipt", "receiving"),
    ("诉讼", "起诉", "打官司", "lawsuit", "lawsuits", "sue"),
    # Shop-floor words for what a rule on selling says formally (店庆打折 → 折价、减价; 装机费 → 安装; 商场 → 交易场所).
    ("打折", "折扣", "折价", "减价", "降价", "优惠", "discount", "discounts", "markdown"),
    ("商场", "卖场", "商城", "购物中心", "交易场所", "场所提供者", "mall", "marketplace", "department store"),
    ("入驻", "进驻", "场所内", "平台内", "tenant", "tenants"),
    ("安装", "装机", "上门安装", "调试", "install", "installation", "installer"),
    ("收费", "收钱", "收取", "加价", "charge", "charges", "fee", "fees", "surcharge"),
    ("维修", "修理", "保修", "repair", "repairs"),
    ("换货", "更换", "exchange", "replacement"),
    ("赔", "赔偿", "赔钱", "赔付", "索赔", "要求赔偿", "compensate", "compensation", "claim compensation"),
    ("受伤", "烫伤", "伤人", "人身损害", "人身伤害", "injury", "injured", "hurt"),
    ("假货", "假冒", "冒充", "以假充真", "counterfeit", "knockoff", "knockoffs"),
    ("过期", "失效", "变质", "expired", "spoiled"),
    ("结账", "结算", "买单", "先消费后结算", "checkout", "pay after"),
    ("原价", "被比较价格", "划线价", "original price", "was price"),
    ("预计", "预期", "预估", "expected", "projected", "forecast"),
    # How a question is asked says what kind of passage answers it.
    ("怎么办", "处理流程", "处理步骤", "应对措施", "怎么处理", "如何处理"),
    ("为什么", "为啥", "为何", "原因", "根源", "成因", "根子", "怎么产生"),
    ("怎么算", "计算", "公式", "测算", "算法", "怎么计算"),
)


def _normalise(term: str) -> str:
    return term.strip().lower()


@lru_cache(maxsize=1)
def _index() -> dict[str, frozenset[str]]:
    index: dict[str, set[str]] = {}
    for group in GROUPS:
        members = {_normalise(t) for t in group}
        for term in members:
            index.setdefault(term, set()).update(members)
    return {term: frozenset(members) for term, members in index.items()}


def all_terms() -> list[str]:
    return sorted({_normalise(t) for group in GROUPS for t in group})


def expand_terms(tokens: list[str]) -> list[str]:
    """The tokens plus every synonym of each (each once, original tokens first)."""
    index = _index()
    seen = dict.fromkeys(tokens)
    for token in tokens:
        for other in sorted(index.get(_normalise(token), ())):
            seen.setdefault(other)
    return list(seen)


def expand_text(text: str) -> list[str]:
    """Synonyms of the group members that occur anywhere in text (for the character-bigram leg)."""
    lowered = text.lower()
    found: set[str] = set()
    for term, members in _index().items():
        if re.search(r"[a-z]", term):
            hit = re.search(rf"(?<![a-z]){re.escape(term)}(?![a-z])", lowered)
        else:
            hit = term in lowered
        if hit:
            found.update(members)
    return sorted(found - {t for t in found if t in lowered})


CJK_CHAR = re.compile(r"[\u4e00-\u9fff]")
NEVER_TYPED_FOR = "的了是在有和与及个们吗呢"  # 的客户 is no typo of 新客户


@lru_cache(maxsize=1)
def _one_off_index() -> dict[int, dict[str, str]]:
    """For each length, the terms of three or more Chinese characters by each pattern with one inner character
    blanked (经?商 → 经销商): a typed piece is looked up by its own patterns, not compared with every term."""
    index: dict[int, dict[str, str]] = {}
    for term in all_terms():
        if len(term) < 3 or not all(CJK_CHAR.match(c) for c in term):
            continue
        for k in range(1, len(term) - 1):
            index.setdefault(len(term), {}).setdefault(f"{term[:k]}\0{term[k + 1 :]}", term)
    return index


def respell(text: str, is_word: Callable[[str], bool]) -> str:
    """经消商 → 经销商: three or more Chinese characters that are one inner character off a term of the groups
    (not the first or last character, not a function word), and no word of their own (is_word), are read as
    that term."""
    for n, patterns in sorted(_one_off_index().items(), reverse=True):
        i = 0
        while i + n <= len(text):
            piece = text[i : i + n]
            for k in range(1, n - 1):
                term = patterns.get(f"{piece[:k]}\0{piece[k + 1 :]}")
                if (
                    term is not None
                    and term != piece
                    and CJK_CHAR.match(piece[k])
                    and piece[k] not in NEVER_TYPED_FOR
                    and not is_word(piece)
                ):
                    text = text[:i] + term + text[i + n :]
                    break
            i += 1
    return text
