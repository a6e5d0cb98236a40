"""`jaxfit bench` and the persistent compilation cache (issue 7).

Timing is never asserted: the bench test checks that every domain's tasks are run and
written (JSON rows, bar chart), and that a missing GPU is said plainly; the cache test
checks that compiled programs are written to the cache folder and that a second process
using them gets the same numbers.
"""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import jax
import pytest
from typer.testing import CliRunner

from benchmarks.bench_gravity import _sparc_folder
from jaxfit.cli.main import app

REPO = Path(__file__).resolve().parents[1]
runner = CliRunner()


@pytest.mark.slow
def test_bench_runs_every_domain_small_and_writes_json_and_chart(tmp_path):
    out = tmp_path / "bench.json"  # the file's name inside --out DIR
    result = runner.invoke(app, ["bench", "--size", "small", "--platforms", "cpu,gpu",
                                 "--out", str(tmp_path)], env={"COLUMNS": "220"})
    assert result.exit_code == 0, result.output
    saved = json.loads(out.read_text())
    # every task of every domain, once; gravity needs the real SPARC files (else skipped)
    expected = {
        "core": ["multi-start L-BFGS", "first call with the compile cache"],
        "cosmo": ["CMB+BAO chi2, vmapped", "LCDM CMB+BAO fit"],
        "leptons": ["mass chi2, vmapped", "(beta, w) profile scan"],
        "lensing": ["simulate_many", "CNN train step"],
    }
    if _sparc_folder() is not None:
        expected["gravity"] = ["SPARC L_SPARC + gradient", "joint fit MW + SPARC + clusters"]
    found = {}
    for r in saved["rows"]:
        domain, task = r["task"].split(": ", 1)
        assert domain == r["domain"]
        found.setdefault(domain, []).extend(t for t in expected.get(domain, ())
                                            if task.startswith(t))
    assert found == expected
    for r in saved["rows"]:
        assert r["platform"] == "cpu" and r["warm_s"] > 0 and r["first_call_s"] > 0
    if not any(d.platform == "gpu" for d in jax.devices()):
        assert "no GPU present" in result.output
        assert saved["missing_devices"] == ["gpu"]
    assert out.with_suffix(".png").stat().st_size > 10_000


def test_bench_rejects_unknown_domains_and_devices(tmp_path):
    result = runner.invoke(app, ["bench", "--domains", "astrology", "--out",
                                 str(tmp_path / "b")])
    assert result.exit_code == 2 and "astrology" in result.output
    result = runner.invoke(app, ["bench", "--platforms", "tpu", "--out", str(tmp_path / "b")])
    assert result.exit_code == 2 and "tpu" in result.output


FIT = textwrap.dedent(
    """
    import json
    import jaxfit
    from jaxfit.core.optimize import minimize
    from jaxfit.core.params import Param, ParamSpec

    spec = ParamSpec([Param("x", 1.0, -3.0, 3.0), Param("y", 0.5, -3.0, 3.0)])
    fit = minimize(lambda p: (p["x"] - 1.2) ** 2 + (p["y"] + 0.4) ** 4, spec, n_starts=4,
                   progress=False)
    print(json.dumps(fit.x))
    """
)


def test_persistent_compile_cache_is_written_and_reused(tmp_path):
    cache = tmp_path / "cache"
    env = dict(os.environ, JAXFIT_COMPILE_CACHE=str(cache), JAX_PLATFORMS="cpu",
               PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    runs = [subprocess.run([sys.executable, "-c", FIT], env=env, capture_output=True,
                           text=True, timeout=300, cwd=REPO) for _ in range(2)]
    for run in runs:
        assert run.returncode == 0, run.stderr[-2000:]
    # entries live in a per-version folder (jax-<version>-jaxlib-<version>), named *-cache
    assert any(cache.glob("jax-*/*-cache")), "no compiled program was cached"
    first, second = (json.loads(r.stdout.strip().splitlines()[-1]) for r in runs)
    assert first == second
    assert first["x"] == pytest.approx(1.2, abs=1e-6)


def test_gpu_check_runs_in_cpu_only_mode(tmp_path):
    """benchmarks/gpu_check.sh, the one prepared GPU command, in its CPU-only mode: it
    copies jaxfit into its own site folder, runs from outside the checkout (so the copy with
    jaxfit.data is the one imported), writes the RESULTS.md block with the commit, and the
    GPU-parity tests skip cleanly. The benchmark part is cut to 1 s here (it is timed in
    benchmarks/, never in tests)."""
    repo = Path(__file__).resolve().parents[1]
    env = os.environ | {"OUT": str(tmp_path / "out"), "SITE": str(tmp_path / "site"),
                        "BENCH_LIMIT_S": "1", "PARITY_LIMIT_S": "240",
                        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    (tmp_path / "out").mkdir()
    done = subprocess.run(["bash", "benchmarks/gpu_check.sh", "run"], cwd=repo, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    table = (tmp_path / "out" / "gpu_table.md").read_text()
    assert table.startswith("## GPU check, ") and "- commit: " in table
    parity = (tmp_path / "out" / "parity.log").read_text()
    assert "skipped" in parity and "parity exit: 0" in parity
    assert (tmp_path / "site" / "jaxfit" / "data" / "__init__.py").is_file()
    usage = subprocess.run(["bash", "benchmarks/gpu_check.sh"], cwd=repo, capture_output=True,
                           text=True)
    assert usage.returncode == 2 and "usage" in usage.stderr
