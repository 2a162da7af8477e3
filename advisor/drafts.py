"""Plan drafts in the chat: the plan document of documents.builders, revised by talking.

A draft carries its document and the arguments that produced it. The chat shows the document's Markdown and the
Word download renders the same document. A revision changes the arguments, builds the document again and reports
what changed, so "门槛提高到110%再算" recomputes rather than edits text.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

import pandas as pd

from advisor.types import AnswerTable, ChartSpec, Draft
from company.store import Store
from company.units import CURRENCIES, localise_text, money
from documents.builders import build_plan, default_args
from documents.kinds import plan_kind
from documents.markdown import render_markdown
from documents.model import Chart, PlanDocument
from retrieval.citations import Citation
from tools.base import ToolError

Search = Callable[..., Any]  # KnowledgeBase.search or None


@dataclass
class Built:
    """A draft and what the chat shows beside its text, all taken from the one document."""

    draft: Draft
    tables: list[AnswerTable]
    charts: list[ChartSpec]
    citations: list[Citation]
    numbers: set[float]
    period: str
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # changes the builder made itself (e.g. fitted rates)


# ---- revisions: the user's words (router slots) -> changed arguments, and the change in words --------------------
def apply_incentive_slots(args: dict, slots: dict, everywhere: str = "全国") -> tuple[dict, list[str]]:
    """Apply the user's changes; returns the new arguments and what was changed, in words."""
    new = {**args, "schedule": {**args["schedule"], "tiers": [dict(t) for t in args["schedule"]["tiers"]]}}
    changes: list[str] = []
    tiers = new["schedule"]["tiers"]
    if "threshold" in slots:
        before = [t["threshold"] for t in tiers]
        shift = slots["threshold"] - before[0]
        # Raise the entry threshold; later tiers keep their spacing only where they would otherwise overlap.
        tiers[0]["threshold"] = round(slots["threshold"], 4)
        for previous, tier in pairwise(tiers):
            if tier["threshold"] <= previous["threshold"]:
                tier["threshold"] = round(tier["threshold"] + shift, 4)
        changes.append(f"入门门槛：{before[0]:.0%} → {slots['threshold']:.0%}")
        after = [t["threshold"] for t in tiers]
        if after[1:] != before[1:]:
            changes.append(f"其余档位门槛顺延：{_thresholds(before[1:])} → {_thresholds(after[1:])}")
        cap = new["schedule"].get("max_achievement")
        if cap is not None and cap <= after[-1]:
            # The cap (超过它的完成率不计返利) keeps the room it had above the top tier.
            new["schedule"]["max_achievement"] = round(after[-1] + (cap - before[-1]), 4)
            changes.append(f"封顶完成率：{cap:.0%} → {new['schedule']['max_achievement']:.0%}")
    if "rate_delta" in slots:
        for tier in tiers:
            tier["rate"] = round(max(0.0, tier["rate"] + slots["rate_delta"]), 6)
        changes.append(f"各档返点：{slots['rate_delta'] * 100:+.1f} 个百分点")
    if "mode" in slots and slots["mode"] != new["schedule"]["mode"]:
        new["schedule"]["mode"] = slots["mode"]
        changes.append("计算方式：" + ("分段累进" if slots["mode"] == "marginal" else "全额累进"))
    if "budget" in slots:
        changes.append(f"预算：{money(args.get('budget'))} → {money(slots['budget'])}")
        new["budget"] = slots["budget"]
    _rescope(args, slots, new, changes, everywhere)
    if "period" in slots and slots["period"] not in ("next",):
        changes.append(f"测算期间：{args['period']} → {slots['period']}")
        new["period"] = slots["period"]
    if slots.get("fit_budget"):
        new["fit"] = True  # build_incentive scales the rates to the budget with fit_rebate_budget
    return new, changes


def _rescope(args: dict, slots: dict, new: dict, changes: list[str], everywhere: str) -> None:
    """只看华东: the plan's region; `everywhere` names a plan without one (全国, or a manager's 华东、华南)."""
    if "region" in slots and slots["region"] != args.get("region"):
        changes.append(f"范围：{args.get('region') or everywhere} → {slots['region'] or everywhere}")
        new["region"] = slots["region"]


def _thresholds(values: list[float]) -> str:
    return "/".join(f"{v:.0%}" for v in values)


def apply_work_plan_slots(args: dict, slots: dict, everywhere: str = "全国") -> tuple[dict, list[str]]:
    new, changes = dict(args), []
    _rescope(args, slots, new, changes, everywhere)
    period = slots.get("period")
    if period and period not in ("next", "上季度", "本季度") and period != args.get("quarter"):
        changes.append(f"计划季度：{args.get('quarter') or '下一季度'} → {period}")
        new["quarter"] = period
    if "growth" in slots:
        changes.append(f"销售增长目标：{args['revenue_growth']:.0%} → {slots['growth']:.0%}")
        new["revenue_growth"] = slots["growth"]
    return new, changes


def apply_strategy_slots(args: dict, slots: dict, everywhere: str = "全国") -> tuple[dict, list[str]]:
    new, changes = dict(args), []
    _rescope(args, slots, new, changes, everywhere)
    if slots.get("period") and slots["period"] != "next" and slots["period"] != args.get("period"):
        changes.append(f"分析期间：{args.get('period')} → {slots['period']}")
        new["period"] = slots["period"]
    return new, changes


REVISIONS: dict[str, Callable[..., tuple[dict, list[str]]]] = {
    "incentive": apply_incentive_slots,
    "work_plan": apply_work_plan_slots,
    "strategy": apply_strategy_slots,
}


def initial_args(kind: str, slots: dict) -> dict:
    """The arguments of a new plan: the kind's defaults with what the request named (预算150万, 华东, 2026Q1)."""
    kind = plan_kind(kind).id
    return REVISIONS[kind](default_args(kind), slots)[0]


def incentive_args(slots: dict) -> dict:
    return initial_args("incentive", slots)


# ---- building: the document, and the chat's view of it ------------------------------------------------------------
def build(kind: str, store: Store, args: dict, search: Search | None, version: int = 1) -> Built:
    document = build_plan(kind, args, store, search, version=version)
    draft = Draft(
        kind=document.kind,
        title=document.title,
        args=document.args,
        markdown=render_markdown(document),
        figures=document.figures,
        version=version,
        document=document,
    )
    tables, charts = _chat_tables(document)
    return Built(
        draft,
        tables,
        charts,
        [Citation.model_validate(r.model_dump()) for r in document.references],
        _numbers(document),
        document.metadata.period,
        document.warnings,
        document.adjustments,
    )


def new_draft(kind: str, store: Store, slots: dict, search: Search | None) -> Built:
    return build(kind, store, initial_args(kind, slots), search)


def _chat_tables(document: PlanDocument) -> tuple[list[AnswerTable], list[ChartSpec]]:
    """The document's tables, and its bar and line charts drawn from them (the Gantt chart is in Word only)."""
    tables = [AnswerTable(name=t.caption, frame=t.frame) for t in document.tables()]
    charts = []
    for chart in document.charts():
        if chart.kind not in ("bar", "line"):
            continue
        name = next((t.name for t in tables if _draws(chart, t.frame)), None)
        if name is None:  # the chart shows a part of a table (各档位返利 without 无目标): its own rows
            name = chart.caption or chart.title
            tables.append(AnswerTable(name=name, frame=chart.data))
        charts.append(ChartSpec(kind=chart.kind, table=name, x=chart.x, y=chart.y[0], title=chart.title))
    return tables, charts


def _draws(chart: Chart, frame: pd.DataFrame) -> bool:
    columns = [chart.x, *chart.y]
    if not set(columns) <= set(frame.columns) or len(frame) != len(chart.data):
        return False
    return frame[columns].reset_index(drop=True).equals(chart.data[columns].reset_index(drop=True))


def _numbers(document: PlanDocument) -> set[float]:
    """Every number the document shows in a table or chart, and its headline figures."""
    out = {float(v) for v in document.figures.values() if isinstance(v, int | float) and not isinstance(v, bool)}
    for frame in [t.frame for t in document.tables()] + [c.data for c in document.charts()]:
        for column in frame.select_dtypes("number").columns:
            out.update(float(v) for v in frame[column].dropna().unique())
    return {v for v in out if v == v}  # NaN is not a number anyone reads


# A label's unit: 返利合计(元) -> (返利合计, 元), 费用率(%) -> (费用率, %), 销售额目标 -> (销售额目标, "").
LABEL_UNIT = re.compile(r"^(?P<name>.+?)\((?P<unit>[^()]+)\)$")
CURRENCY_UNITS = {c.zh: c.code for c in CURRENCIES.values()}  # 元 -> CNY, 美元 -> USD


def _name_and_unit(label: str) -> tuple[str, str]:
    match = LABEL_UNIT.match(label)
    return (match["name"], match["unit"]) if match else (label, "")


def figure_changes(old: Draft, new: Draft) -> list[str]:
    """Headline numbers that moved between two versions of a draft, under the new document's Chinese labels; money
    (a label whose unit is a currency) is written as 29.64 万元, in that currency.

    A draft saved before figures had canonical names keys its figures by their Chinese labels: each is matched to
    the new document's figure through the labels, by the label without its unit (the unit may since have been put
    in the dataset's currency)."""
    labels = new.document.figure_labels if new.document is not None else {}
    by_label = {_name_and_unit(label)[0]: key for key, label in labels.items()}
    out = []
    for key, before in old.figures.items():
        name = key if key in new.figures else by_label.get(_name_and_unit(key)[0], key)
        after = new.figures.get(name)
        if isinstance(before, int | float) and isinstance(after, int | float) and before != after:
            label = labels.get(name, key)
            shown, unit = _name_and_unit(label)
            code = CURRENCY_UNITS.get(unit)
            if code is not None:
                out.append(f"{shown}：{localise_text(money(before), code)} → {localise_text(money(after), code)}")
            else:
                out.append(f"{label}：{before:,} → {after:,}")
    return out


def revise(store: Store, draft: Draft, slots: dict, search: Search | None) -> tuple[Built, list[str]]:
    args, changes = REVISIONS[draft.kind](draft.args, slots, everywhere=store.scope_label())
    if not changes and not args.get("fit"):
        raise ToolError(
            "没有看出要改什么。可以这样说：「把返利门槛提高到110%再算一次」「预算改成150万」「只看华东」"
            "「返点提高0.5个点」「改成分段累进」「增长目标改成10%」。"
        )
    built = build(draft.kind, store, args, search, version=draft.version + 1)
    changes = [c for c in changes if c] + built.notes
    return built, changes + [c for c in figure_changes(draft, built.draft) if c not in changes]
