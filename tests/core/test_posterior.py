"""Posterior files (netCDF, draws CSV, chain state) and the corner plot, on draws made
here without NUTS (a seeded N(MU, COV)), so the round trips are checked exactly."""

import json
import math
import warnings

import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest

import jaxfit  # noqa: F401  (switches on float64)
from jaxfit.core.corner import corner_figure, credible_levels, ellipse
from jaxfit.core.params import ParamSpec
from jaxfit.core.posterior import (
    STAT_FIELDS,
    ChainState,
    SampleResult,
    read_posterior,
)
from jaxfit.core.uncertainty import Uncertainty, hessian_uncertainty

MU = np.array([1.0, -2.0])
COV = np.array([[1.0, 0.6], [0.6, 2.0]])
CHAINS, DRAWS = 3, 400


def _result() -> SampleResult:
    rng = np.random.default_rng(7)
    x = rng.multivariate_normal(MU, COV, size=(CHAINS, DRAWS))
    stats = {name: rng.normal(size=(CHAINS, DRAWS)) for name in STAT_FIELDS.values()}
    stats["diverging"] = rng.random((CHAINS, DRAWS)) < 0.01
    stats["n_steps"] = rng.integers(1, 8, (CHAINS, DRAWS))
    state = ChainState(names=("a", "b"), position=rng.normal(size=(CHAINS, 2)),
                       step_size=np.array([0.7, 0.8, 0.75]),
                       inverse_mass_matrix=np.array([[1.0, 2.0], [1.1, 1.9], [0.9, 2.1]]),
                       rng_key=rng.integers(0, 2**32, (CHAINS, 2), dtype=np.uint32))
    return SampleResult(samples={"a": x[..., 0], "b": x[..., 1]}, stats=stats, state=state,
                        units={"a": "km/s", "b": ""}, seed=11, num_warmup=200, kind="chi2",
                        chain_method="vectorized", target_accept=0.85)


def _reference() -> Uncertainty:
    """The Hessian of chi2 = r^T COV^-1 r at MU: covariance COV."""
    spec = ParamSpec.from_dict({"a": (0.0, -50.0, 50.0), "b": (0.0, -50.0, 50.0)})

    def chi2(params):
        r = jnp.stack([params["a"], params["b"]]) - jnp.asarray(MU)
        return r @ jnp.asarray(np.linalg.inv(COV)) @ r

    return hessian_uncertainty(chi2, spec, {"a": MU[0], "b": MU[1]})


@pytest.fixture(scope="module")
def reference():
    return _reference()


@pytest.fixture(scope="module")
def saved(tmp_path_factory, reference):
    folder = tmp_path_factory.mktemp("posterior")
    result = _result()
    paths = result.save(folder, "toy", {"command": "test"}, reference=reference)
    return result, folder, paths


def test_save_writes_every_file(saved):
    result, folder, paths = saved
    names = {kind: path.name for kind, path in paths.items()}
    assert names == {"json": "toy.json", "csv": "toy.csv", "png": "toy.png", "nc": "toy.nc",
                     "draws": "toy_draws.csv", "state": "toy_state.json"}
    record = json.loads(paths["json"].read_text())
    assert record["num_samples"] == DRAWS and record["num_chains"] == CHAINS
    assert record["num_divergences"] == int(result.stats["diverging"].sum())
    assert record["provenance"] == {"command": "test"}
    assert paths["png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_netcdf_round_trip_is_exact_and_readable_by_arviz(saved):
    result, folder, paths = saved
    with warnings.catch_warnings():  # arviz 0.x announces its 1.0 refactor on import
        warnings.simplefilter("ignore", FutureWarning)
        import arviz
    idata = arviz.from_netcdf(str(paths["nc"]))
    assert idata.posterior["a"].dims == ("chain", "draw")
    np.testing.assert_array_equal(idata.posterior["a"].values, result.samples["a"])
    assert idata.posterior["a"].attrs["units"] == "km/s"
    assert idata.posterior.attrs["target_accept"] == 0.85
    back = read_posterior(folder, "toy")
    for name in ("a", "b"):
        np.testing.assert_array_equal(back.samples[name], result.samples[name])
    for name, values in result.stats.items():
        np.testing.assert_array_equal(back.stats[name], values)
    for field in ("position", "step_size", "inverse_mass_matrix", "rng_key"):
        np.testing.assert_array_equal(getattr(back.state, field), getattr(result.state, field))
    assert back.state.rng_key.dtype == np.uint32
    assert (back.units, back.seed, back.num_warmup, back.kind, back.chain_method,
            back.target_accept) == (result.units, 11, 200, "chi2", "vectorized", 0.85)
    pd.testing.assert_frame_equal(back.table, result.table)


def test_draws_csv_has_chain_and_draw_columns(saved):
    result, _, paths = saved
    frame = pd.read_csv(paths["draws"])
    assert list(frame.columns) == ["chain", "draw", "a", "b", "diverging"]
    assert len(frame) == CHAINS * DRAWS
    chain1 = frame[frame["chain"] == 1].sort_values("draw")
    np.testing.assert_array_equal(chain1["draw"], np.arange(DRAWS))
    # pandas writes floats as repr, so the CSV holds the draws exactly
    np.testing.assert_array_equal(chain1["b"], result.samples["b"][1])


def test_read_refuses_a_state_of_other_parameters(saved, tmp_path):
    result, folder, paths = saved
    (tmp_path / "toy.nc").write_bytes(paths["nc"].read_bytes())
    state = json.loads(paths["state"].read_text()) | {"names": ["a", "c"]}
    (tmp_path / "toy_state.json").write_text(json.dumps(state))
    with pytest.raises(ValueError, match="must hold the parameters a, c"):
        read_posterior(tmp_path, "toy")
    (tmp_path / "toy_state.json").unlink()
    with pytest.raises(FileNotFoundError, match="chain state"):
        read_posterior(tmp_path, "toy")


def test_state_refuses_bad_shapes():
    record = _result().state.to_dict() | {"step_size": [0.7, 0.8]}
    with pytest.raises(ValueError, match=r"state step_size must have shape \(3,\)"):
        ChainState.from_dict(record)


def test_ellipse_is_the_gaussian_contour():
    """Reference: every point has (x - mu)^T C^-1 (x - mu) = -2 ln(1 - p), 2.2977 at 0.683."""
    points = ellipse(MU, COV, 0.683)
    r = points - MU
    mahalanobis = np.einsum("ni,ij,nj->n", r, np.linalg.inv(COV), r)
    np.testing.assert_allclose(mahalanobis, -2.0 * math.log(1.0 - 0.683), rtol=1e-12)


def test_credible_levels_enclose_the_mass():
    density = np.array([[1.0, 2.0], [3.0, 4.0]])  # total 10
    # 40% is held by the cell of height 4, 70% by the cells >= 3
    assert credible_levels(density, (0.7, 0.4)) == [3.0, 4.0]


def test_corner_figure_draws_the_hessian_ellipses(reference):
    np.testing.assert_allclose(reference.covariance, COV, rtol=1e-6)
    fig = corner_figure(_result().samples, {"a": "km/s"}, reference)
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert len(visible) == 3  # two marginals and one pair
    pair = fig.axes[2]  # row 1, column 0
    assert pair.get_xlabel() == "a [km/s]" and pair.get_ylabel() == "b"
    assert len(pair.get_lines()) == 2  # the 68% and 95% ellipses
    no_reference = corner_figure(_result().samples)
    assert len(no_reference.axes[2].get_lines()) == 0
