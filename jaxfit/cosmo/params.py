"""The cosmological parameters, declared once: names, defaults, bounds, units and meaning.

- :data:`LCDM_PARAMS`: the LCDM background and the CMB distance-prior observables.
- :data:`PBUF_PARAMS`: the five PBUF parameters PBUF adds to LCDM's.
- :data:`LCDM_SPEC`, :data:`PBUF_SPEC`: their :class:`~jaxfit.core.params.ParamSpec`, the
  ``spec`` of the models of :mod:`jaxfit.cosmo.model`; the parameter store takes its
  built-in defaults and bounds from them, and a fit frees their non-frozen parameters.

Units: H0 in km/s/Mpc, Tcmb in K, m_nu in eV; densities are dimensionless (fractions of
today's critical density, or ``w = O h^2``). ``Neff``, ``Tcmb``, ``m_nu`` and ``Ok0`` are
frozen: the CMB distance priors (and BAO, SN) barely constrain them, so fits fix them
unless asked otherwise. The defaults are Planck 2018 values with massless neutrinos
(Planck's baseline has ``m_nu = 0.06``).
"""

from __future__ import annotations

from jaxfit.core.params import Param, ParamSpec

LCDM_PARAMS = (
    Param("H0", 67.4, 20.0, 150.0, unit="km/s/Mpc", doc="Hubble constant"),
    Param("Om0", 0.315, 0.01, 0.99, doc="matter today: baryons + CDM + massive neutrinos"),
    Param("Obh2", 0.02237, 0.005, 0.1, doc="physical baryon density Ob h^2"),
    Param("ns", 0.9649, 0.5, 1.5, doc="scalar spectral index"),
    # frozen: the distance priors do not constrain these
    Param("Neff", 3.046, 1.0, 10.0, frozen=True, doc="effective number of neutrino species"),
    Param("Tcmb", 2.7255, 2.0, 3.0, frozen=True, unit="K", doc="CMB temperature today"),
    Param(
        "m_nu",
        0.0,
        0.0,
        1.0,
        frozen=True,
        unit="eV",
        doc="summed neutrino mass in one massive species (0 = massless; Planck: 0.06)",
    ),
    Param("Ok0", 0.0, -0.3, 0.3, frozen=True, doc="curvature density today"),
)
"""LCDM: expansion, matter and baryon content, spectral index; radiation and curvature."""

PBUF_PARAMS = (
    Param("alpha", 5e-4, 1e-6, 1e-2, doc="PBUF coupling"),
    Param("Rmax", 1e9, 1e6, 1e12, doc="PBUF maximal scale (sigma_eff ~ 1/sqrt(Rmax))"),
    Param("eps0", 0.7, 0.0, 2.0, doc="PBUF eps(z=0)"),
    Param("n_eps", 0.0, -2.0, 2.0, doc="PBUF eps(z) power-law index in (1+z)"),
    Param("k_sat", 0.9762, 0.1, 2.0, doc="PBUF saturation / radiation rescaling"),
)
"""PBUF's additions to LCDM: the sigma_eff term and the saturated radiation term."""

LCDM_SPEC = ParamSpec(LCDM_PARAMS)
PBUF_SPEC = ParamSpec(LCDM_PARAMS + PBUF_PARAMS)
