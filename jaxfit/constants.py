"""Physical constants and units, each defined once with its source.

Every jaxfit domain imports its constants from here (the domain modules keep their old
names as aliases). Values are the exact SI defining constants (SI 2019), the IAU nominal
values, or the numbers astropy uses, so that jaxfit's distances and masses agree with
astropy to rounding.
"""

from __future__ import annotations

import math

# ------------------------------------------------------------------- SI defining constants
C_M_S = 299_792_458.0
"""Speed of light in vacuum [m/s] (SI 2019, exact)."""

C_KM_S = 299_792.458
"""Speed of light in vacuum [km/s] (SI 2019, exact)."""

H_PLANCK = 6.62607015e-34
"""Planck constant [J s] (SI 2019, exact)."""

K_BOLTZMANN = 1.380649e-23
"""Boltzmann constant [J/K] (SI 2019, exact)."""

E_CHARGE = 1.602176634e-19
"""Elementary charge [C] (SI 2019, exact); k_B / e is k_B in eV/K."""

# ---------------------------------------------------------------------------- gravitation
G_NEWTON_SI = 6.67430e-11
"""Newton's constant [m^3 kg^-1 s^-2] (CODATA 2018, unchanged in CODATA 2022; astropy's)."""

GM_SUN_M3_S2 = 1.3271244e20
"""Nominal solar mass parameter GM_sun [m^3 s^-2] (IAU 2015 Resolution B3, exact)."""

M_SUN_KG = GM_SUN_M3_S2 / G_NEWTON_SI
"""Solar mass [kg] = GM_sun / G (1.988409870698051e30, astropy's ``M_sun``)."""

M_PROTON_KG = 1.67262192595e-27
"""Proton mass [kg] (CODATA 2022)."""

# ---------------------------------------------------------------------------------- lengths
KPC_M = 3.0856775814913673e19
"""Kiloparsec [m]: 1000 * 648000/pi au, au = 149597870700 m (IAU 2012 B2, exact)."""

MPC_M = 3.085677581491367e22
"""Megaparsec [m]: astropy's ``u.Mpc.to(u.m)`` (the same definition as :data:`KPC_M`,
rounded once more in floating point), kept so distances match astropy bit for bit."""

# ----------------------------------------------------------------------------------- angles
ARCSEC_RAD = math.pi / 648000.0
"""One arcsecond [rad] (pi / (180 * 3600), exact)."""
