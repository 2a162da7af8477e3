"""Channel tools: pure computations over the company data, each registered by name in TOOLS."""

from tools.base import TOOLS, Tool, ToolError, ToolResult

__all__ = ["TOOLS", "Tool", "ToolError", "ToolResult"]
