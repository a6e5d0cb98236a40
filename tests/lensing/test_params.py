"""Tests of the simulator's parameters and configuration (jaxfit.lensing.params)."""

import dataclasses
import math

import numpy as np
import pytest

import jaxfit  # noqa: F401  (switches on float64)
from jaxfit.core.params import Param
from jaxfit.lensing import params as m


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"subhalo": "nfw"}, "subhalo"),
        ({"psf_sigma": -1.0}, "psf_sigma"),
        ({"n_pix": 3}, "n_pix"),
        ({"n_pix": 64.0}, "n_pix"),
        ({"n_pix": True}, "n_pix"),
        ({"psf_edge": "wrap"}, "psf_edge"),
        ({"theta_E_main": 0.0}, "theta_E_main"),
        ({"theta_E_main": float("nan")}, "theta_E_main"),
        ({"theta_E_sub_factor": -0.1}, "theta_E_sub_factor"),
        ({"sub_radius_range": (0.3, 0.1)}, "sub_radius_range"),
        ({"sub_radius_range": (0.1,)}, "sub_radius_range"),
        ({"tnfw_r_t": -0.2}, "tnfw_r_t"),
        ({"flux_noise_sigma": -0.1}, "flux_noise_sigma"),
        ({"vel_clip": (1.0, -1.0)}, "vel_clip"),
        ({"remask_after_noise": 1}, "remask_after_noise"),
        ({"pixel_scale": 0.0}, "pixel_scale"),
        ({"shear_gamma1": "0.1"}, "shear_gamma1"),
    ],
)
def test_config_rejects_bad_fields(kwargs, field):
    with pytest.raises(ValueError, match=field):
        m.LensSimConfig(**kwargs)


def test_config_is_hashable_and_normalised():
    a = m.LensSimConfig(sub_radius_range=[0.1, 0.3], n_pix=np.int64(64), psf_sigma=1)
    b = m.LensSimConfig()
    assert a == b and hash(a) == hash(b) and a.sub_radius_range == (0.1, 0.3)
    with pytest.raises(dataclasses.FrozenInstanceError):
        b.n_pix = 32


def test_sim_params_declare_every_number_once_with_unit_and_doc():
    config = m.LensSimConfig()
    fields = {f.name for f in dataclasses.fields(m.LensSimConfig)}
    for p in m.SIM_PARAMS.params:
        assert isinstance(p, Param) and p.name in fields and p.doc
        assert getattr(config, p.name) == p.default  # the config's default is the Param's
    assert m.SIM_PARAMS["psf_sigma"].unit == "pixels"
    assert m.SIM_PARAMS["theta_E_main"].unit == "image units"


@pytest.mark.parametrize("name", ["theta_E_sub_factor", "psf_sigma", "flux_noise_sigma",
                                  "vel_noise_sigma", "sis_softening"])
def test_config_enforces_the_declared_bounds(name):
    lower = m.SIM_PARAMS[name].lower
    assert m.LensSimConfig(**{name: lower}) is not None  # a closed bound is allowed
    with pytest.raises(ValueError, match=name):
        m.LensSimConfig(**{name: lower - 1e-3})


def test_sim_params_pytree_from_config():
    config = m.LensSimConfig(n_pix=8, theta_E_sub_factor=0.2, sub_radius_range=(0.1, 0.4),
                             psf_sigma=0.0, flux_noise_sigma=0.0, vel_noise_sigma=0.0)
    p = m.sim_params(config)
    assert m.sim_params(p) is p
    assert float(p.theta_E_sub) == pytest.approx(0.1, rel=1e-15)
    assert float(p.radius_offset) == 1.1 and float(p.radius_width) == pytest.approx(0.3)
    assert float(p.tnfw_kappa_s) == config.tnfw_kappa_s and math.isfinite(config.tnfw_kappa_s)
    np.testing.assert_array_equal(np.asarray(p.psf), np.eye(8))  # no PSF: the identity
    assert (p.n_pix, p.blur, p.noisy) == (8, False, False)
    assert p.astype(np.float32).theta_E_main.dtype == np.float32
    with pytest.raises(TypeError, match="config"):
        m.sim_params({"n_pix": 8})
