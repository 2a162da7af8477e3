"""管理 (admins only): the accounts — add a regional manager with regions, an executive or an admin, reset a password,
remove one — and the audit log, filtered by user, event and dates and downloadable as CSV.

Accounts change through advisor/accounts.py (its checks and Chinese messages); every change is recorded in the audit
log as the signed-in admin's, without the password."""

from __future__ import annotations

import re
from dataclasses import asdict
from datetime import date

import pandas as pd
import streamlit as st

from advisor.accounts import ROLES, AccountError, Accounts, User
from advisor.audit import EVENTS, HEADERS, LOCAL, AuditError, AuditLog, Filters
from ui import auth, state
from ui.i18n import language, t

ALL = ""  # the "everyone" / "every event" choice of the audit filters


def role_name(role: str) -> str:
    info = ROLES[role]
    return info.zh if language() == "zh" else info.en


def event_name(event: str) -> str:
    names = EVENTS.get(event)
    return (names[0] if language() == "zh" else names[1]) if names else event


def audit_log() -> AuditLog:
    return AuditLog(state.settings().data_dir)


ROUND = "admin_form_round"  # counts finished changes: every form's widgets get new keys, so they start empty


def key(name: str) -> str:
    return f"{name}-{st.session_state.get(ROUND, 0)}"


def done(message: str) -> None:
    st.session_state[ROUND] = st.session_state.get(ROUND, 0) + 1
    st.session_state["admin_message"] = message
    st.rerun()


# ---- accounts ------------------------------------------------------------------------------------------------------
def accounts_table(accounts: Accounts, people: list[User]) -> None:
    column = {name: t(f"admin.users.column.{name}") for name in ("name", "role", "regions", "email", "sign_in")}
    rows = []
    for person in people:
        ways = [t("admin.users.by_password")] if accounts.has_password(person.name) else []
        ways += [t("admin.users.by_provider")] if person.email else []
        rows.append(
            {
                column["name"]: person.name,
                column["role"]: role_name(person.role),
                column["regions"]: t("sep.list").join(person.regions) or t("admin.users.all_regions"),
                column["email"]: person.email or "—",
                column["sign_in"]: t("sep.list").join(ways),
            }
        )
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")


def add_form(accounts: Accounts, admin: User) -> None:
    known = state.store().region_names()  # the company's regions, as its data spells them
    with st.form("add_user"):
        st.markdown(t("admin.users.add_title"))
        c1, c2 = st.columns(2)
        name = c1.text_input(t("admin.users.name"), key=key("new_user_name"))
        roles = list(ROLES)
        role = c2.selectbox(t("admin.users.role"), roles, index=1, format_func=role_name, key=key("new_user_role"))
        if known:
            regions = st.multiselect(
                t("admin.users.regions"),
                known,
                key=key("new_user_regions"),
                help=t("admin.users.regions_help"),
                placeholder=t("admin.users.regions_choose"),
            )
        else:
            typed = st.text_input(t("admin.users.regions_typed"), key=key("new_user_regions_typed"))
            regions = [r for r in re.split(r"[,\uff0c\u3001\s]+", typed) if r]  # 华东、华南 / 华东,华南
        email = st.text_input(t("admin.users.email"), key=key("new_user_email"), help=t("admin.users.email_help"))
        c3, c4 = st.columns(2)
        password = c3.text_input(t("admin.users.password"), type="password", key=key("new_user_password"))
        again = c4.text_input(t("admin.users.password_again"), type="password", key=key("new_user_password_again"))
        submitted = st.form_submit_button(t("admin.users.add"), type="primary", key=key("add_user_submit"))
    if not submitted:
        return
    if password != again:
        st.error(t("admin.users.mismatch"))
        return
    if not password and not email.strip():
        st.error(t("admin.users.need_password"))
        return
    try:
        added = accounts.add(
            name,
            role,
            regions if role == "manager" else (),  # admins and executives see every region
            password=password or None,
            email=email.strip() or None,
            known_regions=known or None,
        )
    except AccountError as exc:
        st.error(exc.message)
        return
    audit_log().record(
        "settings", admin.name, target="account", action="add", name=added.name, role=added.role, regions=added.regions
    )
    done(t("admin.users.added", who=added.describe(language())))


def password_form(accounts: Accounts, people: list[User], admin: User) -> None:
    with st.form("reset_password"):
        st.markdown(t("admin.users.reset_title"))
        c1, c2, c3 = st.columns(3)
        name = c1.selectbox(t("admin.users.account"), [p.name for p in people], key=key("reset_name"))
        password = c2.text_input(t("admin.users.new_password"), type="password", key=key("reset_password"))
        again = c3.text_input(t("admin.users.password_again"), type="password", key=key("reset_password_again"))
        submitted = st.form_submit_button(t("admin.users.reset"), key=key("reset_submit"))
    if not submitted:
        return
    if password != again:
        st.error(t("admin.users.mismatch"))
        return
    try:
        changed = accounts.set_password(name, password)
    except AccountError as exc:
        st.error(exc.message)
        return
    audit_log().record("settings", admin.name, target="account", action="password", name=changed.name)
    done(t("admin.users.password_set", name=changed.name))


def remove_form(accounts: Accounts, people: list[User], admin: User) -> None:
    with st.form("remove_user"):
        st.markdown(t("admin.users.remove_title"))
        c1, c2 = st.columns([2, 3], vertical_alignment="bottom")
        name = c1.selectbox(t("admin.users.account"), [p.name for p in people], key=key("remove_name"))
        sure = c2.checkbox(t("admin.users.remove_sure"), key=key("remove_sure"))
        submitted = st.form_submit_button(t("admin.users.remove"), key=key("remove_submit"))
    if not submitted:
        return
    if name == admin.name:
        st.error(t("admin.users.not_self"))
        return
    if not sure:
        st.error(t("admin.users.remove_confirm", name=name))
        return
    try:
        removed = accounts.remove(name)
    except AccountError as exc:
        st.error(exc.message)
        return
    audit_log().record("delete", admin.name, target="account", name=removed.name, role=removed.role)
    done(t("admin.users.removed", name=removed.name))


def users_section(admin: User) -> None:
    accounts = auth.accounts()
    try:
        people = accounts.users()
    except AccountError as exc:  # a damaged accounts file: what to do, in Chinese
        st.error(exc.message)
        return
    accounts_table(accounts, people)
    st.caption(t("admin.users.caption"))
    add_form(accounts, admin)
    password_form(accounts, people, admin)
    remove_form(accounts, people, admin)


# ---- audit log -----------------------------------------------------------------------------------------------------
def audit_frame(rows: pd.DataFrame) -> pd.DataFrame:
    """The rows as the page shows them: newest first, event names and headers in the interface language."""
    shown = rows.iloc[::-1].copy()
    shown["event"] = shown["event"].map(event_name)
    shown.columns = list(HEADERS["zh" if language() == "zh" else "en"])
    return shown


def audit_section(admin: User) -> None:
    log = audit_log()
    # Everyone with an account, and whoever the log names (a removed account, the command line's "local").
    seen = log.read()["user"].tolist()
    people = list(dict.fromkeys([p.name for p in auth.accounts().users()] + sorted(set(seen) | {LOCAL})))
    c1, c2, c3, c4 = st.columns(4)
    who = c1.selectbox(
        t("admin.audit.user"), [ALL, *people], format_func=lambda v: v or t("admin.audit.everyone"), key="audit_user"
    )
    event = c2.selectbox(
        t("admin.audit.event"),
        [ALL, *EVENTS],
        format_func=lambda v: event_name(v) if v else t("admin.audit.every_event"),
        key="audit_event",
    )
    since = c3.date_input(t("admin.audit.since"), value=None, key="audit_since")
    until = c4.date_input(t("admin.audit.until"), value=None, key="audit_until")
    if since is not None and until is not None and since > until:
        st.error(t("admin.audit.bad_range", since=since.isoformat(), until=until.isoformat()))
        return
    filters = Filters(user=who or None, event=event or None, since=since, until=until)
    try:
        rows = log.read(filters)
    except AuditError as exc:
        st.error(exc.message)
        return
    st.caption(t("admin.audit.count", count=len(rows)))
    if rows.empty:
        st.info(t("admin.audit.empty"))
        return
    st.dataframe(audit_frame(rows), hide_index=True, width="stretch")
    lang = "zh" if language() == "zh" else "en"
    used = {name: str(value) for name, value in asdict(filters).items() if value}
    st.download_button(
        t("admin.audit.download"),
        data=log.csv(filters, lang),
        file_name=f"audit-{date.today().isoformat()}.csv",
        mime="text/csv",
        key="audit_download",
        on_click=lambda: log.record("export", admin.name, target="audit", rows=len(rows), filters=used),
    )


user = auth.require_user()
auth.require(user.permissions.can_manage_users or user.permissions.can_view_audit)
st.title(t("admin.title"))
if message := st.session_state.pop("admin_message", None):
    st.success(message)
if user.permissions.can_manage_users:
    st.subheader(t("admin.users.title"))
    users_section(user)
if user.permissions.can_view_audit:
    st.divider()
    st.subheader(t("admin.audit.title"))
    audit_section(user)
