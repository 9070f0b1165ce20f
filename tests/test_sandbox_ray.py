"""The Ray wrapper: one named pool per node, shared by concurrent tasks (real local Ray instance)."""

from __future__ import annotations

import pytest

ray = pytest.importorskip("ray")


@pytest.fixture(scope="module")
def ray_local(tmp_path_factory):
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             _temp_dir=str(tmp_path_factory.mktemp("ray")), namespace="flywheel-tests")
    yield
    ray.shutdown()


def test_tasks_on_a_node_share_one_sandbox_actor(ray_local):
    from flywheel.sandbox.ray_pool import node_sandbox

    @ray.remote(num_cpus=0.5)
    def square(i: int) -> tuple[int, str, str]:
        actor = node_sandbox(workers=2)
        result = ray.get(actor.run.remote(f"print({i} ** 2)"))
        return ray.get(actor.info.remote())["pid"], result.status, result.last_line()

    out = ray.get([square.remote(i) for i in range(8)])
    assert [(status, line) for _, status, line in out] == [("ok", str(i * i)) for i in range(8)]
    assert len({pid for pid, _, _ in out}) == 1  # one pool served every caller


def test_close_node_sandboxes(ray_local):
    from flywheel.sandbox.ray_pool import close_node_sandboxes, node_sandbox

    ray.get(node_sandbox(workers=1).info.remote())
    assert close_node_sandboxes() == 1
    assert close_node_sandboxes() == 0


def test_run_many_keeps_order(ray_local):
    from flywheel.sandbox import SandboxJob
    from flywheel.sandbox.ray_pool import node_sandbox

    actor = node_sandbox(workers=2)
    results = ray.get(actor.run_many.remote([SandboxJob.of(f"print({i})") for i in range(6)]))
    assert [r.last_line() for r in results] == [str(i) for i in range(6)]
