"""The three homes and the one-way rule (CONTRIBUTING.md): instructor tools → grader → student library.

Every import of every module is walked with ``ast`` (top level and inside functions alike)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
HOMES = ("frlab", "autograder", "labtools")
#: what each home may import from the others
ALLOWED = {"frlab": set(), "autograder": {"frlab"}, "labtools": {"frlab", "autograder"}}


def modules(home: str) -> dict[str, Path]:
    """``dotted name -> file`` of every module of a home (the corpus of submissions is data, not code)."""
    out = {}
    for path in sorted((REPO / home).rglob("*.py")):
        if "corpus" in path.relative_to(REPO).parts:
            continue
        parts = list(path.relative_to(REPO).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def imports_of(name: str, path: Path) -> set[str]:
    """Absolute dotted names imported by a module, relative imports resolved."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            found.add(mod)
            found |= {f"{mod}.{a.name}" for a in node.names}  # `from pkg import module`
    return found


ALL = {n: p for h in HOMES for n, p in modules(h).items()}


def graph() -> dict[str, set[str]]:
    return {n: {i for i in imports_of(n, p) if i in ALL and i != n} for n, p in ALL.items()}


def home_of(name: str) -> str:
    return name.split(".")[0]


def test_the_walk_sees_the_whole_tree():
    assert len(modules("frlab")) >= 15 and len(modules("autograder")) >= 10 and len(modules("labtools")) >= 10
    assert "frlab.fairseq.frlab_plugin.roberta_small" in ALL and "labtools.book.build" in ALL


@pytest.mark.parametrize("home", HOMES)
def test_imports_go_one_way(home):
    wrong = sorted(
        f"{n} imports {i}"
        for n, deps in graph().items()
        if home_of(n) == home
        for i in deps
        if home_of(i) != home and home_of(i) not in ALLOWED[home]
    )
    assert not wrong, "imports against the one-way rule (labtools → autograder → frlab):\n" + "\n".join(wrong)


def find_cycle(g: dict[str, set[str]]) -> list[str] | None:
    """A module-level import cycle of ``g`` (package → its own submodules do not count), else None."""
    colour, stack = {}, []

    def visit(n):
        colour[n] = 1
        stack.append(n)
        for m in sorted(g.get(n, ())):
            if m.startswith(n + "."):  # a package importing its own submodule (e.g. the plugin's __init__)
                continue
            if colour.get(m) == 1:
                return stack[stack.index(m) :] + [m]
            if m not in colour and (c := visit(m)):
                return c
        stack.pop()
        colour[n] = 2
        return None

    for n in sorted(g):
        if n not in colour and (c := visit(n)):
            return c
    return None


def test_no_import_cycle():
    cycle = find_cycle(graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_the_walker_can_fail(tmp_path):
    """The rule and the cycle finder do catch what they look for (a planted upward import and a cycle)."""
    g = {"frlab.a": {"labtools.b"}, "labtools.b": {"frlab.a"}}
    assert find_cycle(g) == ["frlab.a", "labtools.b", "frlab.a"]
    bad = tmp_path / "m.py"
    bad.write_text("def f():\n    from labtools.book import build\n    from . import sibling\n")
    assert {"labtools.book", "labtools.book.build", "frlab.x", "frlab.x.sibling"} <= imports_of("frlab.x.m", bad)
