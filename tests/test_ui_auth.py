"""Sign-in, roles and per-user history through streamlit.testing: the sign-in form before any page, the first admin
of a fresh folder, the 管理 page (accounts and audit log), what each role is offered, a manager's region scope, and the
company identity provider (st.login / st.user) mapped to accounts by email.

`sign_in(app, …)` is the helper the other page tests use: the account in the data folder, its name in the session.
"""

from __future__ import annotations

import os
import re
import stat

import pytest
from streamlit.testing.v1 import AppTest

from advisor.accounts import Accounts
from advisor.audit import AuditLog
from advisor.history import History
from advisor.plans import PlanLibrary, generate
from advisor.settings import get_settings
from advisor.workspace import open_knowledge
from tests.conftest import ROOT
from ui.auth import SESSION_KEY, provider_sign_in

APP = str(ROOT / "app.py")
PAGES = ROOT / "ui" / "pages"
PASSWORD = "correct-horse-9"


def sign_in(app: AppTest, name: str = "admin", role: str = "admin", regions=(), email: str | None = None) -> AppTest:
    """Give a page test a signed-in user, as the sign-in form leaves one: the account (made when missing, with an admin
    first on a fresh folder) in the data folder's accounts file, and its name in the session."""
    accounts = Accounts.for_settings(get_settings())
    if not accounts.exists() and role != "admin":
        accounts.add("admin", "admin", password=PASSWORD)
    if name not in {u.name for u in accounts.users()}:
        accounts.add(name, role, regions, password=PASSWORD, email=email)
    app.session_state[SESSION_KEY] = name
    return app


def page(file: str, **user) -> AppTest:
    app = sign_in(AppTest.from_file(str(PAGES / file), default_timeout=120), **user)
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    return app


def whole_app(**user) -> AppTest:
    app = AppTest.from_file(APP, default_timeout=120)
    if user:
        sign_in(app, **user)
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    return app


def texts(app: AppTest, headings: bool = True) -> str:
    """The page's text: Markdown, captions and messages, and (unless headings=False) its title and subheaders."""
    parts = [m.value for m in app.markdown] + [c.value for c in app.caption] + [i.value for i in app.info]
    parts += [e.value for e in app.error] + [s.value for s in app.success] + [w.value for w in app.warning]
    if headings:
        parts += [t.value for t in app.title] + [h.value for h in app.subheader]
    return "\n".join(str(p) for p in parts)


def fill_sign_in(app: AppTest, name: str, password: str) -> AppTest:
    app.text_input(key="sign_in_name").input(name)
    app.text_input(key="sign_in_password").input(password)
    app.button(key="sign_in_submit").click().run()
    assert not app.exception, [e.value for e in app.exception]
    return app


MANAGER = {"name": "li", "role": "manager", "regions": ("华东",)}
SOUTH = {"name": "wang", "role": "manager", "regions": ("华南",)}
EXECUTIVE = {"name": "zhao", "role": "executive"}


# ---- signing in ----------------------------------------------------------------------------------------------------
def test_a_fresh_folder_gets_its_first_admin_and_the_password_stays_in_the_terminal(data_dir, capfd):
    app = whole_app()
    accounts = Accounts.for_settings(get_settings())
    assert accounts.exists() and stat.S_IMODE(os.stat(accounts.path).st_mode) == 0o600
    printed = capfd.readouterr().out
    password = re.search(r"密码：(\S+)", printed).group(1)  # printed on the terminal running the app
    shown = texts(app)
    assert "登录" in shown and "终端" in shown and "admin" in shown
    assert password not in shown, "the first admin's password is never shown in the browser"
    assert not app.chat_input, "no page before sign-in"
    fill_sign_in(app, "admin", password)
    assert app.chat_input, "signed in: the chat page"
    assert "已登录：admin（管理员）" in texts(app)


def test_a_wrong_password_and_an_unknown_name_get_the_same_message(data_dir):
    app = whole_app()
    Accounts.for_settings(get_settings()).set_password("admin", PASSWORD)
    fill_sign_in(app, "admin", "wrong-password")
    wrong_password = [e.value for e in app.error]
    fill_sign_in(app, "nobody", PASSWORD)
    expected = "用户名或密码不正确，请重新输入。忘记密码请联系管理员重设。"
    assert [e.value for e in app.error] == wrong_password == [expected]
    assert SESSION_KEY not in app.session_state and not app.chat_input


def test_sign_out_returns_to_the_sign_in_form(loaded_store):
    app = whole_app(**MANAGER)
    assert "已登录：li（区域经理：华东）" in texts(app)
    app.button(key="sign_out").click().run()
    assert not app.exception, [e.value for e in app.exception]
    assert not app.chat_input and app.text_input(key="sign_in_name")


def test_a_removed_account_is_signed_out_on_its_next_action(loaded_store):
    app = whole_app(**MANAGER)
    Accounts.for_settings(get_settings()).remove("li")
    app.run()
    assert not app.chat_input and "账号「li」已被删除" in texts(app)


# ---- what each role is offered -------------------------------------------------------------------------------------
@pytest.mark.parametrize("who", [MANAGER, EXECUTIVE])
def test_settings_and_admin_are_neither_offered_nor_reachable_for_other_roles(loaded_store, who):
    for path in ("ui/pages/settings.py", "ui/pages/admin.py"):
        app = whole_app(**who)
        with pytest.raises(ValueError, match="Known pages") as refused:  # not among this role's pages at all
            app.switch_page(path)
        assert "chat.py" in str(refused.value) and "settings.py" not in str(refused.value).split("Known pages")[1]
        assert "admin.py" not in str(refused.value).split("Known pages")[1]
        direct = page(path.rsplit("/", 1)[1], **who)  # and the page itself refuses too
        assert "没有使用这个页面的权限" in texts(direct) and not direct.button


def test_an_admin_reaches_settings_and_admin(loaded_store):
    for path, title in (("ui/pages/settings.py", "设置"), ("ui/pages/admin.py", "管理")):
        app = whole_app(name="admin", role="admin")
        app.switch_page(path).run()
        assert not app.exception, [e.value for e in app.exception]
        assert title in [t.value for t in app.title]


def test_a_manager_sees_their_regions_data_read_only(loaded_store):
    app = page("data_center.py", **MANAGER)
    assert not app.file_uploader and not [b for b in app.button if b.key in ("make_sample", "ds_save")]
    partners = next(m for m in app.metric if m.label == "伙伴")
    assert partners.value == "12", "the 12 partners of 华东, not the company's 40"
    assert "您的账号只能查看这些区域的数据：华东" in texts(app)


def test_a_manager_searches_the_knowledge_base_but_cannot_change_it(loaded_store):
    open_knowledge().add("rebates.txt", "返利门槛一般设三档：90%、100%、110%，门槛以季度目标完成率计算。".encode())
    app = page("knowledge_base.py", **MANAGER)
    assert not app.file_uploader and not [b for b in app.button if b.key == "kb_remove"]
    assert "加入或删除文档由管理员操作" in texts(app)
    app.text_input(key="kb_query").input("返利门槛怎么定").run()
    assert not app.exception, [e.value for e in app.exception]
    assert "来源：rebates.txt" in texts(app), "the search found the passage"


def test_a_manager_asking_about_another_region_is_refused_and_their_own_is_answered(loaded_store):
    app = page("chat.py", **MANAGER)
    app.chat_input[0].set_value("华南上个月销售额是多少").run()
    assert not app.exception, [e.value for e in app.exception]
    assert "不在您的权限范围内" in texts(app) and not app.dataframe
    app.chat_input[0].set_value("华东各省销售额").run()
    assert not app.exception, [e.value for e in app.exception]
    assert len(app.dataframe) == 1 and len(app.dataframe[0].value) > 1


def test_each_user_sees_only_their_own_conversations(loaded_store):
    mine = page("chat.py", **MANAGER)
    mine.chat_input[0].set_value("华东上个月销售额是多少").run()
    theirs = page("chat.py", **SOUTH)
    assert not [b for b in theirs.button if b.key and b.key.startswith("conv-")]
    theirs.chat_input[0].set_value("有没有窜货？").run()
    assert [b.label for b in theirs.button if b.key and b.key.startswith("conv-")] == ["▸ 有没有窜货？"]
    again = page("chat.py", **MANAGER)  # li again, in a new browser session
    assert [b.label for b in again.button if b.key and b.key.startswith("conv-")] == ["华东上个月销售额是多少"]
    path = get_settings().data_dir / "history.sqlite"
    owners = {c.title: o for o in ("li", "wang") for c in History(path, o).conversations()}
    assert owners == {"华东上个月销售额是多少": "li", "有没有窜货？": "wang"}


def test_an_executive_is_refused_a_draft_in_chat_and_offered_no_draft_starters(loaded_store):
    open_knowledge().add("rebates.txt", "返利门槛一般设三档：90%、100%、110%，门槛以季度目标完成率计算。".encode())
    app = page("chat.py", **EXECUTIVE)
    starters = [b.label for b in app.button if b.key and b.key.startswith("starter-")]
    assert starters and "设计一个返利方案，预算300万" not in starters and "起草一份渠道策略" not in starters
    assert "有没有窜货？" in starters
    app.chat_input[0].set_value("设计一个返利方案，预算150万").run()
    assert not app.exception, [e.value for e in app.exception]
    assert "不能起草方案" in texts(app) and "一、适用对象" not in texts(app)
    assert not app.get("download_button")
    assert History(get_settings().data_dir / "history.sqlite", "zhao").conversations() == [], "nothing was drafted"
    app.chat_input[0].set_value("返利门槛怎么定？").run()  # a question about rebates is not a draft
    assert "不能起草方案" not in texts(app) and "出处" in " ".join(e.label for e in app.expander)


def test_an_executive_reads_plans_without_a_generate_form(loaded_store):
    library = PlanLibrary(get_settings().data_dir / "plans")
    library.save(generate("strategy", {"region": "华南"}, loaded_store))
    app = page("plans.py", **EXECUTIVE)
    assert not [b for b in app.button if b.key and b.key.endswith("-go")], "no generate or regenerate button"
    assert "不能生成或修改方案" in texts(app)
    assert {b.proto.label for b in app.get("download_button")} == {"下载 Word（.docx）", "下载 Markdown"}


def test_a_manager_plans_for_their_regions_and_sees_only_their_plans(loaded_store):
    library = PlanLibrary(get_settings().data_dir / "plans")
    library.save(generate("strategy", {"region": "华南"}, loaded_store))
    app = page("plans.py", **MANAGER)
    assert app.selectbox(key="new-region").options == ["华东"]
    assert "plan_choice" not in [s.key for s in app.selectbox], "the 华南 plan is not listed"
    app.selectbox(key="new-kind").set_value("strategy")
    app.button(key="new-go").click().run()
    assert not app.exception, [e.value for e in app.exception]
    listed = app.selectbox(key="plan_choice").options
    assert len(listed) == 1 and "华东" in listed[0]


def form_key(app: AppTest, name: str) -> str:
    """The key of a 管理 form widget now (the keys change after each finished change, which empties the forms)."""
    return f"{name}-{app.session_state['admin_form_round'] if 'admin_form_round' in app.session_state else 0}"


# ---- 管理: accounts ----------------------------------------------------------------------------------------------
def add_user(app: AppTest, name: str, role: str, regions=(), password=PASSWORD, again=None, email="") -> AppTest:
    app.text_input(key=form_key(app, "new_user_name")).input(name)
    app.selectbox(key=form_key(app, "new_user_role")).set_value(role)
    app.multiselect(key=form_key(app, "new_user_regions")).set_value(list(regions))
    app.text_input(key=form_key(app, "new_user_email")).input(email)
    app.text_input(key=form_key(app, "new_user_password")).input(password)
    app.text_input(key=form_key(app, "new_user_password_again")).input(password if again is None else again)
    app.button(key=form_key(app, "add_user_submit")).click().run()
    assert not app.exception, [e.value for e in app.exception]
    return app


def test_the_admin_page_adds_a_manager_who_can_then_sign_in(loaded_store):
    app = page("admin.py", name="admin", role="admin")
    add_user(app, "li", "manager", ["华东"])
    assert "已添加账号：li（区域经理：华东）" in texts(app)
    assert app.multiselect(key=form_key(app, "new_user_regions")).value == [], "the form starts empty again"
    assert app.text_input(key=form_key(app, "new_user_name")).value == ""
    accounts = Accounts.for_settings(get_settings())
    assert accounts.authenticate("li", PASSWORD).regions == ("华东",)
    assert "li" in app.dataframe[0].value["用户名"].tolist()
    row = AuditLog(get_settings().data_dir).read().iloc[-1]
    assert (row["user"], row["event"]) == ("admin", "settings") and PASSWORD not in row["details"]


def test_the_admin_page_says_in_chinese_what_is_wrong(loaded_store):
    app = page("admin.py", name="admin", role="admin")
    add_user(app, "li", "manager", [])
    assert "区域经理至少需要一个区域" in texts(app)
    add_user(app, "li", "manager", ["华东"], again="another-password")
    assert "两次输入的密码不一致" in texts(app)
    add_user(app, "li", "manager", ["华东"], password="short")
    assert "密码至少需要 8 个字符" in texts(app)
    add_user(app, "admin", "executive")
    assert "账号「admin」已经存在" in texts(app)
    assert [u.name for u in Accounts.for_settings(get_settings()).users()] == ["admin"]


def test_the_admin_page_resets_a_password_and_removes_an_account(loaded_store):
    Accounts.for_settings(get_settings()).ensure_admin()
    Accounts.for_settings(get_settings()).add("li", "manager", ["华东"], password=PASSWORD)
    app = page("admin.py", name="admin", role="admin")
    app.selectbox(key=form_key(app, "reset_name")).set_value("li")
    app.text_input(key=form_key(app, "reset_password")).input("new-password-1")
    app.text_input(key=form_key(app, "reset_password_again")).input("new-password-1")
    app.button(key=form_key(app, "reset_submit")).click().run()
    accounts = Accounts.for_settings(get_settings())
    assert "已重设「li」的密码" in texts(app) and accounts.authenticate("li", "new-password-1") is not None

    app.selectbox(key=form_key(app, "remove_name")).set_value("admin")
    app.checkbox(key=form_key(app, "remove_sure")).check()
    app.button(key=form_key(app, "remove_submit")).click().run()
    assert "不能删除自己正在使用的账号" in texts(app)
    app.selectbox(key=form_key(app, "remove_name")).set_value("li")
    app.checkbox(key=form_key(app, "remove_sure")).uncheck()
    app.button(key=form_key(app, "remove_submit")).click().run()
    assert "请先勾选" in texts(app) and "li" in [u.name for u in accounts.users()]
    app.checkbox(key=form_key(app, "remove_sure")).check()
    app.button(key=form_key(app, "remove_submit")).click().run()
    assert not app.exception, [e.value for e in app.exception]
    assert "已删除账号「li」" in texts(app) and [u.name for u in accounts.users()] == ["admin"]


# ---- 管理: audit log ---------------------------------------------------------------------------------------------
def test_the_audit_log_filters_by_user_and_event_and_downloads_csv(loaded_store):
    log = AuditLog(get_settings().data_dir)
    log.record("question", "li", question="华东上个月销售额是多少")
    log.record("question", "wang", question="有没有窜货？")
    log.record("import", "admin", file="sales.csv")
    app = page("admin.py", name="admin", role="admin")
    assert len(app.dataframe[-1].value) == 3
    app.selectbox(key="audit_user").set_value("li").run()
    shown = app.dataframe[-1].value
    assert shown["用户"].tolist() == ["li"] and shown["事件"].tolist() == ["提问"]
    app.selectbox(key="audit_user").set_value("").run()
    app.selectbox(key="audit_event").set_value("import").run()
    assert app.dataframe[-1].value["用户"].tolist() == ["admin"]
    (download,) = app.get("download_button")
    assert download.proto.label == "下载 CSV"
    assert "共 1 条记录" in texts(app)


def test_the_audit_log_refuses_a_reversed_date_range(loaded_store):
    from datetime import date

    app = page("admin.py", name="admin", role="admin")
    app.date_input(key="audit_since").set_value(date(2026, 11, 30))
    app.date_input(key="audit_until").set_value(date(2026, 11, 1)).run()
    assert "起始日期 2026-11-30 晚于截止日期 2026-11-01" in texts(app)


# ---- the company's identity provider ---------------------------------------------------------------------------
PROVIDER = {
    "redirect_uri": "http://localhost:8501/oauth2callback",
    "cookie_secret": "a-long-random-secret-for-tests",
    "client_id": "canmou",
    "client_secret": "secret",
    "server_metadata_url": "https://idp.example.invalid/.well-known/openid-configuration",
}


def test_provider_sign_in_maps_the_email_to_an_account(data_dir):
    accounts = Accounts.for_settings(get_settings())
    accounts.ensure_admin()
    accounts.add("li", "manager", ["华东"], email="Li.Ming@corp.example")
    assert provider_sign_in({"email": "test@example.com"}, accounts) is None, "no provider configured: nobody"
    assert provider_sign_in({"is_logged_in": False}, accounts) is None
    known = provider_sign_in({"is_logged_in": True, "email": "li.ming@corp.example "}, accounts)
    assert known.user.name == "li" and known.user.regions == ("华东",)
    unknown = provider_sign_in({"is_logged_in": True, "email": "someone@corp.example"}, accounts)
    assert unknown.email == "someone@corp.example" and unknown.user is None
    assert provider_sign_in({"is_logged_in": True}, accounts).user is None


def test_the_sign_in_page_offers_the_company_account_when_auth_is_configured(data_dir):
    plain = whole_app()
    assert not [b for b in plain.button if b.key and b.key.startswith("provider-")]
    app = AppTest.from_file(APP, default_timeout=120)
    app.secrets["auth"] = PROVIDER
    app.user = {"is_logged_in": False}
    app.run()
    assert [b.label for b in app.button if b.key and b.key.startswith("provider-")] == ["使用公司账号登录"]
    assert app.text_input(key="sign_in_name"), "the password form stays for accounts without the provider"


def test_a_provider_user_is_signed_in_by_email_and_an_unknown_email_is_refused(data_dir):
    accounts = Accounts.for_settings(get_settings())
    accounts.ensure_admin()
    accounts.add("li", "manager", ["华东"], email="li@corp.example")
    app = AppTest.from_file(APP, default_timeout=120)
    app.secrets["auth"] = PROVIDER
    app.user = {"is_logged_in": True, "email": "li@corp.example", "name": "Li"}
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    assert app.chat_input and "已登录：li（区域经理：华东）" in texts(app)

    stranger = AppTest.from_file(APP, default_timeout=120)
    stranger.secrets["auth"] = PROVIDER
    stranger.user = {"is_logged_in": True, "email": "someone@corp.example"}
    stranger.run()
    assert not stranger.exception, [e.value for e in stranger.exception]
    assert not stranger.chat_input
    assert "该邮箱未开通账号，请联系管理员" in texts(stranger)


def test_identity_providers_are_read_from_the_auth_section():
    """[auth] with client_id is the unnamed provider; [auth.NAME] tables are named ones (st.login(NAME))."""
    probe = "import streamlit as st\nfrom ui.auth import identity_providers\nst.write(repr(identity_providers()))\n"
    for section, expected in (
        (None, "[]"),
        (PROVIDER, "[None]"),
        ({"redirect_uri": "x", "cookie_secret": "y", "okta": {"client_id": "a"}}, "['okta']"),
    ):
        app = AppTest.from_string(probe)
        if section is not None:
            app.secrets["auth"] = section
        app.run()
        assert not app.exception, [e.value for e in app.exception]
        assert app.markdown[0].value == expected, section


# ---- English ---------------------------------------------------------------------------------------------------------
def test_the_sign_in_and_admin_pages_are_english_in_english_mode(loaded_store, monkeypatch):
    from advisor.settings import reset_settings
    from tests.test_i18n import assert_english

    monkeypatch.setenv("CANMOU_UI_LANGUAGE", "en")
    reset_settings()
    AuditLog(get_settings().data_dir).record("question", "li", question="华东销售额")
    signing_in = whole_app()
    assert_english(signing_in, "sign-in page")
    admin = page("admin.py", name="admin", role="admin")
    assert_english(admin, "admin.py")
    assert "Administrator" in admin.dataframe[0].value["Role"].tolist()
    assert admin.dataframe[-1].value["Event"].tolist() == ["question"]
    reset_settings()
