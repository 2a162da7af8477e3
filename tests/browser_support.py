"""Helpers for the real-browser tests: a prepared data folder, the Streamlit server, Chromium, sign-in, screenshots.

Chromium is Debian's /usr/bin/chromium (never a browser downloaded by Playwright), started with the flags
this machine needs on a closed network and a new empty profile; the app listens on 127.0.0.1 only.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = ROOT / "test-artifacts" / "browser"
HOST = "127.0.0.1"
VIEWPORT = {"width": 1400, "height": 1000}
# Without the background-networking flags Chromium keeps dialling Google hosts that this network refuses.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
]
# Seed 7 (the default) with 60 partners happens to have no 华东 distributor under 80% last quarter;
# seed 2 has two (63.6% and 70.5%), so the data question in the chat test has rows to show.
SAMPLE_SEED = "2"
# `prepare` makes the first admin with a random password (printed once); the tests then set a known one through
# the same command an administrator would use on the server.
ADMIN = "admin"
ADMIN_PASSWORD = "browser-admin-pass"
MAX_SHOT_HEIGHT = 15000  # Chromium cannot capture much beyond 16384 px in one image

# Streamlit's box for an uncaught exception, and st.error's box (the app's own messages for failures).
PROBLEM_BOXES = '[data-testid="stException"], [data-testid="stAlertContentError"]'
# Records every such box the moment it is added, so one that a later rerun removes still counts.
EXCEPTION_WATCH = """
(() => {
  window.__stExceptions = [];
  const selector = '__SELECTOR__';
  const scan = (node) => {
    if (!(node instanceof Element)) return;
    const hits = node.matches(selector) ? [node] : [];
    hits.push(...node.querySelectorAll(selector));
    for (const hit of hits) {
      const text = (hit.innerText || hit.textContent || '').slice(0, 2000);
      window.__stExceptions.push(`${hit.dataset.testid}: ${text}`);
    }
  };
  new MutationObserver((records) => {
    for (const r of records) r.addedNodes.forEach(scan);
  }).observe(document, {childList: true, subtree: true});
})();
""".replace("__SELECTOR__", PROBLEM_BOXES)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def app_environment(data_dir: Path) -> dict[str, str]:
    """The caller's environment without its CANMOU_ settings, pointed at data_dir, offline, threads pinned."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CANMOU_")}
    env.update(
        CANMOU_DATA_DIR=str(data_dir),
        CANMOU_SAMPLE_SEED=SAMPLE_SEED,
        CANMOU_LLM_BACKEND="offline",  # a developer's .env must not send test questions to a real endpoint
        OMP_NUM_THREADS="1",
        OPENBLAS_NUM_THREADS="1",
        MKL_NUM_THREADS="1",
        PYTHONUNBUFFERED="1",
    )
    return env


def prepare_data(env: dict[str, str], log: Path) -> None:
    """The small sample company plus the indexed guides (about 20 s), through the same CLI users run."""
    for args in (["data", "sample", "--partners", "60", "--months", "24"], ["prepare"]):
        with log.open("a", encoding="utf-8") as out:
            done = subprocess.run(
                [sys.executable, "-m", "advisor", *args],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                timeout=300,
                check=False,
            )
        if done.returncode != 0:
            raise RuntimeError(f"python -m advisor {' '.join(args)} failed ({done.returncode}):\n{tail(log)}")
    set_password(env, ADMIN, ADMIN_PASSWORD)


def set_password(env: dict[str, str], name: str, password: str) -> None:
    """`python -m advisor users passwd NAME --password-stdin`, as an administrator resets a password on the server."""
    done = subprocess.run(
        [sys.executable, "-m", "advisor", "users", "passwd", name, "--password-stdin"],
        cwd=ROOT,
        env=env,
        input=password + "\n",
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"users passwd {name} failed ({done.returncode}): {done.stdout}{done.stderr}")


def tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


@dataclass
class StreamlitServer:
    """`streamlit run app.py` on a free loopback port, in its own process group so stop() ends all of it."""

    env: dict[str, str]
    log: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def start(self, timeout: float = 90) -> None:
        streamlit = Path(sys.executable).with_name("streamlit")
        command = [str(streamlit)] if streamlit.exists() else [sys.executable, "-m", "streamlit"]
        out = self.log.open("ab")
        self.process = subprocess.Popen(
            [
                *command,
                "run",
                "app.py",
                "--server.port",
                str(self.port),
                "--server.address",
                HOST,
                "--server.headless",
                "true",
                "--browser.gatherUsageStats",
                "false",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        out.close()
        self.wait_healthy(timeout)

    def wait_healthy(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"streamlit exited with {self.process.returncode}:\n{tail(self.log)}")
            try:
                with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.3)
        raise RuntimeError(f"streamlit did not answer /_stcore/health within {timeout:.0f} s:\n{tail(self.log)}")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)  # the group is this server's own (start_new_session)
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
        except ProcessLookupError:
            pass


def launch_chromium(playwright, profile_dir: Path):
    """Debian's Chromium in a new empty profile; returns a BrowserContext (pages in it are separate sessions)."""
    context = playwright.chromium.launch_persistent_context(
        str(profile_dir),
        executable_path=str(CHROMIUM),
        headless=True,
        args=CHROMIUM_FLAGS,
        viewport=VIEWPORT,
        accept_downloads=True,
        locale="zh-CN",
    )
    context.add_init_script(EXCEPTION_WATCH)
    return context


def sign_in(page, name: str, password: str, timeout: float = 90_000) -> None:
    """Fill the sign-in form that stands before every page and wait for the chat page behind it."""
    page.get_by_label(re.compile("^(用户名|User name)$")).fill(name)  # whichever interface language is saved
    page.get_by_label(re.compile("^(密码|Password)$")).fill(password)
    page.get_by_role("button", name=re.compile("^(登录|Sign in)$")).click()
    page.get_by_placeholder(re.compile("^(问数据|Ask about your data)")).wait_for(timeout=timeout)
    wait_idle(page, timeout)


def wait_idle(page, timeout: float = 60_000) -> None:
    """Wait until Streamlit is connected and not running a script (call it after the awaited text appears)."""
    page.wait_for_function(
        """() => {
          const app = document.querySelector('[data-testid="stApp"]');
          return app && app.dataset.testConnectionState === 'CONNECTED'
            && app.dataset.testScriptState !== 'running';
        }""",
        timeout=timeout,
    )


def exceptions(page) -> list[str]:
    """Every exception or error box seen on this page so far (the watcher also saw the ones on screen now)."""
    seen = page.evaluate("() => window.__stExceptions || []")
    now = [f"{box.get_attribute('data-testid')}: {box.inner_text()}" for box in page.locator(PROBLEM_BOXES).all()]
    return list(dict.fromkeys([*seen, *now]))


def assert_no_exception(page, step: str) -> None:
    found = exceptions(page)
    assert not found, f"{step}: Streamlit showed an exception or error box:\n" + "\n---\n".join(found)


OVERFLOW = """() => {
  const boxes = [document.querySelector('.stMain'),
                 document.querySelector('[data-testid="stAppScrollToBottomContainer"]'),
                 document.querySelector('[data-testid="stSidebarContent"]'),
                 document.scrollingElement];
  let extra = 0;
  for (const b of boxes) if (b) extra = Math.max(extra, b.scrollHeight - b.clientHeight);
  return extra;
}"""


def screenshot(page, name: str, viewport: dict | None = None) -> Path:
    """A full picture of the page: the viewport is stretched to the main section's height, then restored.

    Streamlit scrolls inside its main section, so Playwright's full_page alone would cut the page at the
    window's height. Expanders animate open, so the height is taken again until two readings agree.
    """
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    viewport = viewport or VIEWPORT
    height = viewport["height"]
    calm = 0
    for _ in range(12):
        page.wait_for_timeout(250)
        extra = page.evaluate(OVERFLOW)
        if extra > 1 and height < MAX_SHOT_HEIGHT:
            height = min(MAX_SHOT_HEIGHT, height + extra)
            page.set_viewport_size({"width": viewport["width"], "height": height})
            calm = 0
        else:
            calm += 1
            if calm == 2:
                break
    page.screenshot(path=str(path), full_page=True)
    page.set_viewport_size(viewport)
    return path


# Cells of Markdown tables whose text is cut into about one character a line (a column squeezed to the width of
# one Chinese character); each is reported as "text (width px, lines)".
SQUEEZED_CELLS = """() => {
  const out = [];
  for (const cell of document.querySelectorAll('[data-testid="stMarkdownContainer"] table :is(th, td)')) {
    const text = cell.innerText.replace(/\\s+/g, '');
    if (text.length < 3) continue;
    const range = document.createRange();
    range.selectNodeContents(cell);
    const lines = new Set([...range.getClientRects()].filter(r => r.width > 0).map(r => Math.round(r.top))).size;
    if (lines > 1 && text.length / lines < 2) out.push(`${text} (${cell.clientWidth}px, ${lines} lines)`);
  }
  return out;
}"""


# Every text the interface itself shows: the text nodes of the app, placeholders, and the titles (not the tick or
# legend labels) of charts. Left out: content containers (keys content-…: the assistant's answers, the user's
# questions, quoted passages, plan documents), the language switch (key bilingual-…, written in both languages on
# purpose), table grids, code, chart internals and the names of uploaded files: all of them data.
INTERFACE_TEXTS = """() => {
  const skip = '[class*="st-key-content-"], [class*="st-key-bilingual-"], [data-testid="stDataFrame"], '
    + '[data-testid="stDataFrameResizable"], [data-testid="stCode"], .js-plotly-plot, '
    + '[data-testid="stFileUploaderFile"], style, script, noscript';
  const where = (el) => {
    const box = el.closest('[data-testid]');
    return box ? box.dataset.testid : el.tagName.toLowerCase();
  };
  const out = [];
  const app = document.querySelector('[data-testid="stApp"]');
  const walker = document.createTreeWalker(app, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const text = node.textContent.trim();
    const el = node.parentElement;
    if (text && el && !el.closest(skip)) out.push([where(el), text]);
  }
  for (const el of app.querySelectorAll('[placeholder]')) {
    if (el.placeholder && !el.closest(skip)) out.push([where(el) + '[placeholder]', el.placeholder]);
  }
  const titles = '.gtitle, .g-xtitle, .g-ytitle, .legendtitletext';
  for (const el of app.querySelectorAll(titles)) {
    if (!el.closest('[class*="st-key-content-"]')) out.push(['chart title', el.textContent.trim()]);
  }
  return out;
}"""


def sales_csv_gbk() -> bytes:
    """A company's own sales export (Chinese headers, GBK, a column no schema field matches)."""
    text = (
        "单据编号,订单日期,客户名称,产品编码,产品线,数量,单价,金额,订单状态\r\n"
        "XS001,2026/9/3,华东鑫源商贸,SKU-1,饮料,10,50,500,已发货\r\n"
        "XS002,2026/10/15,南方优品超市,SKU-2,零食,4,25,100,已取消\r\n"
    )
    return text.encode("gbk")


DOCUMENT_NAME = "经销商年会筹备指引.txt"
DOCUMENT = """经销商年会筹备指引

一、经销商年会的目的
经销商年会是厂家与渠道伙伴面对面沟通全年政策的场合。本指引要求年会在每年一月举办，
会上发布新年度返利政策，表彰金牌经销商，并安排“星海厅”分组研讨。

二、议程与费用
年会议程包括：董事长致辞、年度政策解读、优秀经销商颁奖、新品品鉴晚宴。
会务费用由厂家承担，经销商只需承担往返差旅。每家经销商限两名代表参会，需在十二月十五日前回执确认。
"""
