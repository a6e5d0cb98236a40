"""Tests of jaxfit.cosmo.model against astropy, an independent numpy/scipy implementation,
the closed forms of the spec, finite differences and jit/vmap invariance.

Planck-point values (massless; H0 67.36, Obh2 0.02237, Och2 0.1200, Om0 = (Obh2+Och2)/h^2):
z* = 1091.853, r_s(z*) = 144.271 Mpc, r_d = 147.076 (Aubourg) / 150.751 (EH98) Mpc,
D_M(z*) = 13894.42 Mpc, R = 1.748755, l_A = 302.5601.
"""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.integrate
from astropy import constants as const
from astropy import units as u
from astropy.cosmology import FlatLambdaCDM, LambdaCDM

import jaxfit  # noqa: F401  (switches on float64)
from jaxfit.cosmo import model as m

LCDM = m.get_model("lcdm")
PBUF = m.get_model("pbuf")
H_PL = 0.6736
PLANCK = {
    **LCDM.spec.defaults,
    "H0": 67.36,
    "Om0": (0.02237 + 0.1200) / H_PL**2,
    "Obh2": 0.02237,
    "ns": 0.9649,
    "Neff": 3.046,
    "Tcmb": 2.7255,
    "m_nu": 0.0,
}
Z_GRID = np.geomspace(0.01, 1100.0, 41)


def _rel(actual, expected):
    actual, expected = np.asarray(actual, dtype=float), np.asarray(expected, dtype=float)
    return float(np.max(np.abs(actual / expected - 1.0)))


# jitted entry points, compiled once per shape and reused by the tests below
@jax.jit
def _distances(z, p):
    return (
        m.comoving_distance(z, p),
        m.transverse_comoving_distance(z, p),
        m.angular_diameter_distance(z, p),
        m.luminosity_distance(z, p),
        m.H(z, p),
    )


_cmb = jax.jit(m.cmb_observables, static_argnames="model")
_r_drag = jax.jit(m.r_drag, static_argnames=("model", "method"))
_l_a_grad = jax.jit(jax.grad(lambda p: m.cmb_observables(p)[1]))
_pbuf_l_a_grad = jax.jit(jax.grad(lambda p: m.cmb_observables(p, "pbuf")[1]))
_pbuf_e2_grad = jax.jit(jax.grad(lambda p: m.E2_pbuf(1.0, p)))


# --------------------------------------------------------------------------- astropy
def to_astropy(p):
    """The astropy cosmology equal to ``p`` (see the module doc of jaxfit.cosmo.model).

    astropy's Om0 excludes neutrinos; ours includes the massive species' density in excess
    of its relativistic value, which is computed here from astropy's own Onu0 and Ogamma0.
    ``m_nu`` sits in one of ``floor(Neff)`` species, ``OL = 1 - Om0 - Or - Ok0``.
    """
    masses = [0.0] * (math.floor(p["Neff"]) - 1) + [p["m_nu"]]
    common = {"Tcmb0": p["Tcmb"] * u.K, "Neff": p["Neff"], "m_nu": masses * u.eV}
    probe = FlatLambdaCDM(H0=p["H0"], Om0=p["Om0"], **common)
    nu_mass = probe.Onu0 - 0.22710731766 * p["Neff"] * probe.Ogamma0
    if p["Ok0"] == 0.0:
        return FlatLambdaCDM(H0=p["H0"], Om0=p["Om0"] - nu_mass, **common)
    radiation = probe.Ogamma0 * (1.0 + 0.22710731766 * p["Neff"])
    ode0 = 1.0 - p["Om0"] - radiation - p["Ok0"]
    return LambdaCDM(H0=p["H0"], Om0=p["Om0"] - nu_mass, Ode0=ode0, **common)


@pytest.mark.parametrize("m_nu", [0.0, 0.06])
def test_lcdm_distances_match_astropy(m_nu):
    # reference: astropy FlatLambdaCDM (quad, epsrel 1.5e-8); tolerance 1e-6 relative
    p = {**LCDM.spec.defaults, "m_nu": m_nu}
    ref = to_astropy(p)
    dc, dm, da, dl, hz = _distances(Z_GRID, p)
    assert _rel(dc, ref.comoving_distance(Z_GRID).to_value(u.Mpc)) < 1e-6
    assert _rel(dm, ref.comoving_transverse_distance(Z_GRID).to_value(u.Mpc)) < 1e-6
    assert _rel(da, ref.angular_diameter_distance(Z_GRID).to_value(u.Mpc)) < 1e-6
    assert _rel(dl, ref.luminosity_distance(Z_GRID).to_value(u.Mpc)) < 1e-6
    assert _rel(hz, ref.H(Z_GRID).to_value(u.km / u.s / u.Mpc)) < 1e-6


@pytest.mark.parametrize("ok0", [-0.05, 0.05])
@pytest.mark.parametrize("m_nu", [0.0, 0.06])
def test_curved_transverse_distance_matches_astropy(ok0, m_nu):
    # reference: astropy LambdaCDM with Ode0 = 1 - Om0 - Or - Ok0; tolerance 1e-6 relative
    p = {**LCDM.spec.defaults, "Ok0": ok0, "m_nu": m_nu}
    ref = to_astropy(p)
    assert abs(ref.Ok0 - ok0) < 1e-12
    dc, dm, *_ = _distances(Z_GRID, p)
    assert _rel(dc, ref.comoving_distance(Z_GRID).to_value(u.Mpc)) < 1e-6
    assert _rel(dm, ref.comoving_transverse_distance(Z_GRID).to_value(u.Mpc)) < 1e-6


def test_hubble_and_volume_distance():
    # reference: the definitions D_H = c/H, D_V = (z D_M^2 D_H)^(1/3) with astropy's H and
    # D_M; tolerance 1e-6 relative
    p = {**LCDM.spec.defaults, "m_nu": 0.06}
    ref = to_astropy(p)
    c = const.c.to_value(u.km / u.s)
    d_h = c / ref.H(Z_GRID).to_value(u.km / u.s / u.Mpc)
    d_m = ref.comoving_transverse_distance(Z_GRID).to_value(u.Mpc)
    assert _rel(m.hubble_distance(Z_GRID, p), d_h) < 1e-6
    assert _rel(m.volume_distance(Z_GRID, p), np.cbrt(Z_GRID * d_m**2 * d_h)) < 1e-6


def test_photon_density():
    # references: the spec's Og h^2 = 2.4730e-5 at 2.7255 K (1e-4 relative) and astropy's
    # Ogamma0 h^2 (same constants and formula, 1e-10 relative)
    og_h2 = float(m.omega_gamma_h2(2.7255))
    assert abs(og_h2 / 2.4730e-5 - 1.0) < 1e-4
    ref = FlatLambdaCDM(H0=67.4, Om0=0.315, Tcmb0=2.7255 * u.K)
    assert abs(og_h2 / (ref.Ogamma0 * 0.674**2) - 1.0) < 1e-10


def test_quadrature_converged_under_node_doubling():
    # reference: the same integrals with twice the nodes in twice the panels; the spec asks
    # for 1e-7 relative on 0.01 < z < 1100
    p = {**PBUF.spec.defaults, "m_nu": 0.06}
    dc = m.comoving_distance(Z_GRID, p, "pbuf")
    dc2 = m.comoving_distance(Z_GRID, p, "pbuf", n=2 * m.DC_NODES, panels=2 * m.DC_PANELS)
    assert _rel(dc, dc2) < 1e-7
    zs = np.array([0.0, 1.0, 1020.0, 1090.0, 5000.0])
    rs = m.sound_horizon(zs, p, "pbuf")
    rs2 = m.sound_horizon(zs, p, "pbuf", n=2 * m.RS_NODES, panels=2 * m.RS_PANELS)
    assert _rel(rs, rs2) < 1e-7


# --------------------------------------------------- Planck point, independent reference
def _np_og_h2(tcmb):
    # astropy.constants (CODATA), written out independently of the package
    a_rad_c2 = (4 * const.sigma_sb / const.c**3).to_value(u.kg / u.m**3 / u.K**4)
    h100 = (100 * u.km / u.s / u.Mpc).to_value(1 / u.s)
    rho_crit = 3 * h100**2 / (8 * np.pi * const.G.to_value(u.m**3 / u.kg / u.s**2))
    return a_rad_c2 * tcmb**4 / rho_crit


def _np_background(p):
    """numpy E(z) for massless neutrinos and the numbers the Planck-point checks need."""
    h = p["H0"] / 100.0
    og_h2 = _np_og_h2(p["Tcmb"])
    o_r = og_h2 / h**2 * (1.0 + 7.0 / 8.0 * (4.0 / 11.0) ** (4.0 / 3.0) * p["Neff"])
    o_l = 1.0 - p["Om0"] - o_r

    def efunc(z):
        return math.sqrt(p["Om0"] * (1 + z) ** 3 + o_r * (1 + z) ** 4 + o_l)

    c = const.c.to_value(u.km / u.s)
    quad = {"epsabs": 0.0, "epsrel": 1e-12, "limit": 500}

    def d_m(z):
        return c / p["H0"] * scipy.integrate.quad(lambda x: 1.0 / efunc(x), 0.0, z, **quad)[0]

    def r_s(z):
        # int_z^inf c_s dz/H written in the scale factor: da / (a^2 H), finite at a = 0
        def integrand(a):
            c_s = c / math.sqrt(3.0 * (1.0 + 0.75 * p["Obh2"] / og_h2 * a))
            return c_s / (p["H0"] * math.sqrt(a**4 * efunc(1.0 / a - 1.0) ** 2))

        return scipy.integrate.quad(integrand, 0.0, 1.0 / (1.0 + z), **quad)[0]

    wb, wm = p["Obh2"], p["Om0"] * h**2
    g1 = 0.0783 * wb**-0.238 / (1 + 39.5 * wb**0.763)
    g2 = 0.560 / (1 + 21.1 * wb**1.81)
    z_star = 1048 * (1 + 0.00124 * wb**-0.738) * (1 + g1 * wm**g2)
    b1 = 0.313 * wm**-0.419 * (1 + 0.607 * wm**0.674)
    b2 = 0.238 * wm**0.223
    z_drag = 1291 * wm**0.251 / (1 + 0.659 * wm**0.828) * (1 + b1 * wb**b2)
    r_d_aubourg = 55.154 * math.exp(-72.3 * 0.0006**2) / (wm**0.25351 * wb**0.12807)
    dm_star, rs_star = d_m(z_star), r_s(z_star)
    return {
        "z_star": z_star,
        "rs_star": rs_star,
        "dm_star": dm_star,
        "r_d_aubourg": r_d_aubourg,
        "r_d_eh98": r_s(z_drag),
        "R": math.sqrt(p["Om0"]) * p["H0"] * dm_star / c,
        "l_A": math.pi * dm_star / rs_star,
    }


def test_planck_point_matches_independent_quad():
    # reference: the numpy/scipy.integrate.quad implementation above (epsrel 1e-12);
    # tolerance 1e-6 relative. Values obtained: see the module docstring.
    ref = _np_background(PLANCK)
    z_star = float(m.z_star(PLANCK))
    got = {
        "z_star": z_star,
        "rs_star": float(m.sound_horizon(z_star, PLANCK)),
        "dm_star": float(m.transverse_comoving_distance(z_star, PLANCK)),
        "r_d_aubourg": float(_r_drag(PLANCK)),
        "r_d_eh98": float(_r_drag(PLANCK, method="eh98")),
    }
    got["R"], got["l_A"] = (float(x) for x in _cmb(PLANCK)[:2])
    for key, value in ref.items():
        assert abs(got[key] / value - 1.0) < 1e-6, f"{key}: got {got[key]!r}, quad {value!r}"
    # the spec's HS96 z* is ~1090 (the research code's mis-transcription gave ~2772)
    assert 1085.0 < got["z_star"] < 1095.0, got["z_star"]
    # EH98 r_d is ~2.5% above the calibrated one (documented in r_drag)
    assert 0.02 < got["r_d_eh98"] / got["r_d_aubourg"] - 1.0 < 0.03


def test_cmb_observables_carry_wb_and_ns():
    # reference: the input values, exactly
    obs = np.asarray(_cmb(PLANCK))
    assert obs[2] == PLANCK["Obh2"] and obs[3] == PLANCK["ns"]


def test_massive_neutrino_share_of_om0():
    # references: astropy's density of the massive species today (Onu0 minus the two
    # massless species' share), less its relativistic value Og h^2 0.2271 Neff/3 (module
    # doc), to 1e-10 relative; and, loosely, CAMB's omnuh2 = m_nu / 93.14 eV (astropy's
    # fitting function and its Neff/3 share per species put the full density 0.54% above
    # it; tolerance 1e-2)
    p = {**PLANCK, "m_nu": 0.06}
    w_nu = float(m.omega_nu_mass(p)) * H_PL**2
    ref = to_astropy(p)
    share = 0.22710731766 * 3.046 / 3 * ref.Ogamma0
    full = (ref.Onu0 - 2 * share) * H_PL**2
    assert abs(w_nu / (full - share * H_PL**2) - 1.0) < 1e-10
    assert abs(full / (0.06 / 93.14) - 1.0) < 1e-2
    assert float(m.omega_nu_mass(PLANCK)) == 0.0


# ----------------------------------------------------------------------------------- PBUF
def test_pbuf_reduces_to_lcdm():
    # reference: E2_LCDM; with alpha at its lower bound and k_sat = 1 the PBUF terms are
    # sigma_eff ~ 2e-11; tolerance 1e-9 relative
    p = {**PBUF.spec.defaults, "alpha": 1e-6, "k_sat": 1.0}
    assert _rel(m.E2_pbuf(Z_GRID, p), m.E2_lcdm(Z_GRID, p)) < 1e-9


def test_sigma_eff_at_defaults():
    # reference: the spec's alpha eps0 / sqrt(Rmax) = 5e-4 0.7 / sqrt(1e9) ~ 1e-8 at z = 0
    p = PBUF.spec.defaults
    assert abs(float(m.sigma_eff(0.0, p)) / (5e-4 * 0.7 / math.sqrt(1e9)) - 1.0) < 1e-12
    assert 1e-9 < float(m.sigma_eff(0.0, p)) < 1e-7


@pytest.mark.parametrize("name", ["alpha", "Rmax", "eps0", "n_eps", "k_sat"])
def test_every_pbuf_parameter_reaches_predictions(name):
    # reference: the research defect (no PBUF parameter changed any prediction). Here each
    # has a nonzero, finite derivative of E2 at z = 1 and of l_A at the defaults, and moving
    # it to its upper bound changes E2(z = 1) by far more than round-off (> 1e-12 relative)
    p = PBUF.spec.defaults
    d_e2 = float(_pbuf_e2_grad(p)[name])
    d_la = float(_pbuf_l_a_grad(p)[name])
    assert np.isfinite(d_e2) and d_e2 != 0.0
    assert np.isfinite(d_la) and d_la != 0.0
    moved = m.E2_pbuf(1.0, {**p, name: PBUF.spec[name].upper})
    assert _rel(moved, m.E2_pbuf(1.0, p)) > 1e-12


# ------------------------------------------------------------------ jit / vmap / grad
def test_jit_equals_eager():
    # reference: eager evaluation of the same functions; tolerance 1e-13 relative
    p = {**PBUF.spec.defaults, "m_nu": 0.06, "Ok0": 0.02}
    z = np.array([0.1, 1.0, 1090.0])
    for model in ("lcdm", "pbuf"):
        assert _rel(jax.jit(m.E, static_argnames="model")(z, p, model), m.E(z, p, model)) < 1e-13
        jitted_dc = jax.jit(m.comoving_distance, static_argnames="model")
        assert _rel(jitted_dc(z, p, model), m.comoving_distance(z, p, model)) < 1e-13
        assert _rel(_cmb(p, model), m.cmb_observables(p, model)) < 1e-13
        for method in m.R_DRAG_METHODS:
            assert _rel(_r_drag(p, model, method), m.r_drag(p, model, method)) < 1e-13


def test_vmap_over_parameter_dicts_equals_loop():
    # reference: a Python loop over the 8 members; tolerance 1e-13 relative
    rng = np.random.default_rng(7)
    base = {**LCDM.spec.defaults, "m_nu": 0.06}
    batch = {k: np.full(8, v) for k, v in base.items()}
    batch["H0"] = rng.uniform(60.0, 75.0, 8)
    batch["Om0"] = rng.uniform(0.25, 0.35, 8)
    batch["Obh2"] = rng.uniform(0.021, 0.023, 8)
    batch["Ok0"] = rng.uniform(-0.05, 0.05, 8)
    z = np.array([0.5, 2.0])

    def predict(p):
        return jnp.concatenate([m.cmb_observables(p), m.volume_distance(z, p), m.r_drag(p)[None]])

    batched = jax.jit(jax.vmap(predict))(batch)
    single = jax.jit(predict)
    for i in range(8):
        assert _rel(batched[i], single({k: v[i] for k, v in batch.items()})) < 1e-13


@pytest.mark.parametrize("name", ["H0", "Om0", "Obh2"])
def test_grad_of_acoustic_scale_matches_finite_difference(name):
    # reference: central finite difference with relative step 1e-5 (truncation ~1e-10);
    # tolerance 1e-6 relative
    grad = float(_l_a_grad(PLANCK)[name])
    step = 1e-5 * PLANCK[name]
    up = float(_cmb({**PLANCK, name: PLANCK[name] + step})[1])
    down = float(_cmb({**PLANCK, name: PLANCK[name] - step})[1])
    fd = (up - down) / (2 * step)
    assert np.isfinite(grad) and abs(grad / fd - 1.0) < 1e-6, (grad, fd)


@pytest.mark.parametrize("z", [1.0, 1100.0])
def test_grad_at_zero_curvature(z):
    # reference: central finite difference across Ok0 = 0 (step 1e-4, both sides on the
    # exact sinh / sin branches at z = 1100); tolerance 1e-6 relative
    p = {**LCDM.spec.defaults, "Ok0": 0.0}
    grad = float(jax.grad(lambda q: m.transverse_comoving_distance(z, q))(p)["Ok0"])
    step = 1e-4
    fd = (
        float(m.transverse_comoving_distance(z, {**p, "Ok0": step}))
        - float(m.transverse_comoving_distance(z, {**p, "Ok0": -step}))
    ) / (2 * step)
    assert np.isfinite(grad) and abs(grad / fd - 1.0) < 1e-6, (grad, fd)
    assert np.isfinite(float(_l_a_grad(p)["Ok0"]))


# ----------------------------------------------------------------------------- registry
def test_registry_and_unknown_model():
    # reference: the spec's parameter table (defaults and bounds) and frozen flags
    assert set(m.MODELS) == {"lcdm", "pbuf"}
    with pytest.raises(KeyError, match="lcdm, pbuf"):
        m.get_model("foo")
    spec = PBUF.spec
    table = {
        "H0": (67.4, 20, 150),
        "Om0": (0.315, 0.01, 0.99),
        "Obh2": (0.02237, 0.005, 0.1),
        "ns": (0.9649, 0.5, 1.5),
        "Neff": (3.046, 1, 10),
        "Tcmb": (2.7255, 2, 3),
        "m_nu": (0.0, 0.0, 1.0),
        "Ok0": (0.0, -0.3, 0.3),
        "alpha": (5e-4, 1e-6, 1e-2),
        "Rmax": (1e9, 1e6, 1e12),
        "eps0": (0.7, 0, 2),
        "n_eps": (0.0, -2, 2),
        "k_sat": (0.9762, 0.1, 2),
    }
    assert set(spec.names) == set(table)
    for name, (default, lower, upper) in table.items():
        assert (spec[name].default, spec[name].lower, spec[name].upper) == (default, lower, upper)
    assert set(spec.frozen_names) == {"Neff", "Tcmb", "m_nu", "Ok0"}
    assert LCDM.spec.names == spec.names[: len(LCDM.spec.names)]


def test_missing_parameter_is_named():
    # reference: the error contract (missing names listed)
    p = dict(LCDM.spec.defaults)
    del p["Obh2"]
    with pytest.raises(KeyError, match="Obh2"):
        m.comoving_distance(1.0, p)
