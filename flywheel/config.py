"""Configuration: one frozen dataclass per concern, composed into `FlywheelConfig`, loaded from TOML.

Every field has a default, so `flywheel evolve` runs with no file at all; a TOML file overrides any subset
(`[evolve] problems_per_round = 400`), and the CLI overrides a handful of dials on top. The resolved config
is written into every round's manifest. Layer L0: stdlib only.
"""

from __future__ import annotations

import dataclasses
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CONCEPT_PAIRINGS = ("related", "cross_domain")


@dataclass(frozen=True)
class EvolveConfig:
    rounds: int = 5  # rounds to run
    problems_per_round: int = 240  # proposals per round (accepted count is lower)
    seed: int = 0  # everything random derives from this, so a run is reproducible
    difficulty_start: float = 1.6  # mean difficulty level (1-5) proposed in round 1
    difficulty_step: float = 0.55  # the mean moves up this much per round; every level stays represented
    families: tuple[str, ...] = ()  # procedural families to use; empty = all
    part_size: int = 48  # accepted problems per atomic commit inside a round
    solver_samples: int = 4  # k: samples per problem when a solver model is configured
    solver_min_pass_rate: float = 0.0  # 0 records the solver's pass rate only; above 0 rejects below it
    solver_min_agree: int = 1  # model-made problems need this many of the k solver samples to match the stated
    # answer when a solver model is configured (0: record only); procedural problems are never held to it
    judge_threshold: int = 7  # every rubric score (0-10) must reach this when a judge model is configured
    judge_rubric: tuple[str, ...] = ("question_answer", "drawing", "tool_edit", "numbers")  # items the judge
    # scores (flywheel/lmm/review.py RUBRIC); the prompt lists only these and the reply must score each
    repair_attempts: int = 2  # repairer rounds per failed problem when a repairer model is configured
    extensions: bool = True  # from round 2 on, extend accepted problems (parallel / sequential operators)
    near_dedup: bool = True  # reject near-duplicates of accepted problems across all rounds (text and image)
    levels_per_request: int = 3  # problems per model seed request, at consecutive levels around the drawn one (1-5)
    max_depth: int = 3  # extension depth cap: a problem at this depth (seed = 0) is never extended
    concept_pairing: str = "related"  # model proposer: "related" (prerequisite, else same domain) or "cross_domain"

    def __post_init__(self) -> None:
        if self.concept_pairing not in CONCEPT_PAIRINGS:
            raise ValueError(f"config [evolve]: concept_pairing must be one of {', '.join(CONCEPT_PAIRINGS)}; "
                             f"got {self.concept_pairing!r}")
        if not 1 <= self.levels_per_request <= 5:
            raise ValueError(f"config [evolve]: levels_per_request must be 1..5; got {self.levels_per_request}")
        if self.max_depth < 0:
            raise ValueError(f"config [evolve]: max_depth must be >= 0; got {self.max_depth}")


@dataclass(frozen=True)
class SandboxConfig:
    workers_per_actor: int = 1  # sandbox workers owned by each render/verify actor
    render_wall_s: float = 20.0  # wall-time limit for rendering and tool code
    check_wall_s: float = 20.0  # wall-time limit for answer and check code
    memory_mb: int = 1024  # memory limit per job on top of the warm interpreter
    isolation: str = "auto"  # "auto": isolated (root or user namespaces) or refuse; "degraded": run unisolated


@dataclass(frozen=True)
class RayConfig:
    address: str | None = None  # None: start a local instance (or use RAY_ADDRESS)
    num_cpus: int | None = None  # CPUs of a local instance; None = all
    render_actors: int = 2  # actor pool size of the render stage
    verify_actors: int = 2  # actor pool size of the verify stage
    actor_cpus: float = 0.25  # CPUs each stage actor reserves (well below 1: avoids the 2-core deadlock)
    batch_size: int = 8  # records per call of a CPU stage (render, verify): a render is seconds of sandbox work
    model_batch_size: int = 16  # records per call of a model stage; enough calls run at once to fill the pool
    progress_interval_s: float = 30.0  # seconds between progress blocks when stderr is not a terminal


@dataclass(frozen=True)
class ModelSpec:
    """One model and the pool that serves it. `backend` is "hf", "openai" or "vllm"; empty = not used."""

    backend: str = ""
    model: str = ""  # a local dir or hub name (hf, vllm), or the served model name (openai)
    base_url: str = ""  # openai only; else FLYWHEEL_OPENAI_BASE_URL / OPENAI_BASE_URL
    pool_size: int = 1  # Ray actors serving this model, alive across rounds
    num_gpus: float = 0.0  # GPUs per actor (a cluster with GPUs); 0 on CPU
    num_cpus: float = 0.25  # CPUs each actor reserves in Ray
    max_tokens: int = 1024
    temperature: float = 0.7
    options: tuple[tuple[str, str | int | float | bool], ...] = ()  # extra backend arguments

    @property
    def enabled(self) -> bool:
        return bool(self.backend)


@dataclass(frozen=True)
class ModelsConfig:
    """Models by role; one spec may serve several roles (identical specs share one pool)."""

    proposer: ModelSpec = field(default_factory=ModelSpec)
    solver: ModelSpec = field(default_factory=ModelSpec)
    judge: ModelSpec = field(default_factory=ModelSpec)
    repairer: ModelSpec = field(default_factory=ModelSpec)
    extractor: ModelSpec = field(default_factory=ModelSpec)

    def roles(self) -> dict[str, ModelSpec]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if getattr(self, f.name).enabled}


@dataclass(frozen=True)
class CacheConfig:
    """The request cache of model calls (flywheel/models/cache.py): resume and reruns replay stored completions."""

    enabled: bool = True  # store every successful model call under its request's hash and replay it
    path: str = ""  # sqlite file; empty = <data>/cache/requests.sqlite (a shared path reuses one cache across runs)


@dataclass(frozen=True)
class FlywheelConfig:
    evolve: EvolveConfig = field(default_factory=EvolveConfig)
    sandbox: SandboxConfig = field(default_factory=SandboxConfig)
    ray: RayConfig = field(default_factory=RayConfig)
    models: ModelsConfig = field(default_factory=ModelsConfig)
    cache: CacheConfig = field(default_factory=CacheConfig)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class ConfigError(ValueError):
    """A config file or override that cannot be used: TOML syntax, unknown key, wrong type or value."""


def _type_ok(value: Any, hint: Any) -> bool:
    """Whether a TOML value fits a field's annotation (ints pass as floats; bools never pass as numbers).

    >>> _type_ok(3, float), _type_ok(True, int), _type_ok(["a"], tuple[str, ...]), _type_ok(None, int | None)
    (True, False, True, True)
    """
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return True
    if origin in (typing.Union, types.UnionType):
        return any(_type_ok(value, a) for a in args)
    if hint is type(None):
        return value is None
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            return False
        if len(args) == 2 and args[1] is Ellipsis:
            return all(_type_ok(v, args[0]) for v in value)
        return len(value) == len(args) and all(_type_ok(v, a) for v, a in zip(value, args, strict=True))
    if hint in (int, float):
        return isinstance(value, (int, float) if hint is float else int) and not isinstance(value, bool)
    return isinstance(value, hint) if isinstance(hint, type) else True


def _type_name(hint: Any) -> str:
    return str(hint).replace("typing.", "") if typing.get_origin(hint) else getattr(hint, "__name__", str(hint))


def check_types(cls: type, values: dict[str, Any], where: str) -> None:
    """Raise ConfigError naming `[where] key` for the first value whose type does not fit its field."""
    hints = typing.get_type_hints(cls)
    for name, value in values.items():
        if name in hints and not _type_ok(value, hints[name]):
            raise ConfigError(f"config [{where}]: {name} must be {_type_name(hints[name])}; got {value!r} "
                              f"({type(value).__name__})")


def _build(cls: type, values: Any, where: str) -> Any:
    if not isinstance(values, dict):
        raise ConfigError(f"config [{where}]: must be a table (a [{where}] section); got {values!r}")
    known = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - set(known))
    if unknown and where == "root":
        raise ConfigError(f"config: unknown section(s) {', '.join(unknown)}; known: {', '.join(known)}")
    if unknown:
        raise ConfigError(f"config [{where}]: unknown key(s) {', '.join(unknown)}; known: {', '.join(known)}")
    kwargs = {}
    for name, value in values.items():
        factory = known[name].default_factory
        if factory is not dataclasses.MISSING and dataclasses.is_dataclass(factory):
            kwargs[name] = _build(factory, value, name if where == "root" else f"{where}.{name}")
        elif name == "options" and isinstance(value, dict):
            kwargs[name] = tuple(sorted(value.items()))
        else:
            kwargs[name] = tuple(value) if isinstance(value, list) else value
    check_types(cls, {k: v for k, v in kwargs.items() if not dataclasses.is_dataclass(v)}, where)
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:  # a __post_init__ range check
        raise ConfigError(str(exc) if str(exc).startswith("config") else f"config [{where}]: {exc}") from None


def load_config(path: str | Path | None = None, **overrides: Any) -> FlywheelConfig:
    """Defaults, then the TOML file, then `overrides` given as `section__field=value` (or
    `models__proposer__backend=...`; None values ignored). Raises ConfigError (a ValueError) naming the file
    or the key for a TOML syntax error, an unknown section or key, a wrong type or an out-of-range value."""
    values: dict[str, Any] = {}
    if path is not None:
        try:
            with open(path, "rb") as f:
                values = tomllib.load(f)
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"config {path}: not valid TOML: {exc}") from None
        except OSError as exc:
            raise ConfigError(f"config {path}: cannot read it: {exc.strerror}") from None
    for key, value in overrides.items():
        if value is None:
            continue
        *sections, name = key.split("__")
        node = values
        for section in sections:
            node = node.setdefault(section, {})
            if not isinstance(node, dict):
                raise ConfigError(f"config [{section}]: must be a table; got {node!r}")
        node[name] = value
    return _build(FlywheelConfig, values, "root")
