"""`python -m eval`: benchmarks (`bench data`, `bench questions`, `bench kb` ...) and evaluations (`data` ...)."""

from __future__ import annotations

import argparse
import json
import re
import resource
import tempfile
import time
from pathlib import Path


def split_name(value: str) -> str:
    """test or dev, or a later batch of either (dev2, dev3 …, test2 …)."""
    if not re.fullmatch(r"(test|dev)\d*", value):
        raise argparse.ArgumentTypeError(f"{value}：只能是 test、dev，或 dev2、test2 这样的后加批次。")
    return value


def peak_mb() -> float:
    # ru_maxrss is in KiB on Linux: the peak resident memory of this process so far.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bench_data(partners: int, months: int, seed: int, with_import: bool) -> dict:
    """Generate the sample company at scale, load it into DuckDB, then re-import its sales CSV."""
    from company.importers import import_file
    from company.sample import generate
    from company.store import Store

    figures: dict = {"partners": partners, "months": months}
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        sample = generate(partners=partners, months=months, seed=seed)
        figures["generate_s"] = round(time.perf_counter() - started, 2)
        figures["rows"] = {name: len(frame) for name, frame in sample.tables.items()}
        figures["rows_total"] = sum(figures["rows"].values())
        store = Store(Path(tmp) / "company")
        started = time.perf_counter()
        store.replace_all(sample.tables, meta={"source": "sample"})
        figures["load_s"] = round(time.perf_counter() - started, 2)
        figures["db_mb"] = round(store.path().stat().st_size / 1024 / 1024, 1)
        started = time.perf_counter()
        store.query("SELECT partner_id, sum(revenue) FROM sales GROUP BY 1")
        figures["query_s"] = round(time.perf_counter() - started, 3)
        figures["peak_mb_after_load"] = round(peak_mb())
        if with_import:
            csv_path = Path(tmp) / "sales.csv"
            sample.tables["sales"].to_csv(csv_path, index=False)
            figures["sales_csv_mb"] = round(csv_path.stat().st_size / 1024 / 1024, 1)
            del sample
            started = time.perf_counter()
            report = import_file(store, csv_path, table="sales", replace_table=True, max_mb=4096)
            figures["import_sales_csv_s"] = round(time.perf_counter() - started, 2)
            figures["import_rows"] = report.rows_valid
        figures["peak_mb"] = round(peak_mb())
    return figures


def write_dealer_export(path: Path, lines: int, seed: int = 7) -> None:
    """A sales export shaped like real dealer exports: month-first dates with a time, customer names,
    product lines, countries and extra columns (status, deal size, profit) that match no schema field."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    customers = np.array([f"Customer {i:05d} Ltd." for i in range(2000)])
    countries = np.array(["USA", "France", "Germany", "Japan", "Spain", "UK", "Norway", "Australia"])
    lines_ = np.array(["Classic Cars", "Vintage Cars", "Motorcycles", "Planes", "Ships", "Trains"])
    status = np.array(["Shipped", "Shipped", "Shipped", "Cancelled", "On Hold", "Resolved"])
    days = rng.integers(0, 3 * 365, lines)
    dates = pd.Timestamp("2023-01-01") + pd.to_timedelta(days, unit="D")
    qty = rng.integers(1, 100, lines)
    price = rng.integers(1000, 20000, lines) / 100
    frame = pd.DataFrame(
        {
            "ORDERNUMBER": 100000 + np.arange(lines) // 4,
            "ORDERLINENUMBER": np.arange(lines) % 4 + 1,
            "ORDERDATE": dates.strftime("%-m/%-d/%Y 0:00"),
            "CUSTOMERNAME": customers[rng.integers(0, len(customers), lines)],
            "PRODUCTCODE": np.char.add("S", rng.integers(10, 999, lines).astype(str)),
            "PRODUCTLINE": lines_[rng.integers(0, len(lines_), lines)],
            "QUANTITYORDERED": qty,
            "PRICEEACH": price,
            "SALES": np.round(qty * price, 2),
            "STATUS": status[rng.integers(0, len(status), lines)],
            "COUNTRY": countries[rng.integers(0, len(countries), lines)],
            "DEALSIZE": np.where(qty * price > 5000, "Large", np.where(qty * price > 1000, "Medium", "Small")),
            "Profit": np.round(qty * price * rng.uniform(-0.1, 0.4, lines), 2),
        }
    )
    frame.to_csv(path, index=False)


_IMPORT_CHILD = """
import json, resource, sys, time
from advisor.runtime import pin_threads
pin_threads()
from company.importers import import_file
from company.store import Store
started = time.perf_counter()
report = import_file(Store(sys.argv[2]), sys.argv[1], max_mb=4096)
seconds = time.perf_counter() - started
print(json.dumps({"seconds": round(seconds, 2), "rows": report.rows_valid, "attributes": len(report.attributes),
                  "peak_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}))
"""
_DUCKDB_CHILD = """
import json, sys, time, duckdb
started = time.perf_counter()
con = duckdb.connect()
rows = con.execute("CREATE TABLE t AS SELECT * FROM read_csv(?)", [sys.argv[1]]).fetchone()[0]
print(json.dumps({"seconds": round(time.perf_counter() - started, 2), "rows": rows}))
"""


def bench_import(lines: int, seed: int) -> dict:
    """Import a dealer export of `lines` lines (with attribute columns) into a fresh store, in a child process,
    so its time and peak memory are the import's own; DuckDB's bare CSV reader on the same file for scale."""
    import subprocess
    import sys

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "dealer_export.csv"
        root = Path(__file__).resolve().parent.parent
        # Written by another child: Linux carries a parent's peak RSS into a forked child's ru_maxrss, so the
        # parent must stay small for the import child's peak to be its own.
        started = time.perf_counter()
        writer = f"from eval.runner import write_dealer_export; write_dealer_export({str(path)!r}, {lines}, {seed})"
        subprocess.run([sys.executable, "-c", writer], cwd=root, check=True)
        written = time.perf_counter() - started
        run = [sys.executable, "-c", _IMPORT_CHILD, str(path), str(Path(tmp) / "company")]
        out = subprocess.run(run, cwd=root, capture_output=True, text=True, check=True)
        figures = json.loads(out.stdout.strip().splitlines()[-1])
        bare = subprocess.run([sys.executable, "-c", _DUCKDB_CHILD, str(path)], capture_output=True, text=True)
        figures["duckdb_read_csv_s"] = json.loads(bare.stdout)["seconds"] if bare.returncode == 0 else None
        figures["csv_mb"] = round(path.stat().st_size / 1024 / 1024, 1)
        figures["lines"] = lines
        figures["write_csv_s"] = round(written, 1)
    return figures


def bench_plans(seed: int) -> dict:
    """Time the 7 regional quarterly plans as DOCX for the default sample company (preparation excluded)."""
    from advisor.plans import export, generate
    from company.sample import generate as generate_sample
    from company.schema import REGIONS
    from company.store import Store
    from retrieval.knowledge_base import KnowledgeBase

    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        store = Store(Path(tmp) / "company")
        store.replace_all(generate_sample(seed=seed).tables)
        kb = KnowledgeBase(Path(tmp) / "knowledge")
        kb.ensure_guides()
        kb.warm_up()
        prepared = time.perf_counter() - started
        started = time.perf_counter()
        for region in REGIONS:
            export(
                generate("work_plan", {"quarter": None, "region": region}, store, kb.search),
                Path(tmp) / "plans" / f"{region}.docx",
            )
        elapsed = time.perf_counter() - started
    return {
        "prepare_s": round(prepared, 1),
        "plans_s": round(elapsed, 2),
        "per_plan_s": round(elapsed / 7, 2),
        "peak_mb": round(peak_mb()),
    }


def _bench_load(parser: argparse.ArgumentParser, args: argparse.Namespace, argv: list[str] | None) -> int:
    """`bench load`: the sample company of the settings (240 × 24 by default) unless --partners/--months are given
    (their defaults, 5,000 partners, are for `bench data`)."""
    import sys

    from eval.bench_load import main_figures
    from eval.bench_load import run as run_load

    if args.users < 1 or args.duration <= 0 or args.imports < 0 or args.think < 0:
        parser.error("--users 至少为 1，--duration 须大于 0，--imports 和 --think 不能为负数。")

    def given(flag: str) -> bool:
        return any(a == flag or a.startswith(flag + "=") for a in (sys.argv[1:] if argv is None else argv))

    figures = run_load(
        users=args.users,
        duration=args.duration,
        imports=args.imports,
        partners=args.partners if given("--partners") else None,
        months=args.months if given("--months") else None,
        seed=args.seed if given("--seed") else None,
        think=args.think,
        progress=None if args.json else lambda message: print(message, file=sys.stderr, flush=True),
    )
    return main_figures(figures, args.json)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval", description="渠道参谋 评测与基准")
    sub = parser.add_subparsers(dest="command", required=True)
    bench = sub.add_parser("bench", help="性能基准")
    bench.add_argument(
        "target",
        choices=["data", "questions", "plans", "import", "answer", "kb", "load"],
        help="data：生成并载入示例公司；questions：数据问答用时（示例公司与 --partners × --months 公司）；"
        "plans：为示例公司生成 7 个区域的季度计划（Word）；answer：一问一答用时（进程内与 ask 命令行）；"
        "kb：把 --mb MB 的合成中文文本加入一个新知识库的用时与峰值内存；"
        "load：--users 个登录用户同时提问 --duration 秒，期间管理员导入销售明细 --imports 次（有错误时退出码为 1）",
    )
    bench.add_argument("--partners", type=int, default=5000)
    bench.add_argument("--months", type=int, default=24)
    bench.add_argument("--seed", type=int, default=7)
    bench.add_argument("--no-import", action="store_true", help="跳过销售 CSV 重新导入的计时")
    bench.add_argument("--lines", type=int, default=2_000_000, help="import：经销商销售导出的行数")
    bench.add_argument("--mb", type=float, default=1.0, help="kb：合成文本的大小（MB）")
    bench.add_argument("--users", type=int, default=20, help="load：同时提问的用户数")
    bench.add_argument("--duration", type=float, default=300.0, help="load：持续提问的秒数")
    bench.add_argument("--imports", type=int, default=2, help="load：运行期间管理员导入销售明细的次数")
    bench.add_argument("--think", type=float, default=0.0, help="load：每个用户两问之间平均停顿的秒数")
    bench.add_argument("--json", action="store_true")
    data = sub.add_parser("data", help="数据问答评测：与 pandas 独立计算的结果逐题比对的准确率")
    data.add_argument("--json", action="store_true", help="以 JSON 输出全部数字与失败明细")
    data.add_argument("--show-failures", action="store_true", help="列出每个失败问题的期望与实得")
    questions = sub.add_parser("questions", help="数据问题评测（经由整个助手，含路由）：示例公司，及可选的真实导出")
    questions.add_argument("--exports", type=Path, help="真实导出所在文件夹（每个导出一个子文件夹）")
    questions.add_argument(
        "--export-cases", type=Path, help="真实导出的问题集（默认 DIR/../eval_data/export_cases.jsonl）"
    )
    questions.add_argument("--split", type=split_name, help="只跑一部分：test、dev 或后加的开发题 dev2、dev3 …")
    questions.add_argument("--extra-cases", type=Path, action="append", help="再加一批题（如第二批开发题）")
    questions.add_argument("--show", help="列出未答对的问题：all 或某个结论（wrong、clarified …）")
    questions.add_argument("--json", action="store_true")
    guidance = sub.add_parser("guidance", help="指南问答评测：是否从知识库回答、答案是否说出要点、检索命中率")
    guidance.add_argument("--docs", type=Path, help="外部真实文档所在文件夹（含 questions.jsonl），与内置指南一起检索")
    guidance.add_argument(
        "--questions", type=Path, action="append", help="再加一批题（如仓库里的 eval/round2/guidance_questions.jsonl）"
    )
    guidance.add_argument("--split", type=split_name, help="只跑一部分：test、dev 或后加的开发题 dev2、dev3 …")
    guidance.add_argument("--show", choices=["all", "answers"], help="列出没有答好的问题（answers：连同答案）")
    guidance.add_argument("--json", action="store_true")
    retrieval = sub.add_parser("retrieval", help="检索评测：各路召回与融合的 hit@1、hit@5、MRR")
    retrieval.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    for name in ("docs", "exports"):  # a mistyped folder is a clear error, not a traceback halfway through
        folder = getattr(args, name, None)
        if folder is not None and not folder.is_dir():
            parser.error(f"--{name} {folder}：文件夹不存在，请检查路径。")
    if args.command == "questions":
        from eval.questions import run as run_questions

        run_questions(args.json, args.show, args.exports, args.export_cases, args.split, args.extra_cases)
        return 0
    if args.command == "guidance":
        from eval.guidance import run as run_guidance

        run_guidance(args.json, args.show, args.docs, args.split, args.questions)
        return 0
    if args.command == "retrieval":
        from eval.retrieval import run

        run(args.json)
        return 0
    if args.command == "data":
        from eval.data_eval import run as run_data

        run_data(args.json, args.show_failures)
        return 0
    if args.target == "answer":
        from eval.bench_answer import print_report
        from eval.bench_answer import run as run_answer

        figures = run_answer()
        if args.json:
            print(json.dumps(figures, ensure_ascii=False, indent=2))
        else:
            print_report(figures)
        return 0
    if args.target == "kb":
        from eval.bench_kb import print_report as print_kb
        from eval.bench_kb import run as run_kb

        figures = run_kb(args.mb, args.seed, show_progress=not args.json)
        if args.json:
            print(json.dumps(figures, ensure_ascii=False, indent=2))
        else:
            print_kb(figures)
        return 0 if not figures["error"] else 1
    if args.target == "load":
        return _bench_load(parser, args, argv)
    if args.target == "plans":
        figures = bench_plans(args.seed)
        if args.json:
            print(json.dumps(figures, ensure_ascii=False, indent=2))
        else:
            print(
                f"示例公司（240 个伙伴 × 24 个月）7 个区域季度计划（Word）：共 {figures['plans_s']} s，"
                f"每份 {figures['per_plan_s']} s（准备示例数据与指南索引 {figures['prepare_s']} s，不计入）；"
                f"峰值内存 {figures['peak_mb']:,} MB"
            )
        return 0
    if args.target == "import":
        figures = bench_import(args.lines, args.seed)
        if args.json:
            print(json.dumps(figures, ensure_ascii=False, indent=2))
        else:
            print(
                f"导入经销商销售导出（{figures['lines']:,} 行、{figures['csv_mb']} MB，含 {figures['attributes']} 个"
                f"保留列）到新数据集：{figures['seconds']} s，峰值内存 {figures['peak_mb']:,} MB；"
                f"同一文件 DuckDB read_csv 本身 {figures['duckdb_read_csv_s']} s"
            )
        return 0
    if args.target == "questions":
        from eval.data_eval import run_bench

        run_bench(args.partners, args.months, args.seed, args.json)
        return 0
    figures = bench_data(args.partners, args.months, args.seed, not args.no_import)
    if args.json:
        print(json.dumps(figures, ensure_ascii=False, indent=2))
        return 0
    print(f"示例公司 {figures['partners']:,} 个伙伴 × {figures['months']} 个月")
    print(
        f"  生成 {figures['generate_s']} s，载入 DuckDB {figures['load_s']} s，共 {figures['rows_total']:,} 行，"
        f"数据库 {figures['db_mb']} MB"
    )
    print("  " + "，".join(f"{k} {v:,}" for k, v in figures["rows"].items()))
    print(f"  按伙伴汇总销售额查询 {figures['query_s']} s")
    if "import_sales_csv_s" in figures:
        print(
            f"  重新导入销售明细 CSV（{figures['sales_csv_mb']} MB，{figures['import_rows']:,} 行）"
            f"{figures['import_sales_csv_s']} s"
        )
    print(f"  峰值内存 {figures['peak_mb']:,} MB（载入后 {figures['peak_mb_after_load']:,} MB）")
    return 0
