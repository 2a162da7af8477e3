"""数据中心: what company data is loaded, an overview, and CSV/XLSX import with a checked preview."""

from __future__ import annotations

import pandas as pd
import plotly.express as px
import streamlit as st

from advisor.workspace import load_sample
from company.errors import CanmouError, ImportRejected
from company.importers import ImportPlan, commit, plan_import, read_file
from company.schema import TABLES, Table
from ui import state
from ui.i18n import t

AUTO = "（自动判断）"
IGNORE = "（忽略）"


@st.cache_data(show_spinner=False)
def _status(version: str) -> pd.DataFrame:
    rows = [s.to_dict() for s in state.store().status()]
    frame = pd.DataFrame(rows)
    return frame.rename(columns={"zh": "数据表", "table": "表名", "rows": "行数", "date_min": "起", "date_max": "止"})[
        ["数据表", "表名", "行数", "起", "止"]
    ]


@st.cache_data(show_spinner=False)
def _overview(version: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    store = state.store()
    by_month = store.query(
        "SELECT date_trunc('month', date) AS 月份, sum(revenue) / 10000 AS 销售额万元 FROM sales GROUP BY 1 ORDER BY 1"
    )
    by_region = store.query(
        "SELECT coalesce(region, '未填') AS 区域, coalesce(type, '未填') AS 类型, count(*) AS 伙伴数 "
        "FROM partners GROUP BY 1, 2 ORDER BY 1, 2"
    )
    return by_month, by_region


def show_overview() -> None:
    store = state.store()
    version = str(store.path())
    source = store.meta("source", "import")
    label = "内置示例公司（虚构的食品饮料企业）" if source == "sample" else "已导入的公司数据"
    if source == "sample" and not store.import_log().empty:
        label = "内置示例公司 + 已导入的数据"
    st.caption(f"当前数据：{label} · {store.path().name}")
    status = _status(version)
    cols = st.columns(4)
    counts = dict(zip(status["表名"], status["行数"], strict=True))
    cols[0].metric("伙伴", f"{counts.get('partners', 0):,}")
    cols[1].metric("产品", f"{counts.get('products', 0):,}")
    cols[2].metric("销售明细行", f"{counts.get('sales', 0):,}")
    sales = status[status["表名"] == "sales"].iloc[0]
    cols[3].metric("销售期间", f"{sales['起'][:7]} ~ {sales['止'][:7]}" if isinstance(sales["起"], str) else "—")
    st.dataframe(status.fillna("—"), hide_index=True, width="stretch")

    by_month, by_region = _overview(version)
    left, right = st.columns(2)
    with left:
        if by_month.empty:
            st.info("还没有销售明细，导入销售数据后这里会显示月度销售额。")
        else:
            fig = px.bar(by_month, x="月份", y="销售额万元", title="月度销售额（万元）")
            fig.update_layout(margin=dict(l=10, r=10, t=40, b=10), height=320)
            fig.update_xaxes(tickformat="%Y-%m")
            fig.update_yaxes(tickformat=",.0f")
            st.plotly_chart(fig, width="stretch")
    with right:
        if by_region.empty:
            st.info("还没有伙伴数据。")
        else:
            fig = px.bar(by_region, x="区域", y="伙伴数", color="类型", title="各区域伙伴数（按类型）")
            fig.update_layout(margin=dict(l=10, r=10, t=40, b=10), height=320)
            st.plotly_chart(fig, width="stretch")


def _table_label(name: str) -> str:
    return AUTO if name == AUTO else f"{TABLES[name].zh}（{name}）"


def _mapping_editor(plan_mapping: dict[str, str], ignored: list[str], table: Table) -> dict[str, str]:
    """Let the user correct the detected column mapping; returns {source column: field or ''}."""
    options = [IGNORE] + [f"{c.name}｜{c.zh}" for c in table.columns]
    label = {c.name: f"{c.name}｜{c.zh}" for c in table.columns}
    rows = [{"文件中的列": src, "对应字段": label.get(dst, IGNORE)} for src, dst in plan_mapping.items()]
    rows += [{"文件中的列": src, "对应字段": IGNORE} for src in ignored]
    edited = st.data_editor(
        pd.DataFrame(rows),
        hide_index=True,
        width="stretch",
        key="mapping_editor",
        disabled=["文件中的列"],
        column_config={"对应字段": st.column_config.SelectboxColumn("对应字段", options=options, required=True)},
    )
    return {
        row["文件中的列"]: ("" if row["对应字段"] == IGNORE else row["对应字段"].split("｜")[0])
        for _, row in edited.iterrows()
    }


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


def import_section() -> None:
    st.subheader("导入数据")
    st.caption(
        "支持 CSV（UTF-8、GBK/GB18030、Windows-1252 自动识别）和 XLSX。先校验、看清列映射与问题，再确认导入；"
        "导入失败时原有数据保持不变。只有销售导出（订单行、客户名称、区域）也可以导入，未知客户会自动建为伙伴。"
    )
    settings = state.settings()
    # A new key after each import empties the uploader, so a finished import cannot be re-submitted.
    round_ = st.session_state.setdefault("upload_round", 0)
    upload = st.file_uploader("选择文件", type=["csv", "txt", "tsv", "xlsx", "xlsm"], key=f"upload_{round_}")
    if upload is None:
        st.session_state.pop("import_plan", None)
        return
    choice = st.selectbox("目标数据表", [AUTO, *TABLES], format_func=_table_label, key="import_table")
    c1, c2 = st.columns(2)
    skip = c1.checkbox("跳过有问题的行（每一行都会列在报告里）", key="import_skip")
    replace = c2.checkbox("清空目标表后再导入（默认按主键更新或追加）", key="import_replace")

    try:
        raw, encoding = read_file(upload.getvalue(), upload.name, settings.max_upload_mb)
    except CanmouError as exc:
        st.error(exc.message)
        return
    st.caption(f"读取到 {len(raw):,} 行、{len(raw.columns)} 列 · 编码 {encoding}")
    override = st.session_state.get("import_mapping_override")
    try:
        plan: ImportPlan | None = plan_import(
            raw,
            upload.name,
            store=state.store(),
            table=None if choice == AUTO else choice,
            mapping=override,
            skip_bad_rows=skip,
            encoding=encoding,
            replace_table=replace,
        )
        report = plan.report
    except ImportRejected as exc:
        plan, report = None, exc.report
        st.error(exc.message)
    if report.table:
        st.markdown(f"**识别为：{TABLES[report.table].zh}（{report.table}）** · 列映射（可修改后点「应用映射」）")
        edited = _mapping_editor(report.mapping, report.ignored_columns, TABLES[report.table])
        if st.button("应用映射", key="apply_mapping"):
            st.session_state["import_mapping_override"] = edited
            st.rerun()
    show_report(report)
    if plan is None:
        return
    st.success(plan.report.summary())
    spec = TABLES[report.table]
    preview = plan.frames[report.table].head(20)
    st.dataframe(
        preview.rename(columns={c: spec.column(c).zh for c in preview.columns if c in spec.names}),
        hide_index=True,
        width="stretch",
    )
    if st.button("确认导入", type="primary", key="commit_import"):
        bar = st.progress(0.0, text="写入数据库…")
        try:
            done = commit(plan, state.store())
        except CanmouError as exc:
            st.error(exc.message + " 原有数据保持不变。")
            return
        bar.progress(1.0, text="导入完成")
        st.session_state["last_import"] = done.summary()
        st.session_state.pop("import_mapping_override", None)
        st.session_state["upload_round"] = round_ + 1
        st.rerun()


def sample_section(has_data: bool) -> None:
    settings = state.settings()
    with st.expander("重新生成示例公司" if has_data else "生成示例公司", expanded=not has_data):
        st.write(
            "示例公司是一家虚构的食品饮料企业：7 个大区、约 240 个伙伴、30 个 SKU、24 个月的销售、目标、库存、费用、"
            "回款与满意度数据，并埋入了几处窜货、乱价、季末压货和连续下滑的案例，供各项分析发现。"
        )
        if has_data:
            st.warning("重新生成会替换当前全部公司数据（包括导入的数据）。")
        c1, c2 = st.columns(2)
        partners = c1.number_input("伙伴数", min_value=20, max_value=20000, value=settings.sample_partners, step=10)
        months = c2.number_input("月数", min_value=12, max_value=60, value=settings.sample_months, step=1)
        if st.button("生成示例公司", key="make_sample"):
            bar = st.progress(0.0, text="开始生成…")
            load_sample(
                state.store(),
                int(partners),
                int(months),
                settings.sample_seed,
                progress=lambda f, m: bar.progress(min(f, 1.0), text=m),
            )
            st.session_state["last_import"] = f"已生成示例公司：{int(partners)} 个伙伴 × {int(months)} 个月。"
            st.rerun()


st.title(t("data.title"))
if message := st.session_state.pop("last_import", None):
    st.success(message)
has_data = state.store().exists()
if has_data:
    show_overview()
else:
    st.info("数据文件夹里还没有公司数据。可以生成内置示例公司先体验，或在下方导入自己的 CSV/XLSX 文件。")
sample_section(has_data)
import_section()
