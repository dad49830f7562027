"""The package's layers import only downward, and no modules import each other in a cycle.

Every import counts, the ones inside functions (lazy imports) included: a lazy import upward is
still a dependency upward. The order is the folder layout's:
core → ingest → inference → processing → analysis → rendering → site, then the CLI.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "ospo_survey"
LAYERS = ["core", "ingest", "inference", "processing", "analysis", "rendering", "site"]
# the interface, above all (``ospo_survey.plot``: the figures' public names, loaded on demand)
TOP = {"ospo_survey", "ospo_survey.__main__", "ospo_survey.cli", "ospo_survey.plot"}


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, name: str) -> set[str]:
    """Package modules that ``path`` imports anywhere in its body."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("ospo_survey"))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            if not mod.startswith("ospo_survey"):
                continue
            found.add(mod)
            for a in node.names:  # `from ospo_survey.ingest import answers` imports a module
                if (PACKAGE.parent / (mod + "." + a.name).replace(".", "/")).with_suffix(
                    ".py"
                ).is_file():
                    found.add(f"{mod}.{a.name}")
    found.discard(name)
    return found


def _graph() -> dict[str, set[str]]:
    modules = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}
    graph = {}
    for name, path in modules.items():
        deps = set()
        for dep in _imports(path, name):
            # importing a package name (``ospo_survey.site``) runs its __init__ only
            deps.add(dep if dep in modules else dep.rpartition(".")[0])
        graph[name] = {d for d in deps if d in modules and d != name}
    return graph


def _rank(module: str) -> int:
    if module in TOP:
        return len(LAYERS)
    layer = module.split(".")[1]
    assert layer in LAYERS, f"{module} is in no layer: put it in one of {LAYERS}"
    return LAYERS.index(layer)


def test_every_module_sits_in_a_layer() -> None:
    for module in _graph():
        _rank(module)


def test_imports_go_downward_only() -> None:
    upward = [
        f"{m} ({m.split('.')[1] if m not in TOP else 'top'}) imports {d}"
        for m, deps in _graph().items()
        for d in sorted(deps)
        if d != "ospo_survey" and _rank(d) > _rank(m)
    ]
    assert not upward, "imports from a layer above:\n" + "\n".join(upward)


def test_only_the_interface_imports_the_package_root() -> None:
    """``ospo_survey/__init__`` re-exports lazily; modules inside must import where things live."""
    offenders = [m for m, deps in _graph().items() if "ospo_survey" in deps and m not in TOP]
    assert not offenders


def test_no_import_cycles() -> None:
    graph = _graph()
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for dep in sorted(graph[node]):
            if state.get(dep) == 1:
                cycles.append(stack[stack.index(dep):] + [dep] if dep in stack else [node, dep])
            elif dep not in state:
                visit(dep, stack + [dep])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)


@pytest.mark.parametrize("module", ["ospo_survey.site", "ospo_survey"])
def test_importing_the_site_or_package_root_stays_light(module: str) -> None:
    """``import ospo_survey.site`` (or the package) must not load pandas or the reading layer."""
    import subprocess
    import sys

    code = (
        f"import sys, {module}; "
        "heavy = [m for m in ('pandas', 'numpy', 'ospo_survey.ingest.read') if m in sys.modules]; "
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_the_checker_sees_an_upward_import(tmp_path: Path) -> None:
    """The layering check is not vacuous: a lazy upward import in a function is found."""
    fake = tmp_path / "ospo_survey" / "ingest"
    fake.mkdir(parents=True)
    src = fake / "x.py"
    src.write_text("def f():\n    from ospo_survey.rendering.html import esc\n    return esc\n")
    deps = _imports(src, "ospo_survey.ingest.x")
    assert "ospo_survey.rendering.html" in deps
    assert _rank("ospo_survey.rendering.html") > _rank("ospo_survey.ingest.x")
