"""Length-prefixed frames between trusted sandbox processes (pool <-> worker).

Job code never holds these file descriptors (they are closed before it runs), so pickle is safe here: both
ends are our own code. Job output travels *inside* frames as data, so a job printing lookalike lines can
forge nothing.
"""

from __future__ import annotations

import os
import pickle
import struct
from typing import Any

_HEADER = struct.Struct("!Q")
MAX_FRAME = 2 * 1024**3


def write_frame(fd: int, obj: Any) -> None:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    view = memoryview(_HEADER.pack(len(data)) + data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def _read_exact(fd: int, n: int) -> bytes | None:
    chunks, got = [], 0
    while got < n:
        chunk = os.read(fd, min(n - got, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def read_frame(fd: int) -> Any | None:
    """The next object, or None at end of stream (the peer died or closed)."""
    header = _read_exact(fd, _HEADER.size)
    if header is None:
        return None
    (size,) = _HEADER.unpack(header)
    if size > MAX_FRAME:
        raise ValueError(f"sandbox frame of {size} bytes exceeds {MAX_FRAME}")
    data = _read_exact(fd, size)
    return None if data is None else pickle.loads(data)
