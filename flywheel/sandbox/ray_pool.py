"""One sandbox pool per Ray node, shared by every task and actor on that node.

`node_sandbox()` returns a handle to a named, threaded Ray actor pinned to the caller's node (created on
first use, found by name afterwards), so many callers queue into one warm pool instead of each starting
their own. The actor is detached (a task that happens to create it must not take it down when it ends);
`close_node_sandboxes()` ends them, and `ray.shutdown()` of a local instance ends them too.
The actor asks Ray for no CPUs by default: its workers are plain processes, and reserving CPUs
for them would starve Ray Data's own tasks on small machines (see MACHINE.md's 2-core deadlock).
"""

from __future__ import annotations

from flywheel.sandbox.pool import Sandbox
from flywheel.sandbox.types import SandboxJob, SandboxLimits, SandboxResult

ACTOR_PREFIX = "flywheel-sandbox-"
NAMESPACE = "flywheel"


class SandboxService:
    """The actor body: a `Sandbox` and methods that forward to it (plain class, testable without Ray)."""

    def __init__(self, workers: int | None = None, limits: SandboxLimits | None = None):
        self.sandbox = Sandbox(workers=workers, limits=limits)

    def run(self, code: str, inputs: dict[str, bytes] | None = None,
            limits: SandboxLimits | None = None) -> SandboxResult:
        return self.sandbox.run(code, inputs, limits)

    def run_many(self, jobs: list[SandboxJob]) -> list[SandboxResult]:
        return list(self.sandbox.map(jobs))

    def info(self) -> dict:
        import os

        return {"pid": os.getpid(), "workers": self.sandbox.size, "isolated": self.sandbox.isolated}

    def close(self) -> None:
        self.sandbox.close()


def node_sandbox(workers: int | None = None, limits: SandboxLimits | None = None, num_cpus: float = 0,
                 max_concurrency: int = 256):
    """The handle of this node's shared sandbox actor (Ray must be initialised)."""
    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    node_id = ray.get_runtime_context().get_node_id()
    actor = ray.remote(SandboxService).options(
        name=ACTOR_PREFIX + node_id, namespace=NAMESPACE, get_if_exists=True, lifetime="detached",
        num_cpus=num_cpus,
        max_concurrency=max_concurrency, max_restarts=-1, max_task_retries=2,
        scheduling_strategy=NodeAffinitySchedulingStrategy(node_id, soft=False),
    )
    return actor.remote(workers, limits)


def close_node_sandboxes() -> int:
    """Kill every node sandbox actor of the cluster; returns how many there were."""
    import ray

    names = [a["name"] for a in ray.util.list_named_actors(all_namespaces=True)
             if a.get("namespace") == NAMESPACE and a["name"].startswith(ACTOR_PREFIX)]
    for name in names:
        ray.kill(ray.get_actor(name, namespace=NAMESPACE))
    return len(names)
