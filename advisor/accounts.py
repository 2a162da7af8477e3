"""Accounts of a shared deployment: who may sign in, with which role and regions, and what each role may do.

The embedded default is <data_dir>/accounts.json (mode 600): argon2id hashes, never a password. A company with an
identity provider (Streamlit's st.login, OIDC) keeps an account per person with the email the provider reports and
no password; for_email() maps a signed-in user to it. scope_violation() tells a manager that a question names a
region outside the account, before any answer is computed (the store itself is scoped: company.store.ScopedStore).
"""

from __future__ import annotations

import copy
import fcntl
import json
import os
import re
import secrets
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from advisor.audit import LOCAL  # the one operator of a deployment without sign-in; rows from before accounts
from advisor.settings import Settings, get_settings
from company.errors import CanmouError, StoreError
from company.language import language_of
from company.store import Store

ACCOUNTS_FILE = "accounts.json"
LOCK_FILE = ".accounts.lock"
FIRST_ADMIN = "admin"
MIN_PASSWORD = 8
NAME_RE = re.compile(r"^[^\s/\\:]{1,64}$")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

Role = Literal["admin", "manager", "executive"]


@dataclass(frozen=True)
class RoleInfo:
    zh: str
    en: str
    description: str


ROLES: dict[str, RoleInfo] = {
    "admin": RoleInfo("管理员", "Administrator", "设置、数据导入、知识库、账号与审计日志；查看全部区域"),
    "manager": RoleInfo("区域经理", "Regional manager", "在自己的区域内对话、查数据、起草方案；不能导入或改设置"),
    "executive": RoleInfo("高管", "Executive", "查看全部区域的数据与分析，只读"),
}


class AccountError(CanmouError):
    """An account cannot be created, changed or used as asked; the message says what to do instead."""


@dataclass(frozen=True)
class User:
    """A signed-in person (or the local operator): name, role, and the regions a manager works in."""

    name: str
    role: Role
    regions: tuple[str, ...] = ()
    email: str | None = None

    @property
    def permissions(self) -> Permissions:
        return Permissions(self)

    def describe(self, language: str = "zh") -> str:
        info = ROLES[self.role]
        role = info.zh if language == "zh" else info.en
        if self.role != "manager":
            return f"{self.name}（{role}）" if language == "zh" else f"{self.name} ({role})"
        regions = "、".join(self.regions) if language == "zh" else ", ".join(self.regions)
        return f"{self.name}（{role}：{regions}）" if language == "zh" else f"{self.name} ({role}: {regions})"


LOCAL_USER = User(LOCAL, "admin")


@dataclass(frozen=True)
class Permissions:
    """What a user may do; the UI hides what is not allowed, the store refuses it anyway."""

    user: User

    @property
    def is_admin(self) -> bool:
        return self.user.role == "admin"

    @property
    def can_change_settings(self) -> bool:
        return self.is_admin

    @property
    def can_import(self) -> bool:
        return self.is_admin

    @property
    def can_manage_knowledge(self) -> bool:
        return self.is_admin

    @property
    def can_manage_users(self) -> bool:
        return self.is_admin

    @property
    def can_view_audit(self) -> bool:
        return self.is_admin

    @property
    def can_draft_plans(self) -> bool:
        return self.user.role in ("admin", "manager")

    @property
    def regions(self) -> tuple[str, ...] | None:
        """The regions whose data the user sees; None: all of them."""
        return self.user.regions if self.user.role == "manager" else None

    def store(self, store: Store) -> Store:
        """The store as this user may read it: whole for an admin, read-only for an executive, and only the
        manager's regions (read-only) for a manager."""
        if self.is_admin:
            return store
        return store.scoped(self.regions)


# ---- the accounts file --------------------------------------------------------------------------------------------
@dataclass
class _Entry:
    name: str
    role: Role
    regions: list[str] = field(default_factory=list)
    email: str | None = None
    password_hash: str | None = None
    created_at: str = ""
    password_changed_at: str | None = None

    def user(self) -> User:
        return User(self.name, self.role, tuple(self.regions), self.email)


@dataclass(frozen=True)
class Created:
    """The admin made on first run: its name and the one-time password to print, once."""

    name: str
    password: str

    def message(self) -> str:
        return (
            "已创建管理员账号（首次运行，只显示这一次）：\n"
            f"  用户名：{self.name}\n"
            f"  密码：{self.password}\n"
            f"请登录后尽快修改密码：python -m advisor users passwd {self.name}"
        )


class Accounts:
    """The accounts in one file; every change is made under a file lock and written atomically with mode 600."""

    def __init__(self, path: Path | str):
        self.path = Path(path)
        from argon2 import PasswordHasher  # only where passwords are hashed or checked, not on every `ask`

        self._hasher = PasswordHasher()

    @classmethod
    def for_settings(cls, settings: Settings | None = None) -> Accounts:
        return cls((settings or get_settings()).data_dir / ACCOUNTS_FILE)

    # ---- reading ------------------------------------------------------------------------------------------------
    def exists(self) -> bool:
        return self.path.exists()

    def _load(self) -> dict[str, _Entry]:
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except ValueError as exc:
            raise AccountError(
                f"账号文件 {self.path} 无法读取（{exc}）。请从备份恢复它，或删除后重新运行 `python -m advisor prepare` "
                "创建新的管理员。"
            ) from None
        known = _Entry.__dataclass_fields__
        return {u["name"]: _Entry(**{k: v for k, v in u.items() if k in known}) for u in raw.get("users", [])}

    def users(self) -> list[User]:
        return [e.user() for e in sorted(self._load().values(), key=lambda e: (e.role != "admin", e.name))]

    def get(self, name: str) -> User:
        entry = self._load().get(name.strip())
        if entry is None:
            raise AccountError(f"没有名为「{name}」的账号。现有账号：{self._names()}。")
        return entry.user()

    def has_password(self, name: str) -> bool:
        entry = self._load().get(name)
        return entry is not None and entry.password_hash is not None

    def _names(self) -> str:
        return "、".join(sorted(self._load())) or "（没有）"

    def authenticate(self, name: str, password: str) -> User | None:
        """The user when name and password match; None otherwise (which of the two was wrong is not told)."""
        entry = self._load().get(name.strip())
        if entry is None or entry.password_hash is None:
            self._hasher.hash(password)  # the same work as a real check: timing does not reveal the name exists
            return None
        from argon2.exceptions import InvalidHashError, VerificationError

        try:
            self._hasher.verify(entry.password_hash, password)
        except (VerificationError, InvalidHashError):
            return None
        if self._hasher.check_needs_rehash(entry.password_hash):
            self._change(name, lambda e: setattr(e, "password_hash", self._hasher.hash(password)))
        return entry.user()

    def for_email(self, email: str | None) -> User | None:
        """The account of a user signed in through the identity provider (st.user.email), or None."""
        wanted = (email or "").strip().lower()
        if not wanted:
            return None
        return next((e.user() for e in self._load().values() if (e.email or "").lower() == wanted), None)

    # ---- changing -----------------------------------------------------------------------------------------------
    @contextmanager
    def _locked(self) -> Iterator[dict[str, _Entry]]:
        """The accounts for changing under the file lock; written back when the block changed them and ended
        without an error."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.parent / LOCK_FILE, "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                entries = self._load()
                before = copy.deepcopy(entries)
                yield entries
                if entries != before:
                    self._save(entries)
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _save(self, entries: dict[str, _Entry]) -> None:
        if not any(e.role == "admin" for e in entries.values()):
            raise AccountError(
                "账号中必须至少有一个管理员。请先用 `python -m advisor users add 名字 --role admin` 添加。"
            )
        data = {"version": 1, "users": [entry.__dict__ for entry in entries.values()]}
        tmp = self.path.with_name(f"{self.path.name}.{secrets.token_hex(4)}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # never readable by others, not for a moment
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump(data, out, ensure_ascii=False, indent=2)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    def _change(self, name: str, change) -> User:
        with self._locked() as entries:
            entry = entries.get(name.strip())
            if entry is None:
                raise AccountError(f"没有名为「{name}」的账号。现有账号：{'、'.join(sorted(entries)) or '（没有）'}。")
            change(entry)
        return entry.user()

    def ensure_admin(self) -> Created | None:
        """On first run (no accounts file): an admin with a random password, returned once so the caller can print
        how to sign in. Later runs return None and change nothing."""
        if self.exists():
            return None
        with self._locked() as entries:
            if entries or self.exists():  # another process made it a moment ago
                return None
            password = secrets.token_urlsafe(12)
            entries[FIRST_ADMIN] = _Entry(
                FIRST_ADMIN, "admin", [], None, self._hasher.hash(password), _now(), password_changed_at=None
            )
        return Created(FIRST_ADMIN, password)

    def add(
        self,
        name: str,
        role: str,
        regions: Sequence[str] = (),
        *,
        password: str | None = None,
        email: str | None = None,
        known_regions: Sequence[str] | None = None,
    ) -> User:
        """A new account. A manager needs regions (checked against known_regions, the company's, when given);
        without a password the account signs in only through the identity provider (email)."""
        name, role, regions, email = self.check_new(name, role, regions, email, known_regions)
        if password is None and email is None:
            raise AccountError("新账号需要密码（交互输入或 --password-stdin），或用 --email 指定单点登录的邮箱。")
        hashed = self._hasher.hash(check_password(password)) if password is not None else None
        with self._locked() as entries:
            if name in entries:
                raise AccountError(
                    f"账号「{name}」已经存在。修改密码用 `users passwd {name}`；要重建请先 `users remove {name}`。"
                )
            if email and any((e.email or "").lower() == email.lower() for e in entries.values()):
                raise AccountError(f"邮箱 {email} 已属于另一个账号；一个邮箱只能对应一个账号。")
            entries[name] = _Entry(name, role, list(regions), email, hashed, _now(), _now() if hashed else None)
        return entries[name].user()

    def check_new(
        self, name: str, role: str, regions: Sequence[str], email: str | None, known_regions: Sequence[str] | None
    ) -> tuple[str, Role, tuple[str, ...], str | None]:
        """The new account's name, role, regions and email as they will be stored, or the AccountError that add()
        would raise for them (the command line checks before asking for a password)."""
        name = name.strip()
        if not NAME_RE.match(name):
            raise AccountError(f"用户名「{name}」不可用：1–64 个字符，不能有空格、斜杠或冒号。")
        if name in self._load():
            raise AccountError(
                f"账号「{name}」已经存在。修改密码用 `users passwd {name}`；要重建请先 `users remove {name}`。"
            )
        checked_role = check_role(role)
        return name, checked_role, check_regions(checked_role, regions, known_regions), check_email(email)

    def set_password(self, name: str, password: str) -> User:
        hashed = self._hasher.hash(check_password(password))

        def change(entry: _Entry) -> None:
            entry.password_hash = hashed
            entry.password_changed_at = _now()

        return self._change(name, change)

    def remove(self, name: str) -> User:
        with self._locked() as entries:
            entry = entries.get(name.strip())
            if entry is None:
                raise AccountError(f"没有名为「{name}」的账号。现有账号：{'、'.join(sorted(entries)) or '（没有）'}。")
            admins = [e for e in entries.values() if e.role == "admin"]
            if entry.role == "admin" and len(admins) == 1:
                raise AccountError(
                    f"不能删除最后一个管理员「{entry.name}」：否则没有人能管理账号和设置。"
                    "请先用 `users add 名字 --role admin` 添加另一个管理员。"
                )
            del entries[entry.name]
        return entry.user()


def _now() -> str:
    return datetime.now().isoformat(timespec="seconds")


def check_role(role: str) -> Role:
    value = role.strip().lower()
    if value not in ROLES:
        choices = "、".join(f"{k}（{v.zh}）" for k, v in ROLES.items())
        raise AccountError(f"不认识的角色「{role}」。可选：{choices}。")
    return value  # type: ignore[return-value]


def check_regions(role: str, regions: Iterable[str], known: Sequence[str] | None) -> tuple[str, ...]:
    """A manager's regions spelled as the company's data spells them; admins and executives see all regions."""
    given = [r.strip() for r in regions if r and r.strip()]
    if role != "manager":
        if given:
            raise AccountError(
                f"{ROLES[role].zh}可以查看全部区域，不需要 --region；只有区域经理（manager）按区域限定。"
            )
        return ()
    if not given:
        raise AccountError("区域经理至少需要一个区域，例如 --region 华东（可重复：--region 华东 --region 华南）。")
    if known is None:
        return tuple(dict.fromkeys(given))
    by_lower = {k.lower(): k for k in known}
    unknown = [r for r in given if r.lower() not in by_lower]
    if unknown:
        listing = "、".join(known) or "（公司数据里没有区域）"
        raise AccountError(f"区域「{'」「'.join(unknown)}」不在公司数据里。公司数据中的区域：{listing}。")
    return tuple(dict.fromkeys(by_lower[r.lower()] for r in given))


def check_password(password: str | None) -> str:
    if password is None or len(password) < MIN_PASSWORD:
        raise AccountError(f"密码至少需要 {MIN_PASSWORD} 个字符。")
    if password.strip() != password or "\n" in password:
        raise AccountError("密码首尾不能有空格或换行。")
    return password


def check_email(email: str | None) -> str | None:
    if email is None or not email.strip():
        return None
    value = email.strip()
    if not EMAIL_RE.match(value):
        raise AccountError(f"「{email}」不是有效的邮箱地址。")
    return value


# ---- region scope of questions ------------------------------------------------------------------------------------
CODE = re.compile(r"[a-z0-9][a-z0-9_-]*")


def scope_violation(question_or_spec: str | Any, user: User | None, store: Store) -> str | None:
    """The refusal to show when a question (or a QuerySpec) names a region, province, city, country or partner
    outside a manager's regions; None when it names none (admins and executives see all regions).

    The names are looked up in the whole dataset (store.unscoped()), so 华南 is known even to a 华东 manager's
    scoped store, and a province or partner counts as outside only when no partner of the user's regions has it."""
    regions = user.permissions.regions if user is not None else None
    if regions is None:
        return None
    whole = store.unscoped()
    if not whole.exists():
        return None
    allowed = set(regions)
    if isinstance(question_or_spec, str):
        outside, language = _outside_in_text(question_or_spec, allowed, whole), language_of(question_or_spec)
    else:
        outside, language = _outside_in_spec(question_or_spec, allowed, whole), "zh"
    if not outside:
        return None
    if language == "en":
        return (
            f"Outside your permissions: your account covers only {', '.join(regions)}, and "
            f"{', '.join(outside)} {'is' if len(outside) == 1 else 'are'} outside it. "
            "Ask an administrator to change your account's regions if you need them."
        )
    return (
        f"不在您的权限范围内：您的账号只能查看{'、'.join(regions)}的数据，问题中的「{'」「'.join(outside)}」属于其他区域。"
        "如需查看，请联系管理员调整账号的区域。"
    )


def _partner_places(whole: Store) -> Any:
    return whole.query("SELECT partner_id, name, region, province, city, country FROM partners")


def _outside(partners: Any, column: str, value: str, allowed: set[str]) -> bool:
    """value of column (region, province, ... partner_id) belongs only to partners outside the allowed regions."""
    owners = set(partners.loc[partners[column].astype("string").str.lower() == value.lower(), "region"].dropna())
    return bool(owners) and not owners & allowed


def _outside_in_text(question: str, allowed: set[str], whole: Store) -> list[str]:
    from advisor.data_questions import context_for  # the data parser's names of places and partners

    text = re.sub(r"\s+", " ", unicodedata.normalize("NFKC", question)).strip().lower()
    partners = _partner_places(whole)
    found: list[str] = []
    try:
        context = context_for(whole)
    except (StoreError, CanmouError):
        context = None
    if context is not None and context.entity_pattern is not None:
        for match in context.entity_pattern.finditer(text):
            dimension, value = context.entity_aliases[match.group(0)]
            if dimension in ("region", "province", "city", "country") and _outside(partners, dimension, value, allowed):
                found.append(value)
        for entry in context.full_names:  # names of three or more characters, as the parser matches them
            if entry.kind == "partner" and entry.norm in text and _outside(partners, "name", entry.name, allowed):
                found.append(entry.name)
    else:  # no sales yet: the region names alone
        for region in set(partners["region"].dropna()) - allowed:
            if str(region).lower() in text:
                found.append(str(region))
    for token in CODE.findall(text):
        if _outside(partners, "partner_id", token, allowed):
            found.append(token.upper())
    return list(dict.fromkeys(found))


def _outside_in_spec(spec: Any, allowed: set[str], whole: Store) -> list[str]:
    data = spec if isinstance(spec, dict) else spec.model_dump(mode="json")
    columns = {"partner": "partner_id", **{d: d for d in ("region", "province", "city", "country")}}
    partners = _partner_places(whole)
    found: list[str] = []
    for item in data.get("filters", []):
        column = columns.get(item.get("field"))
        if column is None or item.get("op") not in ("eq", "in"):
            continue
        values = item["value"] if isinstance(item["value"], list) else [item["value"]]
        found += [str(v) for v in values if _outside(partners, column, str(v), allowed)]
    return list(dict.fromkeys(found))
