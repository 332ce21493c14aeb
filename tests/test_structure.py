"""The package's shape: no import cycles, layers that stay apart, small modules and functions.

Walks every module of ``crawler/`` with ``ast`` (nothing is imported), so a
violation fails here, naming the module, before a reviewer has to find it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "crawler"
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


MODULES = _modules()


def _imports(name: str, path: Path) -> set[str]:
    """The crawler modules ``name`` imports (at any depth in the file, TYPE_CHECKING too)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            # `from crawler.archive import records` imports the module records;
            # `from crawler.archive import Archive` imports crawler.archive.
            targets = [
                f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names
            ]
        for target in targets:
            # The longest prefix that is a module (crawler.x.y.Name -> crawler.x.y).
            while target and target not in MODULES:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    cycles: list[list[str]] = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for dep in sorted(graph.get(node, ())):
            if state.get(dep) == 1:
                cycles.append([*stack[stack.index(dep) :], dep])
            elif dep not in state:
                visit(dep)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    return cycles


def test_no_import_cycle() -> None:
    assert _cycles(GRAPH) == []


def test_the_cycle_finder_finds_one() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]


def _under(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def test_api_and_archive_never_import_each_other() -> None:
    for name, deps in GRAPH.items():
        if _under(name, "crawler.api"):
            assert not [d for d in deps if _under(d, "crawler.archive")], name
        if _under(name, "crawler.archive"):
            assert not [d for d in deps if _under(d, "crawler.api")], name


def test_the_simulator_shares_no_code_with_the_client() -> None:
    for name, deps in GRAPH.items():
        if _under(name, "crawler.simulator"):
            shared = [d for d in deps if not _under(d, "crawler.simulator") and d != "crawler"]
            assert shared == [], (name, shared)


def test_readers_never_reach_into_the_crawl_or_the_api() -> None:
    for name, deps in GRAPH.items():
        if _under(name, "crawler.read"):
            assert not [
                d for d in deps if _under(d, "crawler.crawl") or _under(d, "crawler.api")
            ], name


def test_modules_are_small() -> None:
    big = {
        name: n
        for name, path in MODULES.items()
        if not _under(name, "crawler.simulator")
        and (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES
    }
    assert big == {}


def test_functions_are_short() -> None:
    long: dict[str, int] = {}
    for name, path in MODULES.items():
        if _under(name, "crawler.simulator"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                assert node.end_lineno is not None
                n = node.end_lineno - node.lineno + 1
                if n > MAX_FUNCTION_LINES:
                    long[f"{name}.{node.name}"] = n
    assert long == {}


def test_a_missing_command_module_is_an_error_not_a_hidden_command(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from crawler import cli

    monkeypatch.setitem(cli.COMMANDS, "ghost", ("crawler.commands.ghost", "not built"))
    with pytest.raises(ModuleNotFoundError):
        cli.build_parser()
