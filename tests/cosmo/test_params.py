"""Tests of jaxfit.cosmo.params: the parameters are declared once, with units, and every
user of them (the model registry, the fit's default lists, the store's built-ins) takes
them from there."""

from __future__ import annotations

from jaxfit.cosmo.fit import DEFAULT_OPTIMIZE
from jaxfit.cosmo.model import MODELS
from jaxfit.cosmo.params import LCDM_PARAMS, LCDM_SPEC, PBUF_PARAMS, PBUF_SPEC
from jaxfit.cosmo.store import OptimizedParameterStore


def test_lcdm_parameters_with_their_units_and_frozen_flags():
    assert LCDM_SPEC.names == ("H0", "Om0", "Obh2", "ns", "Neff", "Tcmb", "m_nu", "Ok0")
    units = {p.name: p.unit for p in LCDM_PARAMS if p.unit}
    assert units == {"H0": "km/s/Mpc", "Tcmb": "K", "m_nu": "eV"}
    # the distance priors barely constrain these, so fits hold them fixed by default
    assert {p.name for p in LCDM_PARAMS if p.frozen} == {"Neff", "Tcmb", "m_nu", "Ok0"}
    assert LCDM_SPEC.defaults["m_nu"] == 0.0  # massless by default (Planck: 0.06 eV)
    assert all(p.doc for p in LCDM_PARAMS + PBUF_PARAMS)


def test_pbuf_extends_lcdm():
    assert PBUF_SPEC.names == LCDM_SPEC.names + ("alpha", "Rmax", "eps0", "n_eps", "k_sat")
    assert not any(p.frozen for p in PBUF_PARAMS)


def test_the_registry_and_the_fit_use_these_declarations():
    assert MODELS["lcdm"].spec is LCDM_SPEC and MODELS["pbuf"].spec is PBUF_SPEC
    # the seed's default lists, now derived from the frozen flags
    assert DEFAULT_OPTIMIZE == {
        "lcdm": ("H0", "Om0", "Obh2", "ns"),
        "pbuf": ("H0", "Om0", "Obh2", "ns", "alpha", "Rmax", "eps0", "n_eps", "k_sat"),
    }


def test_the_store_builtins_are_these_defaults_and_bounds(tmp_path):
    store = OptimizedParameterStore(tmp_path)
    assert store.builtins == {"lcdm": LCDM_SPEC.defaults, "pbuf": PBUF_SPEC.defaults}
    assert store.bounds["pbuf"]["k_sat"] == (0.1, 2.0)
    assert store.bounds["lcdm"]["H0"] == (20.0, 150.0)
