"""Command line: `python -m advisor data sample|import|status|model` and `python -m advisor prepare`."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from advisor.settings import get_settings
from advisor.workspace import ensure_default, load_sample, open_knowledge, open_store
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
    done = ensure_default(progress=_progress(True))
    print("已生成示例公司数据。" if done["sample"] else "公司数据已存在，跳过生成。")
    print(f"已索引 {done['guides']} 篇渠道管理指南。" if done["guides"] else "知识库已有指南索引，跳过。")
    return 0


def cmd_kb_add(args: argparse.Namespace) -> int:
    outcomes = open_knowledge().add_files(args.files, progress=_progress(not args.json))
    if args.json:
        _print_json(
            [
                {
                    "source": o.source,
                    "ok": o.ok,
                    "error": o.error,
                    "duplicate_of": o.duplicate_of,
                    "document": o.document.to_dict() if o.document else None,
                }
                for o in outcomes
            ]
        )
    for o in outcomes if not args.json else []:
        if o.error:
            print(f"✗ {o.source}：{o.error}", file=sys.stderr)
        elif o.duplicate_of:
            print(f"= {o.source}：与已有文档 {o.duplicate_of} 内容相同，未重复加入。")
        else:
            d = o.document
            extra = "".join(
                [
                    f"，去掉页眉页脚/广告语 {d.dropped_boilerplate} 行" if d.dropped_boilerplate else "",
                    f"，去掉重复段落 {d.dropped_duplicates} 处" if d.dropped_duplicates else "",
                ]
            )
            print(f"✓ {o.source} → {d.doc_id}「{d.title}」：{d.chunks} 段{extra}")
    return 0 if all(o.ok for o in outcomes) else 2


def cmd_kb_list(args: argparse.Namespace) -> int:
    docs = open_knowledge().documents()
    if args.json:
        _print_json([d.to_dict() for d in docs])
        return 0
    if not docs:
        print("知识库是空的。运行 `python -m advisor prepare` 索引内置指南，或用 `kb add 文件` 加入文档。")
    for d in docs:
        origin = "指南" if d.origin == "guide" else "上传"
        print(f"{d.doc_id:<48} {origin}  {d.chunks:>4} 段  {d.title}（{d.source}）")
    return 0


def cmd_kb_remove(args: argparse.Namespace) -> int:
    doc = open_knowledge().remove(args.doc_id)
    print(f"已删除 {doc.doc_id}「{doc.title}」（{doc.chunks} 段）。")
    return 0


def cmd_kb_reindex(args: argparse.Namespace) -> int:
    outcomes = open_knowledge().reindex(progress=_progress(True))
    failed = [o for o in outcomes if not o.ok]
    for o in failed:
        print(f"✗ {o.source}：{o.error}", file=sys.stderr)
    print(f"已重建 {len(outcomes) - len(failed)} 篇文档的索引。")
    return 0 if not failed else 2


def cmd_kb_search(args: argparse.Namespace) -> int:
    result = open_knowledge().search(args.query, k=args.k, sources=args.source, topics=args.topic)
    if args.json:
        _print_json(result.to_dict())
        return 0
    if not result.found:
        print(result.message)
    for p in result.passages:
        c = p.chunk
        mark = "" if p.relevant else "（相关性不足）"
        where = " > ".join(c.heading_path)
        print(
            f"[{p.rank}] {p.score:.4f} {c.title}{' > ' + where if where else ''} · {c.source} {c.location_label}{mark}"
        )
        print("    " + c.text.replace("\n", "\n    ")[:400])
    return 0


def cmd_tool(args: argparse.Namespace) -> int:
    from tools.registry import TOOLS

    if not args.name:
        for name, spec in TOOLS.items():
            print(f"{name:<22} {spec.description.splitlines()[0]}")
        return 0
    if args.name not in TOOLS:
        print(f"没有名为 {args.name} 的工具。可用：{'、'.join(TOOLS)}。", file=sys.stderr)
        return 2
    try:
        arguments = json.loads(args.args)
    except json.JSONDecodeError as exc:
        print(f'--args 不是有效的 JSON：{exc.msg}。示例：\'{{"period": "2026Q3"}}\'', file=sys.stderr)
        return 2
    result = TOOLS[args.name](open_store(), arguments)
    if args.json:
        _print_json(
            {
                "tool": result.tool,
                "title": result.title,
                "period": result.period,
                "explanation": result.explanation,
                "formula": result.formula,
                "parameters": result.parameters,
                "figures": result.figures,
                "warnings": result.warnings,
                "tables": {
                    k: json.loads(v.to_json(orient="records", force_ascii=False, date_format="iso"))
                    for k, v in result.tables.items()
                },
            }
        )
        return 0
    print(f"{result.title}\n{result.period}\n\n{result.explanation}\n\n计算方法：{result.formula}")
    for warning in result.warnings:
        print(f"提示：{warning}")
    for name, table in result.tables.items():
        print(f"\n【{name}】（共 {len(table)} 行{'，显示前 20 行' if len(table) > 20 else ''}）")
        print(table.head(20).to_string(index=False))
    return 0


def cmd_ask(args: argparse.Namespace) -> int:
    from advisor.history import History
    from advisor.pipeline import Context, answer

    settings = get_settings()
    store = open_store(settings)
    history = History(settings.data_dir / "history.sqlite")
    conversation = args.conversation or history.start(args.question)
    history.add(conversation, "user", args.question)
    context = Context(
        store=store,
        kb=open_knowledge(settings),
        settings=settings,
        draft=history.current_draft(conversation),
        history=[{"role": m.role, "content": m.content} for m in history.messages(conversation)[-8:]],
    )

    def on_event(kind: str, value) -> None:
        if kind == "step" and not args.json:
            print(f"· {value.label}：{value.detail}", file=sys.stderr)
        elif kind == "token" and not args.json:
            print(value, end="", flush=True)

    reply = answer(args.question, context, on_event)
    history.add(conversation, "assistant", reply.markdown, reply)
    if args.json:
        payload = reply.model_dump(mode="json", exclude={"tables"})
        payload["tables"] = {
            t.name: json.loads(t.frame.to_json(orient="records", force_ascii=False, date_format="iso"))
            for t in reply.tables
        }
        payload["conversation"] = conversation
        _print_json(payload)
        return 0
    print(reply.markdown)
    if reply.sql:
        print(f"\n查询语句：\n{reply.sql}")
    for flag in reply.flags:
        print(f"核对提示：{flag}", file=sys.stderr)
    print(f"\n（对话编号 {conversation}；继续修改方案：--conversation {conversation}）", file=sys.stderr)
    return 0


def cmd_ask_data(args: argparse.Namespace) -> int:
    from advisor.data_questions import Clarification, answer_data_question

    result = answer_data_question(open_store(), args.question)
    if args.json:
        _print_json(result.to_dict())
        return 0
    if isinstance(result, Clarification):
        print(result.question)
        for number, option in enumerate(result.options, 1):
            print(f"  {number}. {option}")
        return 0
    zh = result.language == "zh"
    print(("时间：" if zh else "Period: ") + result.window)
    if result.compare_window:
        print(("对比期：" if zh else "Compared with: ") + result.compare_window)
    for note in result.notes:
        print(("说明：" if zh else "Note: ") + note)
    print()
    if result.table.empty:
        print("（没有符合条件的数据）" if zh else "(no rows)")
    else:
        print(result.table.head(50).to_string(index=False))
        if len(result.table) > 50:
            print(
                f"……共 {len(result.table)} 行，显示前 50 行" if zh else f"... {len(result.table)} rows, first 50 shown"
            )
    print()
    print(result.summary)
    print("\n" + ("查询语句：" if zh else "SQL:"))
    print(result.sql)
    params = json.dumps(result.to_dict()["params"], ensure_ascii=False)
    print(("参数：" if zh else "Parameters: ") + params)
    return 0


def cmd_plan(args: argparse.Namespace) -> int:
    from advisor.plans import PlanLibrary, export, generate, regional_plans

    settings = get_settings()
    store = open_store(settings)
    search = open_knowledge(settings).search
    kind = {"quarterly": "work_plan", "incentive": "incentive", "strategy": "strategy"}[args.kind]
    started = time.perf_counter()
    if args.all_regions:
        if kind != "work_plan":
            print("--all-regions 只用于季度工作计划（plan quarterly）。", file=sys.stderr)
            return 2
        folder = Path(args.out or "plans")
        written = regional_plans(
            store, search, args.quarter, folder, _progress(True), fmt=".md" if args.format == "md" else ".docx"
        )
        for path in written:
            print(path)
        print(f"共 {len(written)} 个文件，用时 {time.perf_counter() - started:.1f} 秒。", file=sys.stderr)
        return 0
    plan_args: dict = {"region": args.region}
    if kind == "work_plan":
        plan_args["quarter"] = args.quarter
    elif kind == "incentive":
        from advisor.drafts import incentive_args

        plan_args = incentive_args({"region": args.region, **({"budget": args.budget} if args.budget else {})})
        if args.quarter:
            plan_args["period"] = args.quarter
    else:
        plan_args["period"] = args.quarter or "latest"
    document = generate(kind, plan_args, store, search)
    PlanLibrary(settings.data_dir / "plans").save(document)
    out = Path(args.out) if args.out else Path(safe_file(document.title))
    for path in export(document, out):
        print(path)
    print(f"「{document.title}」已生成并保存到方案库，用时 {time.perf_counter() - started:.1f} 秒。", file=sys.stderr)
    return 0


def safe_file(title: str) -> str:
    from advisor.plans import safe_name

    return safe_name(title) + ".docx"


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

    kb = sub.add_parser("kb", help="知识库：加入、列出、删除、检索文档").add_subparsers(
        dest="kb_command", required=True
    )
    add = kb.add_parser("add", help="加入文档（.md .txt .docx .pdf .html .csv .xlsx）")
    add.add_argument("files", nargs="+", help="文档路径")
    add.add_argument("--json", action="store_true")
    add.set_defaults(func=cmd_kb_add)
    listing = kb.add_parser("list", help="列出知识库中的文档")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(func=cmd_kb_list)
    remove = kb.add_parser("remove", help="删除一篇文档")
    remove.add_argument("doc_id", help="文档编号（见 kb list）")
    remove.set_defaults(func=cmd_kb_remove)
    reindex = kb.add_parser("reindex", help="从保存的原文重建全部索引")
    reindex.set_defaults(func=cmd_kb_reindex)
    search = kb.add_parser("search", help="检索知识库")
    search.add_argument("query", help="问题")
    search.add_argument("--k", type=int, default=5, help="返回段落数（默认 5）")
    search.add_argument("--source", action="append", help="只在这些文档中检索（文件名或文档编号，可重复）")
    search.add_argument("--topic", action="append", help="只检索这些主题（如 incentive、conflict，可重复）")
    search.add_argument("--json", action="store_true")
    search.set_defaults(func=cmd_kb_search)

    ask = sub.add_parser("ask", help="向渠道参谋提问（与对话页面同一流程）")
    ask.add_argument("question", help="问题，例如：设计一个返利方案，预算150万")
    ask.add_argument("--conversation", help="继续某个对话（可修改其中的方案）")
    ask.add_argument("--json", action="store_true", help="以 JSON 输出完整回答")
    ask.set_defaults(func=cmd_ask)

    plan = sub.add_parser("plan", help="生成方案文档（Word 与 Markdown）")
    plan.add_argument("kind", choices=["quarterly", "incentive", "strategy"], help="季度工作计划 / 返利方案 / 渠道策略")
    plan.add_argument("--quarter", help="计划季度，如 2026Q1（返利方案与渠道策略：测算/分析期间）")
    plan.add_argument("--region", help="区域，如 华东")
    plan.add_argument("--budget", type=float, help="返利预算（元），仅返利方案")
    plan.add_argument("--out", help="输出文件（.docx 或 .md；不写扩展名则两种都生成）；--all-regions 时为输出文件夹")
    plan.add_argument("--all-regions", action="store_true", help="每个区域一份季度计划，外加全公司汇总")
    plan.add_argument("--format", choices=["docx", "md"], default="docx", help="--all-regions 时的文件格式")
    plan.set_defaults(func=cmd_plan)

    tool = sub.add_parser("tool", help="运行渠道计算工具（记分卡、费用、返利、冲突、工作计划）")
    tool.add_argument("name", nargs="?", help="工具名；不填则列出全部工具")
    tool.add_argument("--args", default="{}", help='参数 JSON，如 \'{"period": "2026Q3", "region": "华东"}\'')
    tool.add_argument("--json", action="store_true", help="以 JSON 输出（表格为行列表）")
    tool.set_defaults(func=cmd_tool)

    ask_data = sub.add_parser("ask-data", help="数据提问：把问题解析为查询并直接给出数字、表格与 SQL")
    ask_data.add_argument("question", help="问题，例如：上季度华东区完成率最低的5个经销商")
    ask_data.add_argument("--json", action="store_true", help="以 JSON 输出（查询定义、时间、行、结论、SQL 与参数）")
    ask_data.set_defaults(func=cmd_ask_data)

    prepare = sub.add_parser("prepare", help="准备内置默认数据（示例公司与指南索引）")
    prepare.set_defaults(func=cmd_prepare)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except CanmouError as exc:
        print(exc.message, file=sys.stderr)
        return 2
