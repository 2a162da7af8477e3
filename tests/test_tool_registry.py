"""The tools registry: every tool is described for a model and runs on the sample company."""

from __future__ import annotations

import pytest

from tools.base import ToolError
from tools.registry import TOOLS

EXPECTED = {
    "partner_scorecard",
    "cost_analysis",
    "simulate_rebate",
    "fit_rebate_budget",
    "rebate_sensitivity",
    "detect_conflicts",
    "quarterly_work_plan",
}


def test_every_tool_is_registered_with_a_description_and_schema():
    assert EXPECTED <= set(TOOLS)
    for name, tool in TOOLS.items():
        assert len(tool.description) > 80, f"{name} needs a docstring written for the model"
        schema = tool.args.model_json_schema()
        assert schema["type"] == "object" and schema.get("properties"), name


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_tool_runs_on_the_sample_with_defaults(loaded_store, name):
    args = {"budget": 200_000} if name == "fit_rebate_budget" else {}
    result = TOOLS[name](loaded_store, args)
    assert result.tool == name and result.title and result.period and result.explanation
    assert result.tables and all(len(t.columns) for t in result.tables.values())
    assert result.numbers(), "a tool result must expose its numbers for answer checks"


def test_bad_arguments_become_tool_errors_in_chinese(loaded_store):
    with pytest.raises(ToolError, match="参数 top_n：应不小于 1"):
        TOOLS["cost_analysis"](loaded_store, {"top_n": 0})
