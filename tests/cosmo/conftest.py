"""Shared fixtures of the cosmo tests."""

import json
import math
import os
from pathlib import Path

import filelock
import numpy as np
import pytest
import scipy.integrate


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


SHARED_COSMOLOGY = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "cosmology"
C_KM_S = 299792.458  # speed of light [km/s], written out: the reference must not share code


@pytest.fixture(scope="session")
def bao_dir():
    """CobayaSampler/bao_data in the shared data folder (the test skips when absent)."""
    folder = SHARED_COSMOLOGY / "bao_data"
    if not folder.is_dir():
        pytest.skip(f"real BAO files not available ({folder})")
    return folder


@pytest.fixture(scope="session")
def sn_dir():
    """CobayaSampler/sn_data in the shared data folder (the test skips when absent)."""
    folder = SHARED_COSMOLOGY / "sn_data"
    if not folder.is_dir():
        pytest.skip(f"real SN files not available ({folder})")
    return folder


@pytest.fixture(scope="session")
def flat_lcdm():
    """``flat_lcdm(z, h0, om) -> (D_M, D_H)`` [Mpc]: flat LCDM with radiation neglected,
    integrated with scipy quad (an independent sanity model, not jaxfit's)."""

    def distances(z, h0, om):
        def inv_e(x):
            return 1.0 / math.sqrt(om * (1 + x) ** 3 + 1 - om)

        dh0 = C_KM_S / h0
        dm = np.array(
            [dh0 * scipy.integrate.quad(inv_e, 0, zi, epsabs=0, epsrel=1e-11)[0] for zi in z]
        )
        dh = np.array([dh0 * inv_e(zi) for zi in z])
        return dm, dh

    return distances
