"""Physical ceilings of the gravity inputs, and the checks that apply them at the boundary.

A number read from a file or an option that is finite but far outside what any galaxy or
cluster can have is almost always a unit mistake (m/s for km/s, pc for kpc) or a corrupt
file; run through the kernel it does not fail, it overflows to NaN or gives a plausible but
meaningless fit. The ceilings below are generous (one to two orders of magnitude above the
largest real value) so they never reject real data, and every check names the input:

    <input> must be <what was expected>, got <the value>
"""

from __future__ import annotations

from jaxfit.core import checks

V_MAX_KMS = 1.0e4
"""Ceiling of every speed [km/s]: rotation velocities, their errors, baryonic components
and velocity dispersions. The fastest rotating discs reach ~500 km/s and the most massive
clusters' dispersions ~2000 km/s; 1e4 km/s (3% of c, where the Newtonian kernel still
holds) is 5x above any of them, and a speed given in m/s instead of km/s lands far
above it."""

R_MAX_KPC = 1.0e4
"""Ceiling of every galactocentric or cluster radius [kpc]: SPARC curves end below 110 kpc,
cluster Einstein radii below 300 kpc; 10 Mpc is beyond any bound system, and a radius in pc
instead of kpc of the larger galaxies lands above it."""

D_MAX_MPC = 1.0e4
"""Ceiling of a galaxy distance [Mpc]: the Hubble radius c/H0 is about 4.3 Gpc (SPARC's
farthest galaxy is at 128 Mpc), so 10 Gpc is no distance at all."""

UPSILON_MAX = 10.0
"""Ceiling of a stellar mass-to-light ratio at 3.6 um [Msun/Lsun]: stellar populations give
0.2-1 (McGaugh & Schombert 2014; SPARC adopts 0.5 disc, 0.7 bulge)."""


def speed(value, name: str) -> float:
    """``value`` as a speed in (0, :data:`V_MAX_KMS`] km/s (``name`` names the input)."""
    try:
        return checks.real(value, name, positive=True, high=V_MAX_KMS)
    except ValueError:
        raise ValueError(
            f"{name} must be a speed in (0, {V_MAX_KMS:g}] km/s, got {value!r}"
        ) from None


def band(r_min, r_max, names: tuple[str, str] = ("r_min", "r_max")) -> tuple[float, float]:
    """``(r_min, r_max)`` [kpc] checked as ``0 < r_min < r_max <= R_MAX_KPC``."""
    lo = checks.real(r_min, f"{names[0]} [kpc]", positive=True, high=R_MAX_KPC)
    hi = checks.real(r_max, f"{names[1]} [kpc]", positive=True, high=R_MAX_KPC)
    if not lo < hi:
        raise ValueError(
            f"need {names[0]} < {names[1]} (kpc), got {names[0]}={lo:g}, {names[1]}={hi:g}"
        )
    return lo, hi
