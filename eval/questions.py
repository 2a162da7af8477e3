"""`python -m eval questions`: executives' data questions, asked through the whole assistant (routing included).

The cases were written before the parser changes by someone who had not read it, from the data catalog
and docs/semantic-layer.md, with expected answers computed in pandas from the raw tables:
eval/data_cases_sample.jsonl (the sample company) and, outside the repository, a cases file over real
third-party exports (`--exports DIR` with the exports; `--export-cases FILE`). Today is fixed at
2026-11-30 and the sample company runs to October 2026, as when the cases were written.

An answer is judged as: exact; a clarification or an explicit "cannot answer" (acceptable when not exact);
or wrong: figures that do not match, or an answer of another kind (guidance, a plan) to a data question.
"""

from __future__ import annotations

import json
import math
import os
import re
import statistics
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_CASES = ROOT / "eval" / "data_cases_sample.jsonl"
TODAY = "2026-11-30"
SAMPLE_END = "2026-10"
REFUSAL_WORDS = ("回答不了", "cannot answer", "无法回答", "缺少")
EXPORT_FILES = {
    "us-dealer-sales": "sales_data_sample.csv",
    "superstore": "Sample - Superstore uncleaned.csv",
    "online-retail": "online_retail_sample.csv",
    "cn-pharmacy-sales": "朝阳医院2018年销售数据.xlsx",
}


@dataclass
class Outcome:
    case: dict
    verdict: str  # exact | clarified | refused | wrong | misrouted | error
    detail: str = ""
    seconds: float = 0.0
    acceptable: bool = field(default=False)


def load(path: Path) -> list[dict]:
    """A question set, one JSON object per line; a missing file or a bad line stops with what to fix."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise SystemExit(
            f"读不了题集文件 {path}：{exc.strerror or exc}。请检查路径（来源见 eval/round2/SOURCES.md）。"
        ) from None
    questions = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            questions.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise SystemExit(
                f"题集文件 {path} 第 {number} 行不是有效的 JSON：{exc.msg}。请改正这一行后重跑。"
            ) from None
    return questions


def _close(got: float, want: float) -> bool:
    if got is None or (isinstance(got, float) and math.isnan(got)):
        return False
    for scale in (1, 100, 0.01):  # ratios may be shown in %
        value = got / scale
        if abs(value - want) <= max(0.011, abs(want) * 0.002):
            return True
    return False


def _rows(answer) -> list[tuple[list[str], list[float]]]:
    """(text cells, number cells) per row of the answer's numeric table."""
    table = next((t.frame for t in answer.tables if t.name == "数值"), None)
    if table is None:
        return []
    out = []
    for _, row in table.iterrows():
        texts = [str(v) for v in row if isinstance(v, str) or (v is not None and not isinstance(v, int | float))]
        texts += [
            str(int(v))
            for v in row
            if isinstance(v, int | float) and not isinstance(v, bool) and v == v and float(v).is_integer()
        ]  # years and months as numbers are group keys too
        numbers = [float(v) for v in row if isinstance(v, int | float) and not isinstance(v, bool) and pd.notna(v)]
        out.append((texts, numbers))
    return out


QUARTER_LABEL = re.compile(r"^(\d{4})\s*-?\s*q([1-4])$", re.IGNORECASE)


def _label(text: str) -> str:
    """A group label as written by the answer or the case: 2017Q1 and 2017-Q1 are one quarter."""
    return QUARTER_LABEL.sub(r"\1Q\2", str(text).strip())


def judge(case: dict, answer) -> tuple[str, str]:
    expect = case["expect"]
    kind = expect["kind"]
    text = answer.markdown
    clarified = answer.route.intent is None or bool(answer.route.clarify)
    refused = any(word in text for word in REFUSAL_WORDS) and not answer.tables
    if kind == "clarify":
        if clarified or refused:
            missing = [m for m in expect.get("mentions", []) if m not in text]
            return ("exact", "") if not missing else ("clarified", f"没有提到 {missing}")
        return "wrong", "应当反问澄清，却直接回答了"
    if kind == "refuse":
        if refused or clarified:
            mentioned = any(m.lower() in text.lower() for m in expect.get("mentions", []))
            return ("exact", "") if mentioned else ("refused", "拒答但没有说出缺少的数据")
        return "wrong", "这份数据回答不了，却给出了回答"
    if clarified:
        return "clarified", answer.route.clarify or text[:80]
    if refused:
        return "refused", text[:120]
    if answer.route.intent != "data":
        return "misrouted", f"走到了「{answer.route.intent}」"
    rows = _rows(answer)
    if kind == "value":
        if len(rows) != 1:
            return "wrong", f"期望一个数，得到 {len(rows)} 行"
        if any(_close(n, expect["value"]) for n in rows[0][1]):
            return "exact", ""
        return "wrong", f"期望 {expect['value']}，得到 {rows[0][1][:4]}"
    if kind == "rows":
        wanted = expect["rows"]
        if len(rows) != len(wanted):
            return "wrong", f"期望 {len(wanted)} 行，得到 {len(rows)} 行"
        labels = [{_label(t) for t in texts} for texts, _n in rows]
        order = [next((i for i, held in enumerate(labels) if _label(key) in held), None) for key, _v in wanted]
        if None in order:
            return "wrong", f"缺少 {[k for (k, _v), o in zip(wanted, order, strict=True) if o is None][:3]}"
        for (key, value), index in zip(wanted, order, strict=True):
            if not any(_close(n, value) for n in rows[index][1]):
                return "wrong", f"{key}：期望 {value}，得到 {rows[index][1][:4]}"
        if expect.get("ordered") and order != sorted(order):
            return "wrong", "顺序不对"
        return "exact", ""
    if kind == "set":
        members = set(expect["members"])
        got = [texts for texts, _n in rows]
        found = {m for m in members if any(m in texts for texts in got)}
        if found == members and len(rows) == len(members):
            return "exact", ""
        return "wrong", f"期望 {len(members)} 个，得到 {len(rows)} 行，命中 {len(found)}"
    return "error", f"未知的期望类型 {kind}"


def build_sample(folder: Path):
    from company.sample import generate
    from company.store import Profile, Store

    store = Store(folder / "sample")
    store.replace_all(generate(partners=240, months=24, seed=7, end_month=SAMPLE_END).tables, meta={"source": "sample"})
    store.save_profile(Profile(name="示例公司", kind="sample"))
    return store


def export_file(folder: Path, slug: str) -> Path:
    """The export in its folder: the file named in EXPORT_FILES, else the folder's only table file."""
    named = folder / EXPORT_FILES.get(slug, "")
    if slug in EXPORT_FILES and named.is_file():
        return named
    found = [p for p in sorted(folder.glob("*")) if p.suffix.lower() in (".csv", ".txt", ".xlsx")]
    if len(found) != 1:
        raise SystemExit(
            f"{folder} 里应当正好有一个导出文件（csv/txt/xlsx），现在有 {len(found)} 个；来源见 eval/round2/SOURCES.md"
        )
    return found[0]


def build_export(folder: Path, exports: Path, slug: str):
    from company.errors import ImportRejected
    from company.importers import import_file
    from company.store import Store

    store = Store(folder / slug)
    source = export_file(exports / slug, slug)
    try:
        import_file(store, source, max_mb=1024)
    except ImportRejected as exc:
        if exc.report.needs_date_order:
            import_file(store, source, max_mb=1024, date_order="mdy")
        elif exc.report.error_rows:  # the pharmacy export's 2018-02-29 rows: skipped, as a user would choose
            import_file(store, source, max_mb=1024, skip_bad_rows=True)
        else:
            raise
    return store


def build_kb(folder: Path):
    from retrieval.knowledge_base import KnowledgeBase

    kb = KnowledgeBase(folder / "knowledge")
    kb.ensure_guides()
    kb.warm_up()
    return kb


def ask(store, kb, question: str, history: list[str]):
    from advisor.pipeline import Context, answer
    from advisor.settings import get_settings

    turns: list[dict[str, Any]] = []
    context = Context(store=store, kb=kb, settings=get_settings(), history=turns)
    for earlier in history:
        reply = answer(earlier, context)
        turns += [
            {"role": "user", "content": earlier},
            {"role": "assistant", "content": reply.markdown, **({"spec": reply.spec} if reply.spec else {})},
        ]
        context.history = list(turns)
    return answer(question, context)


def evaluate(cases: list[dict], stores: dict, kb) -> list[Outcome]:
    outcomes = []
    for case in cases:
        store = stores.get(case["dataset"])
        if store is None:
            continue
        started = time.perf_counter()
        try:
            reply = ask(store, kb, case["question"], case.get("history") or [])
            verdict, detail = judge(case, reply)
        except Exception as exc:
            verdict, detail = "error", f"{type(exc).__name__}: {exc}"
        outcome = Outcome(case, verdict, detail, time.perf_counter() - started)
        outcome.acceptable = verdict in ("exact", "clarified", "refused")
        outcomes.append(outcome)
    return outcomes


def summarize(outcomes: list[Outcome]) -> dict:
    def part(items: list[Outcome]) -> dict:
        n = len(items)
        counts = Counter(o.verdict for o in items)
        return {
            "cases": n,
            "exact": round(counts["exact"] / n, 3) if n else None,
            "exact_n": counts["exact"],
            "wrong": counts["wrong"] + counts["misrouted"] + counts["error"],
            "verdicts": dict(counts),
        }

    report = {"all": part(outcomes)}
    for split in sorted({o.case["split"] for o in outcomes}):
        report[split] = part([o for o in outcomes if o.case["split"] == split])
    for dataset in sorted({o.case["dataset"] for o in outcomes}):
        for split in sorted({o.case["split"] for o in outcomes}):
            chosen = [o for o in outcomes if o.case["dataset"] == dataset and o.case["split"] == split]
            if chosen:
                report[f"{dataset}/{split}"] = part(chosen)
    for lang in ("zh", "en"):
        report[f"lang {lang}"] = part([o for o in outcomes if o.case["lang"] == lang])
    times = [o.seconds * 1000 for o in outcomes]
    report["median_ms"] = round(statistics.median(times), 1) if times else None
    return report


def run(
    json_output: bool = False,
    show: str | None = None,
    exports: Path | None = None,
    export_cases: Path | None = None,
    split: str | None = None,
    extra_cases: list[Path] | None = None,
) -> dict:
    os.environ.setdefault("CANMOU_TODAY", TODAY)
    cases = load(SAMPLE_CASES)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        stores = {"sample": build_sample(folder)}
        first_round = export_cases or (exports.parent / "eval_data" / "export_cases.jsonl" if exports else None)
        if exports is not None and first_round.is_file():  # the first round's export cases, when present
            extra = load(first_round)
            cases += extra
            for slug in sorted({c["dataset"] for c in extra}):
                stores[slug] = build_export(folder, exports, slug)
        kb = build_kb(folder)
        for path in extra_cases or []:
            extra = load(path)
            cases += extra
            for slug in sorted({c["dataset"] for c in extra} - set(stores)):
                stores[slug] = build_export(folder, exports, slug) if exports else None
        if split:
            cases = [c for c in cases if c["split"] == split]
        outcomes = evaluate(cases, stores, kb)
    report = summarize(outcomes)
    report["failures"] = [
        {"id": o.case["id"], "question": o.case["question"], "verdict": o.verdict, "detail": o.detail}
        for o in outcomes
        if o.verdict != "exact"
    ]
    if json_output:
        print(json.dumps(report, ensure_ascii=False, indent=2))
        return report
    for key, value in report.items():
        if key in ("failures", "median_ms"):
            continue
        print(
            f"{key:<24} {value['exact_n']:>3}/{value['cases']:<3} exact {value['exact']}  wrong {value['wrong']}  "
            f"{value['verdicts']}"
        )
    print(f"median per question {report['median_ms']} ms")
    if show:
        for failure in report["failures"]:
            if show == "all" or failure["verdict"] == show:
                print(f"- {failure['id']} [{failure['verdict']}] {failure['question']}  — {failure['detail']}")
    return report
