"""The plan kinds, the one vocabulary for them: id -> Chinese and English name, the other words that name it,
and the label of its period. The router, the chat drafts, the plan documents, the 方案 page and the CLI read it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from company.errors import CanmouError

PlanKindId = Literal["work_plan", "incentive", "strategy"]  # the keys of PLAN_KINDS, for typed fields


@dataclass(frozen=True)
class PlanKind:
    id: str
    zh: str
    en: str
    period_label: str  # how the cover names the plan's period: 计划期间 / 考核期间 / 分析期间
    aliases: tuple[str, ...] = ()  # other words for it: the CLI's `plan quarterly`, ids of documents saved earlier

    def name(self, language: str = "zh") -> str:
        return self.en if language == "en" else self.zh


PLAN_KINDS: dict[str, PlanKind] = {
    kind.id: kind
    for kind in (
        PlanKind(
            "work_plan", "季度渠道工作计划", "Quarterly channel work plan", "计划期间", ("quarterly", "quarterly_plan")
        ),
        PlanKind("incentive", "激励/返利方案", "Incentive (rebate) plan", "考核期间", ("incentive_plan",)),
        PlanKind("strategy", "渠道策略", "Channel strategy", "分析期间"),
    )
}


class UnknownPlanKind(CanmouError):
    """A plan kind that does not exist; the message lists the ones that do."""


def plan_kind(name: str) -> PlanKind:
    """The kind named by its id, an alias, or its Chinese or English name (case and spaces ignored)."""
    wanted = str(name).strip().lower()
    for kind in PLAN_KINDS.values():
        if wanted in (kind.id, kind.zh.lower(), kind.en.lower(), *kind.aliases):
            return kind
    choices = "、".join(f"{k.id}（{k.zh}）" for k in PLAN_KINDS.values())
    raise UnknownPlanKind(f"不认识的方案类型「{name}」。可选：{choices}。")
