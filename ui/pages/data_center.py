"""数据中心: the active dataset (overview, currency, kept columns), switching datasets, and CSV/XLSX import
with a checked preview that goes into the company's own dataset, never into the sample company.

Everyone sees the overview of the data their account may read (a manager: their regions); only an admin changes the
data: import, the sample company, the dataset's name and currency, kept columns."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd
import plotly.express as px
import streamlit as st

from advisor.workspace import NEW_PREFIX, commit_to_dataset, load_sample, planning_store, workspaces
from company.catalog import attributes, relabel
from company.errors import CanmouError, ImportRejected
from company.importers import IGNORE, KEEP_DIMENSION, KEEP_MEASURE, ImportPlan, plan_import
from company.reading import RawFile, read_source
from company.schema import SALES, TABLES, Table
from company.store import Store
from company.units import CURRENCIES
from ui import auth, state
from ui.i18n import file_uploader, language, t

AUTO = ""  # the choice "detect automatically" in the table and currency selects


def _store(folder: str, regions: tuple[str, ...] | None, scoped: bool) -> Store:
    """The store a cache key names: the whole dataset, or the read-only view of `regions` (None: every region)."""
    whole = Store(folder)
    return whole.scoped(regions) if scoped else whole


def _key(store: Store) -> tuple[str, tuple[str, ...] | None, bool, str]:
    """What the cached overview depends on: the dataset, the reader's scope and the data's version."""
    scoped = store.read_only
    return str(store.folder), getattr(store, "regions", None), scoped, store.version()


@st.cache_data(show_spinner=False)
def _status(folder: str, regions: tuple[str, ...] | None, scoped: bool, version: str) -> pd.DataFrame:
    return pd.DataFrame([s.to_dict() for s in _store(folder, regions, scoped).status()])


@st.cache_data(show_spinner=False)
def _overview(
    folder: str, regions: tuple[str, ...] | None, scoped: bool, version: str
) -> tuple[pd.DataFrame, pd.DataFrame]:
    store = _store(folder, regions, scoped)
    by_month = store.query(
        "SELECT date_trunc('month', date) AS month, sum(revenue) / 10000 AS revenue_wan "
        "FROM sales GROUP BY 1 ORDER BY 1"
    )
    by_region = store.query(
        "SELECT region, type, count(*) AS partners FROM partners GROUP BY 1, 2 ORDER BY 1 NULLS LAST, 2 NULLS LAST"
    )
    return by_month, by_region


def status_table(status: pd.DataFrame) -> pd.DataFrame:
    """Rows and date range of every table, headed in the interface language (the Chinese names only in Chinese)."""
    columns = {"zh": "table_zh", "table": "table", "rows": "rows", "date_min": "start", "date_max": "end"}
    if language() == "en":
        del columns["zh"]
    return status[list(columns)].rename(columns={k: t(f"data.status.{v}") for k, v in columns.items()})


def show_overview(store: Store) -> None:
    key = _key(store)
    money = store.profile().money
    status = _status(*key)
    cols = st.columns([1, 1, 1, 2])  # the sales period (2024-12 ~ 2026-11) needs the width of two
    counts = dict(zip(status["table"], status["rows"], strict=True))
    cols[0].metric(t("data.metric.partners"), f"{counts.get('partners', 0):,}")
    cols[1].metric(t("data.metric.products"), f"{counts.get('products', 0):,}")
    cols[2].metric(t("data.metric.sales_rows"), f"{counts.get('sales', 0):,}")
    sales = status[status["table"] == "sales"].iloc[0]
    start, end = sales["date_min"], sales["date_max"]
    cols[3].metric(t("data.metric.sales_period"), f"{start[:7]} ~ {end[:7]}" if isinstance(start, str) else "—")
    st.dataframe(status_table(status).fillna("—"), hide_index=True, width="stretch")

    by_month, by_region = _overview(*key)
    left, right = st.columns(2)
    with left:
        if by_month.empty:
            st.info(t("data.chart.no_sales"))
        else:
            unit = t("data.chart.wan", unit_zh=money.zh, code_en=money.code)
            label, month = t("data.chart.revenue", unit=unit), t("data.chart.month")
            frame = by_month.rename(columns={"month": month, "revenue_wan": label})
            fig = px.bar(frame, x=month, y=label, title=t("data.chart.monthly", unit=unit))
            fig.update_layout(margin=dict(l=10, r=10, t=40, b=10), height=320)
            fig.update_xaxes(tickformat="%Y-%m")
            fig.update_yaxes(tickformat=",.0f" if by_month["revenue_wan"].abs().max() >= 100 else ",.2f")
            st.plotly_chart(fig, width="stretch")
    with right:
        if by_region.empty:
            st.info(t("data.chart.no_partners"))
        else:
            names = {name: t(f"data.chart.{name}") for name in ("region", "type", "partners")}
            frame = by_region.fillna({"region": t("data.chart.unfilled"), "type": t("data.chart.unfilled")})
            fig = px.bar(
                frame.rename(columns=names),
                x=names["region"],
                y=names["partners"],
                color=names["type"],
                title=t("data.chart.by_region"),
            )
            fig.update_layout(margin=dict(l=10, r=10, t=40, b=10), height=320)
            st.plotly_chart(fig, width="stretch")


def dataset_section() -> None:
    """Name, currency and unit of the active dataset; dates after today waiting for confirmation."""
    store = state.store()
    profile = store.profile()
    with st.expander(t("data.settings.title"), expanded=False):
        c1, c2, c3 = st.columns(3)
        name = c1.text_input(t("data.settings.name"), value=profile.name, key="ds_name")
        codes = list(CURRENCIES)
        code = c2.selectbox(
            t("data.settings.currency"),
            codes,
            index=codes.index(profile.currency) if profile.currency in codes else 0,
            format_func=currency_option,
            key="ds_currency",
        )
        unit = c3.text_input(t("data.settings.unit"), value=profile.quantity_unit, key="ds_unit")
        if st.button(t("data.settings.save"), key="ds_save"):
            if not name.strip() or not unit.strip():
                st.error(t("data.settings.empty"))
            else:
                store.update_profile(name=name.strip(), currency=code, quantity_unit=unit.strip())
                st.session_state["last_import"] = t(
                    "data.settings.saved", name=name.strip(), code=code, unit=unit.strip()
                )
                st.rerun()
    if not profile.dates_confirmed and store.exists():
        future = store.scalar("SELECT count(*) FROM sales WHERE date > current_date")
        if future:
            st.warning(t("data.settings.future", count=f"{future:,}"))
            if st.button(t("data.settings.confirm_dates"), key="confirm_dates"):
                store.update_profile(dates_confirmed=True)
                st.rerun()


def currency_option(code: str) -> str:
    return t("data.currency_option", code=code, name_zh=CURRENCIES[code].name_zh)


def table_name(name: str) -> str:
    return t("data.table_name", table_zh=TABLES[name].zh, table_en=name)


def attributes_section() -> None:
    """Columns kept from imports: rename them (zh/en) or switch between dimension and measure."""
    store = state.store()
    kept = attributes(store)
    if not kept:
        return
    with st.expander(t("data.attributes.title", count=len(kept))):
        column = {
            name: t(f"data.attributes.column.{name}") for name in ("table", "column", "header", "chinese", "english")
        }
        column["kind"] = t("data.attributes.column.kind")
        kinds = {"dimension": t("data.attributes.dimension"), "measure": t("data.attributes.measure")}
        frame = pd.DataFrame(
            [
                {
                    column["table"]: table_name(a.table),
                    column["column"]: f"{a.table}.{a.column}",
                    column["header"]: a.header,
                    column["chinese"]: a.zh,
                    column["english"]: a.en,
                    column["kind"]: kinds["dimension" if a.kind == "dimension" else "measure"],
                }
                for a in kept
            ]
        )
        edited = st.data_editor(
            frame,
            hide_index=True,
            width="stretch",
            key="attr_editor",
            disabled=[column["table"], column["column"], column["header"]],
            column_config={
                column["kind"]: st.column_config.SelectboxColumn(
                    column["kind"], options=list(kinds.values()), required=True
                )
            },
        )
        if st.button(t("data.attributes.save"), key="attr_save"):
            kind_of = {label: kind for kind, label in kinds.items()}
            try:
                for (_, before), (_, after) in zip(frame.iterrows(), edited.iterrows(), strict=True):
                    changes = {
                        "zh": after[column["chinese"]]
                        if after[column["chinese"]] != before[column["chinese"]]
                        else None,
                        "en": after[column["english"]]
                        if after[column["english"]] != before[column["english"]]
                        else None,
                        "kind": kind_of[after[column["kind"]]]
                        if after[column["kind"]] != before[column["kind"]]
                        else None,
                    }
                    if any(changes.values()):
                        relabel(store, after[column["column"]], **changes)
            except (ValueError, CanmouError) as exc:
                st.error(getattr(exc, "message", str(exc)))
            else:
                st.session_state["last_import"] = t("data.attributes.saved")
                st.rerun()


def _table_label(name: str) -> str:
    if name == AUTO:
        return t("data.import.auto_table")
    return t("data.table_option", table_zh=TABLES[name].zh, name=name)


def _target_options(table: Table) -> tuple[list[str], dict[str, str]]:
    """Mapping choices: ignore, keep as dimension/measure, the table's fields (and a sales file's side fields)."""
    values = [IGNORE, KEEP_DIMENSION, KEEP_MEASURE] + [c.name for c in table.columns]
    labels = {
        IGNORE: t("data.mapping.ignore"),
        KEEP_DIMENSION: t("data.mapping.keep_dimension"),
        KEEP_MEASURE: t("data.mapping.keep_measure"),
    } | {c.name: t("data.mapping.field", name=c.name, field_zh=c.zh) for c in table.columns}
    if table is SALES:
        for side in ("products.name", "products.category", "products.list_price", "partners.type"):
            side_table, _, field = side.partition(".")
            values.append(side)
            labels[side] = t(
                "data.mapping.side_field",
                name=side,
                field_zh=TABLES[side_table].column(field).zh,
                table_zh=TABLES[side_table].zh,
            )
    return values, labels


def _mapping_editor(report, table: Table) -> dict[str, str]:
    """Let the user correct the detected column mapping; returns {source column: target or ''}."""
    values, labels = _target_options(table)
    source, target = t("data.mapping.source"), t("data.mapping.target")
    ignored = labels[IGNORE]
    kept = {a["header"]: KEEP_DIMENSION if a["kind"] == "dimension" else KEEP_MEASURE for a in report.attributes}
    rows = [{source: src, target: labels.get(dst, ignored)} for src, dst in report.mapping.items()]
    rows += [{source: src, target: labels[k]} for src, k in kept.items()]
    rows += [{source: src, target: ignored} for src in report.ignored_columns]
    edited = st.data_editor(
        pd.DataFrame(rows),
        hide_index=True,
        width="stretch",
        key="mapping_editor",
        disabled=[source],
        column_config={
            target: st.column_config.SelectboxColumn(target, options=[labels[v] for v in values], required=True)
        },
    )
    back = {label: value for value, label in labels.items()}
    return {row[source]: back.get(row[target], IGNORE) for _, row in edited.iterrows()}


def _problems_frame(problems) -> pd.DataFrame:
    column = {name: t(f"data.problems.{name}") for name in ("level", "file", "row", "column", "problem")}
    return pd.DataFrame(
        [
            {
                column["level"]: t("data.problems.error" if p.severity == "error" else "data.problems.note"),
                column["file"]: p.file,
                column["row"]: "—" if p.row is None else str(p.row),  # a file-wide problem has no row or column
                column["column"]: p.column or "—",
                column["problem"]: p.message,
            }
            for p in problems
        ]
    )


def show_report(report) -> None:
    if report.problems:
        frame = _problems_frame(report.problems)
        st.dataframe(frame.head(500), hide_index=True, width="stretch")
        if len(frame) > 500:
            st.caption(t("data.problems.truncated", count=len(frame)))


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


def import_section(user) -> None:
    st.subheader(t("data.import.title"))
    st.caption(t("data.import.caption"))
    settings = state.settings()
    spaces = workspaces(settings)
    active = spaces.active()
    # A new key after each import empties the uploader, so a finished import cannot be re-submitted.
    round_ = st.session_state.setdefault("upload_round", 0)
    upload = file_uploader(t("data.import.file"), ["csv", "txt", "tsv", "xlsx", "xlsm"], key=f"upload_{round_}")
    if upload is None:
        _forget_upload()
        return
    raw = _raw_file(upload)
    if raw is None:
        return
    st.caption(t("data.import.read", rows=f"{raw.rows:,}", columns=len(raw.headers), encoding=raw.encoding))

    stem = Path(upload.name).stem or t("data.import.default_name")
    new_choice = f"{NEW_PREFIX}{stem}"
    choices = [new_choice]
    if active is not None and not active.profile.is_sample:
        choices.insert(0, active.id)
    labels = {new_choice: t("data.import.new_dataset", name=stem)} | (
        {active.id: t("data.import.current_dataset", name=active.profile.name)} if active else {}
    )
    c1, c2, c3 = st.columns(3)
    target = c1.selectbox(
        t("data.import.target"),
        choices,
        format_func=labels.get,
        key="import_target",
        help=t("data.import.target_help"),
    )
    choice = c2.selectbox(t("data.import.table"), [AUTO, *TABLES], format_func=_table_label, key="import_table")
    code = c3.selectbox(
        t("data.import.currency"),
        [AUTO, *CURRENCIES],
        format_func=lambda c: t("data.import.auto_currency") if c == AUTO else currency_option(c),
        key="import_currency",
    )
    c4, c5, c6 = st.columns(3)
    skip = c4.checkbox(t("data.import.skip"), key="import_skip")
    replace = c5.checkbox(t("data.import.replace"), key="import_replace")
    cascade = c6.checkbox(t("data.import.cascade"), key="import_cascade", disabled=not replace)
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
            currency_code=None if code == AUTO else code,
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
            t("data.import.date_order"),
            ["mdy", "dmy"],
            index=["mdy", "dmy"].index(order) if order else 0,
            format_func=lambda o: t(f"data.import.order.{o}"),
            key="import_date_order_pick",
        )
        if st.button(t("data.import.apply_order"), key="apply_date_order"):
            st.session_state["import_date_order"] = picked
            st.rerun()
    if report.table:
        st.markdown(t("data.import.detected", table_zh=TABLES[report.table].zh, name=report.table))
        edited = _mapping_editor(report, TABLES[report.table])
        if st.button(t("data.import.apply_mapping"), key="apply_mapping"):
            st.session_state["import_mapping_override"] = edited
            st.rerun()
    show_report(report)
    if plan is None:
        return
    st.success(plan.report.summary())
    for line in report.overview_lines():
        st.markdown(f"- {line.strip()}")
    st.dataframe(plan.preview(20), hide_index=True, width="stretch")
    if st.button(t("data.import.confirm"), type="primary", key="commit_import"):
        bar = st.progress(0.3, text=t("data.import.writing"))
        try:
            done = commit_to_dataset(plan, dataset=target, user=user.name)
        except ImportRejected as exc:
            _forget_upload()
            st.error(exc.message)
            return
        except CanmouError as exc:
            _forget_upload()
            st.error(t("data.import.failed", message=exc.message))
            return
        bar.progress(1.0, text=t("data.import.finished"))
        made = t("data.import.created", name=done.dataset_name) if done.dataset_created else ""
        st.session_state["last_import"] = f"{done.summary()}{made}"
        _forget_upload()
        st.session_state["upload_round"] = round_ + 1
        st.session_state.pop("import_date_order", None)
        st.rerun()


def sample_section(has_sample: bool, user) -> None:
    settings = state.settings()
    with st.expander(t("data.sample.remake" if has_sample else "data.sample.make"), expanded=not has_sample):
        st.write(t("data.sample.about"))
        c1, c2 = st.columns(2)
        partners = c1.number_input(
            t("data.sample.partners"), min_value=20, max_value=20000, value=settings.sample_partners, step=10
        )
        months = c2.number_input(
            t("data.sample.months"), min_value=12, max_value=60, value=settings.sample_months, step=1
        )
        if st.button(t("data.sample.make"), key="make_sample"):
            bar = st.progress(0.0, text=t("data.sample.starting"))
            load_sample(
                settings,
                int(partners),
                int(months),
                settings.sample_seed,
                progress=lambda f, m: bar.progress(min(f, 1.0), text=m),
                user=user.name,
            )
            st.session_state["last_import"] = t("data.sample.made", partners=int(partners), months=int(months))
            st.rerun()


user = auth.require_user()
can_change = user.permissions.can_import
st.title(t("data.title"))
auth.dataset_header(user)
if message := st.session_state.pop("last_import", None):
    st.success(message)
readable = auth.store_for(user)
if readable.exists():
    show_overview(readable)
    if can_change:
        dataset_section()
        attributes_section()
else:
    st.info(t("data.nodata" if can_change else "data.nodata_ask_admin"))
if can_change:
    sample_section(any(d.profile.is_sample and d.store.exists() for d in workspaces(state.settings()).list()), user)
    import_section(user)
else:
    st.caption(t("data.read_only"))
