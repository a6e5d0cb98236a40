"""The cosmo HTML report's NUTS section reads what `jaxfit cosmo sample` saves: draw counts,
datasets and the corner plot (a synthetic posterior of known size, no NUTS run)."""

import numpy as np

from jaxfit.core.posterior import STAT_FIELDS, ChainState, SampleResult
from jaxfit.cosmo.report import posterior_rows, posterior_section

CHAINS, DRAWS = 2, 300


def _saved_run(folder):
    rng = np.random.default_rng(3)
    x = rng.multivariate_normal([67.5, 0.31], [[0.09, -0.001], [-0.001, 2e-5]],
                                size=(CHAINS, DRAWS))
    stats = {name: rng.normal(size=(CHAINS, DRAWS)) for name in STAT_FIELDS.values()}
    stats["diverging"] = np.zeros((CHAINS, DRAWS), bool)
    stats["n_steps"] = np.full((CHAINS, DRAWS), 7)
    state = ChainState(names=("H0", "Om0"), position=rng.normal(size=(CHAINS, 2)),
                       step_size=np.array([0.5, 0.6]),
                       inverse_mass_matrix=np.ones((CHAINS, 2)),
                       rng_key=rng.integers(0, 2**32, (CHAINS, 2), dtype=np.uint32))
    result = SampleResult(samples={"H0": x[..., 0], "Om0": x[..., 1]}, stats=stats,
                          state=state, units={"H0": "km/s/Mpc", "Om0": ""}, seed=0,
                          num_warmup=100, kind="chi2", chain_method="vectorized",
                          target_accept=0.8)
    result.save(folder, "lcdm_nuts", provenance={"datasets": "cmb,bao"})


def test_report_lists_the_saved_run_and_copies_its_corner_plot(tmp_path):
    _saved_run(tmp_path / "sample")
    row = posterior_rows(tmp_path / "sample")[0]
    assert row["model"] == "lcdm"
    assert row["datasets"] == "cmb,bao"
    assert row["draws"] == CHAINS * DRAWS
    section = posterior_section(tmp_path / "sample", tmp_path / "report")
    assert section["images"] == ["lcdm_nuts.png"]
    assert (tmp_path / "report" / "lcdm_nuts.png").stat().st_size > 0


def test_report_says_when_no_run_is_saved(tmp_path):
    section = posterior_section(tmp_path / "nothing", tmp_path / "report")
    assert "No NUTS run" in section["text"][0]
