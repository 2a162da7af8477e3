"""Command line: `python -m advisor data sample|import|status|model` and `python -m advisor prepare`."""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from advisor.settings import get_settings
from advisor.workspace import ensure_default, load_sample, open_store
from company.errors import CanmouError, ImportRejected
from company.importers import import_file, parse_mapping
from company.schema import TABLES, data_model_markdown


def _progress(enabled: bool):
    def show(fraction: float, message: str) -> None:
        if enabled:
            print(f"[{fraction * 100:5.1f}%] {message}", file=sys.stderr, flush=True)

    return show


def _print_json(value: Any) -> None:
    print(json.dumps(value, ensure_ascii=False, indent=2, default=str))


def cmd_sample(args: argparse.Namespace) -> int:
    settings = get_settings()
    store = open_store(settings)
    started = time.perf_counter()
    manifest = load_sample(
        store,
        args.partners or settings.sample_partners,
        args.months or settings.sample_months,
        settings.sample_seed if args.seed is None else args.seed,
        _progress(not args.json),
    )
    seconds = time.perf_counter() - started
    status = [s.to_dict() for s in store.status()]
    if args.json:
        _print_json({"seconds": round(seconds, 2), "tables": status, "manifest": manifest})
    else:
        print(f"示例公司已生成并载入 {store.path()}（{seconds:.1f} 秒）")
        _print_status(status)
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    settings = get_settings()
    store = open_store(settings)
    try:
        report = import_file(
            store,
            args.file,
            table=args.table,
            mapping=parse_mapping(args.mapping),
            skip_bad_rows=args.skip_bad_rows,
            replace_table=args.replace,
            max_mb=settings.max_upload_mb,
            progress=_progress(not args.json),
        )
    except ImportRejected as exc:
        if args.json:
            _print_json({"ok": False, "message": exc.message, "report": exc.report.to_dict()})
        else:
            print(exc.message, file=sys.stderr)
        return 2
    if args.json:
        _print_json({"ok": True, "message": report.summary(), "report": report.to_dict()})
        return 0
    print(report.summary())
    if report.mapping:
        print("列映射：" + "，".join(f"{src}→{dst}" for src, dst in report.mapping.items()))
    for problem in report.warnings[:20]:
        print(f"提示：{problem}")
    return 0


def _print_status(rows: list[dict]) -> None:
    width = max(len(r["zh"]) for r in rows)
    for r in rows:
        span = f"{r['date_min']} ~ {r['date_max']}" if r["date_min"] else ""
        print(f"  {r['zh']:<{width}}  {r['table']:<12} {r['rows']:>10,} 行  {span}")


def cmd_status(args: argparse.Namespace) -> int:
    store = open_store()
    if not store.exists():
        message = "还没有公司数据。运行 `python -m advisor data sample` 生成示例公司，或用 `data import` 导入文件。"
        if args.json:
            _print_json({"exists": False, "message": message, "tables": []})
        else:
            print(message)
        return 0
    rows = [s.to_dict() for s in store.status()]
    source = store.meta("source", "import")
    if args.json:
        _print_json({"exists": True, "path": str(store.path()), "source": source, "tables": rows})
    else:
        print(f"公司数据：{store.path()}（来源：{'示例公司' if source == 'sample' else '导入'}）")
        _print_status(rows)
    return 0


def cmd_model(_args: argparse.Namespace) -> int:
    print(data_model_markdown())
    return 0


def cmd_prepare(args: argparse.Namespace) -> int:
    created = ensure_default(progress=_progress(True))
    print("已准备示例公司数据。" if created else "公司数据已存在，跳过生成。")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m advisor", description="渠道参谋命令行")
    sub = parser.add_subparsers(dest="command", required=True)

    data = sub.add_parser("data", help="公司数据：生成示例、导入、查看状态").add_subparsers(
        dest="data_command", required=True
    )
    sample = data.add_parser("sample", help="生成示例公司并替换当前公司数据")
    sample.add_argument("--partners", type=int, help="伙伴数（默认 240）")
    sample.add_argument("--months", type=int, help="月数（默认 24）")
    sample.add_argument("--seed", type=int, help="随机种子")
    sample.add_argument("--json", action="store_true", help="以 JSON 输出")
    sample.set_defaults(func=cmd_sample)

    imp = data.add_parser("import", help="导入 CSV/XLSX 文件")
    imp.add_argument("file", help="CSV 或 XLSX 文件路径")
    imp.add_argument("--table", choices=list(TABLES), help="目标数据表（默认按列名自动判断）")
    imp.add_argument("--mapping", help='列映射 JSON，如 {"客户全称": "name"}，或一个 .json 文件路径')
    imp.add_argument("--skip-bad-rows", action="store_true", help="跳过有问题的行（每一行都会列在报告里）")
    imp.add_argument("--replace", action="store_true", help="清空目标表后再导入（默认按主键更新或追加）")
    imp.add_argument("--json", action="store_true", help="以 JSON 输出导入报告")
    imp.set_defaults(func=cmd_import)

    status = data.add_parser("status", help="各数据表的行数与日期范围")
    status.add_argument("--json", action="store_true", help="以 JSON 输出")
    status.set_defaults(func=cmd_status)

    model = data.add_parser("model", help="打印数据模型说明（Markdown）")
    model.set_defaults(func=cmd_model)

    prepare = sub.add_parser("prepare", help="准备内置默认数据（没有数据时生成示例公司）")
    prepare.set_defaults(func=cmd_prepare)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except CanmouError as exc:
        print(exc.message, file=sys.stderr)
        return 2
