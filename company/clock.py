"""Today's date, the one clock every relative period (本季度, 上季度, 今年, latest) is resolved against.

CANMOU_TODAY=YYYY-MM-DD fixes it (reproducible evaluations and tests); otherwise it is the system date.
Read at call time, never at import time.
"""

from __future__ import annotations

import os
from datetime import date


def today() -> date:
    fixed = os.environ.get("CANMOU_TODAY", "").strip()
    if fixed:
        try:
            return date.fromisoformat(fixed)
        except ValueError:
            raise ValueError(f"CANMOU_TODAY 应为 YYYY-MM-DD 格式的日期，收到「{fixed}」。") from None
    return date.today()
