"""The packages import downwards only (ui → advisor → tools / retrieval / documents → company / knowledge), and no
module imports itself back through others. Imports inside functions count too: a lazy import is still a dependency."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from tests.conftest import ROOT

LAYERS = {"ui": 4, "app": 4, "advisor": 3, "tools": 2, "retrieval": 2, "documents": 2, "company": 1, "knowledge": 1}


def _modules() -> dict[str, Path]:
    found = {"app": ROOT / "app.py"}
    for package in LAYERS:
        if package == "app":
            continue
        for path in (ROOT / package).rglob("*.py"):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            found[name.removesuffix(".__init__")] = path
    return found


def _imports(path: Path) -> list[tuple[str, int]]:
    """Every absolute import in the file (module names and, for `from m import x`, also m.x), with its line."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.append((node.module, node.lineno))
            out += [(f"{node.module}.{alias.name}", node.lineno) for alias in node.names]
    return out


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {
        name: {target for target, _line in _imports(path) if target in modules and target != name}
        for name, path in modules.items()
    }


def test_no_package_imports_a_higher_layer():
    upward = []
    for name, path in _modules().items():
        layer = LAYERS[name.split(".")[0]]
        for target, line in _imports(path):
            top = target.split(".")[0]
            if top in LAYERS and LAYERS[top] > layer:
                upward.append(f"{path.relative_to(ROOT)}:{line} imports {target}")
    assert not upward, "upward imports:\n" + "\n".join(sorted(set(upward)))


def test_no_import_cycles():
    graph = _graph()
    cycles = []
    state: dict[str, int] = {}  # 1 on the current path, 2 done

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                cycles.append(" → ".join([*path[path.index(target) :], target]))
            elif target not in state:
                visit(target, [*path, target])
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


def test_the_checks_see_a_planted_violation(tmp_path, monkeypatch):
    """The layering check fails on an upward import (so a green run means something)."""
    planted = tmp_path / "company"
    planted.mkdir()
    (planted / "bad.py").write_text("from advisor.pipeline import answer\n", encoding="utf-8")
    (tmp_path / "advisor").mkdir()
    (tmp_path / "advisor" / "pipeline.py").write_text("import company.bad\n", encoding="utf-8")
    monkeypatch.setattr(__import__(__name__, fromlist=["ROOT"]), "ROOT", tmp_path)
    for package in LAYERS:
        if package != "app":
            (tmp_path / package).mkdir(exist_ok=True)
    (tmp_path / "app.py").write_text("", encoding="utf-8")
    try:
        test_no_package_imports_a_higher_layer()
    except AssertionError as exc:
        assert "company/bad.py:1 imports advisor.pipeline" in str(exc)
    else:
        raise AssertionError("the planted upward import was not found")
    try:
        test_no_import_cycles()
    except AssertionError as exc:
        assert "advisor.pipeline" in str(exc) and "company.bad" in str(exc)
    else:
        raise AssertionError("the planted cycle was not found")


def test_money_and_percent_have_one_owner():
    """Formatting 元 / 万元 and percentages is company.units' job; tools and answers call it, not their own copies."""
    from company.semantic import format_value
    from company.units import money, percent

    assert money(123_456) == "12.35 万元" and money(123_000, trim=True) == "12.3 万元" and money(800) == "800.00 元"
    assert money(None) == "—" and money(float("nan")) == "—"
    assert percent(0.853) == "85.3%" and percent(0.015, 2, trim=True) == "1.5%" and percent(None) == "—"
    assert format_value("ratio", 0.853) == percent(0.853)
    copies = []  # a formatter outside company/ must hand over to company.units or the semantic layer
    for path in [
        *(ROOT / "tools").rglob("*.py"),
        *(ROOT / "advisor").rglob("*.py"),
        *(ROOT / "documents").rglob("*.py"),
    ]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef) and re.fullmatch(
                r"_?(?:signed_)?(?:money|pct|percent|wan)", node.name
            ):
                calls = {c.func.id for c in ast.walk(node) if isinstance(c, ast.Call) and isinstance(c.func, ast.Name)}
                if not calls & {"money", "percent", "format_value", "wan", "_money"}:
                    copies.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name}")
    assert not copies, f"own money / percent formatting: {copies}"
