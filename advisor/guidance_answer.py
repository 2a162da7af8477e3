"""Guidance answers from retrieved passages, without an LLM: the first sentence answers the question.

A passage is cut into units that can be quoted whole: a sentence, a list with its lead-in (never one without
the other, never items of two lists stitched together), or a table row with its header. Units are scored
against the question (shared ideas, meaning when an embedder is at hand, the passage's rank) and by the
question's shape:
- enumeration (有哪些 / 哪几种 / what are the): a list, a 一是…二是… or （1）… sentence, or a 、-series;
- figure (多少 / 几天 / how long): a unit with a number in it;
- how-to (怎么 / 如何 / how do): an ordered list or a sentence of steps;
- definition (是什么 / 指什么 / what is): a sentence that says what something is.
The best unit comes first, quoted whole with its citation; one or two close runners-up follow. The source is
named as it is: the user's own file or the built-in guide. English questions get English framing around the
quoted Chinese.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from company.language import CJK
from documents.markdown import plain
from retrieval.chunking import ARTICLE, ARTICLE_NUMBER, REFERENCE, Chunk, article_number, sentences
from retrieval.search import LATIN, QUESTION_WORDS, Evidence, analyse

# Weights of a unit's score (chosen on the dev half of `python -m eval guidance`): shared ideas count 1, meaning
# (cosine) 1.2, the passage's rank 0.25 / rank, the shape bonus as given by _shape_bonus.
W_PRIOR = 0.25
W_MEANING = 1.2
W_SHAPE = 1.0
W_RARE = 0.3  # weight of an idea's rarity among the candidate units (an IDF)
W_ONE_CHARACTER = 0.35  # weight of a one-character idea of the question (卖 / 定 / 看)
W_LEAD = 0.3  # an enumeration question's list is the one whose lead-in names what is asked (厂家的主要义务：)
W_BEST_ITEM = 0.5  # a list's shared ideas: this share from its best item (with the lead-in), the rest from all of it
LINE_BUDGET = 12  # lines of quotes after which only a runner-up of a line or two is added
RUNNER_UP = 0.7
# A best sentence this short (代理商和经销商最容易混淆，判断标准是"货是谁的"。) opens what its next sentence says
# (买断的是经销商…): the answer quotes both.
SHORT_SENTENCE = 40
Similarity = Callable[[str, list[str]], list[float]]  # question, texts -> cosine similarity per text

ITEM = re.compile(
    r"^\s*(?:[-*•·]\s+(?:\[[ xX]\]\s*)?|\d{1,2}\s*[.、)）]\s*|[（(]\s*[一二三四五六七八九十\d]{1,3}\s*[)）]\s*|"
    r"[一二三四五六七八九十]{1,3}、\s*|[①②③④⑤⑥⑦⑧⑨⑩]\s*|第[一二三四五六七八九十\d]{1,3}步[：:，,、.。]?\s*)"
)
ORDERED = re.compile(
    r"^\s*(?:\d{1,2}\s*[.、)）]|[（(]\s*[一二三四五六七八九十\d]{1,3}\s*[)）]|[一二三四五六七八九十]{1,3}、|[①-⑩]|"
    r"第[一二三四五六七八九十\d]{1,3}步)"
)
EMPHASIS = re.compile(r"\*\*|__|`")
LEAD_IN = re.compile(r"[：:]\s*$")
NUMBER = re.compile(
    r"\d|[一二两三四五六七八九十百千万]+(?:个|天|日|年|月|周|次|家|成|倍|档|级|层|类|种|条|项|分|折|%|％)|半年|季度|百分之"
)
INLINE_SERIES = re.compile(
    r"一是.{2,}二是|[（(]1[)）].{2,}[（(]2[)）]|[（(]一[)）].{2,}[（(]二[)）]|(?:[^、，。]{1,12}、){2,}"
)
# 是指 / 称为: what a thing is; 判断标准是 / 区别在于: how two things are told apart (代理商跟经销商咋区分)
DEFINES = re.compile(
    r"是指|指的是|即|就是|称为|叫做|定义|^[^，。]{1,20}(?:指|是)|标准是|区别在于|区别是|不同在于|差别在于|关键看"
)
ENDS = "。！？!?"
CLOSERS = "”’」』）)\"'"
OPENS, SHUTS = "“‘「『（(", "”’」』）)"
QUOTE_CHARS = 260  # longer than this, a sentence is cut at its clauses
COUNTER = re.compile(r"(?:几|多少)\s*(个点|档|级|天|年|个月|家|次|成|层|类|种|项|条|分|倍|周|小时|日)")
DEFINING_AFTER = r"[，,]?\s*(?:是指|指的是|指|即|就是|不是|不依靠|不靠|并不|是一种|是把|是让|是由|是厂家|是企业)"
FORMULA_AFTER = r"[\u4e00-\u9fff]{0,3}\s*[=＝]"  # 价格合规率 = …, asked as 价格 合规
WHY_MARK = re.compile(
    r"为了|^第[一二三四五六七八九十百]+条\s*为|目的|因为|原因|由于|否则|以免|避免|防止|在于|根子|根源|导致|结果"
)
DEONTIC = re.compile(r"不得|禁止|不能|不可|不允许|不应|可以|允许|应当|必须|须|无需|无须|不必|不需要|不要")
W_YESNO = 0.15
QUALIFIER = re.compile(r"(?:但是|但|不过|否则|除非|除外|如果不|若不)[，,\s]?")
# 这样经销商会更重视培训 / 因此… / 上述… say nothing without the sentence before them: the two are quoted as one
ANAPHOR = re.compile(
    r"(?:这样|这么做|这种|这类|这些|这个|这一点|这是|这时|这就|这也|这两|这三|这几|此时|因此|所以|为此|对此|由此|"
    r"反之|上述|前者|后者)"
)
ORDINALS = re.compile(r"第[一二三四五六七八九十百零〇\d]{1,6}[条款项章节步]")
# 可以问四个问题： / 注意三点： / 分两种： — a count of things, then a colon: the things follow
COUNTED_LEAD = re.compile(
    r"([二两三四五六七八九十]|\d)\s*(?:个)?(?:问题|件事|个方面|方面|点|条|类|种|步)[^，。？！?!：:]{0,8}[：:]"
)
MAX_ANNOUNCED = 8
STEPS = re.compile(r"先|再|然后|最后|首先|其次|第一步|第二步|之后")

SHAPES: list[tuple[str, re.Pattern]] = [
    (
        "enumeration",
        re.compile(
            r"哪些|哪几|几种|几类|几个方面|几块|几层|几项|分为|分成|包括|包含|有什么(?!用|要求)|都有啥|列一下|"
            r"\bwhat are\b|\bwhich\b|\blist\b|\btypes of\b|\bkinds of\b|\bways\b|\bmethods\b|\bsteps\b|"
            r"\bwhat (?:should|do) .{0,30}\binclude\b|"
            r"\bwhat (?:[a-z-]+ ){0,2}[a-z]+(?<!s)s\b (?:should|must|do|does|are|need|can|will)\b",
            re.IGNORECASE,
        ),
    ),
    (
        "figure",
        re.compile(
            r"多少|几天|几年|几个月|几次|几家|几成|几档|几级|几个点|多久|多长|多大|比例|占比|百分|上限|下限|门槛|"
            r"\bhow (?:much|many|long|often|soon|big|large|high|low|far)\b|\bcap(?:ped)?\b|\bceiling\b|"
            r"\bwhat (?:percentage|share|ratio|threshold|limit)\b|\bminimum\b|\bmaximum\b",
            re.IGNORECASE,
        ),
    ),
    (
        "definition",
        re.compile(
            r"是什么|什么是|啥是|指什么|指啥|什么意思|啥意思|什么概念|啥概念|含义|定义|界定|认定|算不算|什么算|怎样才算|"
            r"怎么回事|咋回事|什么叫|啥叫|区分|区别|分清|差别|有什么不同|有啥不同|"
            r"\bdifference between\b|\bdiffers? from\b|\bdistinguish\b|\btell .{1,30} apart\b|\bversus\b|\bvs\.?\s|"
            r"\bwhat counts as\b|\bwhat is meant by\b|\bwhat(?: i|\')s (?:a |an |the )?['\"‘“][^'\"’”]{2,40}['\"’”]|"
            r"\bwhat (?:is|does) .{0,40}\bmean|\bdefin|\bwhat(?: i|\')s (?:a |an |the )?\S+(?: \S+)?\??$",
            re.IGNORECASE,
        ),
    ),
    ("why", re.compile(r"为什么|为啥|为何|何必|\bwhy\b|\bwhat for\b|\bpurpose\b|目的是|图什么", re.IGNORECASE)),
    ("howto", re.compile(r"怎么|咋|如何|怎样|步骤|流程|\bhow (?:to|do|should|can|could|would)\b", re.IGNORECASE)),
    (
        "yesno",
        re.compile(
            r"能不能|能否|可不可以|可以吗|可以不|行不行|行吗|可否|是否|要不要|需不需要|用不用|得不得|算不算|会不会|"
            r"吗[？?]|吗\s*$|吧[？?]?\s*$|([\u4e00-\u9fff])不\1|"
            r"(?:^|[.?!,;:]\s*)(?:can|could|may|must|should|is|are|do|does|did|will|would)\s+"
            r"(?:we|i|you|she|he|they|it|a|an|the|our|my|this|that|there)\b|"
            r"\b(?:is it (?:ok|okay|legal|allowed|fine)|are we allowed|do (?:we|i) (?:have|need) to)\b",
            re.IGNORECASE,
        ),
    ),
]


# What a fine or penalty comes to is a figure, however it is asked (what are the fines / 会怎么罚)
PENALTY = re.compile(
    r"\bfines?\b|\bfined\b|\bpenalt(?:y|ies)\b|罚款?多少|怎么罚|罚几|罚多少|"
    r"会怎样|会怎么样|会咋样|会有什么后果|什么后果|啥后果|咋罚|会被怎么|\bwhat happens if\b|\bconsequences?\b",
    re.IGNORECASE,
)


# 有几项拿不到证据咋办 asks what to do, whatever else it counts
WHAT_TO_DO = re.compile(
    r"怎么办|咋办|咋整|怎么处理|如何处理|怎么破|该怎么弄|\bwhat (?:should|do) (?:we|i) do\b", re.IGNORECASE
)


# 先搞哪个后搞哪个 / in what order: the steps in order, whatever it counts (那几种形式)
SEQUENCE = re.compile(
    r"先[^，,。？?]{0,6}后|先(?:搞|做|上|推)哪|哪个先|(?:什么|啥)顺序|先后顺序|"
    r"\bin (?:what|which) order\b|\bfirst\b.{0,30}\bthen\b",
    re.IGNORECASE,
)


def shape_of(question: str) -> str:
    if PENALTY.search(question):
        return "figure"
    if WHAT_TO_DO.search(question) or SEQUENCE.search(question):
        return "howto"
    for name, pattern in SHAPES:
        if pattern.search(question):
            return name
    return "other"


@dataclass
class Unit:
    """A quotable piece of one passage."""

    evidence: Evidence
    position: int
    kind: str  # sentence | list | row
    lead: str = ""  # a list's lead-in, or a table row's header
    items: list[str] = field(default_factory=list)
    ordered: bool = False
    marks: list[str] = field(default_factory=list)  # each item's own number as written (4. / 第四步 / （四）)
    follow: str = ""  # a sentence's next sentence in the same paragraph
    # A list made whole across passages (whole_list): the passage the lead-in and each item were read from,
    # None for this unit's own passage; each line cites its own passage.
    lead_from: Chunk | None = None
    items_from: list[Chunk | None] = field(default_factory=list)
    table: bool = False  # a table read as the list its lead-in announces (quoted for enumeration questions only)

    @property
    def text(self) -> str:
        return "\n".join([self.lead, *self.items]) if self.kind != "sentence" else self.lead


def _clean(text: str) -> str:
    return EMPHASIS.sub("", text).strip()


def _cells(line: str) -> list[str]:
    return [_clean(c) for c in line.strip().strip("|").split("|")]


def _sentences(line: str) -> list[str]:
    """Whole sentences: a legal article's "…的，处…罚款；情节严重的，处…" stays one (no split at ；), a short
    article stays whole (第十三条 …不少于3年。但是，被特许人同意的除外。), a sentence opening with 但是 / 不过 /
    否则 stays with the sentence it qualifies, and one opening with 这样 / 因此 / 上述 with the sentence it points
    back to."""
    line = line.strip()
    if ARTICLE.match(line) and len(line) <= QUOTE_CHARS:
        return [line]
    out: list[str] = []
    for piece in _full_stops(line):
        parts = sentences(piece) if len(piece) > QUOTE_CHARS else [piece]
        for part in parts:
            if out and _leans_back(part) and len(out[-1]) + len(part) <= QUOTE_CHARS:
                out[-1] += part
            else:
                out.append(part)
    return [s.strip() for s in out if len(s.strip()) >= 4]


def _leans_back(sentence: str) -> bool:
    """A sentence that qualifies (但是…) or refers back to (这样… / 因此…) the one before it."""
    sentence = sentence.strip()
    return bool(QUALIFIER.match(sentence) or ANAPHOR.match(sentence))


Neighbour = Callable[[Chunk, int], "Chunk | None"]  # the passage before (-1) or after (+1) one of its document


LIST_PASSAGES = 3  # passages after its own a quoted list may run on into


def whole_list(unit: Unit, neighbour: Neighbour | None) -> Unit:
    """A quoted list made whole across passages: a list running to its passage's end takes the items the next
    passage continues it with, and a list opening a passage takes the lead-in and items the previous passage began
    it with (same document and section). Passages of about 300 characters often cut a list in two (第三十条 出现
    下列情形之一…：(一)… | (二)…(三)…), and half a list answers nothing. Units are ranked as retrieved; only the
    ones quoted are completed."""
    if unit.kind != "list" or neighbour is None:
        return unit
    chunk = unit.evidence.chunk
    lines = [line for line in chunk.text.splitlines() if line.strip()]
    own = units_of(unit.evidence)
    lead, items, marks, lead_from = unit.lead, list(unit.items), list(unit.marks), None
    sources: list[Chunk | None] = [None] * len(items)
    current = chunk
    running = unit.position == len(own) - 1 and lines and ITEM.match(_clean(lines[-1]))
    for _ in range(LIST_PASSAGES):  # a long list (a specification's fields) runs on over several passages
        following = neighbour(current, 1) if running else None
        if following is None or following.heading_path != chunk.heading_path:
            break
        continued = units_of(replace(unit.evidence, chunk=following))
        first = continued[:1]
        if not (first and first[0].kind == "list" and not first[0].lead and first[0].ordered == unit.ordered):
            break
        items, marks = items + first[0].items, marks + first[0].marks
        sources += [following] * len(first[0].items)
        rest = [line for line in following.text.splitlines() if line.strip()]
        running = len(continued) == 1 and bool(rest) and bool(ITEM.match(_clean(rest[-1])))
        current = following
    if unit.position == 0 and not lead and lines and ITEM.match(_clean(lines[0])):
        previous = neighbour(chunk, -1)
        if previous is not None and previous.heading_path == chunk.heading_path:
            last = units_of(replace(unit.evidence, chunk=previous))[-1:]
            earlier = [line for line in previous.text.splitlines() if line.strip()]
            if last and last[0].kind == "list" and last[0].lead and ITEM.match(_clean(earlier[-1])):
                lead, items, marks = last[0].lead, last[0].items + items, last[0].marks + marks
                lead_from, sources = previous, [previous] * len(last[0].items) + sources
    if (lead, items) == (unit.lead, unit.items):
        return unit
    return replace(unit, lead=lead, items=items, marks=marks, lead_from=lead_from, items_from=sources)


def _full_stops(line: str) -> list[str]:
    """The line cut after each 。！？ that is not inside quotes or brackets: 可以问他们："主推哪个牌子？""老板最看重
    什么？"——答案会比老板的介绍更真实。 is one sentence (a straight quote " opens and closes by turns)."""
    pieces, start, depth, straight, i = [], 0, 0, False, 0
    while i < len(line):
        char = line[i]
        if char == '"':
            straight = not straight
        elif char in OPENS:
            depth += 1
        elif char in SHUTS:
            depth = max(0, depth - 1)
        elif char in ENDS and not depth and not straight:
            while i + 1 < len(line) and line[i + 1] in ENDS:
                i += 1
            while i + 1 < len(line) and line[i + 1] in CLOSERS and line[i + 1] != '"':
                i += 1
            pieces.append(line[start : i + 1])
            start = i + 1
        i += 1
    if line[start:].strip():
        pieces.append(line[start:])
    return pieces


def units_of(evidence: Evidence) -> list[Unit]:
    """Sentences, lists (lead-in + items) and table rows of one passage, in reading order."""
    out: list[Unit] = []
    # **第一步：核实证据。** … is an item once the emphasis is gone
    lines = [_clean(line) if not line.lstrip().startswith("|") else line for line in evidence.chunk.text.splitlines()]
    lines = [line for line in lines if line.strip()]
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.lstrip().startswith("|"):
            opens = i == 0
            header, rows, i = _table(lines, i)
            heading = evidence.chunk.heading_path[-1] if evidence.chunk.heading_path else ""
            if opens and heading and rows:
                # a table opening its section (## 五个核心培训模块 | 模块 | 主要内容 |): the list the heading names
                out.append(Unit(evidence, len(out), "list", lead=f"{_clean(heading)}：", items=rows, table=True))
            out += [
                Unit(evidence, len(out) + n, "row", lead=" | ".join(header), items=[row]) for n, row in enumerate(rows)
            ]
            continue
        if ITEM.match(line):  # a list whose lead-in is in an earlier passage: the items stand alone
            items, marks, i = _items(lines, i)
            out.append(Unit(evidence, len(out), "list", items=items, ordered=bool(ORDERED.match(line)), marks=marks))
            continue
        parts = _sentences(_clean(line))
        following = lines[i + 1] if i + 1 < len(lines) else ""
        if parts and LEAD_IN.search(parts[-1]) and ITEM.match(following):
            out += _sentence_units(evidence, len(out), parts[:-1])
            items, marks, i = _items(lines, i + 1)
            out.append(
                Unit(
                    evidence,
                    len(out),
                    "list",
                    lead=parts[-1],
                    items=items,
                    ordered=bool(ORDERED.match(following)),
                    marks=marks,
                )
            )
            continue
        if parts and LEAD_IN.search(parts[-1]) and following.lstrip().startswith("|"):
            # 再合并成四个运营群：| 客户群 | 特征 |…: the table is the list the lead-in announces (its rows are also
            # units of their own, read next, for a question about one of them)
            out += _sentence_units(evidence, len(out), parts[:-1])
            if rows := _table(lines, i + 1)[1]:
                out.append(Unit(evidence, len(out), "list", lead=parts[-1], items=rows, table=True))
            i += 1
            continue
        out += _sentence_units(evidence, len(out), [s for s in parts if not LEAD_IN.search(s) or s is not parts[-1]])
        i += 1
    return out


def _table(lines: list[str], start: int) -> tuple[list[str], list[str], int]:
    """The table starting at lines[start]: its header, its rows each as 表头：值；… (the rule left out), and the
    index of the first line after it."""
    header: list[str] = []
    rows: list[str] = []
    end = start
    while end < len(lines) and lines[end].lstrip().startswith("|"):
        cells = _cells(lines[end])
        end += 1
        if all(re.fullmatch(r":?-{2,}:?", c) or not c for c in cells):
            continue
        if not header:
            header = cells
            continue
        rows.append("；".join(f"{h}：{c}" for h, c in zip(header, cells, strict=False) if c))
    return header, rows, end


def _sentence_units(evidence: Evidence, position: int, parts: list[str]) -> list[Unit]:
    """One unit per sentence of a paragraph, each knowing the sentence after it (see SHORT_SENTENCE). A sentence
    announcing a number of things (可以问四个问题：他们在哪里获取信息？在哪里下单？…) is one unit with the sentences
    that carry them: the announcement alone answers nothing."""
    parts = _announced(parts)
    return [
        Unit(evidence, position + n, "sentence", lead=text, follow=parts[n + 1] if n + 1 < len(parts) else "")
        for n, text in enumerate(parts)
    ]


def _announced(parts: list[str]) -> list[str]:
    out: list[str] = []
    n = 0
    while n < len(parts):
        text = parts[n]
        m = COUNTED_LEAD.search(text)
        count = article_number(m.group(1).replace("两", "二")) if m else None
        if m and count and 2 <= count <= MAX_ANNOUNCED:
            said = len([p for p in re.split(r"[；;]", text[m.end() :]) if p.strip()])  # items already in it
            more = min(count - said, len(parts) - n - 1) if said < count else 0
            if more > 0 and said + more == count:
                text = "".join(parts[n : n + 1 + more])
                n += more
        out.append(text)
        n += 1
    return out


def _items(lines: list[str], start: int) -> tuple[list[str], list[str], int]:
    """List items from `start` while lines look like items of the same list: their texts, their own numbers
    (empty for bullets) and the next index."""
    items, marks = [], []
    i = start
    while i < len(lines) and (m := ITEM.match(lines[i])):
        items.append(_clean(lines[i][m.end() :]))
        marks.append(m.group(0).strip().rstrip("：:，,、.。").strip() if ORDERED.match(lines[i]) else "")
        i += 1
    return items, marks, i


ASKING = re.compile(r"^(?:哪|几|多少|什么|啥|怎|如何|为何|为啥)")  # 哪几个 / 几样 / 怎么样: how it is asked, not what


def _concepts(question: str, known: Callable[[str], bool] | None = None) -> list[frozenset[str]]:
    return [
        c for c in analyse(question, known).concepts if not c <= QUESTION_WORDS and not all(ASKING.match(t) for t in c)
    ]


def _weight(concept: frozenset[str], concepts: list[frozenset[str]]) -> float:
    """A one-character idea (卖 / 定 / 看) says little; a fragment of a longer word of the question (净水 in 净水器)
    repeats it."""
    if all(any(t != u and t in u for other in concepts if other is not concept for u in other) for t in concept):
        return 0.0
    return W_ONE_CHARACTER if all(len(t) == 1 for t in concept) else 1.0


def _untranslated(concept: frozenset[str]) -> bool:
    """An English word of the question the glossary has no Chinese for (existing / behalf / certified). Where no
    candidate holds it either, it tells them nothing apart and only dilutes the ideas that do."""
    return all(LATIN.fullmatch(term.lower()) for term in concept)


def _holds(concept: frozenset[str], low: str) -> bool:
    return any(term in low for term in concept)


def _overlap(concepts: list[frozenset[str]], weights: list[float], text: str) -> float:
    total = sum(weights)
    if not total:
        return 0.0
    low = text.lower()
    return sum(w for c, w in zip(concepts, weights, strict=True) if _holds(c, low)) / total


def _lexical(concepts: list[frozenset[str]], weights: list[float], unit: Unit, text: str) -> float:
    """Shared ideas; a list's count partly by its best item, so a long list does not win by its length alone."""
    whole = _overlap(concepts, weights, text)
    if unit.kind != "list" or len(unit.items) < 2:
        return whole
    heading = " ".join(unit.evidence.chunk.heading_path)
    best = max(_overlap(concepts, weights, f"{unit.lead} {item} {heading}") for item in unit.items)
    return W_BEST_ITEM * best + (1 - W_BEST_ITEM) * whole


TOTAL_ASKED = re.compile(r"总共|一共|合计|总计|共计|加起来|总量|in total|\btotal\b|altogether|overall", re.IGNORECASE)
TOTAL_STATED = re.compile(r"总计|合计|共计|总共|一共|\btotal\b", re.IGNORECASE)


def _shape_bonus(
    shape: str,
    unit: Unit,
    counter: str | None = None,
    subjects: Sequence[str] = (),
    penalty: bool = False,
    total: bool = False,
) -> float:
    text = unit.text
    if penalty:  # a fine is stated where the text says 罚款 / 处…罚; 在本企业工作1年以上 is a number but no fine
        fined = "罚" in text or "责令" in text
        return (0.3 if fined and NUMBER.search(ORDINALS.sub("", text)) else -0.1) + (0.25 if fined else 0.0)
    if shape == "enumeration":
        if unit.kind == "list" or COUNTED_LEAD.search(text):  # 可以问四个问题：…？…？ is a list written inline
            return 0.45
        return 0.25 if INLINE_SERIES.search(text) else 0.0
    if shape == "figure":
        text = ORDINALS.sub("", text)  # 第十六条 / 第二款 are not figures
        if total and TOTAL_STATED.search(text) and NUMBER.search(text):
            return 1.2  # 总共多少工作量 → 总计：12人天: the total line, not the rows it adds up (it shares no words)
        if counter and re.search(rf"[\d一二两三四五六七八九十百]+\s*{re.escape(counter)}", text):
            return 0.6  # 分几档 → 三到五档: the number of the very thing asked about
        return 0.3 if NUMBER.search(text) else -0.1
    if shape == "definition":
        # 管理型不依靠所有权，而是… / 价格合规率 = …: the thing asked about, then what it is
        defined = any(
            re.search(re.escape(term) + DEFINING_AFTER, text) or re.search(re.escape(term) + FORMULA_AFTER, text)
            for term in subjects
        )
        return 0.4 if defined else 0.2 if DEFINES.search(text) else 0.0
    if shape == "yesno":  # 可以 / 不得 / 应当: the sentence that permits, forbids or requires is the answer
        return W_YESNO if DEONTIC.search(text) else 0.0
    if shape == "why":  # a reason or purpose: 为了… / 为规范…制定本条例 / 否则… / 根子在…
        return 0.2 if WHY_MARK.search(text) else 0.0
    if shape == "howto":
        if unit.kind == "list":
            return 0.3 if unit.ordered else 0.2
        return 0.15 if STEPS.search(text) else 0.0
    return 0.0


def rank_units(
    question: str, passages: Sequence[Evidence], similarity: Similarity | None = None
) -> list[tuple[float, Unit]]:
    """Every unit of the passages with its score, best first."""
    shape = shape_of(question)
    penalty = bool(PENALTY.search(question))
    total = bool(TOTAL_ASKED.search(question))
    asked = COUNTER.search(question)
    counter = asked.group(1) if asked else None
    units = [u for evidence in passages for u in units_of(evidence) if not u.table or shape == "enumeration"]
    if not units:
        return []
    meaning = similarity(question, [u.text for u in units]) if similarity else [0.0] * len(units)
    texts = [(u.text + " " + " ".join(u.evidence.chunk.heading_path)).lower() for u in units]
    # an English word the glossary lacks means the dictionary's Chinese words these passages use (banned -> 禁止)
    candidates = "\n".join(texts)
    concepts = _concepts(question, lambda word: word in candidates)
    # An idea few of the candidate units share tells them apart (培训部门 among passages on 指标): weigh it more.
    weights = [_weight(c, concepts) for c in concepts]
    if W_RARE:  # an idea few candidate units share (附则 among passages on 制度) tells them apart: it weighs more
        held = [sum(1 for text in texts if _holds(c, text)) for c in concepts]
        weights = [
            w * (1 + W_RARE * math.log((len(texts) + 1) / (h + 1))) if h else (0.0 if _untranslated(c) else w)
            for w, h, c in zip(weights, held, concepts, strict=True)
        ]
    subjects = sorted({t for c in concepts for t in c if len(t) >= 2 and CJK.match(t)}, key=len, reverse=True)
    lexicals = [_lexical(concepts, weights, unit, text) for unit, text in zip(units, texts, strict=True)]
    # 第二十六条 特许人违反本条例第十六条…的，处1万元以下的罚款: a penalty article matches what the article it names
    # is about (第十六条: fees taken before signing), not its own few words
    by_article: dict[int, float] = {}
    current: tuple[object, int | None] = (None, None)  # (passage, article) the units being read belong to
    for unit, lexical in zip(units, lexicals, strict=True):
        if (m := ARTICLE_NUMBER.match(unit.text)) and (n := article_number(m.group(1))):
            current = (unit.evidence, n)
        elif current[0] is not unit.evidence:
            current = (unit.evidence, None)
        if current[1] is not None:  # 第十七条 …。\n特许人在推广、宣传活动中…: the second paragraph is still article 17
            by_article[current[1]] = max(by_article.get(current[1], 0.0), lexical)
    scored = []
    for unit, sim, lexical in zip(units, meaning, lexicals, strict=True):
        prior = W_PRIOR / unit.evidence.rank
        named = [
            article_number(m.group(1))
            for ref in REFERENCE.finditer(unit.text)
            for m in ARTICLE_NUMBER.finditer(ref.group(1))
        ]
        lexical = max([lexical, *(by_article.get(n, 0.0) for n in named if n)])
        bonus = _shape_bonus(shape, unit, counter, subjects, penalty, total)
        score = lexical + W_MEANING * sim + prior + W_SHAPE * bonus
        if W_LEAD and shape == "enumeration" and unit.kind == "list" and unit.lead:
            score += W_LEAD * _overlap(concepts, weights, unit.lead)
        scored.append((score, unit))
    scored.sort(key=lambda pair: (-pair[0], pair[1].evidence.rank, pair[1].position))
    return scored


def _end(text: str) -> str:
    """A full stop where the text has none; a code item (category: 'policy', viewCount) stays as written."""
    return text if text[-1:] in "。！？.!?；;：:" or re.search(r"[A-Za-z_'\"]$", text) else text + "。"


def render(unit: Unit, number: int, cite_passage: Callable[[Chunk], int] | None = None) -> list[str]:
    """The unit's lines, each sentence or item followed by its citation: [number] for the unit's own passage,
    cite_passage(chunk) for a lead-in or item a list made whole took from a neighbouring passage."""
    cite = f"[{number}]"

    def cited(source: Chunk | None) -> str:
        return f"[{cite_passage(source)}]" if source is not None and cite_passage is not None else cite

    if unit.kind == "sentence":
        return [plain(_end(unit.lead)) + cite]
    if unit.kind == "row":
        return [plain(_end(unit.items[0])) + cite]
    lines = [plain(_end(unit.lead)) + cited(unit.lead_from)] if unit.lead else []
    sources = unit.items_from or [None] * len(unit.items)
    for index, item in enumerate(unit.items, start=1):
        # a list that continues from the previous passage keeps its own numbers (第四步 is not step 1)
        own = unit.marks[index - 1] if index <= len(unit.marks) else ""
        digits = own.rstrip(")）")
        if not unit.ordered:
            mark = "-"
        elif digits.isdigit():
            mark = f"{digits}."
        elif own.startswith("第"):  # 第四步 → - 第四步：
            mark = f"- {own}："
        elif own:  # （五） / 五、 / ④ as written, as a list item so the lines do not run together
            mark = f"- {own}"
        else:
            mark = f"{index}."
        # quoted as text: an uploaded document's ![..](http://..) or <img> never renders (or fetches anything)
        space = "" if mark.endswith(("：", "）", "、")) else " "
        lines.append(f"{mark}{space}{plain(_end(item))}{cited(sources[index - 1])}")
    return lines


def choose(
    question: str,
    passages: Sequence[Evidence],
    similarity: Similarity | None = None,
    extra: int = 3,
    neighbour: Neighbour | None = None,
    runner_up: float = RUNNER_UP,
) -> list[Unit]:
    """The best unit, then up to `extra` runners-up close to it (not parts of it, not repeats)."""
    ranked = rank_units(question, passages, similarity)
    if not ranked:
        return []
    best_score, best = ranked[0]
    if (
        best.kind == "sentence"
        and best.follow
        and len(best.lead) <= SHORT_SENTENCE
        and not _states_figure(question, best)
    ):
        best = replace(best, lead=best.lead + best.follow, follow="")
    best = _whole_article(best, [u for _score, u in ranked])
    chosen = [best]
    seen = {_clean(best.text)}
    lines = _size(best)

    def add(unit: Unit) -> None:
        """Quote the unit unless it repeats one chosen, or a long list would bury what is there."""
        nonlocal lines
        text = _clean(unit.items[0] if unit.kind == "row" else unit.text)  # a row: as its table's list has it
        if text in seen or any(text in s or s in text for s in seen) or lines + _size(unit) > LINE_BUDGET + 2:
            return  # a shorter runner-up (one sentence) may still fit after a long list
        chosen.append(unit)
        seen.add(text)
        lines += _size(unit)

    for score, unit in ranked[1:]:
        if len(chosen) > extra or score < best_score * runner_up:
            break
        add(unit)
    # 谁都能举报吗？会不会把我的名字透露出去: each question of the line gets the unit that answers it best
    for part in _parts(question):
        if ranked_part := rank_units(part, passages, similarity):
            add(ranked_part[0][1])
    # Runners-up from the best unit's passage keep their reading order after it.
    ordered = [chosen[0], *sorted(chosen[1:], key=lambda u: (u.evidence.rank, u.position))]
    quoted: list[Unit] = []
    everything = [u for _score, u in ranked]
    for unit in (whole_list(_whole_article(u, everything), neighbour) for u in ordered):
        if not any(_clean(unit.text) in _clean(q.text) for q in quoted):  # both halves of one list: quoted once
            quoted.append(unit)
    return quoted


ARTICLE_CHARS = 240  # an article of a regulation up to this long is quoted whole when its opening answers


def _whole_article(best: Unit, units: list[Unit]) -> Unit:
    """第十一条 …对附带服务进行明码标价。 / 附带服务不由…提供的，应当以显著方式区分标记: an article's later paragraphs
    say its exceptions and conditions, so a short article whose opening sentence is the best answer is quoted whole."""
    if best.kind != "sentence" or not ARTICLE.match(best.lead):
        return best
    rest = sorted(
        (u for u in units if u.evidence is best.evidence and u.position > best.position),
        key=lambda u: u.position,
    )
    text = best.lead + best.follow
    for unit in rest:
        if _clean(unit.lead) in _clean(text):
            continue  # the sentence already joined as the opening's follow
        if unit.kind != "sentence" or ARTICLE.match(unit.lead):
            break
        if len(text) + len(unit.lead) > ARTICLE_CHARS:
            return best
        text += unit.lead
    return replace(best, lead=text, follow="") if text != best.lead else best


QUESTION_BREAK = re.compile(r"[？?]+\s*")


def _parts(question: str) -> list[str]:
    """The questions of a line that asks several (…吗？会不会…), each with at least two ideas of its own."""
    parts = [p for p in QUESTION_BREAK.split(question) if p.strip()]
    parts = [p for p in parts if len(_concepts(p)) >= 2]
    return parts if len(parts) >= 2 else []


def _states_figure(question: str, unit: Unit) -> bool:
    """A 多少 / 几档 question the sentence already answers with its figure."""
    return shape_of(question) == "figure" and bool(NUMBER.search(ORDINALS.sub("", unit.lead)))


def _size(unit: Unit) -> int:
    return len(unit.items) + (1 if unit.lead else 0) if unit.kind == "list" else 1


def source_phrase(evidence: Evidence, language: str) -> str:
    chunk = evidence.chunk
    built_in = chunk.doc_id.startswith("guide:")
    if language == "zh":
        return f"内置指南《{chunk.title}》" if built_in else f"您上传的文件《{chunk.title}》"
    return f'the built-in guide "{chunk.title}"' if built_in else f'your uploaded file "{chunk.title}"'
