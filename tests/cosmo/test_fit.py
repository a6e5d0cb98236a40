"""Tests of jaxfit.cosmo.fit: the CMB fit against Planck 2018 and an independent scipy fit,
the seed's round trip through the parameter store, the injection rule, dry runs, failed
fits, unconstrained PBUF directions, covariance scaling and bad input (config files:
test_config.py; the result protocol: test_results.py).

JAX compiles once per objective, so every expensive fit runs once per test session and is
shared (``run_once`` in conftest.py, also across xdist workers) via module fixtures. Every
store lives under pytest's temporary directory, never in the user's store.
"""

from __future__ import annotations

import hashlib
import json
import shutil

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from astropy.cosmology import FlatLambdaCDM
from scipy import integrate, optimize

import jaxfit.cosmo.fit as fit_module
from jaxfit.core.optimize import STATUS_MESSAGES, FitResult
from jaxfit.cosmo.data import load_datasets
from jaxfit.cosmo.fit import (
    DEFAULT_OPTIMIZE,
    OptimizationResult,
    make_objective,
    make_parts,
    optimize_parameters,
)
from jaxfit.cosmo.model import get_model
from jaxfit.cosmo.store import OptimizedParameterStore

# Planck 2018 VI (arXiv:1807.06209), Table 2, TT,TE,EE+lowE+lensing: mean and 1 sigma
PLANCK18_H0, PLANCK18_H0_SIGMA = 67.36, 0.54
PLANCK18_OM0, PLANCK18_OM0_SIGMA = 0.3153, 0.0073
# the same column's best fit: H0, Ob h^2, Oc h^2, ns (massless neutrinos here)
PLANCK18_BEST = {"H0": 67.36, "Obh2": 0.02237, "Och2": 0.1200, "ns": 0.9649}

# Chen, Huang & Wang 2019 (JCAP 02 (2019) 028), Table 1, LCDM: (R, l_A, wb, ns)
PRIOR_MEAN = np.array([1.7502, 301.471, 0.02236, 0.9649])
PRIOR_SIGMA = np.array([0.0046, 0.0895, 0.00015, 0.0043])
PRIOR_CORR = np.array(
    [
        [1.0, 0.46, -0.66, -0.74],
        [0.46, 1.0, -0.33, -0.35],
        [-0.66, -0.33, 1.0, 0.46],
        [-0.74, -0.35, 0.46, 1.0],
    ]
)
LCDM_FIT = ["H0", "Om0", "Obh2", "ns"]
SEED_METADATA_KEYS = {
    "cmb_optimized",
    "source_dataset",
    "optimized_params",
    "chi2_improvement",
    "convergence_status",
    "optimizer_info",
    "covariance_scaling",
}
C_KM_S = 299_792.458


# --------------------------------------------------------------------------- sharing


def _sha256(path) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else None


def _lcdm_fits(folder) -> dict:
    """The CMB-only LCDM fit into an empty store, then a dry-run re-fit with cov_scale 4."""
    store = OptimizedParameterStore(folder / "store")
    builtins = store.get_model_defaults("lcdm")
    first = optimize_parameters("lcdm", "cmb", LCDM_FIT, store=store, n_starts=4, progress=False)
    sha_first = _sha256(store.path("lcdm"))
    second = optimize_parameters(
        "lcdm",
        "cmb",
        LCDM_FIT,
        store=store,
        n_starts=1,
        cov_scale=4.0,
        dry_run=True,
        progress=False,
    )
    return {
        "store": str(folder / "store"),
        "builtins": builtins,
        "first": first.to_dict(),
        "sha_first": sha_first,
        "second": second.to_dict(),
        "sha_second": _sha256(store.path("lcdm")),
    }


@pytest.fixture(scope="module")
def lcdm(run_once):
    payload = run_once("test_fit-lcdm-cmb", _lcdm_fits)
    payload["first"] = OptimizationResult(**payload["first"])
    payload["second"] = OptimizationResult(**payload["second"])
    return payload


def _pbuf_fit(folder) -> dict:
    store = OptimizedParameterStore(folder / "store")
    result = optimize_parameters("pbuf", "cmb,bao", store=store, n_starts=1, progress=False)
    return {"store": str(folder / "store"), "result": result.to_dict()}


@pytest.fixture(scope="module")
def pbuf(run_once):
    payload = run_once("test_fit-pbuf-cmb-bao", _pbuf_fit)
    payload["result"] = OptimizationResult(**payload["result"])
    return payload


# ------------------------------------------------------- independent numpy/scipy CMB chi2
# photon density Og h^2 and massless-neutrino/photon ratio exactly as astropy computes them
_ASTROPY = FlatLambdaCDM(H0=100.0, Om0=0.3, Tcmb0=2.7255, Neff=3.046, m_nu=0.0)
_OG_H2 = float(_ASTROPY.Ogamma0)  # h = 1
_NU_PER_PHOTON = float(_ASTROPY.Onu0 / _ASTROPY.Ogamma0)


def _reference_observables(H0, Om0, Obh2, ns):
    """(R, l_A, wb, ns) of flat LCDM with photons + massless neutrinos, by scipy quad."""
    h = H0 / 100.0
    o_r = _OG_H2 / h**2 * (1.0 + _NU_PER_PHOTON)
    o_l = 1.0 - Om0 - o_r
    wm = Om0 * h**2
    # Hu & Sugiyama 1996, eq. E1
    g1 = 0.0783 * Obh2**-0.238 / (1.0 + 39.5 * Obh2**0.763)
    g2 = 0.560 / (1.0 + 21.1 * Obh2**1.81)
    z_star = 1048.0 * (1.0 + 0.00124 * Obh2**-0.738) * (1.0 + g1 * wm**g2)

    def inv_e(z):
        return 1.0 / np.sqrt(Om0 * (1 + z) ** 3 + o_r * (1 + z) ** 4 + o_l)

    d_m = C_KM_S / H0 * integrate.quad(inv_e, 0.0, z_star, epsabs=0, epsrel=1e-13, limit=200)[0]

    def sound_speed_over_a2_h(a):  # r_s = int_0^a* c_s / (a^2 H) da
        c_s = C_KM_S / np.sqrt(3.0 * (1.0 + 0.75 * Obh2 / _OG_H2 * a))
        return c_s / (H0 * np.sqrt(Om0 * a + o_r + o_l * a**4))

    a_star = 1.0 / (1.0 + z_star)
    r_s = integrate.quad(sound_speed_over_a2_h, 0.0, a_star, epsabs=0, epsrel=1e-13, limit=200)[0]
    return np.array([np.sqrt(Om0) * H0 * d_m / C_KM_S, np.pi * d_m / r_s, Obh2, ns])


def _reference_chi2(H0, Om0, Obh2, ns) -> float:
    cov = PRIOR_SIGMA[:, None] * PRIOR_CORR * PRIOR_SIGMA[None, :]
    r = _reference_observables(H0, Om0, Obh2, ns) - PRIOR_MEAN
    return float(r @ np.linalg.solve(cov, r))


@pytest.fixture(scope="module")
def scipy_fit():
    """Independent best fit: Nelder-Mead on the numpy chi2, in units of a start point."""
    x0 = np.array([67.4, 0.315, 0.02237, 0.9649])
    res = optimize.minimize(
        lambda u: _reference_chi2(*(u * x0)),
        np.ones(4),
        method="Nelder-Mead",
        options={"xatol": 1e-12, "fatol": 1e-18, "maxiter": 20_000, "maxfev": 20_000},
    )
    assert res.success, res.message
    return dict(zip(LCDM_FIT, res.x * x0, strict=True)), float(res.fun)


def _lcdm_point(**values) -> dict:
    return {**dict(get_model("lcdm").spec.defaults), **values}


def _cmb_part(model="lcdm"):
    return make_parts(model, load_datasets("cmb"))["cmb:planck2018"]


# ------------------------------------------- 5. PBUF unconstrained, 1. CMB-only LCDM
# The PBUF fit comes first: pytest-xdist gives each worker a first chunk of consecutive
# tests, so one worker starts with the PBUF fit while the other reaches the LCDM fit.
PBUF_EXTRA = {"alpha", "Rmax", "eps0", "n_eps", "k_sat"}


@pytest.mark.slow
def test_pbuf_cmb_bao_reports_unconstrained_parameters_by_name(pbuf):
    result = pbuf["result"]
    assert result.convergence_status == "success"
    flagged = set(result.metadata["unconstrained"])
    # sigma_eff ~ 1e-8 at these values: the PBUF couplings do not reach these data
    assert flagged, "no unconstrained direction reported"
    assert flagged <= PBUF_EXTRA
    for name in ("H0", "Om0", "Obh2", "ns"):
        assert name not in flagged
        error = result.metadata["errors"][name]
        assert np.isfinite(error) and error > 0, name
    for name in flagged:
        assert result.metadata["errors"][name] == np.inf, name
    # H0 is measured to < 1 km/s/Mpc by CMB + DESI DR2 BAO
    assert result.metadata["errors"]["H0"] < 1.0


def test_cmb_lcdm_fit_within_one_sigma_of_planck2018(lcdm):
    result = lcdm["first"]
    assert result.convergence_status == "success"
    assert abs(result.optimized_params["H0"] - PLANCK18_H0) < PLANCK18_H0_SIGMA
    assert abs(result.optimized_params["Om0"] - PLANCK18_OM0) < PLANCK18_OM0_SIGMA
    # 4 parameters, 4 data: the priors are matched exactly (chi2 ~ 0, 1e-6 absolute)
    assert 0.0 <= result.final_chi2 < 1e-6
    assert result.bounds_reached == []
    assert result.metadata["unconstrained"] == []


@pytest.mark.slow
def test_pbuf_stored_metadata_is_strict_json(pbuf):
    # the infinite errors of unconstrained parameters must not become JSON 'Infinity'
    store = OptimizedParameterStore(pbuf["store"])
    raw = store.path("pbuf").read_text()

    def refuse(constant):
        raise AssertionError(f"non-standard JSON constant {constant} in the store")

    content = json.loads(raw, parse_constant=refuse)
    for name in pbuf["result"].metadata["unconstrained"]:
        assert content["optimization_metadata"]["errors"][name] == "inf"
    np.testing.assert_allclose(
        store.get_model_defaults("pbuf")["H0"], pbuf["result"].optimized_params["H0"], rtol=1e-12
    )


def test_reference_photon_density_is_astropys():
    # guards the independent reference itself: the spec's Og h^2 = 2.4730e-5 at 2.7255 K
    np.testing.assert_allclose(_OG_H2, 2.4730e-5, rtol=1e-4)
    np.testing.assert_allclose(_NU_PER_PHOTON, 7 / 8 * (4 / 11) ** (4 / 3) * 3.046, rtol=1e-10)


# ---------------------------------------------- 1. CMB-only LCDM against scipy
def test_cmb_lcdm_fit_matches_independent_scipy_fit(lcdm, scipy_fit):
    reference, _ = scipy_fit
    got = lcdm["first"].optimized_params
    # the brief asks for 1e-3; both solve R and l_A exactly, so they agree far better
    # (measured 1e-9). The spec's "H0 67.67" is 5e-4 below both (67.7070).
    for name in ("H0", "Om0"):
        np.testing.assert_allclose(got[name], reference[name], rtol=1e-5, err_msg=name)
    # wb and ns are observables themselves: both land on the prior means (1e-6 relative)
    np.testing.assert_allclose(got["Obh2"], PRIOR_MEAN[2], rtol=1e-6)
    np.testing.assert_allclose(got["ns"], PRIOR_MEAN[3], rtol=1e-6)


def test_jaxfit_chi2_equals_reference_chi2_at_the_independent_optimum(scipy_fit):
    reference, reference_chi2 = scipy_fit
    chi2 = make_objective("lcdm", load_datasets("cmb"))
    value = float(jax.jit(chi2)(_lcdm_point(**reference)))
    # both are ~0 at this point (R, l_A matched), hence an absolute tolerance of 1e-6
    assert abs(value - reference_chi2) < 1e-6
    assert value < 1e-6


def test_cmb_chi2_at_planck2018_best_fit_equals_independent_evaluation():
    h = PLANCK18_BEST["H0"] / 100.0
    point = {
        "H0": PLANCK18_BEST["H0"],
        "Om0": (PLANCK18_BEST["Obh2"] + PLANCK18_BEST["Och2"]) / h**2,
        "Obh2": PLANCK18_BEST["Obh2"],
        "ns": PLANCK18_BEST["ns"],
    }
    reference = _reference_chi2(**point)
    value = float(jax.jit(_cmb_part())(_lcdm_point(**point)))
    np.testing.assert_allclose(value, reference, rtol=1e-6)
    # NOT of order 1: the priors were derived with the full recombination history, while
    # z* here is Hu & Sugiyama's fit, which shifts l_A ~12 sigma high (302.56 vs 301.471);
    # the independent evaluation gives ~192.5 too.
    assert 150.0 < value < 250.0


# ------------------------------------------------------------ 2. the seed's round trip
def test_roundtrip_store_reload(lcdm):
    result = lcdm["first"]
    reloaded_store = OptimizedParameterStore(lcdm["store"])  # a new instance, same folder
    reloaded = reloaded_store.get_model_defaults("lcdm")
    for name, value in result.optimized_params.items():
        np.testing.assert_allclose(reloaded[name], value, rtol=1e-12, err_msg=name)
    # parameters that were not fitted keep their built-in values (non-destructive merge)
    for name in ("Neff", "Tcmb", "m_nu", "Ok0"):
        assert reloaded[name] == lcdm["builtins"][name]
    history = reloaded_store.get_optimization_history("lcdm")
    assert len(history) == 1  # the dry run after it added nothing
    assert history[0].optimized_params == LCDM_FIT
    assert history[0].convergence_status == "success"
    np.testing.assert_allclose(history[0].final_chi2, result.final_chi2, rtol=1e-12, atol=1e-300)
    meta = reloaded_store.get_optimization_metadata("lcdm")
    assert SEED_METADATA_KEYS <= set(meta)
    assert meta["optimized_params"] == LCDM_FIT
    assert meta["convergence_status"] == "success"
    assert meta["covariance_scaling"] == 1.0
    assert {"method", "library", "version"} <= set(meta["optimizer_info"])
    assert meta["optimizer_info"]["method"] == "lbfgs"
    assert meta["optimizer_info"]["library"] == "optax"
    assert meta["optimizer_info"]["version"]  # a version string, not empty
    np.testing.assert_allclose(meta["chi2_improvement"], result.chi2_improvement, rtol=1e-12)
    assert meta["chi2_improvement"] > 0  # started at the built-ins (chi2 ~ 112)


def test_store_says_optimized_against_cmb_after_a_cmb_fit(lcdm):
    assert OptimizedParameterStore(lcdm["store"]).is_optimized("lcdm", "cmb")


# ----------------------------------------------- 3./4./6. injection, dry run, cov_scale
def test_second_fit_starts_from_the_stored_values(lcdm):
    stored = lcdm["first"].optimized_params
    start = lcdm["second"].starting_params
    assert set(start) == set(LCDM_FIT)
    for name in LCDM_FIT:
        np.testing.assert_allclose(start[name], stored[name], rtol=1e-12, err_msg=name)
    # and not from the registry's literals (the stored H0 is 0.3 km/s/Mpc away from them)
    assert abs(start["H0"] - lcdm["builtins"]["H0"]) > 0.1
    # starting at the optimum, nothing is left to gain (chi2 already ~0)
    assert abs(lcdm["second"].chi2_improvement) < 1e-6


def test_dry_run_leaves_the_store_file_byte_identical(lcdm):
    assert lcdm["sha_first"] is not None  # the first fit did write the file
    assert lcdm["sha_second"] == lcdm["sha_first"]
    assert lcdm["second"].convergence_status == "success"  # so only dry_run kept it out


def test_hessian_errors_scale_with_sqrt_of_cov_scale(lcdm):
    # chi2 ~ 0 at the optimum and the model is close to linear there, so C -> 4 C doubles
    # every Hessian error (to 5%)
    e1, e4 = lcdm["first"].metadata["errors"], lcdm["second"].metadata["errors"]
    for name in LCDM_FIT:
        np.testing.assert_allclose(e4[name] / e1[name], 2.0, rtol=0.05, err_msg=name)
    assert lcdm["second"].covariance_scaling == 4.0
    assert lcdm["second"].metadata["covariance_scaling"] == 4.0
    # the Planck 2018 1-sigma on H0 is 0.54; the distance priors give a similar 0.61
    assert 0.3 < e1["H0"] < 1.0


def _failing_minimize(fun, spec, **kwargs):
    """Stands in for core.optimize.minimize: stops at the start with status 2."""
    x = {k: float(v) for k, v in spec.unpack(spec.pack()).items()}
    return FitResult(
        x=x,
        fun=float(fun(x, kwargs["data"])),
        success=False,
        status=2,
        message=STATUS_MESSAGES[2],
        n_iter=0,
        n_fev=1,
        method=kwargs.get("method", "lbfgs"),
        grad_norm=float("nan"),
        free_names=tuple(spec.free_names),
        x_free=np.asarray(spec.pack()),
    )


def test_failed_optimisation_does_not_change_the_store(lcdm, tmp_path, monkeypatch):
    # (the CLI tests check that a failed fit into an empty store creates no file)
    folder = tmp_path / "store"
    shutil.copytree(lcdm["store"], folder)
    store = OptimizedParameterStore(folder)
    before = _sha256(store.path("lcdm"))
    monkeypatch.setattr(fit_module, "minimize", _failing_minimize)
    result = optimize_parameters(
        "lcdm",
        "cmb",
        ["H0"],
        starting_values={"H0": 70.0},
        store=store,
        n_starts=1,
        progress=False,
    )
    assert result.convergence_status == "failed"
    assert result.metadata["convergence_message"] == STATUS_MESSAGES[2]
    assert _sha256(store.path("lcdm")) == before
    np.testing.assert_allclose(
        store.get_model_defaults("lcdm")["H0"], lcdm["first"].optimized_params["H0"], rtol=1e-12
    )
    assert len(store.get_optimization_history("lcdm")) == 1


# -------------------------------------------------------------------- 8. the objective
@pytest.mark.parametrize("model", ["lcdm", "pbuf"])
def test_objective_jit_equals_eager_and_gradient_is_finite(model):
    chi2 = make_objective(model, load_datasets("cmb,bao"))
    point = {k: jnp.asarray(v) for k, v in dict(get_model(model).spec.defaults).items()}
    eager = float(chi2(point))
    jitted = float(jax.jit(chi2)(point))
    np.testing.assert_allclose(jitted, eager, rtol=1e-12)
    assert np.isfinite(eager) and eager > 0
    grad = jax.jit(jax.grad(chi2))(point)
    assert set(grad) == set(point)
    for name, value in grad.items():
        assert np.isfinite(float(value)), name
    # H0, Om0 and Obh2 move the distances: their gradients cannot vanish
    for name in ("H0", "Om0", "Obh2"):
        assert float(grad[name]) != 0.0, name


def test_objective_is_the_sum_of_its_parts():
    data = load_datasets("cmb,bao")
    point = _lcdm_point(H0=68.0, Om0=0.30)
    total = float(make_objective("lcdm", data)(point))
    parts = {k: float(f(point)) for k, f in make_parts("lcdm", data).items()}
    assert set(parts) == {"cmb:planck2018", "bao:desi_dr2"}
    np.testing.assert_allclose(total, sum(parts.values()), rtol=1e-12)


def test_make_parts_rejects_an_unsupported_data_type():
    with pytest.raises(TypeError, match=r"data set 'cmb:fake': unsupported type dict"):
        make_parts("lcdm", {"cmb:fake": {"mean": [1.0]}})


# ------------------------------------------------------------------------ 7. bad input
@pytest.fixture
def store(tmp_path):
    return OptimizedParameterStore(tmp_path / "store")


def test_unknown_parameter_is_named_with_the_valid_ones(store):
    with pytest.raises(KeyError, match=r"unknown parameter 'H1'; valid names: H0, Om0, Obh2"):
        optimize_parameters("lcdm", "cmb", ["H1"], store=store, progress=False)
    # a PBUF-only parameter is unknown to LCDM too
    with pytest.raises(KeyError, match=r"'k_sat'"):
        optimize_parameters("lcdm", "cmb", ["H0", "k_sat"], store=store, progress=False)
    assert not store.path("lcdm").exists()


def test_starting_value_outside_bounds_is_refused(store):
    expected = r"'H0': value 500.0 is outside its bounds \[20.0, 150.0\]"
    with pytest.raises(ValueError, match=expected):
        optimize_parameters(
            "lcdm", "cmb", ["H0"], starting_values={"H0": 500}, store=store, progress=False
        )


def test_unknown_dataset_is_named(store):
    with pytest.raises(ValueError, match=r"unknown data set 'xyz'; valid: cmb, bao, sn"):
        optimize_parameters("lcdm", "cmb,xyz", ["H0"], store=store, progress=False)


def test_unknown_model_is_named(store):
    with pytest.raises(KeyError, match=r"unknown cosmology model 'wcdm'; valid models: lcdm, pbuf"):
        optimize_parameters("wcdm", "cmb", store=store, progress=False)


def test_all_parameters_frozen_is_refused(store):
    with pytest.raises(ValueError, match=r"no parameter left to optimise"):
        optimize_parameters("lcdm", "cmb", ["H0"], frozen=["H0"], store=store, progress=False)


@pytest.mark.slow
def test_pbuf_errors_by_differences_equal_the_exact_hessian():
    """The default Hessian (Richardson central differences of the compiled gradient, accepted
    when the reported errors do not depend on the step) gives PBUF's CMB+BAO errors,
    correlations and unconstrained parameters as jax.hessian does. Measured: errors to
    1.2e-9, correlations to 2e-9 (PBUF's unconstrained rows make entry-by-entry agreement
    fail, so this checks the analysis-level acceptance)."""
    from jaxfit.core.optimize import minimize
    from jaxfit.core.uncertainty import hessian_uncertainty
    from jaxfit.cosmo.objective import chi2, cosmo_data

    data = cosmo_data("pbuf", "cmb,bao")
    spec = get_model("pbuf").spec.free_only(DEFAULT_OPTIMIZE["pbuf"])
    best = minimize(chi2, spec, data=data, n_starts=4, progress=False).x
    exact = hessian_uncertainty(chi2, spec, best, data=data, hessian="exact")
    default = hessian_uncertainty(chi2, spec, best, data=data)
    assert default.unconstrained == exact.unconstrained == ("alpha", "Rmax", "eps0", "n_eps")
    kept = [i for i, n in enumerate(spec.free_names) if n not in exact.unconstrained]
    for i in kept:
        name = spec.free_names[i]
        assert default.errors[name] == pytest.approx(exact.errors[name], rel=1e-7)
    np.testing.assert_allclose(default.correlation[np.ix_(kept, kept)],
                               exact.correlation[np.ix_(kept, kept)], rtol=0, atol=1e-7)
