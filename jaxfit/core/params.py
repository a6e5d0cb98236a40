"""Parameter sets: names, defaults, bounds, frozen flags, and the maps optimisers need.

A :class:`ParamSpec` is an ordered, immutable list of :class:`Param`. Optimisers see only
the *free* parameters, as a flat vector ``x`` (constrained, inside the bounds) or ``u``
(unconstrained, the whole real line). The maps are:

- ``pack(values) -> x`` and ``unpack(x, fixed) -> {name: value}``;
- ``to_unconstrained(x) -> u`` and ``from_unconstrained(u) -> x``.

The bounded transform is ``x = lo + (hi - lo) * sigmoid(u)`` (two finite bounds),
``x = lo + softplus(u)`` (lower only), ``x = hi - softplus(-u)`` (upper only), identity
otherwise. Their derivatives are bounded everywhere, so gradients stay finite when a
parameter sits on a bound; the inverse clips points on a bound to a relative distance
``BOUND_EPS`` inside it so ``u`` stays finite (about +-27.6 for a two-sided bound).

Frozen parameters are not optimised; their values come from the ``fixed`` vector given to
``unpack`` (by default their defaults), which is a traced array, so a profile scan can vmap
over the values of frozen parameters without recompiling.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping, Sequence

import jax
import jax.numpy as jnp
import numpy as np

BOUND_EPS = 1e-12


@dataclasses.dataclass(frozen=True)
class Param:
    """One model parameter.

    Attributes:
        name: identifier used everywhere (results, CLI, configs).
        default: starting / reference value, in ``unit``.
        lower, upper: bounds (``-inf`` / ``inf`` for none); ``lower < upper``.
        frozen: if True the optimiser keeps it at its value.
        unit: physical unit, for humans and reports.
        doc: one-line description.
    """

    name: str
    default: float
    lower: float = -math.inf
    upper: float = math.inf
    frozen: bool = False
    unit: str = ""
    doc: str = ""

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name.isidentifier():
            raise ValueError(f"parameter name must be an identifier, got {self.name!r}")
        for field in ("default", "lower", "upper"):
            value = getattr(self, field)
            if not isinstance(value, (int, float, np.floating, np.integer)):
                raise TypeError(f"parameter {self.name!r}: {field} must be a number, got {value!r}")
            object.__setattr__(self, field, float(value))
        if math.isnan(self.default) or math.isinf(self.default):
            raise ValueError(f"parameter {self.name!r}: default must be finite, got {self.default}")
        if math.isnan(self.lower) or math.isnan(self.upper):
            raise ValueError(f"parameter {self.name!r}: bounds must not be NaN")
        if not self.lower < self.upper:
            raise ValueError(
                f"parameter {self.name!r}: lower bound {self.lower} must be below "
                f"upper bound {self.upper}"
            )
        if not self.lower <= self.default <= self.upper:
            raise ValueError(
                f"parameter {self.name!r}: default {self.default} lies outside its bounds "
                f"[{self.lower}, {self.upper}]"
            )


class ParamSpec:
    """An ordered set of parameters with the packing and transform maps of the module doc.

    Args:
        params: the parameters, in the order used by flat vectors.
    """

    def __init__(self, params: Iterable[Param]):
        params = tuple(params)
        if not params:
            raise ValueError("a ParamSpec needs at least one parameter")
        names = [p.name for p in params]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"duplicate parameter names: {dupes}")
        self.params = params
        self.names = tuple(names)
        self.free_names = tuple(p.name for p in params if not p.frozen)
        self.frozen_names = tuple(p.name for p in params if p.frozen)
        free = [p for p in params if not p.frozen]
        self.lower = np.array([p.lower for p in free], dtype=np.float64)
        self.upper = np.array([p.upper for p in free], dtype=np.float64)
        self.defaults = {p.name: p.default for p in params}

    # ----------------------------------------------------------------- construction
    @classmethod
    def from_dict(cls, table: Mapping[str, Mapping | Sequence | float]) -> ParamSpec:
        """Build from ``{name: default}``, ``{name: (default, lower, upper)}`` or
        ``{name: {"default": ..., "lower": ..., ...}}``."""
        params = []
        for name, entry in table.items():
            if isinstance(entry, Mapping):
                params.append(Param(name, **entry))
            elif isinstance(entry, Sequence) and not isinstance(entry, str):
                params.append(Param(name, *entry))
            else:
                params.append(Param(name, entry))
        return cls(params)

    def __len__(self):
        return len(self.params)

    def __repr__(self):
        rows = ", ".join(
            f"{p.name}={p.default:g}[{p.lower:g},{p.upper:g}]{'*' if p.frozen else ''}"
            for p in self.params
        )
        return f"ParamSpec({rows})"

    def __eq__(self, other):
        return isinstance(other, ParamSpec) and self.params == other.params

    def __hash__(self):
        # hashable by value, so compiled solvers can be cached per (objective, spec)
        return hash(self.params)

    def __getitem__(self, name: str) -> Param:
        self.check_names([name])
        return self.params[self.names.index(name)]

    @property
    def n_free(self) -> int:
        return len(self.free_names)

    def check_names(self, names: Iterable[str], what: str = "parameter") -> None:
        """Raise ``KeyError`` naming every unknown name and listing the valid ones."""
        unknown = [n for n in names if n not in self.names]
        if unknown:
            raise KeyError(
                f"unknown {what} {', '.join(map(repr, unknown))}; valid names: "
                f"{', '.join(self.names)}"
            )

    def replace(self, name: str, **changes) -> ParamSpec:
        """A new spec with one parameter's fields changed (``default``, ``lower``, ...)."""
        self.check_names([name])
        return ParamSpec(
            dataclasses.replace(p, **changes) if p.name == name else p for p in self.params
        )

    def freeze(self, names: Iterable[str], values: Mapping[str, float] | None = None) -> ParamSpec:
        """A new spec with ``names`` frozen (optionally at new ``values``)."""
        names = list(names)
        values = dict(values or {})
        self.check_names(names + list(values))
        params = []
        for p in self.params:
            if p.name in names:
                p = dataclasses.replace(p, frozen=True, default=values.get(p.name, p.default))
            params.append(p)
        return ParamSpec(params)

    def skeleton(self) -> ParamSpec:
        """The same names, frozen flags and *kinds* of bounds, with canonical bound values
        (0 and 1 where finite) and defaults.

        Compiled solvers depend only on this structure (frozen values, starts and bound
        values are passed as arguments), so caching them on the skeleton lets fits that
        differ only in their starting values, frozen values or bounds (a profile's global
        fit inside the grid range) reuse one compilation.
        """
        params = []
        for p in self.params:
            lower = 0.0 if math.isfinite(p.lower) else -math.inf
            upper = (lower + 1.0 if math.isfinite(p.upper) else math.inf) if math.isfinite(
                p.lower) else (0.0 if math.isfinite(p.upper) else math.inf)
            default = lower if math.isfinite(lower) else min(0.0, upper)
            params.append(Param(p.name, default, lower, upper, frozen=p.frozen))
        return ParamSpec(params)

    def free_only(self, names: Iterable[str]) -> ParamSpec:
        """A new spec in which exactly ``names`` are free and every other parameter frozen."""
        names = list(names)
        self.check_names(names)
        return ParamSpec(dataclasses.replace(p, frozen=p.name not in names) for p in self.params)

    def with_defaults(self, values: Mapping[str, float]) -> ParamSpec:
        """A new spec whose defaults are replaced by ``values`` (validated)."""
        values = self.validate(values, complete=False)
        return ParamSpec(
            dataclasses.replace(p, default=values.get(p.name, p.default)) for p in self.params
        )

    # ------------------------------------------------------------------- validation
    def validate(self, values: Mapping[str, float], complete: bool = False) -> dict[str, float]:
        """Check a ``{name: value}`` mapping and return it as floats.

        Raises:
            KeyError: unknown names (the message lists the valid ones), or missing names
                when ``complete``.
            ValueError: NaN/inf values, or values outside their bounds (named).
        """
        self.check_names(values)
        if complete:
            missing = [n for n in self.names if n not in values]
            if missing:
                raise KeyError(f"missing parameter values for {missing}")
        out = {}
        for name, value in values.items():
            value = float(np.asarray(value))
            p = self[name]
            if not math.isfinite(value):
                raise ValueError(f"parameter {name!r}: value must be finite, got {value}")
            if not p.lower <= value <= p.upper:
                raise ValueError(
                    f"parameter {name!r}: value {value} is outside its bounds "
                    f"[{p.lower}, {p.upper}]"
                )
            out[name] = value
        return out

    # ------------------------------------------------------------------ flat vectors
    def pack(self, values: Mapping[str, float] | None = None) -> jax.Array:
        """Flat float64 vector of the free parameters (defaults where not given)."""
        values = self.validate(values or {})
        return jnp.array([values.get(n, self.defaults[n]) for n in self.free_names], jnp.float64)

    def fixed_vector(self, values: Mapping[str, float] | None = None) -> jax.Array:
        """Flat vector of the frozen parameters' values (defaults where not given)."""
        values = self.validate(values or {})
        return jnp.array(
            [values.get(n, self.defaults[n]) for n in self.frozen_names], jnp.float64
        )

    def unpack(self, x, fixed=None) -> dict[str, jax.Array]:
        """``{name: value}`` for every parameter from free vector ``x`` and frozen ``fixed``.

        Traceable: ``x`` and ``fixed`` may be tracers (jit, vmap, grad).
        """
        if fixed is None:
            fixed = self.fixed_vector()
        free_index = {n: i for i, n in enumerate(self.free_names)}
        fixed_index = {n: i for i, n in enumerate(self.frozen_names)}
        return {
            n: x[free_index[n]] if n in free_index else fixed[fixed_index[n]] for n in self.names
        }

    def to_dict(self, x, fixed=None) -> dict[str, float]:
        """Like :meth:`unpack` but returns plain Python floats (for results and files)."""
        return {k: float(v) for k, v in self.unpack(np.asarray(x), fixed).items()}

    # ------------------------------------------------------------------- transforms
    def _bound_values(self, bounds):
        """Which kind of bound each free parameter has (static, from the spec) and the bound
        values with 0 where there is none: the spec's own, or ``bounds = (lower, upper)``
        arrays given by the caller (possibly traced, so a compiled solver serves every
        bound value of the same kinds)."""
        lo, hi = self.lower, self.upper
        both = np.isfinite(lo) & np.isfinite(hi)
        low_only = np.isfinite(lo) & ~np.isfinite(hi)
        high_only = ~np.isfinite(lo) & np.isfinite(hi)
        if bounds is not None:
            lo, hi = bounds
        lo_s = jnp.where(np.isfinite(self.lower), lo, 0.0)
        hi_s = jnp.where(np.isfinite(self.upper), hi, 0.0)
        return both, low_only, high_only, lo_s, hi_s

    def bound_arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """``(lower, upper)`` of the free parameters, the ``bounds`` argument of the
        transforms."""
        return np.asarray(self.lower), np.asarray(self.upper)

    def from_unconstrained(self, u, bounds=None) -> jax.Array:
        """Map unconstrained ``u`` (any reals) to free parameters ``x`` inside the bounds
        (the spec's, or ``bounds = (lower, upper)`` of the same kinds)."""
        both, low_only, high_only, lo_s, hi_s = self._bound_values(bounds)
        return jnp.where(
            both,
            lo_s + (hi_s - lo_s) * jax.nn.sigmoid(u),
            jnp.where(
                low_only,
                lo_s + jax.nn.softplus(u),
                jnp.where(high_only, hi_s - jax.nn.softplus(-u), u),
            ),
        )

    def to_unconstrained(self, x, bounds=None) -> jax.Array:
        """Inverse of :meth:`from_unconstrained`; points on a bound map to finite ``u``."""
        both, low_only, high_only, lo_s, hi_s = self._bound_values(bounds)
        width = jnp.where(both, hi_s - lo_s, 1.0)
        frac = jnp.clip((x - lo_s) / width, BOUND_EPS, 1.0 - BOUND_EPS)
        scale = jnp.maximum(jnp.abs(jnp.where(low_only, lo_s, hi_s)), 1.0)
        # inverse softplus log(expm1(d)), written to stay finite for tiny and large d
        d = jnp.where(low_only, x - lo_s, jnp.where(high_only, hi_s - x, 1.0))
        d = jnp.maximum(d, BOUND_EPS * scale)
        inv_softplus = d + jnp.log(-jnp.expm1(-d))
        return jnp.where(
            both,
            jnp.log(frac) - jnp.log1p(-frac),
            jnp.where(low_only, inv_softplus, jnp.where(high_only, -inv_softplus, x)),
        )

    def log_abs_det_jacobian(self, u) -> jax.Array:
        """``sum log|dx/du|`` of :meth:`from_unconstrained` (for densities in ``u``)."""
        lo, hi = self.lower, self.upper
        both = np.isfinite(lo) & np.isfinite(hi)
        low_only = np.isfinite(lo) & ~np.isfinite(hi)
        high_only = ~np.isfinite(lo) & np.isfinite(hi)
        width = np.where(both, hi - lo, 1.0)
        terms = jnp.where(
            both,
            jnp.log(width) + jax.nn.log_sigmoid(u) + jax.nn.log_sigmoid(-u),
            jnp.where(
                low_only,
                jax.nn.log_sigmoid(u),
                jnp.where(high_only, jax.nn.log_sigmoid(-u), 0.0),
            ),
        )
        return jnp.sum(terms)

    def has_finite_bounds(self) -> bool:
        return bool(np.all(np.isfinite(self.lower)) and np.all(np.isfinite(self.upper)))

    def require_finite_bounds(self, purpose: str) -> None:
        """Raise naming the free parameters without two finite bounds."""
        bad = [
            n
            for n, lo, hi in zip(self.free_names, self.lower, self.upper, strict=True)
            if not (np.isfinite(lo) and np.isfinite(hi))
        ]
        if bad:
            raise ValueError(
                f"{purpose} needs finite lower and upper bounds; parameters without them: {bad}"
            )
