"""Fixed wording of the plan documents: policy sentences and roadmap steps that carry no number from data.

Kept apart from the builders so the wording can be reviewed and changed without touching the logic;
numbers always come from tool results and guidance sentences from retrieved passages, never from here.
"""

from __future__ import annotations

KB_MISSING = "（知识库未加载，本节无法引用指南。请先在「知识库」页面准备指南后重新生成。）"

PAYOUT = [
    "返利按季度核算：季度结束后 15 个工作日内完成完成率、回款率与合规核查，核查通过后以货款抵扣方式兑现。",
    "前置条件不满足的伙伴当季返利取消，名单与原因随核算结果书面告知。",
    "核算依据为公司系统中的销售、目标与回款数据；伙伴对核算结果有异议的，可在收到通知后书面提出复核。",
]

MODE_TEXT = {
    "full": "全额累进：达到某档后，全部销售额按该档返点计算。",
    "marginal": "分段累进：各段完成率对应的销售额分别按所在档返点计算。",
}

ROADMAP = [
    {
        "阶段": "盘点与定向",
        "时间": "第 1 个月",
        "重点任务": "完成渠道盘点与伙伴分级，确定重点渠道与需要调整的区域",
        "负责": "渠道总监",
    },
    {
        "阶段": "调整与管控",
        "时间": "第 2-3 个月",
        "重点任务": "按选择标准补充或替换伙伴，落实区域与价格管控措施，处理已发现的冲突信号",
        "负责": "区域经理、渠道管理部",
    },
    {
        "阶段": "评估与固化",
        "时间": "第 4-6 个月",
        "重点任务": "评估各渠道费用率与贡献率的变化，优化渠道组合，固化例会与复盘机制",
        "负责": "渠道总监、财务部",
    },
]

TOOL_HINTS = {
    # Tool explanations speak to the chat assistant in places; a document for the boss says it in plain words.
    "可用 fit_rebate_budget 按预算调整方案。": "可按预算等比例下调各档返点后重新测算。",
}


def plain(text: str) -> str:
    for hint, replacement in TOOL_HINTS.items():
        text = text.replace(hint, replacement)
    return text
