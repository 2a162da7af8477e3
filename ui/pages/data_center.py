"""数据中心: the active dataset (overview, currency, kept columns), switching datasets, and CSV/XLSX import
with a checked preview that goes into the company's own dataset, never into the sample company."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd
import plotly.express as px
import streamlit as st

from advisor.workspace import NEW_PREFIX, commit_to_dataset, load_sample, planning_store, workspaces
from company.catalog import attributes, relabel
from company.dates import ORDER_LABELS
from company.errors import CanmouError, ImportRejected
from company.importers import IGNORE, KEEP_DIMENSION, KEEP_MEASURE, ImportPlan, plan_import
from company.reading import RawFile, read_source
from company.schema import SALES, TABLES, Table
from company.units import CURRENCIES
from ui import dataset, state
from ui.i18n import t

AUTO = "（自动判断）"
IGNORE_LABEL = "（忽略）"
KEEP_LABELS = {KEEP_DIMENSION: "（保留为维度）", KEEP_MEASURE: "（保留为度量）"}


@st.cache_data(show_spinner=False)
def _status(folder: str, version: str) -> pd.DataFrame:
    rows = [s.to_dict() for s in state.store().status()]
    frame = pd.DataFrame(rows)
    return frame.rename(columns={"zh": "数据表", "table": "表名", "rows": "行数", "date_min": "起", "date_max": "止"})[
        ["数据表", "表名", "行数", "起", "止"]
    ]


@st.cache_data(show_spinner=False)
def _overview(folder: str, version: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    store = state.store()
    by_month = store.query(
        "SELECT date_trunc('month', date) AS 月份, sum(revenue) / 10000 AS 销售额万 FROM sales GROUP BY 1 ORDER BY 1"
    )
    by_region = store.query(
        "SELECT coalesce(region, '未填') AS 区域, coalesce(type, '未填') AS 类型, count(*) AS 伙伴数 "
        "FROM partners GROUP BY 1, 2 ORDER BY 1, 2"
    )
    return by_month, by_region


def show_overview() -> None:
    store = state.store()
    key = (str(store.folder), store.version())
    money = store.profile().money
    status = _status(*key)
    cols = st.columns(4)
    counts = dict(zip(status["表名"], status["行数"], strict=True))
    cols[0].metric("伙伴", f"{counts.get('partners', 0):,}")
    cols[1].metric("产品", f"{counts.get('products', 0):,}")
    cols[2].metric("销售明细行", f"{counts.get('sales', 0):,}")
    sales = status[status["表名"] == "sales"].iloc[0]
    cols[3].metric("销售期间", f"{sales['起'][:7]} ~ {sales['止'][:7]}" if isinstance(sales["起"], str) else "—")
    st.dataframe(status.fillna("—"), hide_index=True, width="stretch")

    by_month, by_region = _overview(*key)
    left, right = st.columns(2)
    with left:
        if by_month.empty:
            st.info("还没有销售明细，导入销售数据后这里会显示月度销售额。")
        else:
            label = f"销售额（{money.wan}）"
            fig = px.bar(by_month.rename(columns={"销售额万": label}), x="月份", y=label, title=f"月度{label}")
            fig.update_layout(margin=dict(l=10, r=10, t=40, b=10), height=320)
            fig.update_xaxes(tickformat="%Y-%m")
            fig.update_yaxes(tickformat=",.0f" if by_month["销售额万"].abs().max() >= 100 else ",.2f")
            st.plotly_chart(fig, width="stretch")
    with right:
        if by_region.empty:
            st.info("还没有伙伴数据。")
        else:
            fig = px.bar(by_region, x="区域", y="伙伴数", color="类型", title="各区域伙伴数（按类型）")
            fig.update_layout(margin=dict(l=10, r=10, t=40, b=10), height=320)
            st.plotly_chart(fig, width="stretch")


def dataset_section() -> None:
    """Name, currency and unit of the active dataset; dates after today waiting for confirmation."""
    store = state.store()
    profile = store.profile()
    with st.expander("数据集设置（名称、币种、数量单位）", expanded=False):
        c1, c2, c3 = st.columns(3)
        name = c1.text_input("名称", value=profile.name, key="ds_name")
        codes = list(CURRENCIES)
        code = c2.selectbox(
            "币种",
            codes,
            index=codes.index(profile.currency) if profile.currency in codes else 0,
            format_func=lambda c: f"{c}（{CURRENCIES[c].name_zh}）",
            key="ds_currency",
        )
        unit = c3.text_input("数量单位", value=profile.quantity_unit, key="ds_unit")
        if st.button("保存数据集设置", key="ds_save"):
            if not name.strip() or not unit.strip():
                st.error("名称和数量单位不能为空。")
            else:
                store.update_profile(name=name.strip(), currency=code, quantity_unit=unit.strip())
                st.session_state["last_import"] = f"已保存：{name.strip()}，币种 {code}，数量单位 {unit.strip()}。"
                st.rerun()
    if not profile.dates_confirmed and store.exists():
        future = store.scalar("SELECT count(*) FROM sales WHERE date > current_date")
        if future:
            st.warning(f"有 {future:,} 行销售的日期晚于今天。确认之前，它们不参与「最近一期」「上季度」等的判断。")
            if st.button("这些日期无误，确认", key="confirm_dates"):
                store.update_profile(dates_confirmed=True)
                st.rerun()


def attributes_section() -> None:
    """Columns kept from imports: rename them (zh/en) or switch between dimension and measure."""
    store = state.store()
    kept = attributes(store)
    if not kept:
        return
    with st.expander(f"导入时保留的其它列（{len(kept)} 个，可在问题和工具筛选里按名称使用）"):
        frame = pd.DataFrame(
            [
                {
                    "表": TABLES[a.table].zh,
                    "列": f"{a.table}.{a.column}",
                    "原列名": a.header,
                    "中文名": a.zh,
                    "英文名": a.en,
                    "类型": "维度" if a.kind == "dimension" else "度量",
                }
                for a in kept
            ]
        )
        edited = st.data_editor(
            frame,
            hide_index=True,
            width="stretch",
            key="attr_editor",
            disabled=["表", "列", "原列名"],
            column_config={"类型": st.column_config.SelectboxColumn("类型", options=["维度", "度量"], required=True)},
        )
        if st.button("保存列名", key="attr_save"):
            try:
                for (_, before), (_, after) in zip(frame.iterrows(), edited.iterrows(), strict=True):
                    changes = {
                        "zh": after["中文名"] if after["中文名"] != before["中文名"] else None,
                        "en": after["英文名"] if after["英文名"] != before["英文名"] else None,
                        "kind": ("measure" if after["类型"] == "度量" else "dimension")
                        if after["类型"] != before["类型"]
                        else None,
                    }
                    if any(changes.values()):
                        relabel(store, after["列"], **changes)
            except (ValueError, CanmouError) as exc:
                st.error(getattr(exc, "message", str(exc)))
            else:
                st.session_state["last_import"] = "已保存列名。"
                st.rerun()


def _table_label(name: str) -> str:
    return AUTO if name == AUTO else f"{TABLES[name].zh}（{name}）"


def _target_options(table: Table) -> tuple[list[str], dict[str, str]]:
    """Mapping choices: ignore, keep as dimension/measure, the table's fields (and a sales file's side fields)."""
    values = [IGNORE, KEEP_DIMENSION, KEEP_MEASURE] + [c.name for c in table.columns]
    labels = {IGNORE: IGNORE_LABEL, **KEEP_LABELS} | {c.name: f"{c.name}｜{c.zh}" for c in table.columns}
    if table is SALES:
        for side in ("products.name", "products.category", "products.list_price", "partners.type"):
            side_table, _, field = side.partition(".")
            values.append(side)
            labels[side] = f"{side}｜{TABLES[side_table].column(field).zh}（{TABLES[side_table].zh}）"
    return values, labels


def _mapping_editor(report, table: Table) -> dict[str, str]:
    """Let the user correct the detected column mapping; returns {source column: target or ''}."""
    values, labels = _target_options(table)
    kept = {a["header"]: KEEP_DIMENSION if a["kind"] == "dimension" else KEEP_MEASURE for a in report.attributes}
    rows = [{"文件中的列": src, "对应字段": labels.get(dst, IGNORE_LABEL)} for src, dst in report.mapping.items()]
    rows += [{"文件中的列": src, "对应字段": labels[k]} for src, k in kept.items()]
    rows += [{"文件中的列": src, "对应字段": IGNORE_LABEL} for src in report.ignored_columns]
    edited = st.data_editor(
        pd.DataFrame(rows),
        hide_index=True,
        width="stretch",
        key="mapping_editor",
        disabled=["文件中的列"],
        column_config={
            "对应字段": st.column_config.SelectboxColumn("对应字段", options=[labels[v] for v in values], required=True)
        },
    )
    back = {label: value for value, label in labels.items()}
    return {row["文件中的列"]: back.get(row["对应字段"], IGNORE) for _, row in edited.iterrows()}


def _problems_frame(problems) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "级别": "错误" if p.severity == "error" else "提示",
                "文件": p.file,
                "行": p.row,
                "列": p.column,
                "问题": p.message,
            }
            for p in problems
        ]
    )


def show_report(report) -> None:
    if report.problems:
        frame = _problems_frame(report.problems)
        st.dataframe(frame.head(500), hide_index=True, width="stretch")
        if len(frame) > 500:
            st.caption(f"只显示前 500 条，共 {len(frame)} 条。")


def _raw_file(upload) -> RawFile | None:
    """The uploaded file read once into its staging database (kept across reruns, closed when replaced)."""
    digest = hashlib.sha1(upload.getvalue()).hexdigest()
    held = st.session_state.get("import_raw")
    if held is not None and held[0] == digest:
        return held[1]
    if held is not None:
        held[1].close()
    st.session_state.pop("import_mapping_override", None)
    try:
        raw = read_source(upload.getvalue(), upload.name, state.settings().max_upload_mb)
    except CanmouError as exc:
        st.session_state.pop("import_raw", None)
        st.error(exc.message)
        return None
    st.session_state["import_raw"] = (digest, raw)
    return raw


def _forget_upload() -> None:
    held = st.session_state.pop("import_raw", None)
    if held is not None:
        held[1].close()
    st.session_state.pop("import_mapping_override", None)


def import_section() -> None:
    st.subheader("导入数据")
    st.caption(
        "支持 CSV（UTF-8、GBK/GB18030、Windows-1252 自动识别；逗号、分号、制表符分隔）和 XLSX。"
        "先校验、看清列映射与问题，再确认导入；失败时原有数据保持不变。只有销售导出也可以导入；"
        "没有对应标准字段的列会保留下来，可以在问题里按列名使用。"
    )
    settings = state.settings()
    spaces = workspaces(settings)
    active = spaces.active()
    # A new key after each import empties the uploader, so a finished import cannot be re-submitted.
    round_ = st.session_state.setdefault("upload_round", 0)
    upload = st.file_uploader("选择文件", type=["csv", "txt", "tsv", "xlsx", "xlsm"], key=f"upload_{round_}")
    if upload is None:
        _forget_upload()
        return
    raw = _raw_file(upload)
    if raw is None:
        return
    st.caption(f"读取到 {raw.rows:,} 行、{len(raw.headers)} 列 · 编码 {raw.encoding}")

    stem = Path(upload.name).stem or "我的公司"
    new_choice = f"{NEW_PREFIX}{stem}"
    choices = [new_choice]
    if active is not None and not active.profile.is_sample:
        choices.insert(0, active.id)
    labels = {new_choice: f"新建数据集「{stem}」"} | (
        {active.id: f"当前数据集「{active.profile.name}」"} if active else {}
    )
    c1, c2, c3 = st.columns(3)
    target = c1.selectbox(
        "导入到",
        choices,
        format_func=labels.get,
        key="import_target",
        help="示例公司是虚构数据，您的数据总是放在自己的数据集里。",
    )
    choice = c2.selectbox("目标数据表", [AUTO, *TABLES], format_func=_table_label, key="import_table")
    codes = ["自动", *CURRENCIES]
    code = c3.selectbox(
        "金额币种",
        codes,
        format_func=lambda c: "自动识别（默认人民币）" if c == "自动" else f"{c}（{CURRENCIES[c].name_zh}）",
        key="import_currency",
    )
    c4, c5, c6 = st.columns(3)
    skip = c4.checkbox("跳过有问题的行（每一行都会列在报告里）", key="import_skip")
    replace = c5.checkbox("清空目标表后再导入（默认按主键更新或追加）", key="import_replace")
    cascade = c6.checkbox("连带删除引用被删伙伴/产品的记录", key="import_cascade", disabled=not replace)
    order = st.session_state.get("import_date_order")

    override = st.session_state.get("import_mapping_override")
    try:
        plan: ImportPlan | None = plan_import(
            raw,
            upload.name,
            store=planning_store(spaces, target),
            table=None if choice == AUTO else choice,
            mapping=override,
            skip_bad_rows=skip,
            replace_table=replace,
            cascade=cascade and replace,
            date_order=order,
            currency_code=None if code == "自动" else code,
        )
        report = plan.report
    except ImportRejected as exc:
        plan, report = None, exc.report
        st.error(exc.message)
    except CanmouError as exc:
        st.error(exc.message)
        return
    if report.needs_date_order or order:
        picked = st.selectbox(
            "日期顺序（文件里的日期无法自动判断时请选择）",
            ["mdy", "dmy"],
            index=["mdy", "dmy"].index(order) if order else 0,
            format_func=lambda o: (
                f"{ORDER_LABELS[o]}（{'美式，如 3/1/2025 = 3月1日' if o == 'mdy' else '欧式，如 3/1/2025 = 1月3日'}）"
            ),
            key="import_date_order_pick",
        )
        if st.button("按这个顺序读取日期", key="apply_date_order"):
            st.session_state["import_date_order"] = picked
            st.rerun()
    if report.table:
        st.markdown(f"**识别为：{TABLES[report.table].zh}（{report.table}）** · 列映射（可修改后点「应用映射」）")
        edited = _mapping_editor(report, TABLES[report.table])
        if st.button("应用映射", key="apply_mapping"):
            st.session_state["import_mapping_override"] = edited
            st.rerun()
    show_report(report)
    if plan is None:
        return
    st.success(plan.report.summary())
    for line in report.overview_lines():
        st.markdown(f"- {line.strip()}")
    st.dataframe(plan.preview(20), hide_index=True, width="stretch")
    if st.button("确认导入", type="primary", key="commit_import"):
        bar = st.progress(0.3, text="写入数据库…")
        try:
            done = commit_to_dataset(plan, dataset=target)
        except ImportRejected as exc:
            _forget_upload()
            st.error(exc.message)
            return
        except CanmouError as exc:
            _forget_upload()
            st.error(exc.message + " 原有数据保持不变。")
            return
        bar.progress(1.0, text="导入完成")
        made = f"已新建数据集「{done.dataset_name}」并切换到它；示例公司保持不变。" if done.dataset_created else ""
        st.session_state["last_import"] = f"{done.summary()}{made}"
        _forget_upload()
        st.session_state["upload_round"] = round_ + 1
        st.session_state.pop("import_date_order", None)
        st.rerun()


def sample_section(has_sample: bool) -> None:
    settings = state.settings()
    with st.expander("重新生成示例公司" if has_sample else "生成示例公司", expanded=not has_sample):
        st.write(
            "示例公司是一家虚构的食品饮料企业：7 个大区、约 240 个伙伴、30 个 SKU、24 个月的销售（截至上个月）、"
            "目标、库存、费用、回款与满意度数据，并埋入了几处窜货、乱价、季末压货和连续下滑的案例，供各项分析发现。"
            "它是单独的数据集，重新生成不会影响您导入的数据。"
        )
        c1, c2 = st.columns(2)
        partners = c1.number_input("伙伴数", min_value=20, max_value=20000, value=settings.sample_partners, step=10)
        months = c2.number_input("月数", min_value=12, max_value=60, value=settings.sample_months, step=1)
        if st.button("生成示例公司", key="make_sample"):
            bar = st.progress(0.0, text="开始生成…")
            load_sample(
                settings,
                int(partners),
                int(months),
                settings.sample_seed,
                progress=lambda f, m: bar.progress(min(f, 1.0), text=m),
            )
            st.session_state["last_import"] = f"已生成示例公司：{int(partners)} 个伙伴 × {int(months)} 个月。"
            st.rerun()


st.title(t("data.title"))
dataset.header()
if message := st.session_state.pop("last_import", None):
    st.success(message)
has_data = state.store().exists()
if has_data:
    show_overview()
    dataset_section()
    attributes_section()
else:
    st.info("数据文件夹里还没有公司数据。可以生成内置示例公司先体验，或在下方导入自己的 CSV/XLSX 文件。")
sample_section(any(d.profile.is_sample and d.store.exists() for d in workspaces(state.settings()).list()))
import_section()
