"""The project's import graph, read from source: every `import` and `from ... import`
statement, including those written inside functions (an import that runs late is still a
dependency). Module names are the installed ones (`musclekit.pipelines...` for the
`pipelines/` folder); `benchmarks/` scripts count as `benchmarks.<name>`."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# installed package -> folder, as pyproject.toml's package-dir maps them
FOLDERS = {"musclekit": "musclekit", "musclekit.pipelines": "pipelines", "musclekit.cli": "cli",
           "musclekit.schemas": "schemas", "benchmarks": "benchmarks"}


def modules(root: Path = ROOT) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for package, folder in FOLDERS.items():
        for path in sorted((root / folder).rglob("*.py")):
            parts = list(path.relative_to(root / folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join([package, *parts])] = path
    return found


def _targets(module: str, path: Path, node: ast.Import | ast.ImportFrom,
             known: dict[str, Path]) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    if node.level:
        for _ in range(node.level - 1):
            package = package.rpartition(".")[0]
        base = f"{package}.{node.module}" if node.module else package
    else:
        base = node.module or ""
    # `from pkg import name`: the submodule pkg.name when it is one, else pkg itself
    subs = [f"{base}.{alias.name}" for alias in node.names if f"{base}.{alias.name}" in known]
    return subs if len(subs) == len(node.names) else [base, *subs]


def import_graph(root: Path = ROOT) -> dict[str, set[str]]:
    """module -> the modules it imports (project modules, and third-party top-level names
    such as `opensim`)."""
    known = modules(root)
    graph: dict[str, set[str]] = {}
    for module, path in known.items():
        deps: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not isinstance(node, ast.Import | ast.ImportFrom):
                continue
            for target in _targets(module, path, node, known):
                name = target
                if module.startswith("benchmarks.") and f"benchmarks.{target}" in known:
                    name = f"benchmarks.{target}"  # a script imported beside its sibling
                while name not in known and "." in name:
                    name = name.rpartition(".")[0]
                if name in known:
                    if name != module:
                        deps.add(name)
                else:
                    deps.add(target.split(".")[0])
        graph[module] = deps
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (each one or more cycles),
    sorted; a package importing its own submodule and back counts too."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        # iterative Tarjan: the graph is deep enough to hit the recursion limit otherwise
        work = [(v, iter(sorted(graph.get(v, ()))))]
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in graph:
                    continue
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    component.append(w)
                    if w == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(found)
