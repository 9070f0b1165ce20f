"""Shared fixtures: one warm sandbox pool per test session (starting one costs about a second)."""

from __future__ import annotations

import os

import pytest

# A variable that must never reach a job (checked by tests/test_sandbox_containment.py). Set before any pool
# starts, so a leak would show.
os.environ.setdefault("FLYWHEEL_TEST_SECRET", "s3cr3t-api-key-7f1d")


@pytest.fixture(scope="session")
def sandbox():
    from flywheel.sandbox import Sandbox

    with Sandbox(workers=2) as sb:
        yield sb
