"""Who is using the app: sign-in before any page, the signed-in user of this browser session, and what a role sees.

Two ways in, both ending in an account of advisor/accounts.py (its role and regions decide what the pages show):
- the embedded default, user name and password checked by Accounts.authenticate (argon2 hashes in accounts.json);
- a company identity provider, when [auth] is configured in .streamlit/secrets.toml: st.login() signs in, and the
  email st.user reports is mapped to an account with Accounts.for_email (an unknown email gets no access).

The user is looked up again on every run, so a removed account or a changed role takes effect at once. Refreshing the
page starts a new Streamlit session: a password user signs in again, a provider user is still signed in (cookie).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import streamlit as st
from streamlit.errors import StreamlitAuthError

from advisor.accounts import FIRST_ADMIN, AccountError, Accounts, User
from ui import dataset, state
from ui.i18n import language, t

SESSION_KEY = "auth_user"  # the account signed in with a password in this browser session (its name)
NOTICE_KEY = "auth_notice"  # a message for the sign-in page after a sign-out


def accounts() -> Accounts:
    return Accounts.for_settings(state.settings())


def ensure_first_admin() -> None:
    """No accounts file yet (a fresh data folder, `make run` before prepare): make the first admin now and print its
    one-time password on the terminal running the app. The browser is only told where to look, never the password."""
    created = accounts().ensure_admin()
    if created is not None:
        print(created.message(), flush=True)


def identity_providers() -> list[str | None]:
    """The identity providers of [auth] in .streamlit/secrets.toml: None for the unnamed one (client_id directly in
    [auth]), else the name of each [auth.NAME] table. No secrets file or no [auth]: none, password sign-in only."""
    try:
        section = st.secrets.get("auth")
    except FileNotFoundError:  # Streamlit's StreamlitSecretNotFoundError: there is no secrets.toml
        return []
    if not isinstance(section, Mapping):
        return []
    named = [str(name) for name, value in section.items() if isinstance(value, Mapping)]
    return ([None] if "client_id" in section else []) + named


@dataclass(frozen=True)
class ProviderSignIn:
    """Someone signed in through the identity provider: the email it reported, and that email's account (None: the
    email has no account here, so no access)."""

    email: str | None
    user: User | None


def provider_sign_in(info: Mapping[str, Any], accounts: Accounts) -> ProviderSignIn | None:
    """What st.user says, mapped to an account; None when nobody is signed in through the provider (st.user has no
    is_logged_in at all when [auth] is not configured)."""
    if info.get("is_logged_in") is not True:
        return None
    email = str(info.get("email") or "").strip() or None
    return ProviderSignIn(email, accounts.for_email(email))


def _provider() -> ProviderSignIn | None:
    return provider_sign_in(st.user.to_dict(), accounts())


def current_user() -> User | None:
    """The user signed in in this session, read again from the accounts file; None when nobody is (or the account
    was removed since, which signs the session out)."""
    name = st.session_state.get(SESSION_KEY)
    if name:
        try:
            return accounts().get(name)
        except AccountError:
            st.session_state.pop(SESSION_KEY, None)
            st.session_state[NOTICE_KEY] = t("auth.removed", name=name)
            return None
    signed = _provider()
    return signed.user if signed is not None else None


def require_user() -> User:
    """The signed-in user; without one the sign-in page is shown and the run stops here."""
    user = current_user()
    if user is None:
        sign_in_page()
        st.stop()
    return user


def require(allowed: bool) -> None:
    """Stop a page the user's role may not use (the navigation does not offer it; this guards a direct address)."""
    if not allowed:
        st.error(t("auth.not_allowed"))
        st.stop()


def sign_in_page() -> None:
    ensure_first_admin()
    st.title(t("app.name"))
    st.subheader(t("auth.title"))
    if notice := st.session_state.pop(NOTICE_KEY, None):
        st.info(notice)
    signed = _provider()
    if signed is not None and signed.user is None:  # signed in at the provider, but no account here
        st.error(t("auth.unknown_email", email=signed.email or t("auth.no_email")))
        if st.button(t("auth.other_account"), key="provider_logout"):
            st.logout()
    providers = identity_providers()
    for provider in providers:
        label = t("auth.provider") if len(providers) == 1 else t("auth.provider_named", name=provider or "default")
        if st.button(label, key=f"provider-{provider or 'default'}", type="primary", icon=":material/badge:"):
            try:
                st.login(provider) if provider else st.login()
            except StreamlitAuthError as exc:  # Authlib missing, or [auth] incomplete: what to fix, in Chinese
                st.error(t("auth.provider_failed", message=str(exc)))
    if providers:
        st.caption(t("auth.or_password"))
    with st.form("sign_in"):
        name = st.text_input(t("auth.name"), key="sign_in_name")
        password = st.text_input(t("auth.password"), type="password", key="sign_in_password")
        submitted = st.form_submit_button(t("auth.submit"), type="primary", key="sign_in_submit")
    if submitted:
        if not name.strip() or not password:
            st.error(t("auth.empty"))
        else:
            user = accounts().authenticate(name, password)
            if user is None:
                st.error(t("auth.wrong"))  # which of the two was wrong is not told
            else:
                st.session_state[SESSION_KEY] = user.name
                st.rerun()
    if [u.name for u in accounts().users()] == [FIRST_ADMIN]:  # a fresh deployment: where the password is
        st.info(t("auth.first_run", name=FIRST_ADMIN))


def sign_out() -> None:
    """Forget everything this session held (the open conversation, page choices) and sign out of the provider too."""
    through_provider = not st.session_state.get(SESSION_KEY) and _provider() is not None
    st.session_state.clear()
    if through_provider:
        st.logout()  # starts a new session
    st.rerun()


def sidebar(user: User) -> None:
    """Who is signed in, with which role (and regions), and 退出登录."""
    with st.sidebar:
        st.caption(t("auth.signed_in_as", who=user.describe(language())))
        if st.button(t("auth.sign_out"), key="sign_out", icon=":material/logout:", width="stretch"):
            sign_out()


def store_for(user: User):
    """The company store as `user` may read it: whole for an admin, read-only for an executive, a manager's regions."""
    return user.permissions.store(state.store())


def dataset_header(user: User) -> None:
    """The active dataset under the page title; an admin may switch datasets (for everyone), others see their scope."""
    if user.permissions.is_admin:
        dataset.header()
        return
    active = state.active_dataset()
    if active is not None and active.store.exists():
        st.caption(dataset.describe(active))
    if user.permissions.regions is not None:
        st.caption(t("auth.scope", regions=t("sep.list").join(user.permissions.regions)))
