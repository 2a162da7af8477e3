"""Command line: `python -m advisor data sample|import|status|model`, `users list|add|passwd|remove` and `prepare`."""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from advisor.accounts import MIN_PASSWORD, ROLES, AccountError, Accounts
from advisor.audit import EVENTS, LOCAL, AuditLog, Filters
from advisor.settings import get_settings, settings_error_message
from advisor.workspace import (
    active_dataset,
    ensure_default,
    import_into_workspace,
    load_sample,
    open_knowledge,
    open_store,
    workspaces,
)
from company.errors import CanmouError, ImportRejected
from company.importers import parse_mapping
from company.schema import TABLES, data_model_markdown
from company.units import CURRENCIES, check_code, localise_columns, localise_text
from company.workspaces import SAMPLE_ID
from documents.kinds import PLAN_KINDS, UnknownPlanKind, plan_kind


def _progress(enabled: bool):
    def show(fraction: float, message: str) -> None:
        if enabled:
            print(f"[{fraction * 100:5.1f}%] {message}", file=sys.stderr, flush=True)

    return show


def _print_json(value: Any) -> None:
    print(json.dumps(value, ensure_ascii=False, indent=2, default=str))


def _audit(event: str, **details: Any) -> None:
    """Record what a command did in the audit log; the command line acts as the local operator."""
    AuditLog(get_settings().data_dir).record(event, LOCAL, **details)


def cmd_sample(args: argparse.Namespace) -> int:
    settings = get_settings()
    started = time.perf_counter()
    manifest = load_sample(
        settings,
        args.partners or settings.sample_partners,
        args.months or settings.sample_months,
        settings.sample_seed if args.seed is None else args.seed,
        _progress(not args.json),
        end_month=args.end_month,
    )
    seconds = time.perf_counter() - started
    store = workspaces(settings).get(SAMPLE_ID).store
    status = [s.to_dict() for s in store.status()]
    if args.json:
        _print_json({"seconds": round(seconds, 2), "tables": status, "manifest": manifest})
    else:
        print(f"示例公司已生成并载入数据集「示例公司」（{seconds:.1f} 秒）；您自己的数据集不受影响。")
        _print_status(status)
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    try:
        report = import_into_workspace(
            Path(args.file),
            dataset=args.dataset,
            progress=_progress(not args.json),
            table=args.table,
            mapping=parse_mapping(args.mapping),
            skip_bad_rows=args.skip_bad_rows,
            replace_table=args.replace,
            cascade=args.cascade,
            date_order=args.date_order,
            currency_code=args.currency,
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
    if report.dataset_created:
        print(f"已新建数据集「{report.dataset_name}」（编号 {report.dataset_id}）并切换到它；示例公司保持不变。")
    for line in report.overview_lines():
        print(line)
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
    dataset = active_dataset()
    if dataset is None or not dataset.store.exists():
        message = "还没有公司数据。运行 `python -m advisor data sample` 生成示例公司，或用 `data import` 导入文件。"
        if args.json:
            _print_json({"exists": False, "message": message, "tables": []})
        else:
            print(message)
        return 0
    store = dataset.store
    rows = [s.to_dict() for s in store.status()]
    profile = store.profile()
    if args.json:
        _print_json(
            {
                "exists": True,
                "dataset": dataset.id,
                "name": profile.name,
                "kind": profile.kind,
                "currency": profile.currency,
                "path": str(store.path()),
                "tables": rows,
            }
        )
    else:
        print(f"当前数据集：{dataset.describe()}，编号 {dataset.id}")
        _print_status(rows)
    return 0


def cmd_datasets(args: argparse.Namespace) -> int:
    spaces = workspaces()
    active = spaces.active_id()
    rows = []
    for d in spaces.list():
        p = d.profile
        sales = next((s for s in d.store.status() if s.table == "sales"), None) if d.store.exists() else None
        rows.append(
            {
                "id": d.id,
                "name": p.name,
                "kind": p.kind,
                "currency": p.currency,
                "active": d.id == active,
                "sales_rows": sales.rows if sales else 0,
                "date_min": sales.date_min if sales else None,
                "date_max": sales.date_max if sales else None,
            }
        )
    if args.json:
        _print_json(rows)
        return 0
    if not rows:
        print("还没有数据集。运行 `python -m advisor data sample` 生成示例公司，或用 `data import 文件` 导入。")
    for r in rows:
        mark = "*" if r["active"] else " "
        kind = "示例" if r["kind"] == "sample" else "公司"
        span = f"{r['date_min']} ~ {r['date_max']}" if r["date_min"] else "（无销售数据）"
        print(f"{mark} {r['id']:<24} {kind}  {r['currency']}  销售 {r['sales_rows']:>10,} 行  {span}  {r['name']}")
    print("（* 为当前数据集；切换：python -m advisor data use 编号）")
    return 0


def cmd_use(args: argparse.Namespace) -> int:
    dataset = workspaces().activate(args.dataset)
    print(f"已切换到数据集 {dataset.describe()}。")
    return 0


def cmd_dataset_set(args: argparse.Namespace) -> int:
    spaces = workspaces()
    dataset = spaces.get(args.dataset) if args.dataset else spaces.active()
    if dataset is None:
        print("还没有数据集。", file=sys.stderr)
        return 2
    changes: dict[str, Any] = {}
    if args.currency:
        try:
            changes["currency"] = check_code(args.currency)
        except ValueError as exc:
            print(str(exc), file=sys.stderr)
            return 2
    if args.name:
        changes["name"] = args.name.strip()
    if args.quantity_unit:
        changes["quantity_unit"] = args.quantity_unit.strip()
    if args.confirm_dates:
        changes["dates_confirmed"] = True
    if not changes:
        print("没有要修改的内容：可用 --name、--currency、--quantity-unit、--confirm-dates。", file=sys.stderr)
        return 2
    dataset.store.update_profile(**changes)
    print(f"已更新数据集 {dataset.describe()}。")
    return 0


def cmd_dataset_drop(args: argparse.Namespace) -> int:
    spaces = workspaces()
    dataset = spaces.get(args.dataset)
    if not args.yes:
        print(f"将删除数据集 {dataset.describe()} 的全部数据，且不可恢复。确认请加 --yes。", file=sys.stderr)
        return 2
    spaces.remove(dataset.id)
    _audit("delete", target="dataset", id=dataset.id, name=dataset.profile.name)
    active = spaces.active()
    print(f"已删除数据集「{dataset.id}」。当前数据集：{active.describe() if active else '（无）'}")
    return 0


def cmd_attributes(args: argparse.Namespace) -> int:
    from company.catalog import attributes, relabel

    store = open_store()
    if args.set:
        try:
            relabel(store, args.set, zh=args.zh, en=args.en, kind=args.kind)
        except ValueError as exc:
            print(str(exc), file=sys.stderr)
            return 2
    rows = [a.to_dict() for a in attributes(store)]
    if args.json:
        _print_json(rows)
        return 0
    if not rows:
        print("当前数据集没有保留的其它列（导入时未匹配到标准字段的列会保留在这里）。")
    for a in rows:
        kind = "维度" if a["kind"] == "dimension" else "度量"
        print(
            f"  {a['table']}.{a['column']:<28} {kind}  中文名：{a['zh']}  英文名：{a['en']}  （原列名 {a['header']}）"
        )
    return 0


def cmd_model(_args: argparse.Namespace) -> int:
    print(data_model_markdown())
    return 0


def cmd_prepare(args: argparse.Namespace) -> int:
    done = ensure_default(progress=_progress(True))
    print("已生成示例公司数据。" if done["sample"] else "公司数据已存在，跳过生成。")
    print(f"已索引 {done['guides']} 篇渠道管理指南。" if done["guides"] else "知识库已有指南索引，跳过。")
    _accounts()
    return 0


def _accounts(to_stderr: bool = False) -> Accounts:
    """The accounts file; on first run it is made with an admin whose one-time password is printed here."""
    accounts = Accounts.for_settings()
    created = accounts.ensure_admin()
    if created is not None:
        print(created.message(), file=sys.stderr if to_stderr else sys.stdout)
    return accounts


def _read_password(args: argparse.Namespace, name: str) -> str:
    """From standard input with --password-stdin (one line), else typed twice without echo."""
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass(f"账号「{name}」的新密码（至少 {MIN_PASSWORD} 个字符，输入时不显示）：")
    if getpass.getpass("再输入一次：") != first:
        raise AccountError("两次输入的密码不一致，没有改动。请重新运行命令。")
    return first


def cmd_users_list(args: argparse.Namespace) -> int:
    accounts = _accounts(to_stderr=args.json)
    rows = [
        {
            "name": u.name,
            "role": u.role,
            "role_zh": ROLES[u.role].zh,
            "regions": list(u.regions),
            "email": u.email,
            "password": accounts.has_password(u.name),
        }
        for u in accounts.users()
    ]
    if args.json:
        _print_json(rows)
        return 0
    for r in rows:
        regions = "、".join(r["regions"]) or "全部区域"
        sign_in = "、".join(
            filter(None, ["密码" if r["password"] else "", f"单点登录 {r['email']}" if r["email"] else ""])
        )
        print(f"  {r['name']:<20} {r['role_zh']:<5} {regions:<16} 登录方式：{sign_in}")
    return 0


def cmd_users_add(args: argparse.Namespace) -> int:
    accounts = _accounts()
    store = open_store()
    known = store.region_names() if store.exists() else None
    accounts.check_new(args.name, args.role, args.region or [], args.email, known)  # before asking for a password
    password = _read_password(args, args.name) if args.password_stdin or not args.email else None
    user = accounts.add(
        args.name, args.role, args.region or [], password=password, email=args.email, known_regions=known
    )
    print(f"已添加账号 {user.describe()}。")
    if known is None and user.role == "manager":
        print("提示：还没有公司数据，区域名称未能核对；导入数据后请用 `users list` 确认区域与数据一致。")
    return 0


def cmd_users_passwd(args: argparse.Namespace) -> int:
    accounts = _accounts()
    user = accounts.get(args.name)
    accounts.set_password(user.name, _read_password(args, user.name))
    print(f"已修改账号「{user.name}」的密码。")
    return 0


def cmd_users_remove(args: argparse.Namespace) -> int:
    user = _accounts().remove(args.name)
    _audit("delete", target="account", name=user.name, role=user.role)
    print(f"已删除账号 {user.describe()}。它的对话记录保留在历史中。")
    return 0


def cmd_kb_add(args: argparse.Namespace) -> int:
    outcomes = open_knowledge().add_files(args.files, progress=_progress(not args.json))
    for o in outcomes:
        if o.ok and o.document is not None and not o.duplicate_of:
            _audit("import", target="document", file=o.source, id=o.document.doc_id, title=o.document.title)
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
    _audit("delete", target="document", id=doc.doc_id, title=doc.title)
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
    store = open_store()
    result = TOOLS[args.name](store, arguments)
    code = store.profile().currency
    if args.json:
        _print_json(
            {
                "tool": result.tool,
                "title": result.title,
                "period": result.period,
                "explanation": result.explanation,
                "formula": result.formula,
                "parameters": result.parameters,
                # canonical names a script can rely on, and what each is called in --lang (in the data's currency)
                "figures": result.figures,
                "figure_labels": {k: localise_text(v, code) for k, v in result.figure_labels(args.lang).items()},
                "warnings": result.warnings,
                "missing": [m.to_dict() for m in result.missing],
                "tables": {
                    k: json.loads(v.to_json(orient="records", force_ascii=False, date_format="iso"))
                    for k, v in result.labelled(args.lang).items()
                },
            }
        )
        return 0
    dataset = active_dataset()
    text = f"{result.title}\n{result.period}\n\n{result.explanation}\n\n计算方法：{result.formula}"
    print(localise_text(text, code))
    for warning in result.warnings:
        print(localise_text(f"提示：{warning}", code))
    for line in result.missing_lines():
        print(f"需要补充的数据：{line}")
    for name, table in result.labelled(args.lang).items():
        print(f"\n【{name}】（共 {len(table)} 行{'，显示前 20 行' if len(table) > 20 else ''}）")
        print(localise_columns(table.head(20), code).to_string(index=False))
    if dataset is not None:
        print(f"\n数据集：{dataset.describe()}")
    return 0


def cmd_ask(args: argparse.Namespace) -> int:
    from advisor.conversation import Conversation, Deps
    from advisor.history import History, dump_answer
    from documents.markdown import as_text

    settings = get_settings()
    deps = Deps(
        store=open_store(settings),
        kb=open_knowledge(settings),
        settings=settings,
        history=History(settings.data_dir / "history.sqlite"),
    )
    conversation = Conversation.open(deps, args.conversation, args.question)

    def on_event(kind: str, value) -> None:
        if kind == "step" and not args.json:
            print(f"· {value.label}：{value.detail}", file=sys.stderr)
        elif kind == "token" and not args.json:
            print(value, end="", flush=True)

    reply = conversation.ask(args.question, on_event)
    if args.json:
        _print_json({**dump_answer(reply), "conversation": conversation.id})
        return 0
    print(as_text(reply.markdown))  # a terminal shows the text, not its Markdown escapes
    if reply.sql:
        print(f"\n查询语句：\n{reply.sql}")
    for flag in reply.flags:
        print(f"核对提示：{flag}", file=sys.stderr)
    print(f"\n（对话编号 {conversation.id}；继续修改方案：--conversation {conversation.id}）", file=sys.stderr)
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
    kind = args.kind  # a plan kind id (plan_kind_arg)
    started = time.perf_counter()
    if args.all_regions:
        if kind != "work_plan":
            print(f"--all-regions 只用于{PLAN_KINDS['work_plan'].zh}（plan quarterly）。", file=sys.stderr)
            return 2
        folder = Path(args.out or "plans")
        written = regional_plans(
            store, search, args.quarter, folder, _progress(True), fmt=".md" if args.format == "md" else ".docx"
        )
        for path in written:
            print(path)
        print(f"共 {len(written)} 个文件，用时 {time.perf_counter() - started:.1f} 秒。", file=sys.stderr)
        return 0
    from advisor.data_questions import named_quarter
    from advisor.drafts import initial_args
    from company import clock

    # The same arguments the chat would keep for 「给华东做一份2026Q1的…，预算300万」; 本季度 / 下季度 / Q4 2026 are
    # read with the chat's time words (the one time resolver), so a relative quarter is never dropped.
    quarter = (named_quarter(args.quarter, clock.today()) or args.quarter) if args.quarter else None
    slots = {"region": args.region, "period": quarter, "budget": args.budget}
    plan_args = initial_args(kind, {k: v for k, v in slots.items() if v})
    document = generate(kind, plan_args, store, search)
    PlanLibrary(settings.data_dir / "plans").save(document)
    out = Path(args.out) if args.out else Path(safe_file(document.title))
    for path in export(document, out):
        print(path)
    print(f"「{document.title}」已生成并保存到方案库，用时 {time.perf_counter() - started:.1f} 秒。", file=sys.stderr)
    return 0


def cmd_audit(args: argparse.Namespace) -> int:
    log = AuditLog(get_settings().data_dir)
    filters = Filters(user=args.user, event=args.event, since=args.since, until=args.until)
    rows = log.read(filters)
    if args.csv:
        path = log.export_csv(args.csv, filters)
        print(f"已导出 {len(rows)} 条审计记录到 {path}。")
        return 0
    if args.json:
        _print_json([{**row, "details": json.loads(row["details"])} for row in rows.to_dict(orient="records")])
        return 0
    if rows.empty:
        print("没有符合条件的审计记录。")
    for row in rows.itertuples(index=False):
        print(f"{row.at}  {row.user:<12} {EVENTS.get(row.event, (row.event,))[0]:<5} {row.details}")
    return 0


def plan_kind_arg(name: str) -> str:
    """argparse type of `plan KIND`: any name of a plan kind (documents.kinds) -> its id."""
    try:
        return plan_kind(name).id
    except UnknownPlanKind as exc:
        raise argparse.ArgumentTypeError(exc.message) from None


PLAN_KIND_HELP = "方案类型：" + "；".join(f"{' / '.join((k.id, *k.aliases))}（{k.zh}）" for k in PLAN_KINDS.values())


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
    sample.add_argument("--end-month", help="最后一个月 YYYY-MM（默认：今天之前最后一个完整的月份）")
    sample.add_argument("--json", action="store_true", help="以 JSON 输出")
    sample.set_defaults(func=cmd_sample)

    imp = data.add_parser("import", help="导入 CSV/XLSX 文件")
    imp.add_argument("file", help="CSV 或 XLSX 文件路径")
    imp.add_argument("--table", choices=list(TABLES), help="目标数据表（默认按列名自动判断）")
    imp.add_argument("--mapping", help='列映射 JSON，如 {"客户全称": "name"}，或一个 .json 文件路径')
    imp.add_argument("--skip-bad-rows", action="store_true", help="跳过有问题的行（每一行都会列在报告里）")
    imp.add_argument("--replace", action="store_true", help="清空目标表后再导入（默认按主键更新或追加）")
    imp.add_argument(
        "--cascade", action="store_true", help="与 --replace 一起用：连带删除引用被删伙伴/产品的记录（会报告数量）"
    )
    imp.add_argument(
        "--date-order",
        choices=["mdy", "dmy"],
        help="日期无法自动判断时指定：mdy 月/日/年（美式），dmy 日/月/年（欧式）",
    )
    imp.add_argument("--currency", choices=list(CURRENCIES), help="文件金额的币种（默认按列名和符号识别，否则人民币）")
    imp.add_argument(
        "--dataset", help="导入到哪个数据集：已有编号，或 new:名称 新建（默认：当前数据集；当前是示例公司时新建）"
    )
    imp.add_argument("--json", action="store_true", help="以 JSON 输出导入报告")
    imp.set_defaults(func=cmd_import)

    status = data.add_parser("status", help="各数据表的行数与日期范围")
    status.add_argument("--json", action="store_true", help="以 JSON 输出")
    status.set_defaults(func=cmd_status)

    listing_ds = data.add_parser("datasets", help="列出数据集（示例公司与您的公司数据）")
    listing_ds.add_argument("--json", action="store_true", help="以 JSON 输出")
    listing_ds.set_defaults(func=cmd_datasets)
    use = data.add_parser("use", help="切换当前数据集")
    use.add_argument("dataset", help="数据集编号（见 data datasets）")
    use.set_defaults(func=cmd_use)
    setter = data.add_parser("set", help="修改数据集的名称、币种、数量单位，或确认晚于今天的日期")
    setter.add_argument("--dataset", help="数据集编号（默认当前数据集）")
    setter.add_argument("--name", help="新名称")
    setter.add_argument("--currency", help="币种代码，如 CNY、USD、EUR")
    setter.add_argument("--quantity-unit", help="数量单位，如 件、箱")
    setter.add_argument("--confirm-dates", action="store_true", help="确认晚于今天或早于 1990 年的日期无误")
    setter.set_defaults(func=cmd_dataset_set)
    drop = data.add_parser("drop", help="删除一个数据集（不可恢复）")
    drop.add_argument("dataset", help="数据集编号")
    drop.add_argument("--yes", action="store_true", help="确认删除")
    drop.set_defaults(func=cmd_dataset_drop)
    attrs = data.add_parser("attributes", help="列出或修改导入时保留的其它列（维度/度量）的名称")
    attrs.add_argument("--set", metavar="TABLE.COLUMN", help="要修改的列，如 sales.x_status")
    attrs.add_argument("--zh", help="中文名")
    attrs.add_argument("--en", help="英文名")
    attrs.add_argument("--kind", choices=["dimension", "measure"], help="作为维度或度量")
    attrs.add_argument("--json", action="store_true", help="以 JSON 输出")
    attrs.set_defaults(func=cmd_attributes)

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
    plan.add_argument("kind", type=plan_kind_arg, help=PLAN_KIND_HELP)
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
    tool.add_argument("--lang", choices=["zh", "en"], default="zh", help="表名与列名的语言（默认中文）")
    tool.set_defaults(func=cmd_tool)

    ask_data = sub.add_parser("ask-data", help="数据提问：把问题解析为查询并直接给出数字、表格与 SQL")
    ask_data.add_argument("question", help="问题，例如：上季度华东区完成率最低的5个经销商")
    ask_data.add_argument("--json", action="store_true", help="以 JSON 输出（查询定义、时间、行、结论、SQL 与参数）")
    ask_data.set_defaults(func=cmd_ask_data)

    users = sub.add_parser("users", help="账号：列出、添加、改密码、删除（角色：admin / manager / executive）")
    users_sub = users.add_subparsers(dest="users_command", required=True)
    users_list = users_sub.add_parser("list", help="列出账号、角色与区域")
    users_list.add_argument("--json", action="store_true", help="以 JSON 输出")
    users_list.set_defaults(func=cmd_users_list)
    users_add = users_sub.add_parser("add", help="添加账号（默认交互输入密码）")
    users_add.add_argument("name", help="用户名")
    users_add.add_argument(
        "--role", required=True, help="角色：admin（管理员）、manager（区域经理）、executive（高管）"
    )
    users_add.add_argument("--region", action="append", help="区域经理负责的区域，可重复：--region 华东 --region 华南")
    users_add.add_argument("--email", help="单点登录（OIDC）的邮箱；只用单点登录时不设密码")
    users_add.add_argument("--password-stdin", action="store_true", help="从标准输入读一行作为密码")
    users_add.set_defaults(func=cmd_users_add)
    users_passwd = users_sub.add_parser("passwd", help="修改密码")
    users_passwd.add_argument("name", help="用户名")
    users_passwd.add_argument("--password-stdin", action="store_true", help="从标准输入读一行作为密码")
    users_passwd.set_defaults(func=cmd_users_passwd)
    users_remove = users_sub.add_parser("remove", help="删除账号（不能删除最后一个管理员）")
    users_remove.add_argument("name", help="用户名")
    users_remove.set_defaults(func=cmd_users_remove)

    events = "、".join(f"{k}（{zh}）" for k, (zh, _en) in EVENTS.items())
    audit = sub.add_parser("audit", help="审计日志：谁提了什么问题、运行了哪些工具、导入、导出、修改设置、删除")
    audit.add_argument("--user", help="只看这个用户的记录（不登录时为 local）")
    audit.add_argument("--event", help=f"只看这种事件：{events}")
    audit.add_argument("--since", metavar="DATE", help="从这一天起（YYYY-MM-DD）")
    audit.add_argument("--until", metavar="DATE", help="到这一天为止，含当天（YYYY-MM-DD）")
    audit.add_argument("--csv", metavar="FILE", help="导出为 CSV 文件（Excel 可直接打开，只有本人可读）")
    audit.add_argument("--json", action="store_true", help="以 JSON 输出")
    audit.set_defaults(func=cmd_audit)

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
    except Exception as exc:  # a bug, not bad input: say so in one line; CANMOU_DEBUG=1 shows the traceback
        if isinstance(exc, ValidationError) and exc.title == "Settings":
            print(settings_error_message(exc), file=sys.stderr)  # CANMOU_BUILTIN_GUIDES=maybe: bad input, not a bug
            return 2
        if os.environ.get("CANMOU_DEBUG"):
            raise
        print(
            f"内部错误：{type(exc).__name__}: {exc}。原有数据没有改动。请把这一行发给维护人员"
            "（设置 CANMOU_DEBUG=1 可看到完整的出错位置）。",
            file=sys.stderr,
        )
        return 1
