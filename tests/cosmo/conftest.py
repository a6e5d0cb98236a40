"""Shared fixtures of the cosmo tests."""

import json
import os

import filelock
import numpy as np
import pytest


@pytest.fixture(scope="session")
def run_once(tmp_path_factory):
    """``run_once(name, compute)``: run ``compute(folder) -> dict`` once per test session,
    even under pytest-xdist, and return its JSON payload.

    The first worker to take the lock computes and writes the payload into a folder shared
    by all workers of this session; the others wait on the lock and read it. Expensive fits
    (JAX compilation dominates) therefore run once, not once per worker.
    """
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent  # the session's folder, shared by gw0, gw1, ...

    def run(name: str, compute) -> dict:
        folder = base / f"shared-{name}"
        payload = folder / "payload.json"
        with filelock.FileLock(f"{folder}.lock"):
            if not payload.exists():
                folder.mkdir(parents=True, exist_ok=True)
                text = json.dumps(compute(folder), default=lambda o: np.asarray(o).tolist())
                payload.write_text(text)
        return json.loads(payload.read_text())

    return run
