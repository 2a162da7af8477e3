"""`python -m eval guidance`: guidance questions asked through the whole assistant (routing included).

The questions were written before the composer changes by someone who had not read it: 118 over the built-in
guides (eval/guidance_questions.jsonl) and, outside the repository, questions over real public Chinese documents
(`--docs DIR`: the documents plus DIR/*questions.jsonl,
including a second dev batch; their text is not ours, so it is never committed). Each
question names its document, the passage that answers it and the key phrases the answer must state.

Three figures per half (dev/test) and per set:
- answered from the knowledge base: the reply is a guidance answer with at least one citation;
- key phrase stated: the answer text before its source list contains every key phrase (also shown: any);
- retrieval hit@1 / hit@5: a passage from the right document holding a key phrase (or the passage's opening)
  is ranked first / in the first five, with the built-in guides loaded alongside the documents.
"""

from __future__ import annotations

import html
import json
import os
import re
import statistics
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from eval.questions import TODAY, ask, build_sample, load

ROOT = Path(__file__).resolve().parent.parent
BUILTIN_QUESTIONS = ROOT / "eval" / "guidance_questions.jsonl"
SOURCE_LIST = re.compile(r"\n\*\*(?:出处|Sources?)\*\*")
DOCUMENT_SUFFIXES = (".md", ".txt", ".pdf", ".docx")
# spaces, citation marks, emphasis, quote marks, and Markdown's backslash escapes (\| \_ \- render as | _ -)
NOISE = re.compile(r"\s+|\[\d+\]|\*\*|`|[“”\"'‘’「」『』]|\\(?=[^\sA-Za-z0-9\u4e00-\u9fff])")


def normalise(text: str) -> str:
    """Compare text as it reads: without spaces, citation marks, markdown emphasis, quote marks or escapes, and
    with HTML entities as they render (&lt;10% reads <10%)."""
    return NOISE.sub("", html.unescape(text)).lower()


def answer_body(markdown: str) -> str:
    """The answer text before its source list."""
    return SOURCE_LIST.split(markdown, maxsplit=1)[0]


@dataclass
class Outcome:
    question: dict
    from_kb: bool
    stated_all: bool
    stated_any: bool
    rank: int | None  # of the first passage holding the answer, among the first ten
    own_rank: int | None  # the same, searching only the question's own document
    intent: str | None
    seconds: float
    text: str = field(default="", repr=False)


def passage_hit(chunk_text: str, question: dict) -> bool:
    text = normalise(chunk_text)
    phrases = [normalise(p) for p in question.get("key_phrases") or []]
    opening = normalise(question.get("passage") or "")[:16]
    return any(p and p in text for p in phrases) or bool(opening and opening in text)


def rank_of(result, question: dict) -> int | None:
    for position, evidence in enumerate(result.passages, start=1):
        if evidence.chunk.source == question["doc"] and passage_hit(evidence.chunk.text, question):
            return position
    return None


def judge(question: dict, reply, kb) -> Outcome:
    body = normalise(answer_body(reply.markdown))
    phrases = [normalise(p) for p in question.get("key_phrases") or []]
    result = kb.search(question["question"], k=10)
    own = kb.search(question["question"], k=10, sources=[question["doc"]])
    return Outcome(
        question=question,
        from_kb=bool(reply.citations) and reply.route.intent == "guidance",
        stated_all=bool(phrases) and all(p in body for p in phrases),
        stated_any=any(p in body for p in phrases),
        rank=rank_of(result, question),
        own_rank=rank_of(own, question),
        intent=reply.route.intent,
        seconds=0.0,
        text=reply.markdown,
    )


def figures(outcomes: list[Outcome]) -> dict:
    n = len(outcomes)
    if not n:
        return {"n": 0}

    def share(flag) -> float:
        return round(sum(1 for o in outcomes if flag(o)) / n, 3)

    return {
        "n": n,
        "from_kb": share(lambda o: o.from_kb),
        "stated_all": share(lambda o: o.stated_all),
        "stated_any": share(lambda o: o.stated_any),
        "hit1": share(lambda o: o.rank == 1),
        "hit5": share(lambda o: o.rank is not None and o.rank <= 5),
        "own_hit1": share(lambda o: o.own_rank == 1),
        "own_hit5": share(lambda o: o.own_rank is not None and o.own_rank <= 5),
    }


def summarize(outcomes: list[Outcome]) -> dict:
    groups: dict[str, list[Outcome]] = defaultdict(list)
    for o in outcomes:
        q = o.question
        groups["all"].append(o)
        groups[q["split"]].append(o)
        groups[f"{q['set']}/{q['split']}"].append(o)
        groups[f"lang {q['lang']}/{q['split']}"].append(o)
        groups[f"shape {q.get('shape', '?')}/{q['split']}"].append(o)
    report = {name: figures(items) for name, items in sorted(groups.items())}
    report["median_ms"] = round(statistics.median(o.seconds for o in outcomes) * 1000, 1) if outcomes else None
    return report


def load_questions(docs: Path | None, extra: list[Path] | None = None) -> list[dict]:
    """The built-in set, plus every *questions.jsonl in the documents folder and any extra files (a question names
    its document: a built-in guide's file name puts it in the builtin set)."""
    from retrieval.knowledge_base import GUIDES_DIR

    guides = {p.name for p in GUIDES_DIR.glob("*.md")}
    questions = [{**q, "set": "builtin"} for q in load(BUILTIN_QUESTIONS)]
    files = sorted(docs.glob("*questions.jsonl")) if docs is not None else []
    for path in files + list(extra or []):
        questions += [{**q, "set": "builtin" if q["doc"] in guides else "docs"} for q in load(path)]
    return questions


def build_kb(folder: Path, docs: Path | None):
    from retrieval.knowledge_base import KnowledgeBase

    kb = KnowledgeBase(folder / "knowledge")
    kb.ensure_guides()
    if docs is not None:
        for path in sorted(docs.iterdir()):
            if (
                path.is_file()
                and path.name.lower() not in ("sources.md", "readme.md")  # the folder's notes, not documents
                and path.suffix.lower() in (".md", ".txt", ".pdf", ".docx")
            ):
                kb.add(path.name, path.read_bytes(), origin="upload")
    kb.warm_up()
    return kb


def evaluate(questions: list[dict], store, kb) -> list[Outcome]:
    outcomes = []
    for question in questions:
        started = time.perf_counter()
        reply = ask(store, kb, question["question"], [])
        seconds = time.perf_counter() - started
        outcome = judge(question, reply, kb)
        outcome.seconds = seconds
        outcomes.append(outcome)
    return outcomes


def run(
    json_output: bool = False,
    show: bool = False,
    docs: Path | None = None,
    split: str | None = None,
    extra: list[Path] | None = None,
) -> dict:
    os.environ.setdefault("CANMOU_TODAY", TODAY)
    questions = load_questions(docs, extra)
    missing = sorted({q["doc"] for q in questions if q["set"] == "docs"} - {p.name for p in (docs or Path()).iterdir()})
    if docs is not None and missing:
        raise SystemExit(f"--docs {docs} 里缺少这些文档：{'、'.join(missing)}（来源见 eval/round2/SOURCES.md）")
    if split:
        questions = [q for q in questions if q["split"] == split]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        store = build_sample(folder)
        kb = build_kb(folder, docs)
        outcomes = evaluate(questions, store, kb)
    report = summarize(outcomes)
    report["failures"] = [
        {
            "id": o.question["id"],
            "question": o.question["question"],
            "intent": o.intent,
            "from_kb": o.from_kb,
            "stated": o.stated_all,
            "rank": o.rank,
            "key_phrases": o.question.get("key_phrases"),
            "answer": o.text[:400],
        }
        for o in outcomes
        if not (o.from_kb and o.stated_all and o.rank is not None and o.rank <= 5)
    ]
    if json_output:
        print(json.dumps(report, ensure_ascii=False, indent=2))
        return report
    print_report(report, show)
    return report


def print_report(report: dict, show: bool) -> None:
    print(
        f"{'':28}{'题数':>4}{'知识库作答':>8}{'说出全部要点':>10}{'说出任一要点':>10}"
        f"{'hit@1':>7}{'hit@5':>7}{'本文档内 hit@1':>14}"
    )
    for name, f in report.items():
        if name in ("failures", "median_ms") or not f.get("n"):
            continue
        print(
            f"{name:28}{f['n']:>5}{f['from_kb']:>12.3f}{f['stated_all']:>14.3f}{f['stated_any']:>14.3f}"
            f"{f['hit1']:>9.3f}{f['hit5']:>7.3f}{f['own_hit1']:>14.3f}"
        )
    print(f"每题中位用时 {report['median_ms']} ms")
    if show:
        for failure in report["failures"]:
            flags = []
            if not failure["from_kb"]:
                flags.append(f"未从知识库作答（{failure['intent']}）")
            if not failure["stated"]:
                flags.append(f"没说出要点 {failure['key_phrases']}")
            if failure["rank"] is None or failure["rank"] > 5:
                flags.append(f"检索名次 {failure['rank'] or '>10'}")
            print(f"- {failure['id']} {failure['question']}  — {'；'.join(flags)}")
            if show == "answers":
                print("    " + failure["answer"].replace("\n", "\n    "))
