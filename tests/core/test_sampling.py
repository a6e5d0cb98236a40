"""NUTS from an objective against a known 2-D correlated Gaussian posterior.

Reference: with ``chi2 = r^T C^-1 r``, ``r = x - mu``, a flat prior and bounds far in the
tails, the posterior is ``N(mu, C)`` with ``mu = (1, -2)``, ``C = [[1, 0.6], [0.6, 2]]``.
"""

import json
import math

import jax.numpy as jnp
import numpy as np
import pytest

import jaxfit  # noqa: F401  (switches on float64)
from jaxfit.core.params import ParamSpec
from jaxfit.core.posterior import read_posterior
from jaxfit.core.sampling import potential_from_objective, resume_nuts, sample_nuts

MU = np.array([1.0, -2.0])
COV = np.array([[1.0, 0.6], [0.6, 2.0]])
SPEC = ParamSpec.from_dict({"a": (0.0, -50.0, 50.0), "b": (0.0, -50.0, 50.0)})


def chi2(params):
    r = jnp.stack([params["a"], params["b"]]) - jnp.asarray(MU)
    return r @ jnp.asarray(np.linalg.inv(COV)) @ r


@pytest.fixture(scope="module")
def gaussian_run():
    return sample_nuts(
        chi2,
        SPEC,
        num_chains=4,
        num_warmup=500,
        num_samples=1000,
        seed=0,
        init={"a": 1.0, "b": -2.0},
        progress=False,
    )


def test_samples_shape_and_diagnostics(gaussian_run):
    assert gaussian_run.samples["a"].shape == (4, 1000)
    assert gaussian_run.samples["b"].shape == (4, 1000)
    assert gaussian_run.flat()["a"].shape == (4000,)
    assert gaussian_run.num_divergences == 0
    assert (gaussian_run.table["r_hat"] < 1.01).all()


def test_mean_within_five_monte_carlo_errors(gaussian_run):
    summary = gaussian_run.table
    mcse = summary["std"] / np.sqrt(summary["n_eff"])
    assert (np.abs(summary["mean"].to_numpy() - MU) < 5 * mcse.to_numpy()).all()


def _covariance_close(flat, tolerance):
    # |C_hat_ij - C_ij| <= tolerance * sqrt(C_ii C_jj): a fraction of the variance on the
    # diagonal and of one unit of correlation off it. The Monte Carlo error of an entry is
    # about sqrt(2 / n_eff) of that scale: 0.1 is ~3 errors at n_eff ~ 1e3
    sample_cov = np.cov(np.stack([flat["a"], flat["b"]]))
    scale = np.sqrt(np.outer(np.diag(COV), np.diag(COV)))
    return (np.abs(sample_cov - COV) <= tolerance * scale).all()


def test_covariance_within_ten_percent(gaussian_run):
    assert _covariance_close(gaussian_run.flat(), 0.1)


def test_resume_from_files_appends_draws_without_rewarming(gaussian_run, tmp_path):
    gaussian_run.save(tmp_path, "gauss")
    saved = read_posterior(tmp_path, "gauss")
    more = resume_nuts(chi2, SPEC, saved, num_samples=500, progress=False)
    assert more.samples["a"].shape == (4, 1500) and more.stats["diverging"].shape == (4, 1500)
    np.testing.assert_array_equal(more.samples["a"][:, :1000], gaussian_run.samples["a"])
    np.testing.assert_array_equal(more.samples["b"][:, :1000], gaussian_run.samples["b"])
    # no new warmup: every new draw used its chain's saved, adapted step size (adaptation
    # would change it from draw to draw)
    np.testing.assert_array_equal(more.stats["step_size"][:, 1000:],
                                  np.repeat(gaussian_run.state.step_size[:, None], 500, 1))
    assert more.num_warmup == 500 and more.num_samples == 1500 and more.num_divergences == 0
    # the new draws alone and all draws together sample N(MU, COV): mean within five Monte
    # Carlo errors; covariance within 10% (as above) for all 6000 draws, within 20% for
    # the 2000 new ones alone (n_eff ~ 1e3 over 2000 draws: ~4 errors)
    table = more.table
    mcse = table["std"] / np.sqrt(table["n_eff"])
    assert (np.abs(table["mean"].to_numpy() - MU) < 5 * mcse.to_numpy()).all()
    assert _covariance_close(more.flat(), 0.1)
    new = {k: v[:, 1000:].reshape(-1) for k, v in more.samples.items()}
    assert _covariance_close(new, 0.2)
    assert (table["r_hat"] < 1.01).all()


def test_resume_refuses_other_parameters(gaussian_run):
    other = ParamSpec.from_dict({"a": (0.0, -50.0, 50.0), "c": (0.0, -50.0, 50.0)})
    with pytest.raises(ValueError, match="free parameters"):
        resume_nuts(chi2, other, gaussian_run, num_samples=10)


def test_summary_quantiles_and_to_dict(gaussian_run):
    summary = gaussian_run.table
    assert list(summary.columns) == ["mean", "std", "median", "q5", "q95", "n_eff", "r_hat"]
    # reference: the Gaussian 5%/95% quantiles mu -+ 1.645 sigma, to 0.1 sigma (Monte Carlo)
    sigma = np.sqrt(np.diag(COV))
    np.testing.assert_allclose(summary["q5"], MU - 1.6449 * sigma, atol=0.1 * sigma.max())
    np.testing.assert_allclose(summary["q95"], MU + 1.6449 * sigma, atol=0.1 * sigma.max())
    payload = json.loads(json.dumps(gaussian_run.to_dict(), allow_nan=False))
    assert payload["num_chains"] == 4 and payload["seed"] == 0 and payload["num_samples"] == 1000
    assert gaussian_run.summary().startswith("NUTS: 4 chain(s) x 1000 draws after 500 warmup")
    assert set(payload["summary"]) == {"a", "b"}


def test_potential_is_half_chi2_minus_log_jacobian():
    """Reference: the sigmoid map x = -50 + 100 s(u) has log|dx/du| = log 100 + log s(1-s)."""
    u = jnp.array([0.3, -0.7])
    x = -50.0 + 100.0 / (1.0 + np.exp(-np.asarray(u)))
    s = (x + 50.0) / 100.0
    r = x - MU
    expected = 0.5 * r @ np.linalg.inv(COV) @ r - np.sum(np.log(100.0 * s * (1.0 - s)))
    got = potential_from_objective(chi2, SPEC)(u)
    assert math.isclose(float(got), expected, rel_tol=1e-12)
    got_nll = potential_from_objective(lambda p: 0.5 * chi2(p), SPEC, kind="nll")(u)
    assert math.isclose(float(got_nll), expected, rel_tol=1e-12)


@pytest.mark.parametrize("argument", ["num_chains", "num_warmup", "num_samples"])
def test_bad_counts_name_the_argument(argument):
    with pytest.raises(ValueError, match=argument):
        sample_nuts(chi2, SPEC, **{argument: 0})


def test_bad_settings():
    with pytest.raises(ValueError, match="chi2, nll"):
        sample_nuts(chi2, SPEC, kind="chisq")
    with pytest.raises(ValueError, match="chain_method"):
        sample_nuts(chi2, SPEC, chain_method="threads")
    with pytest.raises(KeyError, match="nope"):
        sample_nuts(chi2, SPEC, init={"nope": 1.0})
