"""The parts of accelsim import only downwards (every import, including those inside functions)."""

from __future__ import annotations

import ast
from pathlib import Path

import accelsim

PACKAGE = Path(accelsim.__file__).parent

# Top to bottom; parts in one row are independent of each other. "accelsim" is the package's own
# __init__ (the lazy public API); result, units and errors are the plain-data base.
LAYERS = (
    ("__main__",),
    ("accelsim", "cli"),
    ("commands",),
    ("queries", "calibrate", "sweep"),
    ("report",),
    ("api",),
    ("engine",),
    ("devices",),
    ("kernels",),
    ("config",),
    ("workload",),
    ("files",),
    ("text_files",),
    ("result", "units", "errors", "bundled"),
    ("_version",),
)
RANK = {part: rank for rank, row in enumerate(LAYERS) for part in row}


def module_name(path: Path) -> str:
    """Dotted module name of a file under the package."""
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def part_of(module: str) -> str:
    """The part a dotted accelsim module belongs to: its first component below the package."""
    pieces = module.split(".")
    return pieces[1] if len(pieces) > 1 else pieces[0]


def is_module(dotted: str) -> bool:
    """Whether `dotted` names an accelsim module or package (not an attribute of one)."""
    path = PACKAGE.parent.joinpath(*dotted.split("."))
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def imported(path: Path, module: str) -> set[str]:
    """Every accelsim module that `path` (the source of `module`) imports, at any depth of its code."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([node.module] if node.module else []))
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                found.add(submodule if is_module(submodule) else base)
    return {name for name in found if name.split(".")[0] == "accelsim"}


def upward(path: Path, module: str) -> list[str]:
    """'module imports target (A must not import B)' for each upward or sideways import of a file."""
    source = part_of(module)
    return [f"{module} imports {target} ({source} must not import {part_of(target)})"
            for target in sorted(imported(path, module))
            if part_of(target) != source and RANK[part_of(target)] <= RANK[source]]


def violations() -> list[str]:
    """Every upward or sideways import in the package."""
    return [line for path in sorted(PACKAGE.rglob("*.py")) for line in upward(path, module_name(path))]


def test_every_part_has_a_layer():
    parts = {part_of(module_name(path)) for path in PACKAGE.rglob("*.py")}
    assert parts <= set(RANK), f"parts without a layer: {sorted(parts - set(RANK))}"


def test_imports_point_down_only():
    assert violations() == []


def test_the_check_sees_upward_imports_inside_functions(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text("def f():\n    from accelsim import api\n    from . import sim\n"
                     "    from ..report.tables import table\n", encoding="utf-8")
    assert upward(probe, "accelsim.engine.probe") == [
        "accelsim.engine.probe imports accelsim.api (engine must not import api)",
        "accelsim.engine.probe imports accelsim.report.tables (engine must not import report)"]


def test_siblings_in_one_row_are_independent(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text("import accelsim.sweep.pareto\nfrom accelsim import units\n", encoding="utf-8")
    assert upward(probe, "accelsim.queries.probe") == [
        "accelsim.queries.probe imports accelsim.sweep.pareto (queries must not import sweep)"]
