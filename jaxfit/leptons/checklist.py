"""The research validation checklist (spec workflow 4, seed 001), evaluated honestly.

:func:`validation_checklist` takes plain numbers (chi2, S_opt, pulls, convergence, the
parameters on bounds, and for a profile its shape), so any result, or a hand calculation,
can be checked; each result class calls it with its own numbers (``result.checklist``).
:func:`format_checklist` writes the items as ``[PASS]``/``[FAIL]`` lines and a verdict.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping, Sequence

from jaxfit.core import checks

CHI2_GOOD_MAX = 10.0
"""chi2 must be O(1)-O(10) (research seed 001: > 10 means missing physics)."""

S_OPT_RANGE = (0.1, 100.0)
"""S_opt in MeV per model energy unit. The research expected O(1)-O(10) from dimensional
analysis (seed 001: "S_opt ~ 1e-6 or 1e6 -> unit mismatch"); we accept one decade either
side, 0.1 <= S_opt <= 100 (a negative S_opt fails: negative energies)."""

MAX_LOCAL_MINIMA = 1
"""A smooth profile has at most this many local minima."""


def _number(value, name: str) -> float:
    # any real number, NaN and inf included: a failed fit's numbers fail their items
    return float(checks.instance(value, name, numbers.Real))


def _by_lepton(values, name: str) -> dict[str, float]:
    checks.instance(values, name, Mapping)
    return {k: _number(v, f"{name}[{k!r}]") for k, v in values.items()}


def validation_checklist(
    *,
    chi2: float,
    S_opt: float,
    pulls: Mapping[str, float],
    residuals: Mapping[str, float],
    sigma_model: float,
    converged: bool,
    convergence: str,
    bounds_reached: Sequence[str] = (),
    g_pulls: Mapping[str, float] | None = None,
    sigma_g: float | None = None,
    C_mu: float | None = None,
    n_local_minima: int | None = None,
    width: float | None = None,
    classification: str | None = None,
) -> list[dict]:
    """The checklist items, each ``{"item", "passed", "detail"}``:

    - ``chi2 magnitude``: ``chi2 <= CHI2_GOOD_MAX`` (O(1)-O(10));
    - ``S_opt order of magnitude``: ``S_opt`` (MeV per model energy unit) within
      :data:`S_OPT_RANGE`;
    - ``masses within sigma``: every mass pull ``|S E_l - m_l| / (sigma_model m_l) <= 1``;
    - ``g-factors within sigma`` (when ``g_pulls`` are given): every
      ``|g_pred - g| / sigma_g <= 1``;
    - ``converged`` (a fit: the best start converged) or, for a profile (when
      ``n_local_minima`` is given), ``every grid point converged``; ``convergence`` is the
      detail that says what was counted;
    - ``smooth profile`` (profiles): at most :data:`MAX_LOCAL_MINIMA` local minimum of the
      beta profile, whose 1-sigma ``width`` (None: open) and ``classification`` are shown;
    - ``optimum inside the bounds``: no parameter in ``bounds_reached`` (one on a bound
      means the bounds, not the data, set the answer); the detail names them.

    Args:
        chi2: the minimum; a non-finite chi2 (a failed fit) fails its item.
        S_opt: the profiled mass scale (MeV per model energy unit).
        pulls, residuals: ``{lepton: (S E - m) / sigma}`` and ``{lepton: (S E - m) / m}``.
        sigma_model: the relative mass uncertainty the pulls were computed with (> 0).
        converged, convergence: the convergence verdict and its detail text.
        bounds_reached: names of parameters on a bound at the optimum.
        g_pulls, sigma_g, C_mu: ``{lepton: (g_pred - g) / sigma_g}``, the absolute g
            uncertainty and the profiled ``C_mu`` (cross-lepton results only).
        n_local_minima, width, classification: the shape of a beta profile (profiles only).

    Raises:
        TypeError: naming an argument that is not a number or a mapping of numbers.
        ValueError: ``sigma_model`` or ``sigma_g`` not finite and > 0.
    """
    chi2 = _number(chi2, "chi2")
    S_opt = _number(S_opt, "S_opt")
    pulls = _by_lepton(pulls, "pulls")
    residuals = _by_lepton(residuals, "residuals")
    sigma_model = checks.real(sigma_model, "sigma_model", positive=True)
    bounds_reached = list(bounds_reached)
    items = []

    def add(item, passed, detail):
        items.append({"item": item, "passed": bool(passed), "detail": detail})

    fits = chi2 <= CHI2_GOOD_MAX
    add("chi2 magnitude", fits,
        f"chi2 = {chi2:.6g} ({'<=' if fits else '>'} {CHI2_GOOD_MAX:g}; "
        "O(1)-O(10) expected if the model fits"
        + ("" if fits else "; the model is in TENSION with the data") + ")")
    lo, hi = S_OPT_RANGE
    add("S_opt order of magnitude", lo <= S_opt <= hi,
        f"S_opt = {S_opt:.6g} MeV per model energy unit (accepted {lo:g} .. {hi:g})")
    worst = max(pulls, key=lambda k: abs(pulls[k]))
    add("masses within sigma", all(abs(p) <= 1.0 for p in pulls.values()),
        "pulls (S E - m)/(sigma_model m) with sigma_model = "
        f"{sigma_model:g}: " + ", ".join(f"{k} {v:+.3g}" for k, v in pulls.items())
        + f"; worst {worst}, relative residual {residuals[worst]:+.3e}")
    if g_pulls is not None:
        g_pulls = _by_lepton(g_pulls, "g_pulls")
        sigma_g = checks.real(sigma_g, "sigma_g", positive=True)
        add("g-factors within sigma", all(abs(p) <= 1.0 for p in g_pulls.values()),
            f"pulls (g_pred - g)/sigma_g with sigma_g = {sigma_g:g}: "
            + ", ".join(f"{k} {v:+.3g}" for k, v in g_pulls.items())
            + f"; C_mu = {_number(C_mu, 'C_mu'):.6g}")
    profile = n_local_minima is not None
    add("every grid point converged" if profile else "converged", converged, convergence)
    if profile:
        n_min = checks.count(n_local_minima, "n_local_minima", minimum=0)
        add("smooth profile", n_min <= MAX_LOCAL_MINIMA,
            f"{n_min} local minim{'um' if n_min == 1 else 'a'} of the beta profile "
            f"(<= {MAX_LOCAL_MINIMA} expected); 1-sigma width "
            + ("open" if width is None else f"{width:.4g}") + f" -> {classification}")
    add("optimum inside the bounds", not bounds_reached,
        "parameters on a bound: " + (", ".join(bounds_reached) if bounds_reached else "none"))
    return items


def format_checklist(items: Sequence[Mapping], title: str = "validation checklist") -> str:
    """The checklist as text, one ``[PASS]``/``[FAIL]`` line per item and a verdict."""
    lines = [title]
    for it in items:
        lines.append(f"  [{'PASS' if it['passed'] else 'FAIL'}] {it['item']}: {it['detail']}")
    failed = [it["item"] for it in items if not it["passed"]]
    if failed:
        lines.append(f"  -> {len(failed)} of {len(items)} checks FAILED ({', '.join(failed)}): "
                     "the model does not reproduce the data under these settings and bounds.")
    else:
        lines.append(f"  -> all {len(items)} checks passed.")
    return "\n".join(lines)
