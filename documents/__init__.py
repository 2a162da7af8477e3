"""Plan documents (季度工作计划、返利方案、渠道策略): model, builders, charts, Markdown and Word renderers."""
