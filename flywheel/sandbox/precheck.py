"""An optional static pre-check that refuses code before it runs (status "forbidden").

It is a convenience on top of the runtime limits, never a replacement: anything it misses is still contained
by the kernel. By default it only refuses source that is too large or holds NUL bytes; callers that want a
stricter policy (e.g. RL rollouts) list modules in `SandboxLimits.deny_imports`. `exec`, `compile`, `base64`
and friends are ordinary Python and are never refused.
"""

from __future__ import annotations

import ast

from flywheel.sandbox.types import SandboxLimits


def _imported_modules(tree: ast.AST) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def precheck(code: str, limits: SandboxLimits) -> str | None:
    """None when the code may run, else the reason it is refused."""
    size = len(code.encode("utf-8", errors="surrogatepass"))
    if size > limits.max_source_bytes:
        return f"source is {size} bytes, over the {limits.max_source_bytes}-byte limit"
    if "\x00" in code:
        return "source contains NUL bytes"
    if not limits.deny_imports:
        return None
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None  # the job itself reports the syntax error with its line number
    denied = sorted(_imported_modules(tree) & set(limits.deny_imports))
    return f"imports denied module(s): {', '.join(denied)}" if denied else None
