"""Imports go one way (STYLE.md §7): a module imports only from lower layers, and the CLI stays light."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("flywheel", "generators", "verifiers", "storage", "jobs")
L3 = ("flywheel.stages", "flywheel.round", "flywheel.loop", "flywheel.show", "flywheel.infer", "flywheel.eval",
      "flywheel.train", "flywheel.evolve", "flywheel.report", "flywheel.models.pools", "flywheel.coevolve",
      "flywheel.near_dups")


def layer(module: str) -> int:
    """The layer of a project module (see ARCHITECTURE.md); the sandbox, models and knowledge are L1."""
    if module in ("flywheel.records", "flywheel.config") or module == "flywheel":
        return 0
    if module.startswith(("flywheel.cli", "jobs")):
        return 4
    if module.startswith(L3):
        return 3
    if module.startswith(("generators", "verifiers", "storage")):
        return 2
    return 1  # flywheel.sandbox, flywheel.models, flywheel.knowledge, flywheel.progress, flywheel.data


def project_modules() -> dict[str, Path]:
    mods = {}
    for pkg in PACKAGES:
        for path in (ROOT / pkg).rglob("*.py"):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            mods[".".join(parts)] = path
    return mods


def imports_of(path: Path, module: str) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")[: -node.level] if path.name != "__init__.py" else module.split(".")
                base = base[: len(base) - node.level + (1 if path.name == "__init__.py" else 0)]
                found.add(".".join([*base, node.module] if node.module else base))
            elif node.module:
                found.add(node.module)
    return {m for m in found if m.split(".")[0] in PACKAGES}


def top_group(module: str) -> str:
    return module.split(".")[0]


def test_imports_go_one_way():
    bad = []
    for module, path in project_modules().items():
        for target in imports_of(path, module):
            src_layer, dst_layer = layer(module), layer(target)
            sideways = src_layer == dst_layer == 2 and top_group(module) != top_group(target)
            if dst_layer > src_layer or sideways:
                bad.append(f"{module} (L{src_layer}) imports {target} (L{dst_layer})")
    assert not bad, "\n".join(bad)


def test_cli_import_pulls_in_neither_torch_nor_vllm():
    code = "import sys, flywheel.cli; print(sorted(m for m in ('torch', 'vllm', 'ray') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
