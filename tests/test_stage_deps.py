"""dvc.yaml's code deps are exactly what each stage's command imports from the project, transitively.

The imports are read from the source (every `import` statement, also those inside functions), so a module
that a stage can load is a dependency whether it is imported at the top or lazily."""

import ast
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("apollo", "stages")


def module_file(name: str) -> Path | None:
    """The project file of a dotted module name (a package's __init__.py), or None if not the project's."""
    if name.split(".")[0] not in PACKAGES:
        return None
    base = ROOT.joinpath(*name.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def imported(path: Path) -> set[str]:
    """Dotted names a module imports: `import a.b`, `from a.b import c` (a.b, and a.b.c if c is a module)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
    return names


def closure(module: str) -> set[str]:
    """Project files (relative paths) that loading `module` may load: itself, its imports, their parents'
    non-empty __init__.py files, recursively."""
    seen: set[Path] = set()
    todo = [module]
    while todo:
        name = todo.pop()
        parts = name.split(".")
        for i in range(1, len(parts) + 1):  # importing a.b.c runs a/__init__.py and a/b/__init__.py
            path = module_file(".".join(parts[:i]))
            if path and path not in seen:
                seen.add(path)
                todo += imported(path)
    return {str(p.relative_to(ROOT)) for p in seen if p.name != "__init__.py" or p.read_text().strip()}


def stages() -> dict:
    return yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]


def command_module(cmd: str) -> str:
    match = re.fullmatch(r"stages/python -m (stages\.\w+)", cmd.strip())
    assert match, f"a stage command is `stages/python -m stages.<name>`, got {cmd!r}"
    return match.group(1)


@pytest.mark.parametrize("name", sorted(stages()))
def test_code_deps_are_the_imports(name):
    stage = stages()[name]
    declared = {d for d in stage["deps"] if d.endswith(".py")}
    needed = closure(command_module(stage["cmd"]))
    assert sorted(needed - declared) == [], f"dvc.yaml stage {name} misses deps its command imports"
    assert sorted(declared - needed) == [], f"dvc.yaml stage {name} lists code its command does not import"


def test_closure_follows_lazy_and_transitive_imports(tmp_path):
    # the checker itself: stages.train reaches apollo.train, and through it the model and the params
    files = closure("stages.train")
    assert {"stages/train.py", "apollo/train.py", "apollo/models/apollo.py", "apollo/params.py"} <= files
    assert not any(f.startswith(("tests/", "flows/")) for f in files)
