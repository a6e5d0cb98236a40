"""Worked example: a CMB + DESI DR2 BAO chi2 grid over (H0, Om0), split between the
processes of a multi-host JAX job; each process spreads its share over its local devices.

Start one copy per host (process ids 0 .. P-1; the coordinator is process 0's host):

    python examples/multihost_grid.py run --coordinator host0:1234 --num-processes 2 \
        --process-id 0 --out grid
    python examples/multihost_grid.py run --coordinator host0:1234 --num-processes 2 \
        --process-id 1 --out grid

Each writes ``grid/part-<id>.json`` (its block of the flattened grid, with provenance).
When all are done, on any machine that sees the folder:

    python examples/multihost_grid.py gather --out grid

writes ``grid/chi2_grid.json``, ``.csv`` and ``.png`` and prints the best grid point.
``tests/core/test_multihost.py`` runs exactly this with two processes on one machine.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np


def grid(n: int) -> tuple[np.ndarray, np.ndarray]:
    """The (H0 [km/s/Mpc], Om0) grid: n x n points around the Planck 2018 values."""
    return np.linspace(66.0, 70.0, n), np.linspace(0.29, 0.34, n)


def points(n: int) -> dict[str, np.ndarray]:
    """The flattened grid (row-major: H0 slow, Om0 fast) with the other LCDM parameters at
    their defaults."""
    from jaxfit.cosmo.model import get_model

    h0, om0 = np.meshgrid(*grid(n), indexing="ij")
    base = dict(get_model("lcdm").spec.defaults)
    batch = {k: np.full(h0.size, v) for k, v in base.items()}
    batch["H0"], batch["Om0"] = h0.ravel(), om0.ravel()
    return batch


def chi2_function():
    from jaxfit.cosmo.data import load_bao, load_cmb_priors
    from jaxfit.cosmo.fit import make_objective

    return make_objective("lcdm", {"cmb": load_cmb_priors(), "bao": load_bao("desi_dr2")})


def run(coordinator: str, num_processes: int, process_id: int, out: Path, n: int) -> Path:
    from jaxfit.core.parallel import init_distributed

    init_distributed(coordinator, num_processes=num_processes, process_id=process_id)

    import jax

    from jaxfit.core.io import write_json
    from jaxfit.core.parallel import map_batched, process_slice
    from jaxfit.core.provenance import run_record

    batch = points(n)
    share = process_slice(n * n)
    mine = {k: v[share] for k, v in batch.items()}
    chi2 = map_batched(chi2_function(), mine, progress=False)  # over this host's devices
    path = Path(out) / f"part-{jax.process_index()}.json"
    write_json(path, {"start": share.start, "stop": share.stop, "n": n,
                      "process_count": jax.process_count(),
                      "local_devices": len(jax.local_devices()),
                      "chi2": np.asarray(chi2).tolist(),
                      "provenance": run_record(command="examples/multihost_grid.py run")})
    return path


def gather(out: Path) -> dict:
    """Concatenate the parts in process order, check they tile the grid, save the grid."""
    import pandas as pd

    from jaxfit.core.io import save_figure, write_csv, write_json

    out = Path(out)
    parts = sorted((json.loads(p.read_text()) for p in out.glob("part-*.json")),
                   key=lambda part: part["start"])
    if not parts or len(parts) != parts[0]["process_count"]:
        raise ValueError(f"{out}: expected {parts[0]['process_count'] if parts else '>= 1'} "
                         f"part files, found {len(parts)}")
    n = parts[0]["n"]
    if [p["start"] for p in parts] != [0] + [p["stop"] for p in parts[:-1]] or \
            parts[-1]["stop"] != n * n:
        raise ValueError(f"{out}: the parts do not tile the {n} x {n} grid")
    chi2 = np.concatenate([p["chi2"] for p in parts]).reshape(n, n)
    h0, om0 = grid(n)
    i, j = np.unravel_index(np.argmin(chi2), chi2.shape)
    best = {"H0": float(h0[i]), "Om0": float(om0[j]), "chi2": float(chi2[i, j])}
    write_json(out / "chi2_grid.json", {"H0": h0.tolist(), "Om0": om0.tolist(),
                                        "chi2": chi2.tolist(), "best": best,
                                        "processes": len(parts)})
    hh, oo = np.meshgrid(h0, om0, indexing="ij")
    write_csv(out / "chi2_grid.csv", pd.DataFrame({"H0": hh.ravel(), "Om0": oo.ravel(),
                                                   "chi2": chi2.ravel()}))
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 4))
    mesh = ax.pcolormesh(om0, h0, chi2 - chi2.min(), shading="auto")
    fig.colorbar(mesh, label="chi2 - min")
    ax.set(xlabel="Om0", ylabel="H0 [km/s/Mpc]", title="CMB + DESI DR2 BAO")
    save_figure(fig, out / "chi2_grid.png")
    plt.close(fig)
    return best


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_run = sub.add_parser("run", help="compute this process's share of the grid")
    p_run.add_argument("--coordinator", required=True, help="host:port of process 0")
    p_run.add_argument("--num-processes", type=int, required=True)
    p_run.add_argument("--process-id", type=int, required=True)
    p_run.add_argument("--n", type=int, default=64, help="grid points per axis")
    p_run.add_argument("--out", type=Path, required=True)
    p_gather = sub.add_parser("gather", help="combine the parts into the grid")
    p_gather.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    if args.command == "run":
        print(run(args.coordinator, args.num_processes, args.process_id, args.out, args.n))
    else:
        best = gather(args.out)
        print(f"best grid point: H0 {best['H0']:.2f}, Om0 {best['Om0']:.4f}, "
              f"chi2 {best['chi2']:.3f}")


if __name__ == "__main__":
    main()
