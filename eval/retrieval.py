"""`python -m eval retrieval`: hit@1, hit@5 and MRR per leg and for the fusion, gate accuracy, timings.

The labelled set (eval/retrieval_questions.jsonl) names the file and the `## ` section that
answers each question; a passage hits when it comes from that file under one of those sections.
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from retrieval.knowledge_base import KnowledgeBase
from retrieval.search import Evidence

HERE = Path(__file__).resolve().parent
QUESTIONS = HERE / "retrieval_questions.jsonl"
NEGATIVES = HERE / "retrieval_negatives.jsonl"
RUNS = {"words": ("words",), "bigrams": ("bigrams",), "dense": ("dense",), "fusion": ("words", "bigrams", "dense")}
DEPTH = 10


def load_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def is_hit(passage: Evidence, question: dict) -> bool:
    chunk = passage.chunk
    return (
        chunk.source == question["source"]
        and bool(chunk.heading_path)
        and chunk.heading_path[0] in question["headings"]
    )


@dataclass
class Scores:
    hit1: float
    hit5: float
    mrr: float
    n: int


def score(ranks: list[int | None]) -> Scores:
    n = len(ranks)
    if not n:
        return Scores(0, 0, 0, 0)
    return Scores(
        sum(r == 1 for r in ranks) / n,
        sum(r is not None and r <= 5 for r in ranks) / n,
        sum(1 / r for r in ranks if r) / n,
        n,
    )


def evaluate(kb: KnowledgeBase, questions: list[dict], negatives: list[dict]) -> dict:
    ranks: dict[str, list[tuple[dict, int | None]]] = {run: [] for run in RUNS}
    fusion_ms: list[float] = []
    gate_in: list[bool] = []
    for q in questions:
        for run, legs in RUNS.items():
            result = kb.search(q["question"], k=DEPTH, legs=legs)
            rank = next((p.rank for p in result.passages if is_hit(p, q)), None)
            ranks[run].append((q, rank))
            if run == "fusion":
                fusion_ms.append(result.elapsed_ms)
                gate_in.append(result.found)
    gate_out = [not kb.search(n["question"], k=5).found for n in negatives]
    report: dict = {"questions": len(questions), "runs": {}}
    subsets = {
        "all": lambda q: True,
        "direct": lambda q: q["kind"] == "direct",
        "paraphrased": lambda q: q["kind"] == "paraphrased",
        "zh": lambda q: q["lang"] == "zh",
        "en": lambda q: q["lang"] == "en",
        # Two halves: the fusion settings were compared on the whole set, so each half is shown too.
        "odd": lambda q: int(q["id"][1:]) % 2 == 1,
        "even": lambda q: int(q["id"][1:]) % 2 == 0,
    }
    for run, rows in ranks.items():
        report["runs"][run] = {name: vars(score([r for q, r in rows if keep(q)])) for name, keep in subsets.items()}
    report["median_query_ms"] = round(statistics.median(fusion_ms), 2)
    report["gate"] = {
        "answered_in_domain": round(sum(gate_in) / len(gate_in), 3),
        "refused_out_of_domain": round(sum(gate_out) / len(gate_out), 3) if gate_out else None,
        "negatives": len(negatives),
    }
    report["misses"] = [
        {"id": q["id"], "question": q["question"], "rank": r} for q, r in ranks["fusion"] if r is None or r > 5
    ]
    return report


def run(json_output: bool = False, folder: Path | None = None) -> dict:
    questions, negatives = load_jsonl(QUESTIONS), load_jsonl(NEGATIVES)
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        kb = KnowledgeBase(folder or Path(tmp) / "kb")
        opened = time.perf_counter() - started
        started = time.perf_counter()
        added = kb.ensure_guides()
        index_s = time.perf_counter() - started
        stats = kb.stats()
        kb.search("预热", k=1)  # load the dense model and build BM25 before timing queries
        report = evaluate(kb, questions, negatives)
    report["index"] = {
        "documents": added,
        "chunks": stats["chunks"],
        "seconds": round(index_s, 2),
        "open_seconds": round(opened, 2),
    }
    if json_output:
        print(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        print_report(report)
    return report


def print_report(report: dict) -> None:
    idx = report["index"]
    print(
        f"检索评测：{report['questions']} 个问题；索引 {idx['documents']} 篇 / {idx['chunks']} 段，"
        f"用时 {idx['seconds']} s；融合检索查询中位数 {report['median_query_ms']} ms"
    )
    print(
        f"{'':10}{'全部 hit@1':>12}{'hit@5':>8}{'MRR':>8}  |{'改写题 hit@5':>12}{'MRR':>8}  |"
        f"{'直接题 MRR':>10}  |{'英文 hit@5':>10}{'MRR':>8}"
    )
    for run, subsets in report["runs"].items():
        a, p, d, e = subsets["all"], subsets["paraphrased"], subsets["direct"], subsets["en"]
        print(
            f"{run:10}{a['hit1']:>12.3f}{a['hit5']:>8.3f}{a['mrr']:>8.3f}  |{p['hit5']:>12.3f}{p['mrr']:>8.3f}  |"
            f"{d['mrr']:>10.3f}  |{e['hit5']:>10.3f}{e['mrr']:>8.3f}"
        )
    para = {run: subsets["paraphrased"] for run, subsets in report["runs"].items()}
    best = max((r for r in para if r != "fusion"), key=lambda r: (para[r]["mrr"], para[r]["hit5"]))
    verdict = (
        "胜出"
        if (para["fusion"]["mrr"], para["fusion"]["hit5"]) > (para[best]["mrr"], para[best]["hit5"])
        else "未胜出"
    )
    print(
        f"改写题：融合 hit@5 {para['fusion']['hit5']:.3f} / MRR {para['fusion']['mrr']:.3f}，"
        f"最佳单路（{best}）hit@5 {para[best]['hit5']:.3f} / MRR {para[best]['mrr']:.3f} → 融合{verdict}"
    )
    halves = report["runs"]["fusion"]
    print(
        f"融合分半核对：奇数号 hit@5 {halves['odd']['hit5']:.3f} / MRR {halves['odd']['mrr']:.3f}；"
        f"偶数号 hit@5 {halves['even']['hit5']:.3f} / MRR {halves['even']['mrr']:.3f}"
    )
    counts = report["runs"]["fusion"]
    print(f"（题数：改写 {counts['paraphrased']['n']}，直接 {counts['direct']['n']}，英文 {counts['en']['n']}）")
    gate = report["gate"]
    print(
        f"证据门槛：领域内问题给出依据 {gate['answered_in_domain']:.3f}；"
        f"领域外问题（{gate['negatives']} 个）回答“没有找到依据” {gate['refused_out_of_domain']:.3f}"
    )
    if report["misses"]:
        print(f"融合未进前 5 的问题（{len(report['misses'])} 个）：")
        for miss in report["misses"][:15]:
            print(f"  {miss['id']} {miss['question']}（名次 {miss['rank'] or '>10'}）")
