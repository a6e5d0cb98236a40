"""jaxfit.constants against astropy's constants and units (the reference every domain's
distances and masses are compared with elsewhere in the tests)."""

import astropy.constants as const
import astropy.units as u

from jaxfit import constants


def test_constants_equal_astropy():
    assert constants.C_M_S == const.c.to_value(u.m / u.s)
    assert constants.C_KM_S == const.c.to_value(u.km / u.s)
    assert constants.H_PLANCK == const.h.to_value(u.J * u.s)
    assert constants.K_BOLTZMANN == const.k_B.to_value(u.J / u.K)
    assert constants.E_CHARGE == const.e.si.value
    assert constants.G_NEWTON_SI == const.G.to_value(u.m**3 / u.kg / u.s**2)
    assert constants.GM_SUN_M3_S2 == const.GM_sun.to_value(u.m**3 / u.s**2)
    assert constants.M_SUN_KG == const.M_sun.to_value(u.kg)
    assert constants.M_PROTON_KG == const.m_p.to_value(u.kg)
    assert abs(constants.ARCSEC_RAD / u.arcsec.to(u.rad) - 1.0) <= 2.3e-16
    # the kiloparsec to 1 ulp, the megaparsec bit for bit (module doc)
    assert abs(constants.KPC_M / u.kpc.to(u.m) - 1.0) <= 2.3e-16
    assert constants.MPC_M == u.Mpc.to(u.m)


def test_domains_use_the_one_definition():
    from jaxfit.cosmo import data as cosmo_data
    from jaxfit.cosmo import model as cosmo_model
    from jaxfit.gravity import clusters, model

    assert cosmo_model.C_KM_S is constants.C_KM_S and cosmo_data.C_KM_S is constants.C_KM_S
    assert clusters.C_KM_S is constants.C_KM_S
    assert model.KPC_M is constants.KPC_M and clusters.KPC_M is constants.KPC_M
    assert clusters.ARCSEC_RAD is constants.ARCSEC_RAD
