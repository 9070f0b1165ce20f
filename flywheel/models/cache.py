"""The request cache: every successful model call stored under its request's hash, for resume and cost.

Key: sha256 of a canonical JSON of (backend, model, the backend options that change outputs, messages with
each image replaced by the sha256 of its PNG bytes, sampling parameters incl. n and seed); the tag and
transport options (URL, key, concurrency, timeouts) are not part of it. Value: the `Completion` (texts, token
ids, tokens, seconds, finish reasons, serving model) and when it was stored. Errors are never stored.
`RequestCacheStore` does the sqlite work (one file, WAL, one transaction per batch of puts; no Ray: tests and
`flywheel cache` use it directly). In a run, one `RequestCacheStore` lives in a Ray actor pinned to the
driver's node, so stage actors anywhere reach it without a shared filesystem; pools hold a `RequestCache`
(the actor's handle) and store each new completion before returning it (docs/models.md, "Request cache").
Tests: tests/test_request_cache.py.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from flywheel.config import ModelSpec
from flywheel.models.base import Completion, GenerationRequest, ImagePart

log = logging.getLogger(__name__)

KEY_VERSION = 1  # bump when the key's JSON changes shape: old entries then simply never match
DEFAULT_NAME = Path("cache") / "requests.sqlite"
# Backend options that change what a model answers. Everything else (URL, key, concurrency, timeouts,
# retries, batch size, device, memory) changes how it is reached, so a cache survives a new port or host.
OUTPUT_OPTIONS: dict[str, tuple[str, ...]] = {
    "openai": (),
    "hf": ("dtype", "max_new_tokens"),
    "vllm": ("dtype", "max_new_tokens", "seed"),
}
SCHEMA = """
CREATE TABLE IF NOT EXISTS completions (
    key TEXT PRIMARY KEY,   -- request_key()
    backend TEXT NOT NULL,
    model TEXT NOT NULL,    -- the configured model (spec.model); the value holds the name the server reported
    created REAL NOT NULL,  -- unix seconds
    value TEXT NOT NULL,    -- the Completion as JSON
    hits INTEGER NOT NULL DEFAULT 0,
    last_hit REAL
)"""


class CacheError(Exception):
    """The cache file cannot be used (not a sqlite database, another program's database, unreadable)."""


# -- keys ---------------------------------------------------------------------------------------------------


def spec_fingerprint(spec: ModelSpec) -> dict[str, Any]:
    """The part of a model spec that changes outputs: backend, model and the options in `OUTPUT_OPTIONS`."""
    options = dict(spec.options)
    wanted = OUTPUT_OPTIONS.get(spec.backend, tuple(sorted(options)))  # unknown backend: every option counts
    return {"backend": spec.backend, "model": spec.model, "options": {k: options[k] for k in wanted if k in options}}


def request_key(fingerprint: dict[str, Any], request: GenerationRequest) -> str:
    """sha256 hex of the canonical JSON of model and request (see the module docstring).

    >>> from flywheel.models.base import Message
    >>> r = GenerationRequest((Message.of("user", "hi"),))
    >>> request_key({"backend": "openai", "model": "m", "options": {}}, r)[:12]
    'ace670a2549d'
    """
    s = request.sampling
    messages = [{"role": m.role, "parts": [{"image_sha256": hashlib.sha256(p.png).hexdigest()}
                                           if isinstance(p, ImagePart) else {"text": p.text} for p in m.parts]}
                for m in request.messages]
    doc = {"v": KEY_VERSION, **fingerprint, "messages": messages,
           "sampling": {"max_tokens": s.max_tokens, "temperature": s.temperature, "top_p": s.top_p, "n": s.n,
                        "stop": list(s.stop), "seed": s.seed}}
    text = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)
    return hashlib.sha256(text.encode()).hexdigest()


def cache_path(data_dir: str | Path, path: str | Path = "") -> Path:
    """Where the cache lives: `path` if given, else `<data_dir>/cache/requests.sqlite`."""
    return Path(path) if str(path) else Path(data_dir) / DEFAULT_NAME


# -- values -------------------------------------------------------------------------------------------------


def _dump(c: Completion) -> str:
    return json.dumps({"texts": list(c.texts), "model": c.model, "prompt_tokens": c.prompt_tokens,
                       "completion_tokens": c.completion_tokens, "seconds": c.seconds,
                       "finish_reasons": list(c.finish_reasons), "token_ids": [list(t) for t in c.token_ids]})


def _load(value: str) -> Completion:
    d = json.loads(value)
    return Completion(texts=tuple(d["texts"]), model=d["model"], prompt_tokens=int(d["prompt_tokens"]),
                      completion_tokens=int(d["completion_tokens"]), seconds=float(d["seconds"]),
                      finish_reasons=tuple(d["finish_reasons"]), token_ids=tuple(tuple(t) for t in d["token_ids"]),
                      cached=True)


# -- the store ----------------------------------------------------------------------------------------------


class RequestCacheStore:
    """One sqlite file of completions by request key; thread-safe (one connection behind a lock).

    Opening checks the file at once: a file that is not a usable cache raises `CacheError` and is left
    untouched. `synchronous=FULL`: a batch of puts is on disk when `put_many` returns (a kill -9, or a
    power cut, after that loses nothing)."""

    def __init__(self, path: str | Path, create: bool = True) -> None:
        self.path = Path(path)
        if not create and not self.path.exists():
            raise CacheError(f"no request cache at {self.path}")
        self._lock = threading.Lock()
        try:
            if create:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(str(self.path), timeout=30, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute(SCHEMA)
            self._db.execute("SELECT key, backend, model, created, value, hits, last_hit FROM completions LIMIT 1")
        except (sqlite3.Error, OSError) as exc:
            raise CacheError(f"{self.path} is not a usable request cache: {type(exc).__name__}: {exc}") from None

    def ping(self) -> str:
        return str(self.path)

    def get_many(self, keys: Sequence[str]) -> dict[str, Completion]:
        """The stored completions among `keys` (marked `cached`); each hit is counted."""
        found: dict[str, Completion] = {}
        unique = list(dict.fromkeys(keys))
        with self._lock:
            for i in range(0, len(unique), 500):  # sqlite caps the number of bound parameters
                part = unique[i:i + 500]
                marks = ",".join("?" * len(part))
                rows = self._db.execute(f"SELECT key, value FROM completions WHERE key IN ({marks})", part).fetchall()
                found.update((k, _load(v)) for k, v in rows)
            if found:
                now = time.time()
                self._transaction("UPDATE completions SET hits = hits + 1, last_hit = ? WHERE key = ?",
                                  [(now, k) for k in found])
        return found

    def put_many(self, backend: str, model: str, items: Sequence[tuple[str, Completion]]) -> int:
        """Store successful completions under their keys in one transaction; errors are skipped. Returns how
        many were stored (a key already present is replaced: same request, a newer answer)."""
        now = time.time()
        rows = [(k, backend, model, now, _dump(c)) for k, c in items if c.ok]
        if rows:
            with self._lock:
                self._transaction("INSERT OR REPLACE INTO completions (key, backend, model, created, value) "
                                  "VALUES (?, ?, ?, ?, ?)", rows)
        return len(rows)

    def _transaction(self, sql: str, rows: list[tuple]) -> None:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            self._db.executemany(sql, rows)
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def stats(self) -> dict[str, Any]:
        """Entries, bytes on disk, recorded hits, oldest/newest entry and the same per model."""
        with self._lock:
            total = self._db.execute("SELECT count(*), coalesce(sum(hits), 0), min(created), max(created), "
                                     "coalesce(sum(length(value)), 0) FROM completions").fetchone()
            per = self._db.execute("SELECT backend, model, count(*), coalesce(sum(hits), 0), min(created), "
                                   "max(created), coalesce(sum(length(value)), 0) FROM completions "
                                   "GROUP BY backend, model ORDER BY count(*) DESC").fetchall()
        files = [self.path, Path(f"{self.path}-wal")]
        return {"path": str(self.path), "exists": True, "entries": total[0], "hits": total[1],
                "oldest": _iso(total[2]), "newest": _iso(total[3]), "value_bytes": total[4],
                "bytes": sum(f.stat().st_size for f in files if f.exists()),
                "models": [{"backend": b, "model": m, "entries": n, "hits": h, "oldest": _iso(lo), "newest": _iso(hi),
                            "value_bytes": size} for b, m, n, h, lo, hi, size in per]}

    def prune(self, older_than_days: float | None = None, model: str | None = None,
              everything: bool = False) -> int:
        """Delete entries older than `older_than_days` and/or of `model` (both given: both must hold), or all;
        then VACUUM so the file shrinks. Returns how many were removed."""
        if not everything and older_than_days is None and model is None:
            raise ValueError("say what to prune: older_than_days, model or everything")
        where, args = [], []
        if older_than_days is not None:
            where.append("created < ?")
            args.append(time.time() - older_than_days * 86400)
        if model is not None:
            where.append("model = ?")
            args.append(model)
        sql = "DELETE FROM completions" + (" WHERE " + " AND ".join(where) if where and not everything else "")
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            removed = self._db.execute(sql, args if where and not everything else []).rowcount
            self._db.execute("COMMIT")
            self._db.execute("VACUUM")
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return removed

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _iso(t: float | None) -> str | None:
    return None if t is None else time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


# -- the run's cache: one Ray actor, pinned to the driver's node ---------------------------------------------


class RequestCache:
    """What pools hold: the cache actor's handle (picklable, so every stage actor's pool copy shares it).

    A cache that stops answering never stops the run: a failed lookup counts as all misses, a failed put is
    logged and the completion still returned (it is then not durable, and a resume pays for it again)."""

    def __init__(self, actor: Any, path: Path, timeout_s: float = 120.0) -> None:
        self.actor, self.path, self.timeout_s = actor, path, timeout_s

    def get_many(self, keys: Sequence[str]) -> dict[str, Completion]:
        import ray

        try:
            return ray.get(self.actor.get_many.remote(list(keys)), timeout=self.timeout_s)
        except Exception as exc:  # noqa: BLE001 - a broken cache means misses, not a failed round
            log.warning("request cache %s: lookup failed, treated as misses: %s", self.path, _last_line(exc))
            return {}

    def put_many(self, backend: str, model: str, items: Sequence[tuple[str, Completion]]) -> int:
        import ray

        try:
            return ray.get(self.actor.put_many.remote(backend, model, list(items)), timeout=self.timeout_s)
        except Exception as exc:  # noqa: BLE001 - the completions are still good; they are just not cached
            log.warning("request cache %s: %d completions not stored: %s", self.path, len(items), _last_line(exc))
            return 0

    def stats(self) -> dict[str, Any]:
        import ray

        return ray.get(self.actor.stats.remote(), timeout=self.timeout_s)

    def close(self) -> None:
        """Close the database and end the actor (bounded wait)."""
        import ray

        try:
            ray.get(self.actor.close.remote(), timeout=30)
        except Exception:  # noqa: BLE001 - killed below all the same
            pass
        ray.kill(self.actor)


def open_request_cache(cfg: Any, data_dir: str | Path) -> RequestCache | None:
    """The run's request cache from `cfg.cache` (a `FlywheelConfig`), or None when disabled or unusable.

    Called from the driver (after `ray.init`): the actor is pinned to this node, where the file is. An
    unusable file is reported with a warning and the run goes on without a cache; the file is left as it is."""
    if not cfg.cache.enabled:
        return None
    path = cache_path(data_dir, cfg.cache.path)
    try:
        RequestCacheStore(path).close()  # check here: a clear message, not an actor's traceback
    except CacheError as exc:
        log.warning("request cache disabled for this run: %s (the file is left untouched; fix or move it, or "
                    "set [cache] path)", exc)
        return None
    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    node = ray.get_runtime_context().get_node_id()
    actor = ray.remote(RequestCacheStore).options(
        num_cpus=0, max_restarts=-1, max_task_retries=-1,
        scheduling_strategy=NodeAffinitySchedulingStrategy(node, soft=False)).remote(str(path))
    try:
        ray.get(actor.ping.remote(), timeout=120)
    except Exception as exc:  # noqa: BLE001 - no cache is better than no run
        log.warning("request cache disabled for this run: its actor failed: %s", _last_line(exc))
        ray.kill(actor)
        return None
    return RequestCache(actor, path)


def _last_line(exc: BaseException) -> str:
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    return (lines[-1] if lines else type(exc).__name__)[:300]


# -- what `flywheel cache` calls ----------------------------------------------------------------------------


def read_stats(data_dir: str | Path, path: str | Path = "") -> dict[str, Any]:
    """`RequestCacheStore.stats()` of the cache file; a missing file is 0 entries (`exists` False), not an error."""
    where = cache_path(data_dir, path)
    if not where.exists():
        return {"path": str(where), "exists": False, "entries": 0, "hits": 0, "bytes": 0, "models": []}
    store = RequestCacheStore(where, create=False)
    try:
        return store.stats()
    finally:
        store.close()


def prune_cache(data_dir: str | Path, path: str | Path = "", older_than_days: float | None = None,
                model: str | None = None, everything: bool = False) -> dict[str, Any]:
    """Prune (see `RequestCacheStore.prune`) and report what was removed and what is left."""
    where = cache_path(data_dir, path)
    if not where.exists():
        return {"path": str(where), "exists": False, "removed": 0, "entries": 0, "bytes": 0}
    store = RequestCacheStore(where, create=False)
    try:
        removed = store.prune(older_than_days, model, everything)
        left = store.stats()
    finally:
        store.close()
    return {"path": str(where), "exists": True, "removed": removed, "entries": left["entries"],
            "bytes": left["bytes"]}
