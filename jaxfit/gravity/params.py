"""The parameters of gravity, declared once: names, defaults, bounds, units and meaning.

- :data:`THEORY`: the theory kernel (:mod:`jaxfit.gravity.kernel`), with the bounds of the
  research Milky Way fit. Every fit of the kernel (MW, joint) optimises these.
- :data:`EMPIRICAL`: the research empirical kernel (:mod:`jaxfit.gravity.empirical`);
  :data:`RESEARCH_MW_EMPIRICAL` is its Milky Way fit, the target of the MW kernel fit.
- :data:`A_CLUSTER`: the cluster amplitude, profiled analytically by the cluster fits.
- :data:`SIGMA_V`: the velocity dispersions of each system (km/s).

The read-only tables :data:`THEORY_PARAMS`, :data:`THEORY_DEFAULTS`, :data:`THEORY_BOUNDS`,
:data:`EMPIRICAL_DEFAULTS` and :data:`A_CLUSTER_BOUNDS` are derived from the declarations.

Phase sign: ``A_global`` is fitted on (-50, 50); results report ``A_global = |A|`` and
``phase_sign = sign(A)`` (:func:`signed_params`), the sign that aligns the kernel with its
target (K unchanged).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from jaxfit.core.params import Param, ParamSpec
from jaxfit.core.precision import require_float64

THEORY = (
    Param("A_global", 1.0, -50.0, 50.0, unit="",
          doc="kernel amplitude; its sign is the phase sign"),
    Param("alpha", 3.5, -2.0, 8.0, unit="", doc="slope of the fluctuation spectrum"),
    Param("lam_coh", 5.0, 0.5, 150.0, unit="kpc", doc="coherence wavelength"),
    Param("lam_cut", 300.0, 20.0, 3000.0, unit="kpc", doc="cut-off wavelength of the spectrum"),
    # the empirical kernel's coherence length (research MW fit and published: ~5 kpc), so
    # with the default burr_p, burr_n the envelope is the empirical C(R)
    Param("burr_ell0", 5.0, 2.0, 80.0, unit="kpc", doc="scale of the Burr-XII envelope"),
    Param("Q_ref", 1.0, 0.1, 10.0, unit="", doc="scale of the resonance quality Q"),
)
"""Parameters of the theory kernel (:func:`~jaxfit.gravity.kernel.theory_kernel`), with the
bounds of the research MW fit."""

THEORY_PARAMS = tuple(p.name for p in THEORY)
"""Names of the theory parameters, in the order of flat vectors."""

THEORY_DEFAULTS = MappingProxyType({p.name: p.default for p in THEORY})
"""Default theory parameters (read-only)."""

THEORY_BOUNDS = MappingProxyType({p.name: (p.lower, p.upper) for p in THEORY})
"""Bounds of the research MW fit, ``name -> (lower, upper)`` (read-only; the kernel itself
does not enforce them)."""

EMPIRICAL = (
    Param("A", 1.5, unit="", doc="amplitude of the research multiplier"),
    Param("ell0", 5.0, unit="kpc", doc="coherence length of the Burr-XII C(R)"),
    Param("p", 0.75, unit="", doc="Burr-XII exponent p"),
    Param("n_coh", 0.5, unit="", doc="Burr-XII exponent n"),
    Param("lam_peak", 15.0, unit="kpc", doc="peak wavelength of the log-normal window"),
    Param("sigma_ln", 1.0, unit="", doc="width of the log-normal window in ln lambda"),
)
"""Parameters of the research multiplier
(:func:`~jaxfit.gravity.empirical.empirical_multiplier`)."""

EMPIRICAL_DEFAULTS = MappingProxyType({p.name: p.default for p in EMPIRICAL})
"""Defaults of the research multiplier (read-only; kpc for lengths)."""

RESEARCH_MW_EMPIRICAL = MappingProxyType(
    {"A": 5.6949, "ell0": 5.0, "p": 0.757, "n_coh": 0.5, "lam_peak": 94.452, "sigma_ln": 0.59009}
)
"""The research Milky Way fit of the multiplier (ell0, p, n_coh held fixed)."""

A_CLUSTER = Param("A_cluster", 1.0, 0.01, 1000.0, unit="",
                  doc="cluster amplitude multiplying the unit-amplitude kernel")
"""The cluster amplitude; its bounds are the research search range (``--A-cluster-min/max``)."""

A_CLUSTER_BOUNDS = (A_CLUSTER.lower, A_CLUSTER.upper)
"""Research search range of the cluster amplitude."""

SIGMA_V = MappingProxyType({"mw": 30.0, "sparc": 25.0, "cluster": 1000.0})
"""Default velocity dispersions of each system, km/s (spec)."""

BULGE_TO_DISC_UPSILON = 1.4
"""Y_b / Y_d, bulge over disc mass-to-light ratio in the per-galaxy M/L fit: the SPARC
convention 0.7 / 0.5 (Lelli+2016)."""


def param_values(params: Mapping | None, defaults: Mapping, what: str) -> dict:
    """``params`` completed with ``defaults`` as float64 arrays (traced values pass).

    Raises:
        ValueError: an unknown name (the message lists the valid ones).
    """
    params = {} if params is None else params
    unknown = [name for name in params if name not in defaults]
    if unknown:
        raise ValueError(
            f"unknown {what} parameter {', '.join(map(repr, unknown))}; "
            f"valid names: {', '.join(defaults)}"
        )
    return {name: require_float64(params.get(name, v), name) for name, v in defaults.items()}


def theory_spec(fit_q_ref: bool = True, bounds: Mapping | None = None) -> ParamSpec:
    """The theory parameters as a :class:`~jaxfit.core.params.ParamSpec` for the fits, with
    the MW-fit bounds (``bounds`` overrides some, ``{name: (lower, upper)}``); ``Q_ref``
    frozen at 1 unless ``fit_q_ref`` (the research ``--no-Q-ref``)."""
    spec = ParamSpec(THEORY)
    for name, (lower, upper) in dict(bounds or {}).items():
        spec = spec.replace(name, lower=float(lower), upper=float(upper))
    return spec if fit_q_ref else spec.freeze(["Q_ref"])


def signed_params(params: Mapping[str, float]) -> tuple[dict[str, float], float]:
    """``(params with A_global = |A|, phase_sign = sign(A))`` (module doc)."""
    params = {k: float(v) for k, v in params.items()}
    sign = -1.0 if params["A_global"] < 0 else 1.0
    params["A_global"] = abs(params["A_global"])
    return params, sign
