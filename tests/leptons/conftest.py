"""The independent numpy reference of the lepton energy and mass chi2, shared by the
objective tests (agreement to 1e-12) and the fit tests (scipy differential evolution on it,
as the research optimised)."""

import math

import numpy as np
import pytest
from numpy.polynomial.legendre import leggauss

from jaxfit.leptons.data import load_targets

M = np.asarray(load_targets().masses)
_X, _WT = leggauss(40)


def np_energies(R_c, U, A, beta, w, r_min=0.01, r_max=10.0, theta_min=0.01, eta=0.03,
                R_ref=0.88):
    """Independent numpy energy of the "vortex" flow (the spec's formulas), vectorised over
    leptons: 40-node Gauss-Legendre on [r_min, R_c] and [R_c, R] (exact: the integrands are
    polynomials of degree <= 20 there), the exterior velocity energy in closed form, and the
    slope of the density deficit written out analytically (jaxfit takes it by autodiff; its
    closed-form exterior is checked against scipy dblquad in test_model.py). Agrees with
    jaxfit to ~1e-13 relative."""
    R_c, U, A = (np.asarray(v, dtype=float) for v in (R_c, U, A))
    R = R_c + w
    cm = math.cos(theta_min)
    c_w, s_w = 2.0 / 3.0 * cm**3, 2.0 * cm - 2.0 / 3.0 * cm**3
    e_in = e_stab = e_grad = 0.0
    for a, b in ((np.full_like(R_c, r_min), R_c), (R_c, R)):
        half = 0.5 * (b - a)[:, None]
        r = a[:, None] + half * (_X + 1.0)
        wt = half * _WT
        Rr, Uu, Aa, Rc = R[:, None], U[:, None], A[:, None], R_c[:, None]
        q = (r / Rr) ** 2
        x = np.clip((r - Rc) / w, 0.0, 1.0)
        taper = 1.0 - (6 * x**5 - 15 * x**4 + 10 * x**3)
        dtaper = np.where((r > Rc) & (r < Rr), -(30 * x**4 - 60 * x**3 + 30 * x**2) / w, 0.0)
        P, dP = (1.0 - q) ** 2, -4.0 * (1.0 - q) * r / Rr**2
        drho, ddrho = -Aa * P * taper, -Aa * (dP * taper + P * dtaper)
        f, g = -1.5 * Uu * (1.0 - q), 1.5 * Uu * (1.0 - 2.0 * q)
        e_in = e_in + np.pi * np.sum(wt * r**2 * (1 + drho) * (c_w * f**2 + s_w * g**2), -1)
        e_stab = e_stab + 4 * np.pi * np.sum(wt * r**2 * drho**2, -1)
        e_grad = e_grad + 4 * np.pi * np.sum(wt * r**2 * ddrho**2, -1)
    R3 = R**3
    cube, log = (r_max**3 - R3) / 3.0, np.log(r_max / R)
    inv = R3**2 / 3.0 * (1.0 / R3 - 1.0 / r_max**3)
    e_ext = np.pi * U**2 * (c_w * (cube - 2 * R3 * log + inv) + s_w * (cube + R3 * log + inv / 4))
    lam = eta * beta * R_ref**2 / 11.0
    return e_in + e_ext - beta * e_stab + lam * e_grad


def np_mass_chi2_vector(x, beta, w, sigma_model=1e-4):
    """The mass chi2 of a flat (R_c, U, A) x (e, mu, tau) vector, numpy only."""
    x = np.asarray(x, dtype=float).reshape(3, 3)
    E = np_energies(x[:, 0], x[:, 1], x[:, 2], beta, w)
    return np_profiled_chi2(E, M, sigma_model * M)[1]


def np_profiled_chi2(E, m, sigma):
    """``(S_opt, chi2)`` of energies ``E`` against masses ``m``, the spec's formulas."""
    S = np.sum(m * E / sigma**2) / np.sum(E**2 / sigma**2)
    return S, float(np.sum(((S * E - m) / sigma) ** 2))


@pytest.fixture(scope="session")
def numpy_energies():
    """:func:`np_energies`: E_total of e, mu, tau, numpy only."""
    return np_energies


@pytest.fixture(scope="session")
def numpy_profiled_chi2():
    """:func:`np_profiled_chi2`: ``(S_opt, chi2)`` of energies against masses."""
    return np_profiled_chi2


@pytest.fixture(scope="session")
def numpy_mass_chi2():
    """:func:`np_mass_chi2_vector`: the mass chi2 of a flat 9-vector, numpy only."""
    return np_mass_chi2_vector
