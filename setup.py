"""Package discovery for the mapped layout (the metadata lives in pyproject.toml).

The user-facing namespace is `musclekit`; the top-level folders `pipelines/`, `cli/` and
`schemas/` are mapped into it as `musclekit.pipelines`, `musclekit.cli` and
`musclekit.schemas`. setuptools' automatic discovery does not follow such a mapping, so the
package list is computed here from every folder that holds an `__init__.py`.
"""

from pathlib import Path

from setuptools import setup

ROOT = Path(__file__).parent
MAPPED = {"musclekit": "musclekit", "musclekit.pipelines": "pipelines",
          "musclekit.cli": "cli", "musclekit.schemas": "schemas"}


def _packages() -> list[str]:
    found = []
    for package, folder in MAPPED.items():
        for init in sorted((ROOT / folder).rglob("__init__.py")):
            rel = init.parent.relative_to(ROOT / folder)
            name = ".".join([package, *rel.parts]) if rel.parts else package
            if name.split(".")[:2] == ["musclekit", "musclekit"]:
                continue
            if any(name.startswith(f"{p}.") or name == p
                   for p in MAPPED if p != package and p.startswith(package)):
                continue
            found.append(name)
    return sorted(set(found))


setup(packages=_packages())
