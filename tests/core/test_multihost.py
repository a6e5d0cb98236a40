"""The multi-host worked example (examples/multihost_grid.py) run for real: two processes
on this machine joined by ``jax.distributed`` (coordinator on localhost), each computing its
``process_slice`` of a CMB+BAO chi2 grid, then gathered. Reference: the same grid computed
in this single process with ``map_batched``.
"""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import jax
import numpy as np
import pytest

import jaxfit  # noqa: F401
from jaxfit.core.parallel import map_batched, process_slice

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "examples" / "multihost_grid.py"
sys.path.insert(0, str(SCRIPT.parent))
import multihost_grid  # noqa: E402

N = 5  # 25 grid points: process 0 gets 12, process 1 gets 13


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_process_slice_single_process_is_everything():
    assert process_slice(7) == slice(0, 7)
    assert process_slice(0) == slice(0, 0)
    for bad in (-1, 2.0, True):
        with pytest.raises(ValueError, match="n must be a non-negative int"):
            process_slice(bad)


@pytest.mark.slow
@pytest.mark.skipif(jax.default_backend() != "cpu", reason="two CPU processes on one host")
def test_two_processes_tile_the_grid_and_equal_one_process(tmp_path):
    port = _free_port()
    env = dict(os.environ, JAX_PLATFORMS="cpu",
               PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    env.pop("XLA_FLAGS", None)
    procs = [subprocess.Popen(
        [sys.executable, str(SCRIPT), "run", "--coordinator", f"127.0.0.1:{port}",
         "--num-processes", "2", "--process-id", str(k), "--n", str(N), "--out", str(tmp_path)],
        env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for k in range(2)]
    try:
        outputs = [p.communicate(timeout=300) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    for p, (_, err) in zip(procs, outputs, strict=True):
        assert p.returncode == 0, err[-3000:]
    parts = [json.loads((tmp_path / f"part-{k}.json").read_text()) for k in range(2)]
    assert [(p["start"], p["stop"]) for p in parts] == [(0, 12), (12, 25)]
    assert all(p["process_count"] == 2 and p["local_devices"] == 1 for p in parts)

    best = multihost_grid.gather(tmp_path)
    saved = json.loads((tmp_path / "chi2_grid.json").read_text())
    assert saved["processes"] == 2
    assert (tmp_path / "chi2_grid.csv").exists() and (tmp_path / "chi2_grid.png").exists()
    reference = map_batched(multihost_grid.chi2_function(), multihost_grid.points(N),
                            progress=False).reshape(N, N)
    np.testing.assert_allclose(saved["chi2"], reference, rtol=1e-12)
    assert best["chi2"] == pytest.approx(reference.min(), rel=1e-12)


def test_gather_refuses_missing_parts(tmp_path):
    part = {"start": 0, "stop": 12, "n": N, "process_count": 2, "chi2": [0.0] * 12}
    (tmp_path / "part-0.json").write_text(json.dumps(part))
    with pytest.raises(ValueError, match="expected 2 part files, found 1"):
        multihost_grid.gather(tmp_path)
    (tmp_path / "part-1.json").write_text(json.dumps(part | {"start": 13, "stop": 25}))
    with pytest.raises(ValueError, match=r"do not tile the 5 x 5 grid"):
        multihost_grid.gather(tmp_path)
