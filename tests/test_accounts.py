"""Accounts of a shared deployment: hashed passwords in a private file, the first admin printed once, roles and what
they may do, the `users` command with its Chinese errors, and sign-in through an identity provider by email."""

from __future__ import annotations

import io
import json
import os
import re
import stat
import subprocess
import sys

import pytest

from advisor import cli
from advisor.accounts import ACCOUNTS_FILE, LOCAL_USER, AccountError, Accounts, User
from advisor.audit import AuditLog, Filters
from tests.conftest import ROOT

PASSWORD = "correct-horse-9"


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def _users(monkeypatch, capsys, *args: str, stdin: str | None = None) -> tuple[int, str, str]:
    """`python -m advisor users ARGS` in this process; stdin is what --password-stdin reads."""
    if stdin is not None:
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    code = cli.main(["users", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_passwords_are_hashed_in_a_file_only_its_owner_can_read(tmp_path):
    accounts = Accounts(tmp_path / ACCOUNTS_FILE)
    created = accounts.ensure_admin()
    assert created is not None and created.name == "admin" and len(created.password) >= 12
    accounts.add("lily", "manager", ["华东"], password=PASSWORD)

    text = (tmp_path / ACCOUNTS_FILE).read_text(encoding="utf-8")
    assert _mode(tmp_path / ACCOUNTS_FILE) == 0o600
    assert created.password not in text and PASSWORD not in text
    assert text.count("$argon2id$") == 2
    assert not list(tmp_path.glob("*.tmp")), "no temporary copy of the file is left behind"

    assert accounts.authenticate("admin", created.password) == User("admin", "admin")
    assert accounts.authenticate("lily", PASSWORD) == User("lily", "manager", ("华东",))
    assert accounts.authenticate("lily", PASSWORD + "x") is None
    assert accounts.authenticate("nobody", PASSWORD) is None

    accounts.set_password("lily", "another-pass-7")
    assert accounts.authenticate("lily", PASSWORD) is None
    assert accounts.authenticate("lily", "another-pass-7") is not None
    assert _mode(tmp_path / ACCOUNTS_FILE) == 0o600, "a rewrite keeps the file private"


def test_the_first_admin_is_made_once_and_its_password_printed_once(data_dir, monkeypatch, capsys):
    """`python -m advisor prepare` (what `make run` calls) prints how to sign in on the first run, then never again."""
    monkeypatch.setattr(cli, "ensure_default", lambda progress=None: {"sample": False, "guides": 0})
    assert cli.main(["prepare"]) == 0
    first = capsys.readouterr().out
    assert "用户名：admin" in first and "请登录后尽快修改密码" in first
    password = re.search(r"密码：(\S+)", first).group(1)
    assert Accounts(data_dir / ACCOUNTS_FILE).authenticate("admin", password) is not None

    assert cli.main(["prepare"]) == 0
    again = capsys.readouterr().out
    assert "密码" not in again and password not in again
    assert [u.name for u in Accounts(data_dir / ACCOUNTS_FILE).users()] == ["admin"]


def test_the_real_entry_point_prints_the_first_admin_once(tmp_path):
    env = {**os.environ, "CANMOU_DATA_DIR": str(tmp_path / "data")}

    def users_list():
        return subprocess.run(
            [sys.executable, "-m", "advisor", "users", "list"], cwd=ROOT, env=env, capture_output=True, text=True
        )

    first, second = users_list(), users_list()
    assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
    assert "已创建管理员账号" in first.stdout and "已创建管理员账号" not in second.stdout
    assert "admin" in second.stdout and "管理员" in second.stdout


def test_roles_decide_what_a_user_may_do_and_which_regions_they_see(loaded_store):
    admin = User("ann", "admin").permissions
    manager = User("lily", "manager", ("华东",)).permissions
    executive = User("ed", "executive").permissions
    admin_only = ("can_change_settings", "can_import", "can_manage_knowledge", "can_manage_users", "can_view_audit")
    for name in admin_only:
        assert getattr(admin, name) and not getattr(manager, name) and not getattr(executive, name), name
    assert manager.can_draft_plans and admin.can_draft_plans and not executive.can_draft_plans
    assert (admin.regions, manager.regions, executive.regions) == (None, ("华东",), None)
    assert LOCAL_USER.permissions.is_admin  # a deployment without sign-in keeps working as before

    assert admin.store(loaded_store) is loaded_store and not loaded_store.read_only
    seen_by_executive = executive.store(loaded_store)
    assert seen_by_executive.read_only and seen_by_executive.regions is None
    assert len(seen_by_executive.table("partners")) == len(loaded_store.table("partners"))
    seen_by_manager = manager.store(loaded_store)
    assert seen_by_manager.read_only and set(seen_by_manager.table("partners")["region"]) == {"华东"}


def test_users_command_adds_lists_changes_and_removes(loaded_store, monkeypatch, capsys):
    data_dir = loaded_store.folder.parent.parent
    code, out, _ = _users(monkeypatch, capsys, "list")
    assert code == 0 and "已创建管理员账号" in out

    code, out, err = _users(
        monkeypatch,
        capsys,
        "add",
        "lily",
        "--role",
        "manager",
        "--region",
        "华东",
        "--region",
        "华南",
        "--password-stdin",
        stdin=PASSWORD + "\n",
    )
    assert code == 0, err
    assert "lily（区域经理：华东、华南）" in out
    code, out, _ = _users(monkeypatch, capsys, "add", "eve", "--role", "executive", "--email", "Eve@Corp.Example")
    assert code == 0

    code, out, _ = _users(monkeypatch, capsys, "list", "--json")
    listed = {u["name"]: u for u in json.loads(out)}
    assert listed["lily"]["regions"] == ["华东", "华南"] and listed["lily"]["password"] is True
    assert listed["eve"]["role"] == "executive" and listed["eve"]["password"] is False
    assert PASSWORD not in out

    code, _, err = _users(monkeypatch, capsys, "passwd", "lily", "--password-stdin", stdin="new-password-5\n")
    assert code == 0, err
    accounts = Accounts(data_dir / ACCOUNTS_FILE)
    assert accounts.authenticate("lily", "new-password-5") is not None
    assert accounts.authenticate("lily", PASSWORD) is None

    code, out, _ = _users(monkeypatch, capsys, "remove", "lily")
    assert code == 0 and "已删除账号" in out
    assert [u.name for u in accounts.users()] == ["admin", "eve"]
    deleted = AuditLog(data_dir).read(Filters(event="delete"))
    assert json.loads(deleted["details"].iloc[-1]) == {"target": "account", "name": "lily", "role": "manager"}


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (
            ["add", "bob", "--role", "manager", "--region", "华西", "--password-stdin"],
            PASSWORD,
            "区域「华西」不在公司数据里",
        ),
        (["add", "bob", "--role", "boss", "--password-stdin"], PASSWORD, "不认识的角色「boss」"),
        (["add", "bob", "--role", "manager", "--password-stdin"], PASSWORD, "区域经理至少需要一个区域"),
        (["add", "bob", "--role", "executive", "--region", "华东", "--password-stdin"], PASSWORD, "不需要 --region"),
        (["add", "admin", "--role", "admin", "--password-stdin"], PASSWORD, "账号「admin」已经存在"),
        (["add", "bob", "--role", "executive", "--password-stdin"], "short", "密码至少需要 8 个字符"),
        (["remove", "admin"], None, "不能删除最后一个管理员"),
        (["passwd", "nobody", "--password-stdin"], PASSWORD, "没有名为「nobody」的账号"),
    ],
)
def test_users_command_says_in_chinese_what_to_fix(loaded_store, monkeypatch, capsys, args, stdin, message):
    data_dir = loaded_store.folder.parent.parent
    _users(monkeypatch, capsys, "list")
    before = (data_dir / ACCOUNTS_FILE).read_text(encoding="utf-8")
    code, _, err = _users(monkeypatch, capsys, *args, stdin=None if stdin is None else stdin + "\n")
    assert code == 2 and message in err, err
    assert (data_dir / ACCOUNTS_FILE).read_text(encoding="utf-8") == before, "a refused change changes nothing"


def test_region_names_follow_the_data_spelling(tmp_path):
    accounts = Accounts(tmp_path / ACCOUNTS_FILE)
    accounts.ensure_admin()
    user = accounts.add("jo", "manager", ["west"], password=PASSWORD, known_regions=["East", "West"])
    assert user.regions == ("West",)


def test_an_identity_provider_user_maps_to_an_account_without_password(tmp_path):
    accounts = Accounts(tmp_path / ACCOUNTS_FILE)
    accounts.ensure_admin()
    accounts.add("lily", "manager", ["华东"], email="lily@corp.example")
    assert accounts.for_email("LILY@corp.example ") == User("lily", "manager", ("华东",), "lily@corp.example")
    assert accounts.for_email("someone@else.example") is None and accounts.for_email(None) is None
    assert accounts.authenticate("lily", "") is None and accounts.authenticate("lily", PASSWORD) is None
    with pytest.raises(AccountError, match="已属于另一个账号"):
        accounts.add("lily2", "executive", email="lily@corp.example")
    with pytest.raises(AccountError, match="需要密码"):
        accounts.add("nopass", "executive")
