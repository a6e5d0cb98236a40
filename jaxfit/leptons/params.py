"""The 11 lepton parameters, declared once: names, defaults, bounds, units and meaning.

Each charged lepton l in (e, mu, tau) is a Hill vortex with its own core radius ``R_c_l``,
speed ``U_l`` and density-deficit depth ``A_l``; the vacuum stiffness ``beta`` and the
boundary-layer width ``w`` are shared (:mod:`jaxfit.leptons.model`). Lengths and speeds
are in the model's own dimensionless units; a global scale ``S`` (profiled in the
objectives, never a parameter) turns energies into MeV.

:data:`PARAMS` holds the spec's bounds, with each lepton parameter starting mid-range and
``beta``, ``w`` frozen at :data:`~jaxfit.leptons.model.BETA_REF` and :data:`DEFAULT_W`.
:func:`lepton_spec` builds the :class:`~jaxfit.core.params.ParamSpec` of a fit from them.
"""

from __future__ import annotations

from collections.abc import Mapping

from jaxfit.core import checks
from jaxfit.core.diagnostics import BOUND_FRACTION, pinned
from jaxfit.core.params import Param, ParamSpec
from jaxfit.leptons.data import LEPTONS
from jaxfit.leptons.model import BETA_REF

DEFAULT_W = 0.02
"""Default boundary-layer width (model length units), the research's."""

LEPTON_BOUNDS = {
    "e": {"R_c": (0.5, 1.5), "U": (0.01, 0.1), "A": (0.7, 1.0)},
    "mu": {"R_c": (0.05, 0.3), "U": (0.05, 0.2), "A": (0.7, 1.0)},
    "tau": {"R_c": (0.3, 0.8), "U": (0.02, 0.15), "A": (0.7, 1.0)},
}
"""The spec's bounds of each lepton's ``(R_c, U, A)``: ``{lepton: {quantity: (lower, upper)}}``
(model units; ``A`` dimensionless)."""

_UNITS = {"R_c": "model length", "U": "model speed", "A": ""}
_DOCS = {
    "R_c": "core radius of the {} vortex (full density deficit inside)",
    "U": "speed of the {} vortex",
    "A": "depth of the {}'s density deficit; 0 <= A < 1 keeps the density positive",
}


def _mid_range(name: str, lower: float, upper: float, unit: str, doc: str) -> Param:
    # the default is computed, not written out, so start 0 of every fit is bit-for-bit the
    # point it always was
    return Param(name, 0.5 * (lower + upper), lower, upper, unit=unit, doc=doc)


PARAMS = (
    *(
        _mid_range(f"{q}_{lep}", lo, hi, _UNITS[q], _DOCS[q].format(lep))
        for lep, table in LEPTON_BOUNDS.items()
        for q, (lo, hi) in table.items()
    ),
    Param("beta", BETA_REF, 2.5, 3.5, frozen=True, doc="vacuum stiffness (dimensionless)"),
    Param("w", DEFAULT_W, 0.005, 0.05, frozen=True, unit="model length",
          doc="width of the boundary layer over which the density deficit tapers to zero"),
)
"""Every parameter with the spec's bounds. The core's sigmoid keeps ``A`` below 1 inside a
fit; a start or value with ``A >= 1`` is refused (:func:`check_values`)."""

LEPTON_PARAMS = tuple(f"{q}_{lep}" for lep in LEPTONS for q in ("R_c", "U", "A"))
"""The 9 lepton parameter names, in spec order."""

SHARED_BOUNDS = {p.name: (p.lower, p.upper) for p in PARAMS if p.name in ("beta", "w")}
"""Bounds of the shared vacuum stiffness and boundary-layer width, read from :data:`PARAMS`."""


def check_values(values: Mapping[str, float] | None, what: str = "x0") -> dict[str, float]:
    """Domain checks of explicit parameter values (before bounds): finite numbers,
    ``0 <= A_* < 1``, ``w``, ``R_c_*``, ``U_* > 0``; the error names ``what`` and the
    parameter. Returns the values as floats."""
    out = {}
    for name, value in (values or {}).items():
        label = f"{what}: {name}"
        positive = name == "w" or name.startswith(("R_c_", "U_"))
        value = checks.real(value, label, positive=positive)
        if name.startswith("A_") and not 0.0 <= value < 1.0:
            raise ValueError(f"{label} = {value} must satisfy 0 <= A < 1 (the density 1 + drho "
                             "must stay positive)")
        out[name] = value
    return out


def lepton_spec(
    beta: float = BETA_REF,
    w: float = DEFAULT_W,
    *,
    free_beta: bool = False,
    free_w: bool = False,
    defaults: Mapping[str, float] | None = None,
) -> ParamSpec:
    """The 11 parameters of :data:`PARAMS`: ``R_c_l, U_l, A_l`` for l in e, mu, tau
    (defaults mid-range), then ``beta`` and ``w``, frozen at the given values unless
    ``free_*``.

    Args:
        beta: vacuum stiffness (default :data:`BETA_REF`), within [2.5, 3.5].
        w: boundary-layer width (model length units), > 0 and within [0.005, 0.05].
        free_beta, free_w: fit them instead of holding them fixed.
        defaults: other default (starting) values by name, e.g. known lepton parameters.

    Raises:
        ValueError: ``w <= 0``, ``A >= 1``, a value outside its bounds (named), NaN.
        KeyError: an unknown name in ``defaults`` (the valid names are listed).
    """
    shared = check_values({"beta": beta, "w": w}, "lepton_spec")
    spec = ParamSpec(PARAMS).with_defaults(shared)
    spec = spec.replace("beta", frozen=not free_beta).replace("w", frozen=not free_w)
    if defaults:
        spec.check_names(defaults)
        spec = spec.with_defaults(check_values(defaults, "defaults"))
    return spec


def bounds_reached(spec: ParamSpec, values: Mapping[str, float],
                   fraction: float = BOUND_FRACTION) -> list[str]:
    """Free parameters of ``spec`` within ``fraction`` of their range from a bound (the
    core's rule, :func:`jaxfit.core.diagnostics.pinned`)."""
    return list(pinned(spec, values, fraction))


def bound_side(spec: ParamSpec, name: str, value: float) -> str:
    """``"lower"`` or ``"upper"``: the bound of ``name`` nearer to ``value``."""
    p = spec[name]
    return "lower" if abs(value - p.lower) <= abs(p.upper - value) else "upper"
