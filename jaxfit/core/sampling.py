"""Posterior sampling with numpyro's NUTS from the same objective the optimisers minimise.

The posterior is the likelihood of the objective times a flat prior in the *constrained*
free parameters inside their bounds. NUTS runs in the unconstrained space ``u`` of
:meth:`ParamSpec.from_unconstrained`, so the density there picks up the Jacobian:

    potential(u) = -ln L(x(u)) - ln|dx/du|,   -ln L = fun / 2 (chi2) or fun (nll).

Frozen parameters stay at the spec's values. Samples are returned in constrained units.

**Continuing a run.** :func:`resume_nuts` takes the :class:`ChainState` a run ended in (the
last positions, the adapted step sizes and diagonal mass matrices, the random keys) and
draws on with adaptation off, so no warmup is repeated and the new draws follow the old
ones as if the first run had been longer: sampling ``N`` draws and resuming for ``M`` gives
the draws of one run of ``N + M`` (to rounding: the potential's gradient at the restart
point is recomputed in another compiled program, ~1e-14 relative).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Mapping

import jax
import jax.numpy as jnp
import numpy as np
from numpyro.infer import MCMC, NUTS

from jaxfit.core import checks
from jaxfit.core.objective import with_data
from jaxfit.core.params import ParamSpec
from jaxfit.core.posterior import STAT_FIELDS, ChainState, SampleResult, summarize
from jaxfit.core.progress import status_line
from jaxfit.core.uncertainty import check_kind

__all__ = ["CHAIN_METHODS", "ChainState", "SampleResult", "potential_from_objective",
           "resume_nuts", "sample_nuts", "summarize"]

CHAIN_METHODS = ("vectorized", "parallel", "sequential")

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
    mcmc = MCMC(kernel, num_warmup=num_warmup, num_samples=num_samples, num_chains=num_chains,
                chain_method=chain_method,
                progress_bar=False)  # numpyro's own tqdm bar; jaxfit reports through rich
    text = (f"NUTS: {num_chains} chain(s) x {num_warmup} warmup + {num_samples} draws "
            "(compiling, then sampling)")
    # numpyro wants a leading chain axis on init_params only when there are several chains
    _run(mcmc, run_key, u_init if num_chains > 1 else u_init[0], text, progress)
    samples, stats, state = _collect(mcmc, spec)
    return SampleResult(samples=samples, stats=stats, state=state, units=_units(spec),
                        seed=seed, num_warmup=num_warmup, kind=kind, chain_method=chain_method,
                        target_accept=float(target_accept))


def resume_nuts(
    fun: Callable[[dict[str, jax.Array]], jax.Array],
    spec: ParamSpec,
    previous: SampleResult,
    *,
    data=None,
    num_samples: int = 1000,
    progress: bool = True,
) -> SampleResult:
    """Continue the chains of ``previous`` for ``num_samples`` more draws each, no warmup.

    Every chain restarts at its last position with its adapted step size, mass matrix and
    random key (module doc), under ``previous``'s ``kind``, ``chain_method`` and
    ``target_accept``.

    Args:
        fun, data: the objective and its data pytree, as for :func:`sample_nuts`; they
            must be those of ``previous`` (the state cannot tell).
        spec: the parameters; its free parameters must be those of ``previous``, in order.
        previous: a finished run (:func:`sample_nuts`, :func:`resume_nuts` or
            :func:`jaxfit.core.posterior.read_posterior`).
        num_samples: new draws per chain; at least 4.
        progress: a status line while compiling and sampling.

    Returns:
        A :class:`SampleResult` holding ``previous``'s draws followed by the new ones, with
        the state after the last draw.

    Raises:
        ValueError: ``num_samples`` too small, or the free parameters differ.
    """
    num_samples = checks.count(num_samples, "num_samples", _MIN_SAMPLES)
    state = previous.state
    if tuple(spec.free_names) != state.names:
        raise ValueError(f"spec's free parameters must be the saved chains' "
                         f"({', '.join(state.names)}), got {', '.join(spec.free_names)}")
    potential = potential_from_objective(fun, spec, previous.kind, data)
    num_chains = previous.num_chains
    mcmc = MCMC(NUTS(potential_fn=potential, target_accept_prob=previous.target_accept),
                num_warmup=0, num_samples=num_samples, num_chains=num_chains,
                chain_method=previous.chain_method, progress_bar=False)
    keys = jax.random.wrap_key_data(jnp.asarray(state.rng_key))
    u = jnp.asarray(state.position)
    if num_chains == 1:  # numpyro's single chain has no chain axis
        keys, u = keys[0], u[0]
    mcmc.post_warmup_state = _restored_state(potential, keys, u, state, num_chains)
    text = f"NUTS: {num_chains} chain(s) x {num_samples} more draws (compiling, then sampling)"
    _run(mcmc, keys, u, text, progress)
    samples, stats, new_state = _collect(mcmc, spec)
    return dataclasses.replace(
        previous,
        samples={k: np.concatenate([previous.samples[k], v], axis=1) for k, v in samples.items()},
        stats={k: np.concatenate([previous.stats[k], v], axis=1) for k, v in stats.items()},
        state=new_state,
    )


def _restored_state(potential, keys, u, state: ChainState, num_chains: int):
    """numpyro's ``HMCState`` at ``u`` with ``state``'s step sizes and mass matrices.

    A kernel's ``init`` with zero warmup steps builds a state of the right structure (and
    the potential and gradient at ``u``); its fresh adaptation is replaced by the saved one.
    The kernel is a throwaway: ``init`` on all chains at once leaves a kernel set up for
    vectorized chains, and MCMC must set up its own for the run's chain method.
    """
    fresh = NUTS(potential_fn=potential).init(keys, 0, u, model_args=(), model_kwargs={})
    squeeze = (lambda a: a[0]) if num_chains == 1 else (lambda a: a)
    inverse_mass = jnp.asarray(state.inverse_mass_matrix)
    adapt = fresh.adapt_state._replace(
        step_size=squeeze(jnp.asarray(state.step_size)),
        inverse_mass_matrix=squeeze(inverse_mass),
        # numpyro's diagonal convention: sqrt(M) = 1 / sqrt(M^-1), sqrt(M)^-1 = sqrt(M^-1)
        mass_matrix_sqrt=squeeze(1.0 / jnp.sqrt(inverse_mass)),
        mass_matrix_sqrt_inv=squeeze(jnp.sqrt(inverse_mass)),
    )
    return fresh._replace(adapt_state=adapt)


def _run(mcmc: MCMC, key, u_init, text: str, progress: bool) -> None:
    with status_line(text, enabled=progress):
        mcmc.run(key, init_params=u_init, extra_fields=tuple(STAT_FIELDS))


def _collect(mcmc: MCMC, spec: ParamSpec):
    """Draws (constrained), per-draw statistics and the final :class:`ChainState`."""
    u = mcmc.get_samples(group_by_chain=True)
    x = np.asarray(_constrained(spec.skeleton(), u, spec.bound_arrays()))
    samples = {name: x[..., i] for i, name in enumerate(spec.free_names)}
    fields = mcmc.get_extra_fields(group_by_chain=True)
    stats = {STAT_FIELDS[k]: np.asarray(v) for k, v in fields.items()}
    stats["lp"] = -stats["lp"]  # numpyro keeps the potential energy, -log density
    last = mcmc.last_state
    num_chains, n = x.shape[0], x.shape[-1]
    state = ChainState(
        names=tuple(spec.free_names),
        position=np.asarray(last.z, dtype=np.float64).reshape(num_chains, n),
        step_size=np.asarray(last.adapt_state.step_size, dtype=np.float64).reshape(num_chains),
        inverse_mass_matrix=np.asarray(last.adapt_state.inverse_mass_matrix,
                                       dtype=np.float64).reshape(num_chains, n),
        rng_key=np.asarray(jax.random.key_data(last.rng_key)).reshape(num_chains, -1),
    )
    return samples, stats, state


def _units(spec: ParamSpec) -> dict[str, str]:
    return {name: spec[name].unit for name in spec.free_names}
