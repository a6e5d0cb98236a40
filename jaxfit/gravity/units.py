"""The constants of gravity's units: kpc, km/s, Msun (and cm, g for gas densities).

Every gravity room takes Newton's constant and the unit conversions from here, so a value
is defined once (the SI constants themselves come from :mod:`jaxfit.constants`).
"""

from __future__ import annotations

from jaxfit.constants import ARCSEC_RAD, GM_SUN_M3_S2, KPC_M, M_PROTON_KG, M_SUN_KG

G_NEWTON = GM_SUN_M3_S2 / KPC_M / 1.0e6
"""Newton's constant [kpc km^2 s^-2 Msun^-1] = GM_sun / (1 kpc) in km^2/s^2 = 4.30091727e-6,
the one value every gravity module uses. The spec's rounded 4.30091e-6 differs by 1.7e-6
relative; the unrounded value makes Sigma_crit match astropy's constants to 1e-6."""

KMS2_PER_KPC_TO_SI = 1e6 / KPC_M
"""One (km/s)^2 / kpc in m/s^2 (1e6 m^2/s^2 over one kpc in metres)."""

KPC_CM = 100.0 * KPC_M
"""Kiloparsec [cm]."""

M_SUN_G = 1e3 * M_SUN_KG
"""Solar mass [g] (1.988409870698051e33, as ``astropy.constants.M_sun``)."""

M_P_G = 1e3 * M_PROTON_KG
"""Proton mass [g] (CODATA 2022)."""

NE_TO_RHO = M_P_G * KPC_CM**3 / M_SUN_G
"""Mass density [Msun/kpc^3] of one proton mass per cm^3: ``rho = mu_e NE_TO_RHO n_e``
(about 2.4727e7)."""

__all__ = ["ARCSEC_RAD", "G_NEWTON", "KMS2_PER_KPC_TO_SI", "KPC_CM", "M_P_G", "M_SUN_G",
           "NE_TO_RHO"]
