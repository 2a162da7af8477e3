"""Types that cross the assistant's boundaries: routes, answers, citations, drafts, steps."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from documents.kinds import PLAN_KINDS, PlanKindId
from documents.model import PlanDocument
from retrieval.citations import Citation

Intent = (
    Literal[
        "guidance",  # 指南问答
        "data",  # 数据问答
        "scorecard",  # 伙伴记分卡
        "cost",  # 费用与投入产出
        "conflict",  # 窜货乱价排查
        "revise",  # 修改当前草案
        "help",  # 帮助
    ]
    | PlanKindId  # the plan kinds: documents.kinds owns them
)
INTENT_NAMES: dict[str, str] = {
    "guidance": "指南问答",
    "data": "数据问答",
    "scorecard": "伙伴记分卡",
    "cost": "费用与投入产出",
    "conflict": "窜货乱价排查",
    "revise": "修改方案",
    "help": "帮助",
    **{kind.id: kind.zh for kind in PLAN_KINDS.values()},
}
Language = Literal["zh", "en"]


class Route(BaseModel):
    """What the router understood: an intent with its slots, or a clarifying question with options."""

    intent: Intent | None
    confidence: float
    slots: dict[str, Any] = Field(default_factory=dict)
    language: Language = "zh"
    clarify: str | None = None
    options: list[str] = Field(default_factory=list)


class AnswerTable(BaseModel):
    model_config = ConfigDict(arbitrary_types_allowed=True)

    name: str
    frame: pd.DataFrame


class ChartSpec(BaseModel):
    kind: Literal["bar", "line", "none"] = "bar"
    table: str = ""
    x: str = ""
    y: str = ""
    color: str | None = None
    title: str = ""


class Step(BaseModel):
    """One visible step of the pipeline (shown in st.status): route, tool run, passages found, model call."""

    label: str
    detail: str = ""


class Draft(BaseModel):
    """The current plan the user iterates on: its kind, the arguments that produced it, and its document.

    The chat shows `markdown`, the Markdown rendering of `document`; the Word download renders the same
    `document`. Drafts saved before drafts carried their document have none (and cannot be exported to Word).
    """

    kind: PlanKindId
    title: str
    args: dict[str, Any] = Field(default_factory=dict)
    markdown: str = ""
    figures: dict[str, Any] = Field(default_factory=dict)
    version: int = 1
    document: PlanDocument | None = None


class Answer(BaseModel):
    """Everything the UI, the CLI and the history need to show one reply."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    question: str
    route: Route
    markdown: str
    tables: list[AnswerTable] = Field(default_factory=list)
    charts: list[ChartSpec] = Field(default_factory=list)
    citations: list[Citation] = Field(default_factory=list)
    steps: list[Step] = Field(default_factory=list)
    sql: str | None = None
    period: str | None = None
    spec: dict[str, Any] | None = None  # the QuerySpec of a data answer: the frame a follow-up question keeps
    draft: Draft | None = None
    changes: list[str] = Field(default_factory=list)
    numbers: list[float] = Field(default_factory=list)  # every number the tools produced for this answer
    flags: list[str] = Field(default_factory=list)  # post-check warnings (numbers or citations not grounded)
    backend: str = "offline"
    created_at: datetime = Field(default_factory=datetime.now)


def notify(on_event, step: Step, steps: list[Step]) -> None:
    """Record a visible step and tell the listener (the UI's st.status, the CLI's progress line)."""
    steps.append(step)
    if on_event:
        on_event("step", step)
