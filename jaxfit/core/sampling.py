"""Posterior sampling with numpyro's NUTS from the same objective the optimisers minimise.

The posterior is the likelihood of the objective times a flat prior in the *constrained*
free parameters inside their bounds. NUTS runs in the unconstrained space ``u`` of
:meth:`ParamSpec.from_unconstrained`, so the density there picks up the Jacobian:

    potential(u) = -ln L(x(u)) - ln|dx/du|,   -ln L = fun / 2 (chi2) or fun (nll).

Frozen parameters stay at the spec's values. Samples are returned in constrained units.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable, Mapping

import jax
import numpy as np
import pandas as pd
from numpyro.diagnostics import effective_sample_size, split_gelman_rubin
from numpyro.infer import MCMC, NUTS

from jaxfit.core import checks
from jaxfit.core.objective import with_data
from jaxfit.core.params import ParamSpec
from jaxfit.core.progress import status_line
from jaxfit.core.uncertainty import check_kind

CHAIN_METHODS = ("vectorized", "parallel", "sequential")
SUMMARY_COLUMNS = ("mean", "std", "median", "q5", "q95", "n_eff", "r_hat")

# Start chains this far apart (standard deviation in u) so that R-hat can see chains that
# fail to mix; small enough to stay in the basin of a best-fit start.
_INIT_JITTER = 0.1
# numpyro's split R-hat halves each chain and needs at least two draws per half.
_MIN_SAMPLES = 4


def potential_from_objective(
    fun: Callable, spec: ParamSpec, kind: str = "chi2", data=None
) -> Callable[[jax.Array], jax.Array]:
    """numpyro ``potential_fn``: negative log posterior over the free parameters' ``u``.

    Args:
        fun: objective ``fun(params, data) -> scalar`` (``fun(params)`` when ``data`` is
            None), pure JAX.
        spec: the parameters; frozen ones take ``spec.fixed_vector()``.
        kind: ``"chi2"`` (``fun = -2 ln L + const``) or ``"nll"`` (``fun = -ln L + const``).
        data: the objective's data pytree.

    Returns:
        ``potential_fn(u)`` with ``u`` a flat 1-D array, ordered like ``spec.free_names``;
        the value is ``-ln L - log|dx/du|`` (flat prior in ``x`` within the bounds), up to
        a constant.
    """
    check_kind(kind)
    to_nll = 0.5 if kind == "chi2" else 1.0
    fixed = spec.fixed_vector()

    fun, data = with_data(fun, data)

    def potential_fn(u):
        params = spec.unpack(spec.from_unconstrained(u), fixed)
        return to_nll * fun(params, data) - spec.log_abs_det_jacobian(u)

    return potential_fn


@dataclasses.dataclass(frozen=True, eq=False)  # eq=False: arrays have no boolean equality
class SampleResult:
    """Posterior draws and their diagnostics.

    Attributes:
        samples: ``{name: array (chains, draws)}`` for the free parameters, in their units.
        summary: DataFrame indexed by parameter name with columns ``mean``, ``std``
            (``ddof=1``), ``median``, ``q5`` and ``q95`` (equal-tailed 5% and 95% quantiles
            over all chains, not numpyro's HPD interval), ``n_eff`` (effective sample size)
            and ``r_hat`` (split Gelman-Rubin).
        num_divergences: divergent transitions after warmup, all chains together.
        seed: the seed of the run (initial jitter and NUTS).
        num_chains, num_warmup, num_samples: run settings (draws are per chain).
        kind, chain_method, target_accept: further run settings, kept to reproduce it.
    """

    samples: dict[str, np.ndarray]
    summary: pd.DataFrame
    num_divergences: int
    seed: int
    num_chains: int
    num_warmup: int
    num_samples: int
    kind: str
    chain_method: str
    target_accept: float

    def flat(self) -> dict[str, np.ndarray]:
        """``{name: 1-D draws}`` with the chains concatenated."""
        return {name: draws.reshape(-1) for name, draws in self.samples.items()}

    def to_dict(self) -> dict:
        """JSON-friendly summary and settings (no draws); non-finite numbers become ``None``."""
        summary = {
            name: {col: _json_float(row[col]) for col in SUMMARY_COLUMNS}
            for name, row in self.summary.iterrows()
        }
        return {
            "summary": summary,
            "num_divergences": self.num_divergences,
            "seed": self.seed,
            "num_chains": self.num_chains,
            "num_warmup": self.num_warmup,
            "num_samples": self.num_samples,
            "kind": self.kind,
            "chain_method": self.chain_method,
            "target_accept": self.target_accept,
        }


def _json_float(value) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


def _initial_u(
    spec: ParamSpec, init: Mapping[str, float] | None, num_chains: int, key: jax.Array
) -> jax.Array:
    """``(num_chains, n_free)`` starting points: ``init`` (else defaults) in ``u``, jittered."""
    init = dict(init or {})
    values = spec.validate(init)
    clash = [n for n in spec.frozen_names if n in values and values[n] != spec.defaults[n]]
    if clash:
        # a start point for another problem: frozen parameters cannot move to it
        raise ValueError(
            "init gives frozen parameters values other than the spec's: "
            + ", ".join(f"{n}={values[n]} (spec {spec.defaults[n]})" for n in clash)
        )
    return _jittered(spec.skeleton(), np.asarray(spec.pack(values)), spec.bound_arrays(),
                     key, num_chains)


@functools.partial(jax.jit, static_argnames=("skeleton", "num_chains"))
def _jittered(skeleton, x0, bounds, key, num_chains):
    # one compiled program (cached on the skeleton), not a dozen eager operations
    u0 = skeleton.to_unconstrained(x0, bounds)
    return u0 + _INIT_JITTER * jax.random.normal(key, (num_chains, u0.shape[0]), u0.dtype)


@functools.partial(jax.jit, static_argnames="skeleton")
def _constrained(skeleton, u, bounds):
    return skeleton.from_unconstrained(u, bounds)


def summarize(samples: Mapping[str, np.ndarray]) -> pd.DataFrame:
    """Summary table (columns as in :class:`SampleResult`) of ``{name: (chains, draws)}``."""
    rows = {}
    for name, draws in samples.items():
        flat = draws.reshape(-1)
        rows[name] = {
            "mean": flat.mean(),
            "std": flat.std(ddof=1),
            "median": np.median(flat),
            "q5": np.quantile(flat, 0.05),
            "q95": np.quantile(flat, 0.95),
            "n_eff": float(effective_sample_size(draws)),
            "r_hat": float(split_gelman_rubin(draws)),
        }
    frame = pd.DataFrame.from_dict(rows, orient="index", columns=list(SUMMARY_COLUMNS))
    frame.index.name = "parameter"  # so CSV files name the rows
    return frame


def sample_nuts(
    fun: Callable[[dict[str, jax.Array]], jax.Array],
    spec: ParamSpec,
    *,
    data=None,
    kind: str = "chi2",
    num_chains: int = 4,
    num_warmup: int = 500,
    num_samples: int = 1000,
    seed: int = 0,
    init: Mapping[str, float] | None = None,
    progress: bool = True,
    chain_method: str = "vectorized",
    target_accept: float = 0.8,
) -> SampleResult:
    """Sample the posterior of the free parameters with NUTS (module doc for the density).

    Args:
        fun: objective ``fun(params, data) -> scalar`` (``fun(params)`` when ``data`` is
            None), pure JAX.
        spec: the parameters; frozen ones stay at the spec's values.
        data: the objective's data pytree.
        kind: ``"chi2"`` or ``"nll"``, as for :func:`potential_from_objective`.
        num_chains: independent chains.
        num_warmup: adaptation steps per chain (step size and diagonal mass matrix),
            discarded.
        num_samples: kept draws per chain; at least 4 (split R-hat needs them).
        seed: seeds the start jitter and NUTS; equal seeds give equal draws.
        init: ``{name: value}`` start (e.g. a best fit); missing free parameters start at
            their defaults. Every chain starts at its own ``N(0, 0.1)`` jitter around it in
            ``u``, so chains start apart.
        progress: a status line with the elapsed time while compiling and sampling
            (numpyro's own tqdm bar is always off: one progress library).
        chain_method: ``"vectorized"`` (all chains in one program; works on one CPU device),
            ``"parallel"`` (one chain per device; numpyro falls back to sequential with a
            warning when there are fewer devices than chains) or ``"sequential"``.
        target_accept: NUTS target acceptance probability in (0, 1); raise it (0.9-0.99)
            when there are divergences.

    Returns:
        A :class:`SampleResult`.

    Raises:
        ValueError: a count not an integer of the required size (named), ``kind``,
            ``chain_method`` or ``target_accept`` not valid, ``init`` values out of bounds.
        KeyError: unknown names in ``init``.
    """
    check_kind(kind)
    num_chains = checks.count(num_chains, "num_chains")
    num_warmup = checks.count(num_warmup, "num_warmup")
    num_samples = checks.count(num_samples, "num_samples", _MIN_SAMPLES)
    if chain_method not in CHAIN_METHODS:
        raise ValueError(
            f"chain_method must be one of {', '.join(CHAIN_METHODS)}; got {chain_method!r}"
        )
    if not 0.0 < target_accept < 1.0:
        raise ValueError(f"target_accept must lie in (0, 1), got {target_accept!r}")

    init_key, run_key = jax.random.split(jax.random.key(seed))
    u_init = _initial_u(spec, init, num_chains, init_key)
    kernel = NUTS(
        potential_fn=potential_from_objective(fun, spec, kind, data),
        target_accept_prob=target_accept,
    )
    mcmc = MCMC(
        kernel,
        num_warmup=num_warmup,
        num_samples=num_samples,
        num_chains=num_chains,
        chain_method=chain_method,
        progress_bar=False,  # numpyro's own tqdm bar; jaxfit reports through rich
    )
    # numpyro wants a leading chain axis on init_params only when there are several chains
    text = (f"NUTS: {num_chains} chain(s) x {num_warmup} warmup + {num_samples} draws "
            "(compiling, then sampling)")
    with status_line(text, enabled=progress):
        mcmc.run(
            run_key,
            init_params=u_init if num_chains > 1 else u_init[0],
            extra_fields=("diverging",),
        )
    u = mcmc.get_samples(group_by_chain=True)
    x = np.asarray(_constrained(spec.skeleton(), u, spec.bound_arrays()))
    samples = {name: x[..., i] for i, name in enumerate(spec.free_names)}
    divergences = int(np.sum(mcmc.get_extra_fields()["diverging"]))
    return SampleResult(
        samples=samples,
        summary=summarize(samples),
        num_divergences=divergences,
        seed=seed,
        num_chains=num_chains,
        num_warmup=num_warmup,
        num_samples=num_samples,
        kind=kind,
        chain_method=chain_method,
        target_accept=float(target_accept),
    )
