"""`python -m eval bench answer`: how long one question takes, routing included.

In process: the median (and 90th percentile) of route + answer on the sample company, after a warm-up, for
data questions and for guidance questions from the dev halves of the evaluation sets. Through the command line:
the wall time of `python -m advisor ask "…"` in a fresh process, as a user types it (median of three runs per
question), which includes Python start-up, imports and, for guidance, loading the embedding model.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from eval.guidance import BUILTIN_QUESTIONS
from eval.questions import ROOT, SAMPLE_CASES, TODAY, ask, build_kb, build_sample, load

CLI_QUESTIONS = {
    "data": ["上季度华东销售额", "What was revenue in Q4?", "去年销售额最高的5个经销商"],
    "guidance": ["返利一般分几档", "窜货怎么处理", "What does channel width mean?"],
}


def _quantiles(seconds: list[float]) -> dict:
    ms = sorted(s * 1000 for s in seconds)
    return {
        "n": len(ms),
        "median_ms": round(statistics.median(ms), 1),
        "p90_ms": round(ms[int(0.9 * (len(ms) - 1))], 1),
    }


def in_process(per_kind: int = 40) -> dict:
    os.environ.setdefault("CANMOU_TODAY", TODAY)
    data = [c["question"] for c in load(SAMPLE_CASES) if c["split"] == "dev" and not c.get("history")][:per_kind]
    guidance = [q["question"] for q in load(BUILTIN_QUESTIONS) if q["split"] == "dev"][:per_kind]
    with tempfile.TemporaryDirectory() as tmp:
        store = build_sample(Path(tmp))
        kb = build_kb(Path(tmp))
        ask(store, kb, "上季度华东销售额", [])  # warm-up: parser lexicon, jieba, DuckDB
        ask(store, kb, "返利一般分几档", [])
        figures = {}
        for kind, questions in (("data", data), ("guidance", guidance)):
            seconds = []
            for question in questions:
                started = time.perf_counter()
                ask(store, kb, question, [])
                seconds.append(time.perf_counter() - started)
            figures[kind] = _quantiles(seconds)
    return figures


def through_cli(runs: int = 3) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "CANMOU_DATA_DIR": str(Path(tmp) / "data"), "CANMOU_TODAY": TODAY}
        subprocess.run([sys.executable, "-m", "advisor", "prepare"], cwd=ROOT, env=env, check=True, capture_output=True)
        figures = {}
        for kind, questions in CLI_QUESTIONS.items():
            seconds = []
            for question in questions:
                for _ in range(runs):
                    started = time.perf_counter()
                    subprocess.run(
                        [sys.executable, "-m", "advisor", "ask", question],
                        cwd=ROOT,
                        env=env,
                        check=True,
                        capture_output=True,
                    )
                    seconds.append(time.perf_counter() - started)
            figures[kind] = _quantiles(seconds)
    return figures


def run() -> dict:
    return {"in_process": in_process(), "cli": through_cli()}


def print_report(figures: dict) -> None:
    inner, cli = figures["in_process"], figures["cli"]
    for kind, name in (("data", "数据问题"), ("guidance", "指南问题")):
        print(
            f"{name}：进程内 路由+回答 中位数 {inner[kind]['median_ms']} ms（P90 {inner[kind]['p90_ms']} ms，"
            f"{inner[kind]['n']} 题）；`ask` 命令行整次用时 中位数 {cli[kind]['median_ms'] / 1000:.2f} s"
            f"（P90 {cli[kind]['p90_ms'] / 1000:.2f} s，{cli[kind]['n']} 次）"
        )
