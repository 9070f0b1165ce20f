"""Imports go one way (STYLE.md §7): a module imports only from lower layers, and the CLI stays light."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("flywheel", "generators", "verifiers", "storage", "jobs")

# Every project module and its layer (ARCHITECTURE.md, STYLE.md §7). A module missing here fails the test, and so
# does a name here that no module has: the table is the architecture, kept true. A name ending in ".*" stands for
# every module of that package (families are many modules of one kind).
LAYERS: dict[str, int] = {
    # L0: records and config
    "flywheel": 0, "flywheel.records": 0, "flywheel.config": 0,
    # L1: sandbox, models, knowledge, prompts and reply parsing, progress, canvas
    "flywheel.canvas": 1, "flywheel.checkpoints": 1, "flywheel.knowledge": 1, "flywheel.progress": 1,
    "flywheel.summary": 1,
    "flywheel.sandbox": 1, "flywheel.sandbox.files": 1, "flywheel.sandbox.jail": 1, "flywheel.sandbox.job": 1,
    "flywheel.sandbox.pool": 1, "flywheel.sandbox.precheck": 1, "flywheel.sandbox.protocol": 1,
    "flywheel.sandbox.ray_pool": 1, "flywheel.sandbox.supervisor": 1, "flywheel.sandbox.syscalls": 1,
    "flywheel.sandbox.types": 1, "flywheel.sandbox.worker": 1,
    "flywheel.models": 1, "flywheel.models.base": 1, "flywheel.models.batching": 1, "flywheel.models.cache": 1,
    "flywheel.models.chat": 1, "flywheel.models.check": 1, "flywheel.models.factory": 1, "flywheel.models.hf": 1,
    "flywheel.models.openai_backend": 1, "flywheel.models.pool": 1, "flywheel.models.qwen_processor": 1,
    "flywheel.models.tiny": 1, "flywheel.models.tv_shim": 1, "flywheel.models.vllm_backend": 1,
    "flywheel.lmm": 1, "flywheel.lmm.calls": 1, "flywheel.lmm.clean": 1, "flywheel.lmm.jsonish": 1,
    "flywheel.lmm.parse": 1, "flywheel.lmm.prompts": 1, "flywheel.lmm.review": 1,
    # L2: generators, verifiers, storage (never import each other)
    "generators": 2, "generators.propose": 2, "generators.render": 2,
    "generators.lmm": 2, "generators.lmm.extract": 2, "generators.lmm.propose": 2, "generators.lmm.repair": 2,
    "generators.procedural": 2, "generators.procedural.base": 2, "generators.procedural.catalog": 2,
    "generators.procedural.chain": 2, "generators.procedural.draw_geometry": 2,
    "generators.procedural.draw_other": 2, "generators.procedural.exact_geometry": 2,
    "generators.procedural.families": 2, "generators.procedural.families.*": 2,
    "verifiers": 2, "verifiers.checks": 2, "verifiers.crossmodel": 2, "verifiers.dedup_index": 2,
    "verifiers.difficulty": 2, "verifiers.equivalence": 2, "verifiers.image_check": 2, "verifiers.image_hash": 2,
    "verifiers.independence": 2, "verifiers.judge": 2, "verifiers.near_dup": 2, "verifiers.parse_answer": 2,
    "verifiers.same_computation": 2,
    "storage": 2, "storage.catalog": 2, "storage.formats": 2, "storage.fsck": 2, "storage.manifest": 2,
    "storage.meta_views": 2, "storage.readers": 2, "storage.shards": 2, "storage.staging": 2,
    # L3: the round and everything that runs it or reads its output
    "flywheel.stages": 3, "flywheel.stage_work": 3, "flywheel.proposers": 3, "flywheel.round": 3,
    "flywheel.loop": 3, "flywheel.history": 3, "flywheel.coevolve": 3, "flywheel.near_dups": 3, "flywheel.show": 3,
    "flywheel.report": 3, "flywheel.report.gallery": 3, "flywheel.report.metrics": 3, "flywheel.report.page": 3,
    "flywheel.report.plots": 3,
    "flywheel.train": 3, "flywheel.train.checkpoint": 3, "flywheel.train.config": 3, "flywheel.train.context": 3,
    "flywheel.train.data": 3, "flywheel.train.encode": 3, "flywheel.train.formats": 3, "flywheel.train.grpo": 3,
    "flywheel.train.loop": 3, "flywheel.train.metrics": 3, "flywheel.train.modeling": 3,
    "flywheel.train.ray_trainer": 3, "flywheel.train.rewards": 3, "flywheel.train.rollout": 3,
    "flywheel.train.sft": 3,
    # L4: the command line; jobs reach the system only through it
    "flywheel.cli": 4, "jobs": 4,
}


def layer(module: str) -> int:
    """The layer of a project module from the table (a package's ".*" entry covers its modules)."""
    if module in LAYERS:
        return LAYERS[module]
    parent = module.rsplit(".", 1)[0] + ".*"
    if parent in LAYERS:
        return LAYERS[parent]
    raise KeyError(f"{module} is not in tests/test_layers.py LAYERS: add it with its layer")


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


def test_every_module_is_listed_and_every_listed_module_exists():
    modules = set(project_modules())
    unlisted = sorted(m for m in modules if m not in LAYERS and m.rsplit(".", 1)[0] + ".*" not in LAYERS)
    covered = {m.rsplit(".", 1)[0] + ".*" for m in modules} | modules
    missing = sorted(name for name in LAYERS if name not in covered)
    assert not unlisted, f"modules without a layer in LAYERS: {unlisted}"
    assert not missing, f"LAYERS names modules that do not exist: {missing}"


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
