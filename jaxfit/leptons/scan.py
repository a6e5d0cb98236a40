"""Profile likelihoods of the lepton masses over beta (1-D) and (beta, w) (2-D).

At every grid point the 9 lepton parameters are fitted (``n_starts`` each, every point x
start in one batched program, :func:`jaxfit.leptons.problem.run_scan`) with the global
mass scale profiled analytically; the result (:class:`~jaxfit.leptons.results.LeptonScan`)
gives beta_min, the 1-sigma interval and width, its classification, local minima and
S_opt at the minimum. :data:`PRESETS` names the research grids (:func:`run_preset`).
:func:`find_contours` needs no grid: it builds one around the best fit from its Hessian
and refines it until the contours close (:func:`jaxfit.core.contours.profile`).
"""

from __future__ import annotations

import numpy as np

from jaxfit.core import checks
from jaxfit.core.contours import profile
from jaxfit.core.params import ParamSpec
from jaxfit.core.profile_result import ProfileResult
from jaxfit.leptons.data import LeptonTargets
from jaxfit.leptons.model import BETA_REF, DEFAULT_CONFIG, EnergyConfig
from jaxfit.leptons.params import DEFAULT_W, SHARED_BOUNDS, check_values, lepton_spec
from jaxfit.leptons.problem import make_problem, run_scan
from jaxfit.leptons.results import LeptonScan

PRESETS = {
    # research 3x3 sanity grid (seed 001)
    "sanity-3x3": (np.linspace(3.00, 3.15, 3), np.linspace(0.01, 0.02, 3)),
    # research "modest" 9x6 scan (seed 001)
    "scan-9x6": (np.linspace(3.00, 3.20, 9), np.linspace(0.005, 0.03, 6)),
    # the spec's default 16 x 10 with w log-spaced: beta on [2.9, 3.2] brackets beta_ref and
    # the research minima (3.10-3.18); w over its whole allowed range [0.005, 0.05]
    "default-16x10": (np.linspace(2.9, 3.2, 16), np.geomspace(0.005, 0.05, 10)),
    # research 1-D profile: 41 points on [2.85, 3.25] at w = 0.02
    "beta-41": (np.linspace(2.85, 3.25, 41), np.array([DEFAULT_W])),
}
"""Grid presets ``name -> (beta grid, w grid)``; a one-point w grid is a 1-D beta profile
at that w (:func:`run_preset`)."""

SCAN_STARTS = 4
"""Drawn starts per grid point of the scans (:func:`scan_beta`, :func:`scan_beta_w`), after
which every point is started again from its neighbours' optima and the global fit
(``continuation=True``, :func:`jaxfit.core.scan.scan`). Measured (2 CPU cores, shared):
``"scan-9x6"`` with 4 starts + continuation reaches the best of 64 independent starts at
all 54 points (worst 1.0e-10 relative) in 20.6 s warm, against 119 s for the 64 independent
starts; 8 starts: 54/54, 20.9 s; 16: 54/54, 32.2 s (the continuation rounds, not the
drawn starts, are most of the cost). ``method="lbfgs-box"`` with continuation misses 9 of
54 points (up to 7.8% above). With ``method="lm"`` (Levenberg-Marquardt on the three mass
pulls, the default since) 4 starts + continuation reach all 54 points (worst 1.1e-15) in
4.9 s warm, and all 9 of ``"sanity-3x3"`` in 1.2 s (L-BFGS: 2.5 s), same load."""

SCAN_METHOD = "lm"
"""The scans' default solver: Levenberg-Marquardt on the pulls (:data:`SCAN_STARTS`)."""

SCAN_OPTIONS = {"maxiter": 300, "ftol": 1e-12, "linesearch_steps": 6}
"""Solver options of the profile scans (:func:`scan_beta`, :func:`scan_beta_w`), each
overridable by keyword. Why: a scan is one vmapped L-BFGS loop, so every iteration costs
the slowest member's line search and the loop runs until the slowest start stops; in the
tension regime some starts creep along a bound to ``maxiter``. Measured at beta_ref,
w = 0.02, 64 starts, 2 CPU cores: the core defaults (1000 iterations, 20 line-search
steps) 36 s, ``maxiter=300, ftol=1e-12`` 14 s, plus ``linesearch_steps`` 4-5: 3-4 s, all
with the same best chi2 (16497529.92); fewer steps leave more individual starts in poorer
minima (the median start's chi2 rises), so 6 keeps a margin. ``ftol = 1e-12`` relative is
~2e-5 in chi2 ~ 1.6e7, far below the delta-chi2 = 1 that sets intervals."""


def _grid(values, name: str, positive: bool = False) -> np.ndarray:
    """A 1-D grid of finite values (> 0 if ``positive``), named in the error."""
    return checks.finite_array(np.atleast_1d(values), f"{name} grid", positive=positive,
                               ndim=1)


def _scan_spec(spec: ParamSpec | None, beta: float, w: float, free_w: bool) -> ParamSpec:
    spec = spec or lepton_spec(beta, w)
    spec = spec.replace("beta", default=float(np.clip(beta, *SHARED_BOUNDS["beta"])))
    return spec if free_w else spec.freeze(["w"], {"w": w})


def scan_beta(
    grid,
    *,
    w: float = DEFAULT_W,
    kind: str = "mass",
    config: EnergyConfig = DEFAULT_CONFIG,
    sigma_model: float = 1e-4,
    sigma_g: float = 2e-8,
    include_tau_g: bool = False,
    targets: LeptonTargets | None = None,
    spec: ParamSpec | None = None,
    n_starts: int = SCAN_STARTS,
    sampler: str = "sobol",
    seed: int = 0,
    method: str = SCAN_METHOD,
    global_fit: bool = True,
    continuation: bool = True,
    chunk_size: int | None = None,
    devices=None,
    progress: bool = True,
    **options,
) -> LeptonScan:
    """1-D profile likelihood over beta at fixed w: the 9 lepton parameters are fitted at
    every grid point (``n_starts`` each, all in one batched program).

    Args:
        grid: increasing beta values within [2.5, 3.5].
        w: boundary-layer width held fixed (> 0).
        kind: ``"mass"`` (:func:`~jaxfit.leptons.objective.mass_chi2_of`) or ``"cross"``
            (:func:`~jaxfit.leptons.objective.cross_chi2_of`, with ``sigma_g`` and
            ``include_tau_g``).
        config, sigma_model, targets, spec: as :func:`jaxfit.leptons.fit.fit_fixed`.
        n_starts, sampler, seed, method, chunk_size, progress, **options: passed to
            :func:`jaxfit.core.scan.scan`; ``global_fit`` also fits beta free within the grid
            range to anchor delta-chi2 (and seeds the continuation).
        continuation: start every point again from its neighbours' optima and the global
            fit until none improves (default; :func:`jaxfit.core.scan.scan`).

    Cost: every grid point x start runs in one vmapped L-BFGS loop with
    :data:`SCAN_OPTIONS` (override any by keyword), then the continuation rounds
    (``continuation=False``: independent starts only). Measured on 2 shared CPU cores:
    ``"scan-9x6"`` with the default :data:`SCAN_STARTS` + continuation 20.6 s warm, with 64
    independent starts 119 s, the same chi2 at every point; ``chunk_size`` bounds memory and
    ``devices`` shards the batch (:func:`jaxfit.core.parallel.local_devices`).

    Raises:
        ValueError: empty or non-finite grid, ``w <= 0``, values outside the bounds.
    """
    grid = _grid(grid, "beta")
    w = check_values({"w": w}, "scan_beta")["w"]
    problem = make_problem(kind, config, sigma_model, sigma_g, include_tau_g, targets)
    spec = _scan_spec(spec, float(np.median(grid)), w, free_w=False)
    return run_scan(problem, spec, {"beta": grid}, n_starts=n_starts, sampler=sampler, seed=seed,
                    method=method, global_fit=global_fit, chunk_size=chunk_size,
                    devices=devices, progress=progress, options=SCAN_OPTIONS | options,
                    extra_settings={"w": w}, continuation=continuation)


def scan_beta_w(
    beta_grid,
    w_grid,
    *,
    kind: str = "mass",
    config: EnergyConfig = DEFAULT_CONFIG,
    sigma_model: float = 1e-4,
    sigma_g: float = 2e-8,
    include_tau_g: bool = False,
    targets: LeptonTargets | None = None,
    spec: ParamSpec | None = None,
    n_starts: int = SCAN_STARTS,
    sampler: str = "sobol",
    seed: int = 0,
    method: str = SCAN_METHOD,
    global_fit: bool = True,
    continuation: bool = True,
    chunk_size: int | None = None,
    devices=None,
    progress: bool = True,
    **options,
) -> LeptonScan:
    """2-D profile likelihood over (beta, w); arguments as :func:`scan_beta`. Both grids
    need at least 2 points (a single w is :func:`scan_beta`). The 1-sigma interval of beta
    comes from the profile over w (``LeptonScan.profile``); the 2-D contours from the scan.
    """
    beta_grid = _grid(beta_grid, "beta")
    w_grid = _grid(w_grid, "w", positive=True)
    if beta_grid.size < 2 or w_grid.size < 2:
        raise ValueError(
            f"scan_beta_w needs at least 2 points on each axis (got {beta_grid.size} x "
            f"{w_grid.size}); use scan_beta for a single w"
        )
    problem = make_problem(kind, config, sigma_model, sigma_g, include_tau_g, targets)
    spec = _scan_spec(spec, float(np.median(beta_grid)), float(np.median(w_grid)),
                      free_w=True)
    spec = spec.replace("w", default=float(np.median(w_grid)))
    return run_scan(problem, spec, {"beta": beta_grid, "w": w_grid}, n_starts=n_starts,
                    sampler=sampler, seed=seed, method=method, global_fit=global_fit,
                    chunk_size=chunk_size, devices=devices, progress=progress,
                    options=SCAN_OPTIONS | options, extra_settings={},
                    continuation=continuation)


def run_preset(name: str, **kwargs) -> LeptonScan:
    """Run a grid of :data:`PRESETS`: 2-D presets with :func:`scan_beta_w`, one-w presets
    (``"beta-41"``) with :func:`scan_beta` at that w. ``kwargs`` go to those functions."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; valid presets: {', '.join(PRESETS)}")
    beta_grid, w_grid = PRESETS[name]
    if len(w_grid) == 1:
        return scan_beta(beta_grid, w=float(w_grid[0]), **kwargs)
    return scan_beta_w(beta_grid, w_grid, **kwargs)



def find_contours(
    names=("beta", "w"),
    *,
    w: float = DEFAULT_W,
    kind: str = "mass",
    config: EnergyConfig = DEFAULT_CONFIG,
    sigma_model: float = 1e-4,
    sigma_g: float = 2e-8,
    include_tau_g: bool = False,
    targets: LeptonTargets | None = None,
    spec: ParamSpec | None = None,
    levels=None,
    n_starts: int = SCAN_STARTS,
    seed: int = 0,
    method: str = SCAN_METHOD,
    chunk_size: int = 64,
    devices=None,
    progress: bool = True,
    **options,
) -> ProfileResult:
    """Profile over beta (``names=("beta",)``, w held at ``w``) or (beta, w) on the grid
    that finds its contours: centred on the best fit, sized and shaped by its Hessian,
    refined until the 68.3/95.4/99.7% contours close (:func:`jaxfit.core.contours.profile`,
    whose warnings name every contour that reaches the bounds: in the tension regime the
    best fit rests on them).

    Arguments as :func:`scan_beta`; ``levels`` are delta-chi2 levels (default 1, 4, 9 in
    1-D, 2.30, 6.18, 11.83 in 2-D); :data:`SCAN_OPTIONS` apply unless overridden.

    Raises:
        ValueError: ``names`` not ``("beta",)`` or ``("beta", "w")``, ``w <= 0``.
    """
    names = tuple(names)
    if names not in (("beta",), ("beta", "w")):
        raise ValueError(f"names must be ('beta',) or ('beta', 'w'), got {names!r}")
    w = check_values({"w": w}, "find_contours")["w"]
    problem = make_problem(kind, config, sigma_model, sigma_g, include_tau_g, targets)
    spec = _scan_spec(spec, BETA_REF, w, free_w="w" in names)
    return profile(problem.fun, spec, names, data=problem.data, levels=levels, method=method,
                   n_starts=n_starts, seed=seed, chunk_size=chunk_size, devices=devices,
                   progress=progress, **(SCAN_OPTIONS | options))
