"""Import every tool module so that TOOLS holds them all; callers use `from tools.registry import TOOLS`."""

from __future__ import annotations

import importlib

from tools.base import TOOLS

MODULES = ("tools.scorecard", "tools.cost", "tools.incentive", "tools.conflict", "tools.workplan")

for _module in MODULES:
    importlib.import_module(_module)

__all__ = ["TOOLS"]
