"""`python -m eval bench load`: N signed-in users chatting at once for a while, while an admin imports sales files.

Every user is a streamlit.testing AppTest session of app.py (the sign-in form, the navigation, the 对话 page), each in
its own thread of this one process, as a Streamlit server runs each browser session's script in a thread of its
process. The users are a mix of roles (admin, managers of two or three regions, executives); each goes round a cycle of
conversations: data questions in Chinese and English, guidance questions, the conflict and scorecard tools, a rebate
draft and its revision, and, for a manager, another region's question (which must be refused with 不在您的权限范围内;
an executive's draft request must be refused too). Meanwhile an admin session uploads a sales file on the 数据中心 page
and replaces the sales table with it, a few times during the run.

Errors are: an uncaught exception in a session, any st.error on the page, a harness step that fails (a page without its
chat box, a run that times out), an answer that is missing or routed to the wrong intent, an expected text (the refusal,
the revision's 本次修改) that is missing, and an answer that is neither the old data's nor the new data's: the first
answer of every conversation is compared, after the run, with the answer the same user gets alone on each version of the
data that existed while it was being answered (the data as it was before each import, and after it).

The data is a fresh temporary folder: the sample company (its size from the settings, or --partners/--months) as the
company's own dataset, the authored guides indexed, one account per user. The LLM backend is forced offline and numeric
threads are pinned to 1 (python -m eval does that before numpy loads).
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import random
import secrets
import shutil
import statistics
import sys
import tempfile
import threading
import time
import traceback
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "app.py"
DATA_PAGE = "ui/pages/data_center.py"
DATASET_ID = "company"
DATASET_NAME = "负载基准公司"
IMPORTER = "admin"  # the admin who imports (the first admin of the folder); the chatting users are separate accounts
RUN_TIMEOUT_S = 180.0  # one script run of one session (an answer, a page) before it counts as hung
STALL_S = 60.0  # no answer or page finished anywhere for this long: a hang
MANAGER_REGIONS = (("华东", "华南"), ("华北", "华中", "西南"), ("西北", "东北"))
ALL_REGIONS = ("华东", "华南", "华北", "华中", "西南", "西北", "东北")
FAMILIES = {
    "data_zh": "数据（中文）",
    "data_en": "数据（英文）",
    "guidance": "指南",
    "tool": "工具（冲突/记分卡）",
    "draft": "起草方案",
    "revise": "修改方案",
    "refusal": "应拒绝的请求",
}
REFUSED_REGION = "不在您的权限范围内"
REFUSED_DRAFT = "不能起草方案"
REVISED = "本次修改"


# ---- who asks what ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Persona:
    name: str
    role: str  # admin | manager | executive
    regions: tuple[str, ...] = ()

    @property
    def scope(self) -> tuple[str, ...] | None:
        """What the user may read: None for every region (admin, executive), else the manager's regions."""
        return self.regions if self.role == "manager" else None


def personas(count: int) -> list[Persona]:
    """`count` users in a repeating mix of five: an admin, a manager of 华东 and 华南, a manager of three regions, an
    executive, a manager of 西北 and 东北 (20 users: 4 admins, 12 managers, 4 executives)."""
    out = []
    for index in range(count):
        slot = index % 5
        if slot == 0:
            out.append(Persona(f"admin{index + 1:02d}", "admin"))
        elif slot == 3:
            out.append(Persona(f"exec{index + 1:02d}", "executive"))
        else:
            regions = MANAGER_REGIONS[{1: 0, 2: 1, 4: 2}[slot]]
            out.append(Persona(f"mgr{index + 1:02d}", "manager", regions))
    return out


@dataclass(frozen=True)
class Turn:
    family: str  # a key of FAMILIES
    question: str
    intents: tuple[str, ...]  # the routes that are right for this question
    expect: str | None = None  # text the reply must show
    refused: bool = False  # the page refuses before anything is answered (an executive's draft): nothing is saved
    no_tables: bool = False  # a refusal shows no data


def cycle(persona: Persona) -> list[list[Turn]]:
    """The persona's conversations, in the order it goes round them; each conversation starts in a new chat."""
    own = persona.regions[0] if persona.role == "manager" else "华东"
    other = next(r for r in ALL_REGIONS if r not in persona.regions)
    draft = [
        Turn("draft", "设计一个返利方案，预算150万", ("incentive",)),
        Turn("revise", "把返利门槛提高到110%再算一次", ("revise",), expect=REVISED),
    ]
    if persona.role == "executive":
        draft = [Turn("refusal", "设计一个返利方案，预算150万", (), expect=REFUSED_DRAFT, refused=True)]
    if persona.role == "manager":
        tenth = Turn("refusal", f"{other}上季度销售额是多少", ("data",), expect=REFUSED_REGION, no_tables=True)
    else:
        tenth = Turn("data_zh", "今年各月销售额", ("data",))
    return [
        [Turn("data_zh", f"{own}上季度销售额是多少", ("data",))],
        [Turn("guidance", "返利门槛怎么定？", ("guidance",))],
        [Turn("data_en", "What were sales by region last quarter?", ("data",))],
        [Turn("tool", "有没有窜货？", ("conflict",))],
        draft,
        [Turn("data_zh", "上季度销售额最高的5个经销商", ("data",))],
        [Turn("guidance", "What does channel width mean?", ("guidance",))],
        [Turn("tool", f"给{own}经销商打分分级", ("scorecard",))],
        [Turn("data_en", "Top 5 distributors by revenue last quarter", ("data",))],
        [tenth],
        [Turn("data_zh", "各省销售额", ("data",))],
        [Turn("guidance", "经销商跨区窜货怎么处理？", ("guidance",))],
    ]


# ---- what happened ------------------------------------------------------------------------------------------------
@dataclass
class Record:
    """One answered (or failed) turn."""

    user: str
    role: str
    family: str
    question: str
    started: float  # seconds since the run began
    seconds: float
    first: bool  # the conversation's first turn: compared with the answers computed alone
    scope: tuple[str, ...] | None = None
    fingerprint: str | None = None
    alive: list[int] = field(default_factory=list)  # the data versions that existed while it was answered
    matches: list[int] = field(default_factory=list)  # those whose answer alone it equals (0: before any import)
    changed: bool = False  # the versions alive meanwhile answer it differently (the import changed this answer)
    error: str | None = None  # what went wrong


@dataclass
class ImportRun:
    number: int
    file: str
    rows: int
    at_s: float = 0.0  # when the upload started, seconds since the run began
    check_s: float = 0.0  # upload, read and checked (the preview)
    commit_s: float = 0.0  # 确认导入: written and swapped in
    alone_s: float = 0.0  # the same import into a copy, before the run, with nobody else working
    commit_from: float = 0.0
    commit_to: float = 0.0
    outcome: str = ""
    error: str | None = None


@dataclass
class Shared:
    """What the threads write while the run goes on (under one lock)."""

    started: float
    deadline: float
    lock: threading.Lock = field(default_factory=threading.Lock)
    records: list[Record] = field(default_factory=list)
    page_errors: list[dict] = field(default_factory=list)
    page_seconds: list[float] = field(default_factory=list)
    imports: list[ImportRun] = field(default_factory=list)
    # (version, alive from, alive to) in seconds since the start: a version is alive from the start of the commit
    # that makes it until the end of the commit that replaces it (the swap happens somewhere inside a commit).
    versions: list[list[float]] = field(default_factory=lambda: [[0, -math.inf, math.inf]])

    def now(self) -> float:
        return time.perf_counter() - self.started

    def add(self, record: Record) -> None:
        with self.lock:
            self.records.append(record)

    def page(self, seconds: float, user: str, error: str | None = None) -> None:
        with self.lock:
            self.page_seconds.append(seconds)
            if error:
                self.page_errors.append({"user": user, "at_s": round(self.now(), 1), "error": error})

    def swapped(self, version: int, commit_from: float, commit_to: float) -> None:
        with self.lock:
            self.versions[-1][2] = commit_to
            self.versions.append([version, commit_from, math.inf])

    def alive(self, start: float, end: float) -> list[int]:
        with self.lock:
            return [int(v) for v, lo, hi in self.versions if start <= hi and end >= lo]


# ---- AppTest sessions in threads ------------------------------------------------------------------------------------
_CAPTURED: list = []
_PROBE = """
from streamlit.runtime import Runtime
from eval import bench_load
bench_load._CAPTURED.append(Runtime._instance)
"""


@contextlib.contextmanager
def concurrent_sessions() -> Iterator[None]:
    """Let AppTest sessions run at the same time in threads.

    AppTest (streamlit 1.67) runs one session at a time: each run puts a mock Runtime into the class attribute
    Runtime._instance and sets it back to None when the run ends, patches config.get_option for the run, and compiles
    the scripts afresh in a new ScriptCache. With sessions in threads, one session's end takes the runtime away from
    another that is still running (its next cached function or download button fails with "Runtime hasn't been
    created!"), overlapping runs restore each other's patch out of order, and the pages are compiled in many threads at
    once, where CPython 3.11's ast.parse fails ("AST constructor recursion depth mismatch", cpython issue 106905).
    For the whole benchmark, as in a server: one runtime made by AppTest itself (captured from a probe run) that a run
    falls back to, one config patch, one ScriptCache (a server compiles each page once). The app's code is untouched.
    Streamlit prints a session's uncaught exception on stdout; it goes to stderr meanwhile (stdout is the report)."""
    from unittest import mock

    from streamlit.runtime import Runtime
    from streamlit.runtime.scriptrunner.script_cache import ScriptCache
    from streamlit.testing.v1 import AppTest, app_test, local_script_runner
    from streamlit.testing.v1.util import patch_config_options

    _CAPTURED.clear()
    AppTest.from_string(_PROBE, default_timeout=60).run()
    fallback = _CAPTURED[-1]

    def instance(cls):
        current = cls._instance
        return fallback if current is None else current

    scripts = ScriptCache()
    # Reading a session's state from the harness's thread (outside a script run) warns on every read.
    quiet = logging.getLogger("streamlit.runtime.scriptrunner_utils.script_run_context")
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    try:
        with (
            mock.patch.object(Runtime, "instance", classmethod(instance)),
            mock.patch.object(Runtime, "exists", classmethod(lambda cls: True)),
            mock.patch.object(app_test, "patch_config_options", lambda _overrides: contextlib.nullcontext()),
            mock.patch.object(app_test, "ScriptCache", lambda: scripts),
            mock.patch.object(local_script_runner, "ScriptCache", lambda: scripts),
            patch_config_options({"global.appTest": True}),
            contextlib.redirect_stdout(sys.stderr),
        ):
            yield
    finally:
        quiet.setLevel(level)


def _problems(app) -> list[str]:
    """Uncaught exceptions and st.error boxes on the page as it is now."""
    found = [f"exception: {e.value}" for e in app.exception]
    found += [f"st.error: {e.value}" for e in app.error]
    return found


def _texts(app) -> str:
    parts = [m.value for m in app.markdown] + [w.value for w in app.warning] + [i.value for i in app.info]
    return "\n".join(str(p) for p in parts)


def _short(exc: BaseException) -> str:
    last = traceback.extract_tb(exc.__traceback__)[-1:] if exc.__traceback__ else []
    where = f" ({Path(last[0].filename).name}:{last[0].lineno})" if last else ""
    return f"{type(exc).__name__}: {exc}{where}"


# ---- the data folder ----------------------------------------------------------------------------------------------
@dataclass
class Folder:
    root: Path  # the temporary folder
    data: Path  # CANMOU_DATA_DIR
    references: list[Path]  # the dataset folder as it is after 0, 1, 2 ... imports (copies, for the answers alone)
    files: list[Path]  # the sales files the admin imports, in order
    rows: list[int]
    alone_s: list[float]
    passwords: dict[str, str]
    sample: dict[str, int]


def _prepare(
    root: Path,
    people: list[Persona],
    imports: int,
    partners: int | None,
    months: int | None,
    seed: int | None,
    guides: Path | None,
) -> Folder:
    """The data folder (the sample company as the company's dataset, the guides, the accounts), the sales files to
    import, and a copy of the dataset as it will be after each import (made here, alone, which also times it)."""
    import numpy as np

    from advisor.accounts import Accounts
    from advisor.settings import get_settings
    from advisor.workspace import load_sample, open_knowledge
    from company.importers import import_file
    from company.sample import last_complete_month
    from company.store import Profile, Store
    from company.workspaces import Workspaces

    settings = get_settings()
    spaces = Workspaces(settings.company_dir)
    dataset = spaces.prepare(DATASET_ID, Profile(name=DATASET_NAME, kind="company"))
    partners = partners or settings.sample_partners
    months = months or settings.sample_months
    load_sample(
        dataset.store, partners, months, settings.sample_seed if seed is None else seed, end_month=last_complete_month()
    )
    spaces.activate(DATASET_ID)
    if guides is not None:  # a knowledge folder that holds the indexed guides: copied rather than indexed again
        shutil.copytree(guides, settings.knowledge_dir, ignore=shutil.ignore_patterns("*.lock"))
    open_knowledge(settings).ensure_guides()

    passwords = {persona.name: secrets.token_urlsafe(12) for persona in people}
    passwords[IMPORTER] = secrets.token_urlsafe(12)
    accounts = Accounts.for_settings(settings)
    accounts.add(IMPORTER, "admin", password=passwords[IMPORTER])
    for persona in people:
        accounts.add(persona.name, persona.role, persona.regions, password=passwords[persona.name])

    # The files: the company's sales export with about one line in ten left out, then the whole export, alternately,
    # so that every import changes the totals and an answer can be told apart as the old data's or the new data's.
    sales = dataset.store.table("sales")
    full = root / "销售明细-完整.csv"
    sales.to_csv(full, index=False)
    partial = root / "销售明细-缺一成.csv"
    keep = np.random.default_rng(11).random(len(sales)) >= 0.1
    sales[keep].to_csv(partial, index=False)
    files = [partial if k % 2 == 0 else full for k in range(imports)]
    rows = [int(keep.sum()) if k % 2 == 0 else len(sales) for k in range(imports)]

    references = [root / "reference" / "v0"]
    shutil.copytree(dataset.store.folder, references[0])
    alone = []
    for number, path in enumerate(files, start=1):
        target = root / "reference" / f"v{number}"
        shutil.copytree(references[-1], target, ignore=shutil.ignore_patterns(".scopes", ".lock"))
        started = time.perf_counter()
        import_file(Store(target), path, table="sales", replace_table=True, max_mb=settings.max_upload_mb)
        alone.append(round(time.perf_counter() - started, 2))
        references.append(target)
    sample = {"partners": partners, "months": months, "sales_rows": len(sales)}
    return Folder(root, settings.data_dir, references, files, rows, alone, passwords, sample)


def _sales_totals(folder: Path) -> tuple[int, float]:
    from company.store import Store

    count, revenue = Store(folder).query("SELECT count(*) AS n, round(sum(revenue), 2) AS r FROM sales").iloc[0]
    return int(count), float(revenue)


# ---- answers alone: the reference ---------------------------------------------------------------------------------
def fingerprint(answer) -> str:
    """What an answer says, as the history keeps it: its route, text and tables (not its timing or steps)."""
    from advisor.history import dump_answer

    data = dump_answer(answer)
    return json.dumps(
        {"intent": data["route"]["intent"], "markdown": data["markdown"], "tables": data["tables"]},
        ensure_ascii=False,
        sort_keys=True,
    )


class Reference:
    """The answer a user gets to a first question alone, on each version of the data (computed when first needed)."""

    def __init__(self, folders: list[Path], users: dict[tuple, Any]):
        self.folders = folders
        self.users = users  # one account per (role, scope): they decide the answer, not the name
        self._memo: dict[tuple, str] = {}

    def get(self, version: int, scope: tuple, question: str) -> str:
        key = (version, scope, question)
        if key not in self._memo:
            from advisor.history import dump_answer, load_answer
            from advisor.pipeline import Context, answer
            from advisor.settings import get_settings
            from advisor.workspace import open_knowledge
            from company.store import Store

            settings = get_settings()
            context = Context(
                store=Store(self.folders[version]),
                kb=open_knowledge(settings),
                settings=settings,
                user=self.users[scope],
            )
            alone = answer(question, context)
            self._memo[key] = fingerprint(load_answer(dump_answer(alone)))  # as it comes back from the history
        return self._memo[key]


def compare(records: list[Record], shared: Shared, reference: Reference) -> None:
    """Give each compared answer the data version it matches, or an error when it matches none of the versions that
    existed while it was being answered."""
    for record in records:
        if not record.first or record.fingerprint is None or record.error:
            continue
        key = (record.role, record.scope)
        record.alive = shared.alive(record.started, record.started + record.seconds)
        alone = {v: reference.get(v, key, record.question) for v in record.alive}
        record.matches = [v for v, expected in alone.items() if expected == record.fingerprint]
        record.changed = len(set(alone.values())) > 1
        if not record.matches:
            record.error = (
                f"answer differs: neither the old nor the new data's (versions {record.alive}, each computed alone); "
                f"{_first_difference(record.fingerprint, alone[record.alive[-1]])}"
            )


def _first_difference(got: str, expected: str) -> str:
    at = next((i for i, (a, b) in enumerate(zip(got, expected, strict=False)) if a != b), min(len(got), len(expected)))
    return f"got …{got[max(0, at - 40) : at + 60]}… where alone it is …{expected[max(0, at - 40) : at + 60]}…"


# ---- the threads --------------------------------------------------------------------------------------------------
def _sign_in(app, name: str, password: str) -> None:
    app.run()
    app.text_input(key="sign_in_name").input(name)
    app.text_input(key="sign_in_password").input(password)
    app.button(key="sign_in_submit").click().run()


def _session(persona: Persona, password: str, shared: Shared):
    """A new browser session of the persona, signed in through the form, on the chat page (None: it failed)."""
    from streamlit.testing.v1 import AppTest

    app = AppTest.from_file(str(APP), default_timeout=RUN_TIMEOUT_S)
    started = time.perf_counter()
    try:
        _sign_in(app, persona.name, password)
    except Exception as exc:  # a hung or failed run: recorded, the user starts over
        shared.page(time.perf_counter() - started, persona.name, f"sign-in: {_short(exc)}")
        return None
    problems = _problems(app)
    if not problems and not app.chat_input:
        problems = ["sign-in: no chat box after signing in"]
    shared.page(time.perf_counter() - started, persona.name, "; ".join(problems) or None)
    return None if problems else app


def _user(persona: Persona, password: str, offset: int, shared: Shared, think: float, history_path: Path) -> None:
    """One user until the deadline: new chat, the conversation's turns, the next conversation of its cycle."""
    from advisor.history import History

    history = History(history_path, owner=persona.name)
    conversations = cycle(persona)
    rng = random.Random(offset)
    app = None
    position = offset
    while shared.now() < shared.deadline:
        if app is None:
            app = _session(persona, password, shared)
            if app is None:
                time.sleep(1.0)
                continue
        elif "conversation_id" in app.session_state:  # 新对话, as the user clicks it
            started = time.perf_counter()
            try:
                app.button(key="new_chat").click().run()
            except Exception as exc:
                shared.page(time.perf_counter() - started, persona.name, f"new chat: {_short(exc)}")
                app = None
                continue
            problems = _problems(app)
            shared.page(time.perf_counter() - started, persona.name, "; ".join(problems) or None)
            if problems or not app.chat_input:
                app = None
                continue
        turns = conversations[position % len(conversations)]
        position += 1
        for number, turn in enumerate(turns):
            if shared.now() >= shared.deadline:
                break
            record, healthy = _ask(app, persona, turn, number == 0, shared, history)
            shared.add(record)
            if not healthy:
                app = None
                break
            if think:
                time.sleep(rng.uniform(0.5 * think, 1.5 * think))


def _ask(app, persona: Persona, turn: Turn, first: bool, shared: Shared, history) -> tuple[Record, bool]:
    """Type the question, wait for the page, check what it shows and what the history kept."""
    record = Record(persona.name, persona.role, turn.family, turn.question, shared.now(), 0.0, first, persona.scope)
    started = time.perf_counter()
    try:
        app.chat_input[0].set_value(turn.question).run()
    except Exception as exc:
        record.seconds = time.perf_counter() - started
        record.error = f"run failed: {_short(exc)}"
        return record, False
    record.seconds = time.perf_counter() - started
    problems = _problems(app)
    if problems:
        record.error = "; ".join(problems)
        return record, not app.exception
    if turn.refused:  # the page refuses at once; nothing is asked, nothing saved
        if turn.expect not in _texts(app) or "conversation_id" in app.session_state:
            record.error = f"expected refusal missing: {turn.expect}"
        return record, True
    conversation = app.session_state["conversation_id"] if "conversation_id" in app.session_state else None
    messages = history.messages(conversation) if conversation else []
    reply = messages[-1].answer if messages and messages[-1].role == "assistant" else None
    if reply is None or reply.question != turn.question:
        record.error = "no answer saved for the question"
        return record, True
    if reply.route.intent not in turn.intents:
        record.error = f"wrong route: {reply.route.intent}, expected {' or '.join(turn.intents)}"
    elif turn.expect and turn.expect not in reply.markdown:
        record.error = f"expected text missing: {turn.expect}"
    elif turn.no_tables and reply.tables:
        record.error = "a refusal showed data tables"
    elif turn.family == "draft" and reply.draft is None:
        record.error = "no draft in the plan answer"
    elif turn.family == "revise" and not reply.changes:
        record.error = "the revision lists no changes"
    if first:
        record.fingerprint = fingerprint(reply)
    return record, True


def _importer(folder: Folder, shared: Shared, imports: int, duration: float) -> None:
    """The admin on the 数据中心 page: at evenly spaced moments, upload a sales file, choose 销售明细 and 替换整表,
    look at the check, confirm; then verify the dataset holds what the same import gives alone."""
    from streamlit.testing.v1 import AppTest

    app = AppTest.from_file(str(APP), default_timeout=RUN_TIMEOUT_S)
    try:
        _sign_in(app, IMPORTER, folder.passwords[IMPORTER])
        app.switch_page(DATA_PAGE).run()
    except Exception as exc:
        shared.imports.append(ImportRun(1, folder.files[0].name, folder.rows[0], error=f"sign-in: {_short(exc)}"))
        return
    for number, path in enumerate(folder.files, start=1):
        run = ImportRun(number, path.name, folder.rows[number - 1], alone_s=folder.alone_s[number - 1])
        with shared.lock:
            shared.imports.append(run)
        at = duration * number / (imports + 1)
        while shared.now() < at:
            time.sleep(0.2)
        run.at_s = round(shared.now(), 1)
        try:
            started = time.perf_counter()
            app.file_uploader[0].upload(path.name, path.read_bytes(), "text/csv").run()
            app.selectbox(key="import_table").set_value("sales")
            app.checkbox(key="import_replace").check().run()
            run.check_s = round(time.perf_counter() - started, 2)
            problems = _problems(app)
            if problems or not [b for b in app.button if b.key == "commit_import"]:
                run.error = "check: " + ("; ".join(problems) or "no 确认导入 button")
                return
            run.commit_from = shared.now()
            started = time.perf_counter()
            app.button(key="commit_import").click().run()
            run.commit_s = round(time.perf_counter() - started, 2)
            run.commit_to = shared.now()
        except Exception as exc:
            run.error = f"import: {_short(exc)}"
            return
        problems = _problems(app)
        done = [str(s.value) for s in app.success if "已导入" in str(s.value)]
        if problems or not done:
            run.error = "import: " + ("; ".join(problems) or "no 已导入 message")
            return
        run.outcome = done[0]
        live = _sales_totals(folder.data / "company" / DATASET_ID)
        alone = _sales_totals(folder.references[number])
        if live != alone:
            run.error = f"after the import the sales table holds {live}, the same import alone gives {alone}"
            return
        shared.swapped(number, run.commit_from, run.commit_to)


# ---- the run ------------------------------------------------------------------------------------------------------
@contextlib.contextmanager
def _environment(data: Path) -> Iterator[None]:
    """Settings pointed at the temporary data folder, offline, for the run; the caller's afterwards."""
    from advisor.settings import reset_settings

    wanted = {"CANMOU_DATA_DIR": str(data), "CANMOU_LLM_BACKEND": "offline"}
    saved = {name: os.environ.get(name) for name in wanted}
    os.environ.update(wanted)
    reset_settings()
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        reset_settings()


def run(
    users: int = 20,
    duration: float = 300.0,
    imports: int = 2,
    partners: int | None = None,
    months: int | None = None,
    seed: int | None = None,
    think: float = 0.0,
    progress: Callable[[str], None] | None = None,
    guides: Path | None = None,
) -> dict:
    """Prepare a fresh data folder, run the users and the importer for `duration` seconds, compare the answers with
    the answers alone, and return the figures (see print_report). `guides`: a knowledge folder with the guides
    already indexed (the tests' session index), copied instead of indexing them again."""
    say = progress or (lambda _message: None)
    people = personas(users)
    with tempfile.TemporaryDirectory(prefix="canmou-load-") as tmp, _environment(Path(tmp) / "data"):
        started = time.perf_counter()
        folder = _prepare(Path(tmp), people, imports, partners, months, seed, guides)
        say(
            f"准备数据文件夹 {time.perf_counter() - started:.1f} s（示例公司 {folder.sample['partners']} 个伙伴 × "
            f"{folder.sample['months']} 个月、指南索引、{len(people) + 1} 个账号）"
        )
        _warm_up(folder)
        with concurrent_sessions():
            shared = Shared(started=time.perf_counter(), deadline=duration)
            threads = [
                threading.Thread(
                    target=_guard,
                    args=(
                        _user,
                        shared,
                        persona.name,
                        persona,
                        folder.passwords[persona.name],
                        index,
                        shared,
                        think,
                        folder.data / "history.sqlite",
                    ),
                    name=f"user-{persona.name}",
                    daemon=True,
                )
                for index, persona in enumerate(people)
            ]
            if imports:
                threads.append(
                    threading.Thread(
                        target=_guard,
                        args=(_importer, shared, IMPORTER, folder, shared, imports, duration),
                        name="importer",
                        daemon=True,
                    )
                )
            for thread in threads:
                thread.start()
            _watch(threads, shared, duration, say)
            elapsed = shared.now()
        say(f"运行结束（{elapsed:.0f} s），逐个核对首问答案与单独计算的结果…")
        checking = time.perf_counter()
        compare(shared.records, shared, Reference(folder.references, _scope_users(people)))
        say(f"核对完成（{time.perf_counter() - checking:.1f} s）")
        return _figures(people, shared, folder, duration, elapsed, think, imports)


def _guard(target: Callable, shared: Shared, who: str, *args) -> None:
    """A thread's body: anything the harness did not expect is an error of the run, never a silent end."""
    try:
        target(*args)
    except Exception as exc:
        shared.page(0.0, who, f"harness: {_short(exc)}")


def _warm_up(folder: Folder) -> None:
    """Load what the first answers of a process load (jieba, the embedding model, the indexes), as a running server
    has them loaded: one data and one guidance answer before the clock starts."""
    from advisor.pipeline import Context, answer
    from advisor.settings import get_settings
    from advisor.workspace import open_knowledge
    from company.store import Store

    settings = get_settings()
    kb = open_knowledge(settings)
    kb.warm_up()
    for question in ("华东上季度销售额是多少", "返利门槛怎么定？"):
        answer(question, Context(store=Store(folder.references[0]), kb=kb, settings=settings))


def _watch(threads: list[threading.Thread], shared: Shared, duration: float, say: Callable[[str], None]) -> None:
    """Wait for the threads (each stops after the deadline once its current turn is answered), reporting progress.
    When no answer or page finishes for STALL_S seconds, that is an error, and the stack of every thread goes to
    stderr once (what a hang is waiting for)."""
    last = 0.0
    finished, moved, dumped = 0, 0.0, False
    while any(t.is_alive() for t in threads):
        time.sleep(0.5)
        now = shared.now()
        with shared.lock:
            count = len(shared.records) + len(shared.page_seconds)
        if count != finished:
            finished, moved, dumped = count, now, False
        elif now - moved > STALL_S and not dumped:
            dumped = True
            shared.page(0.0, "-", f"stall: no answer or page finished for {STALL_S:g} s (thread stacks on stderr)")
            print(_stacks(f"{STALL_S:g} s 内没有任何回答或页面完成，各线程的调用栈："), file=sys.stderr, flush=True)
        if now - last >= 30 or (now >= duration and last < duration):
            last = now
            with shared.lock:
                answered = len(shared.records)
                failed = sum(1 for r in shared.records if r.error) + len(shared.page_errors)
                done = sum(1 for i in shared.imports if i.commit_to)
            say(f"[{now:5.0f} s] 回答 {answered} 个，出错 {failed} 个，导入完成 {done} 次")
        if now > duration + RUN_TIMEOUT_S + 60:  # a thread stuck past every timeout: report what there is
            hung = [t.name for t in threads if t.is_alive()]
            shared.page(0.0, ",".join(hung), f"harness: threads still running {now - duration:.0f} s after the end")
            return


def _stacks(title: str) -> str:
    names = {t.ident: t.name for t in threading.enumerate()}
    parts = [title]
    for ident, frame in sys._current_frames().items():
        parts.append(f"--- {names.get(ident, ident)}")
        parts.append("".join(traceback.format_stack(frame)))
    return "\n".join(parts)


def _scope_users(people: list[Persona]) -> dict[tuple, Any]:
    """One account for each (role, regions) among the users: whose answers alone the compared answers are checked on."""
    from advisor.accounts import Accounts
    from advisor.settings import get_settings

    accounts = Accounts.for_settings(get_settings())
    out: dict[tuple, Any] = {}
    for persona in people:
        out.setdefault((persona.role, persona.scope), accounts.get(persona.name))
    return out


def _quantiles(seconds: list[float]) -> dict[str, float | None]:
    if not seconds:
        return {"p50_s": None, "p95_s": None, "max_s": None}
    ordered = sorted(seconds)
    p95 = ordered[0] if len(ordered) == 1 else statistics.quantiles(ordered, n=100, method="inclusive")[94]
    return {"p50_s": round(statistics.median(ordered), 3), "p95_s": round(p95, 3), "max_s": round(ordered[-1], 3)}


def _during_import(records: list[Record], imports: list[ImportRun]) -> dict[str, int]:
    """The turns answered while an import was being confirmed (its data swapped in), their errors, and of the compared
    ones whose answer the import changed: how many came out as the old data's (the version current when the question
    was asked) and how many as the new data's."""
    windows = [(i.commit_from, i.commit_to) for i in imports if i.commit_to]
    during = [r for r in records if any(r.started <= to and r.started + r.seconds >= lo for lo, to in windows)]
    changed = [r for r in during if r.matches and r.changed]
    old = sum(1 for r in changed if min(r.alive) in r.matches)
    return {
        "answers": len(during),
        "errors": sum(1 for r in during if r.error),
        "changed_by_import": len(changed),
        "old_data": old,
        "new_data": len(changed) - old,
    }


def _figures(
    people: list[Persona], shared: Shared, folder: Folder, duration: float, elapsed: float, think: float, imports: int
) -> dict:
    records = shared.records
    families = {}
    for family, label in FAMILIES.items():
        mine = [r for r in records if r.family == family]
        if mine:
            families[family] = {
                "label": label,
                "answers": len(mine),
                "errors": sum(1 for r in mine if r.error),
                **_quantiles([r.seconds for r in mine]),
            }
    errors = [
        {"user": r.user, "family": r.family, "question": r.question, "at_s": round(r.started, 1), "error": r.error}
        for r in records
        if r.error
    ]
    errors += [
        {"user": e["user"], "family": "page", "question": "", "at_s": e["at_s"], "error": e["error"]}
        for e in shared.page_errors
    ]
    errors += [
        {"user": IMPORTER, "family": "import", "question": i.file, "at_s": i.at_s, "error": i.error}
        for i in shared.imports
        if i.error
    ]
    finished = sum(1 for i in shared.imports if i.outcome and not i.error)
    if finished < imports and not any(i.error for i in shared.imports):
        errors.append(
            {
                "user": IMPORTER,
                "family": "import",
                "question": "",
                "at_s": None,
                "error": f"only {finished} of {imports} imports finished",
            }
        )
    roles: dict[str, int] = {}
    for persona in people:
        roles[persona.role] = roles.get(persona.role, 0) + 1
    return {
        "users": len(people),
        "roles": roles,
        "duration_s": duration,
        "elapsed_s": round(elapsed, 1),
        "think_s": think,
        "sample": folder.sample,
        "answers": len(records),
        "answers_per_s": round(len(records) / elapsed, 2) if elapsed else None,
        "errors": len(errors),
        "latency": _quantiles([r.seconds for r in records]),
        "families": families,
        "answers_by_user": {p.name: sum(1 for r in records if r.user == p.name and not r.error) for p in people},
        "pages": {
            "runs": len(shared.page_seconds),
            "errors": len(shared.page_errors),
            **_quantiles(shared.page_seconds),
        },
        "compared": sum(1 for r in records if r.matches),
        "during_import": _during_import(records, shared.imports),
        "imports": [
            {k: v for k, v in asdict(i).items() if k not in ("commit_from", "commit_to")} for i in shared.imports
        ],
        "error_list": errors,
    }


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _line(cells: tuple[str, ...], widths: tuple[int, ...]) -> str:
    """A table row: the first cell left-aligned, the others right-aligned, by display width (a Chinese
    character takes two columns)."""
    first, *rest = cells
    out = first + " " * max(1, widths[0] - _width(first))
    for cell, width in zip(rest, widths[1:], strict=True):
        out += " " * max(1, width - _width(cell)) + cell
    return out


def print_report(figures: dict) -> None:
    roles = figures["roles"]
    role_text = "、".join(
        f"{name} {roles[key]}"
        for key, name in (("admin", "管理员"), ("manager", "区域经理"), ("executive", "高管"))
        if roles.get(key)
    )
    sample = figures["sample"]
    print(
        f"负载基准：{figures['users']} 个用户（{role_text}）同时提问 {figures['duration_s']:g} s"
        f"（实际 {figures['elapsed_s']:g} s，两问之间停顿 {figures['think_s']:g} s），"
        f"期间管理员导入销售明细 {len(figures['imports'])} 次；示例公司 {sample['partners']} 个伙伴 × "
        f"{sample['months']} 个月（销售明细 {sample['sales_rows']:,} 行）"
    )
    widths = (22, 7, 6, 9, 9, 9)
    print(_line(("问题类型", "回答", "出错", "p50 s", "p95 s", "最长 s"), widths))

    def row(label: str, stats: dict, answers: int, errors: int) -> str:
        times = ["—" if stats[k] is None else f"{stats[k]:.2f}" for k in ("p50_s", "p95_s", "max_s")]
        return _line((label, f"{answers:,}", f"{errors:,}", *times), widths)

    for stats in figures["families"].values():
        print(row(stats["label"], stats, stats["answers"], stats["errors"]))
    errors_in_answers = sum(s["errors"] for s in figures["families"].values())
    print(row("合计", figures["latency"], figures["answers"], errors_in_answers))
    pages = figures["pages"]
    print(row("页面（登录、新对话）", pages, pages["runs"], pages["errors"]))
    during = figures["during_import"]
    print(
        f"每秒回答 {figures['answers_per_s']} 个；首问答案与单独计算的结果逐一核对 {figures['compared']:,} 个。"
        f"确认导入进行中回答 {during['answers']} 个，出错 {during['errors']} 个；其中答案因导入而变的首问 "
        f"{during['changed_by_import']} 个：旧数据的 {during['old_data']} 个、新数据的 {during['new_data']} 个"
    )
    for run in figures["imports"]:
        state = f"出错：{run['error']}" if run["error"] else run["outcome"]
        print(
            f"导入 {run['number']}：{run['file']}（{run['rows']:,} 行），第 {run['at_s']:g} s 开始；上传与校验 "
            f"{run['check_s']:g} s，确认导入 {run['commit_s']:g} s（无人使用时 {run['alone_s']:g} s）；{state}"
        )
    if not figures["error_list"]:
        print("错误：无")
        return
    print(f"错误 {figures['errors']} 个：")
    for error in figures["error_list"][:40]:
        print(f"  [{error['at_s']} s] {error['user']} {error['family']} {error['question']}：{error['error']}")
    if len(figures["error_list"]) > 40:
        print(f"  ……另有 {len(figures['error_list']) - 40} 个（--json 列出全部）")


def main_figures(figures: dict, as_json: bool) -> int:
    """Print the figures (table or JSON); the exit code is 1 when anything went wrong."""
    if as_json:
        print(json.dumps(figures, ensure_ascii=False, indent=2))
    else:
        print_report(figures)
    sys.stdout.flush()
    return 1 if figures["errors"] else 0
