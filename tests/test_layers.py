"""The package's layers, read from its source: imports point down, and no module imports
itself back through others, counting the imports inside functions (lazy imports keep
`ser --help` fast; they must not hide a cycle)."""

from __future__ import annotations

import ast
from pathlib import Path

import ser_cli

PACKAGE = Path(ser_cli.__file__).parent


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """{module: the ser_cli modules it imports anywhere in its body (functions included)}."""
    paths = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph = {}
    for name, path in paths.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        found = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                if node.level:  # relative: from the package, up level - 1
                    base = package.split(".")[: len(package.split(".")) - node.level + 1]
                    module = ".".join(base + ([node.module] if node.module else []))
                else:
                    module = node.module or ""
                found.add(module)
                found.update(f"{module}.{alias.name}" for alias in node.names)  # submodules
        graph[name] = {m for m in found if m in paths and m != name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_graph_sees_function_level_imports():
    graph = import_graph()
    # load_predictor imports the ONNX predictor inside a function only
    assert "ser_cli.inference.onnx_predictor" in graph["ser_cli.inference.load"]
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_cycles():
    assert cycles(import_graph()) == []


# What each layer must never import: the layers above it (STYLE.md: cli/render -> listen ->
# training, inference -> models -> features, data -> audio -> base modules). Models and
# features do not read the run configuration (ser_cli.config) either.
FORBIDDEN = {
    "audio": ("training", "inference", "listen", "render", "cli", "config", "models", "features"),
    "data": ("training", "inference", "listen", "render", "cli", "models"),
    "features": ("training", "inference", "listen", "render", "cli", "config", "models"),
    "models": ("training", "inference", "listen", "render", "cli", "config"),
    "inference": ("training", "listen", "render", "cli"),
    "training": ("listen", "render", "cli"),
    "listen": ("render", "cli"),
}


def test_layers_import_downward_only():
    graph = import_graph()
    wrong = []
    for module, imports in sorted(graph.items()):
        layer = module.split(".")[1] if "." in module else ""
        for imported in sorted(imports):
            above = imported.split(".")[1] if "." in imported else ""
            if above in FORBIDDEN.get(layer, ()):
                wrong.append(f"{module} -> {imported}")
    assert wrong == []
