"""Import every tool module so that TOOLS holds them all; callers use `from tools.registry import TOOLS`."""

from __future__ import annotations

import importlib

from tools.base import TOOLS

MODULES = ("tools.scorecard", "tools.cost", "tools.incentive", "tools.conflict", "tools.workplan")

for _module in MODULES:
    try:
        importlib.import_module(_module)
    except ModuleNotFoundError as exc:  # a tool module not written yet must not hide the others
        if exc.name != _module:
            raise

__all__ = ["TOOLS"]
