"""User-interface text in Chinese and English; answers follow the question's language, not this switch."""

from __future__ import annotations

from ui import state

TEXT: dict[str, tuple[str, str]] = {
    "nav.chat": ("对话", "Chat"),
    "nav.data": ("数据中心", "Data"),
    "nav.knowledge": ("知识库", "Knowledge"),
    "nav.plans": ("方案", "Plans"),
    "nav.settings": ("设置", "Settings"),
    "chat.title": ("渠道参谋", "Channel Advisor"),
    "chat.new": ("＋ 新对话", "+ New chat"),
    "chat.history": ("历史对话", "Conversations"),
    "chat.history.mine": (
        "只列出在这个浏览器窗口里开始的对话。",
        "Only conversations started in this browser window are listed.",
    ),
    "chat.delete": ("删除当前对话", "Delete this conversation"),
    "chat.delete.ask": (
        "确定删除对话「{title}」吗？其中的问答和草案都会删除，不能恢复。",
        "Delete the conversation “{title}”? Its questions, answers and drafts are removed for good.",
    ),
    "chat.delete.yes": ("确认删除", "Delete"),
    "chat.delete.no": ("取消", "Cancel"),
    "chat.deleted": ("已删除对话「{title}」。", "Deleted “{title}”."),
    "chat.input": (
        "问数据、问方法、或让我起草方案…（例如：上季度华东哪些经销商完成率低于80%？）",
        "Ask about your data, ask how to manage channels, or let me draft a plan…",
    ),
    "chat.welcome": (
        "我是**渠道参谋**：查伙伴数据、问渠道管理方法、做记分卡与费用分析、起草返利方案和季度计划。"
        "数字都来自公司数据，建议都标明出处。",
        "I am **渠道参谋**, a channel-management advisor: partner data, channel-management guidance, scorecards and "
        "cost analysis, rebate plans and quarterly plans. Numbers come from your company data; "
        "advice cites its source.",
    ),
    "chat.loaded": ("当前已载入：{data}；知识库 {docs} 篇文档。", "Loaded: {data}; knowledge base: {docs} documents."),
    "chat.own": (
        "用自己的数据：在「数据中心」上传 CSV/XLSX（销售导出也可以单独导入）；"
        "用自己的文档：在「知识库」上传制度、方案、培训材料（.docx .pdf .md .txt .html）。",
        "Bring your own data on the Data page (CSV/XLSX; a sales export alone works) and your own documents on the "
        "Knowledge page (.docx .pdf .md .txt .html).",
    ),
    "chat.try": ("试试下面的问题：", "Try one of these:"),
    "chat.group.manager": ("渠道经理：起草方案", "Channel manager: draft a plan"),
    "chat.group.executive": ("高管：查伙伴数据", "Executive: partner data"),
    "chat.group.plan": ("季度计划文档", "Quarterly plan document"),
    "chat.nodata": (
        "还没有公司数据：数据问题和方案需要数据。请到「数据中心」生成示例公司或导入文件；方法类问题仍可回答。",
        "No company data yet: data questions and plans need it. Generate the sample company or import files "
        "on the Data page; guidance questions still work.",
    ),
    "settings.title": ("设置", "Settings"),
    "settings.save": ("保存设置", "Save settings"),
    "settings.saved": ("已保存，立即生效。", "Saved; in effect now."),
    "data.title": ("数据中心", "Data"),
    "knowledge.title": ("知识库", "Knowledge base"),
    "plans.title": ("方案", "Plans"),
}


def t(key: str, **values: str) -> str:
    zh, en = TEXT[key]
    text = en if state.settings().ui_language == "en" else zh
    return text.format(**values) if values else text
