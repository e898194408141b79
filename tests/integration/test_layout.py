"""The layout holds its rules (DESIGN.md §1), checked on the modules themselves: by their imports read with `ast`, and
by what a fresh interpreter (`python -c`) really loads when it imports the core and the codec."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
IO_LIBRARIES = {
    "httpx", "paho", "sqlalchemy", "alembic", "apscheduler", "starlette", "uvicorn", "psycopg", "jinja2",
    "prometheus_client", "socket", "subprocess", "asyncio", "urllib", "requests", "stamina",
}  # fmt: skip
OUTER = ("fuota.store", "fuota.backends", "fuota.service", "fuota.views", "fuota.cli", "fuota.web", "fuota.sim")


def _modules() -> dict[str, Path]:
    found = {}
    for path in [*(ROOT / "fuota").rglob("*.py"), *(ROOT / "codec").rglob("*.py")]:
        if "migrations" in path.parts:
            continue
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


MODULES = _modules()


def _imports(name: str) -> set[str]:
    """Every module `name` imports, at any depth of its code (a function's own imports too)."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                stem = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*stem, *([node.module] if node.module else [])])
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def _graph() -> dict[str, set[str]]:
    """fuota's and codec's modules and the ones of them each imports."""
    graph: dict[str, set[str]] = defaultdict(set)
    for name in MODULES:
        for imported in _imports(name):
            parts = imported.split(".")
            for k in range(len(parts), 0, -1):
                candidate = ".".join(parts[:k])
                if candidate in MODULES:
                    if candidate != name:
                        graph[name].add(candidate)
                    break
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), but for a package whose __init__
    imports its own submodules, which is no cycle of the layering."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while (member := stack.pop()) != node:
                component.append(member)
            component.append(node)
            top = min(component, key=len)
            if len(component) > 1 and not all(m == top or m.startswith(top + ".") for m in component):
                found.append(sorted(component))

    for name in sorted(MODULES):
        if name not in index:
            visit(name)
    return found


def test_no_module_imports_itself_back_through_others() -> None:
    assert _cycles(_graph()) == []


@pytest.mark.parametrize("package", ["fuota.core", "codec"])
def test_the_core_and_the_codec_import_no_io_library_and_no_outer_layer(package: str) -> None:
    for name in [m for m in MODULES if m == package or m.startswith(package + ".")]:
        imported = _imports(name)
        assert {i.split(".")[0] for i in imported} & IO_LIBRARIES == set(), name
        assert [i for i in imported if i.startswith(OUTER)] == [], name
        assert package != "codec" or not [i for i in imported if i.split(".")[0] == "fuota"], name


@pytest.mark.parametrize("package", ["fuota.core", "codec"])
def test_a_fresh_interpreter_importing_the_core_or_the_codec_loads_no_io_library(package: str) -> None:
    probe = (
        f"import json, sys; import {package}, pkgutil, importlib\n"
        f"for m in pkgutil.walk_packages({package}.__path__, '{package}.'): importlib.import_module(m.name)\n"
        "print(json.dumps(sorted(sys.modules)))"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, check=True)
    loaded = set(json.loads(result.stdout))
    assert {m.split(".")[0] for m in loaded} & (IO_LIBRARIES - {"socket", "urllib"}) == set()  # the stdlib loads those
    assert [m for m in loaded if m.startswith(OUTER)] == []


def test_no_module_outside_a_vendor_s_folder_imports_it_but_the_registry() -> None:
    vendors = {m.split(".")[2] for m in MODULES if m.startswith("fuota.backends.") and m.count(".") >= 3}
    assert vendors == {"iotsquare", "milesight"}
    for vendor in vendors:
        inside = f"fuota.backends.{vendor}"
        importers = {
            name
            for name, imported in _graph().items()
            if any(i == inside or i.startswith(inside + ".") for i in imported) and not name.startswith(inside)
        }
        # The registry names each kind; the simulators mimic the vendor's codes on purpose.
        assert {i for i in importers if not i.startswith("fuota.sim.")} == {"fuota.backends.registry"}, vendor


def test_the_runner_is_built_in_one_place() -> None:
    builders = {
        name
        for name, path in MODULES.items()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None)) == "Runner"
    }
    assert builders == {"fuota.service.campaigns"}


def test_no_isinstance_on_a_back_end_outside_its_folder() -> None:
    vendor_types = ("IoTSquare", "Milesight")
    for name, path in MODULES.items():
        if name.startswith(("fuota.backends.iotsquare", "fuota.backends.milesight", "fuota.sim")):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "isinstance":
                assert vendor_types[0] not in ast.unparse(node) and vendor_types[1] not in ast.unparse(node), name
