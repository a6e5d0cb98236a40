"""Corner plot of posterior draws with the Hessian (Gaussian) approximation overlaid.

For ``n`` parameters the figure is an ``n x n`` lower triangle: on the diagonal the
marginal histogram of each parameter (a density, per unit of the parameter) with the
Gaussian ``N(best_i, C_ii)`` of the Hessian; below it, for each pair, the draws' 68% and
95% highest-density regions of a 2-D histogram and the Hessian ellipses that hold the same
probability for a 2-D Gaussian,

    (x - best)^T C^-1 (x - best) = -2 ln(1 - p),  i.e. 2.30 (p = 0.683), 6.18 (p = 0.954).

The 2-D histograms are smoothed by a Gaussian of one cell before the contours are drawn
(as the ``corner`` package does): with ~1e3 draws the raw cell counts are too noisy for a
contour to mean anything. Where the posterior is Gaussian the two sets of curves
coincide, so the plot shows at a glance whether the Hessian errors can be trusted.
Parameters the Hessian leaves unconstrained (:attr:`Uncertainty.unconstrained`) get no
Gaussian curve.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
from scipy.ndimage import gaussian_filter

from jaxfit.core.uncertainty import Uncertainty

CREDIBLE_MASSES = (0.683, 0.954)
# Few enough bins that a 2-D histogram of ~1e3 draws is not mostly empty cells.
_BINS = 30
# Smoothing of the 2-D histograms, in cells (module doc).
_SMOOTH_CELLS = 1.0
# Axis range: the central 99.8% of the draws, so one stray draw does not squash the panel.
_RANGE_QUANTILES = (0.001, 0.999)


def ellipse(best: np.ndarray, cov: np.ndarray, mass: float, n_points: int = 181) -> np.ndarray:
    """``(n_points, 2)`` points of the 2-D Gaussian contour holding probability ``mass``.

    ``best`` (2,) and ``cov`` (2, 2) in the two parameters' units; the contour is
    ``best + sqrt(-2 ln(1 - mass)) A (cos t, sin t)`` with ``A A^T = cov``.
    """
    values, vectors = np.linalg.eigh(cov)
    # eigh, not Cholesky: a near-singular block (a tight degeneracy) still draws, as a line
    root = vectors * np.sqrt(np.clip(values, 0.0, None))
    t = np.linspace(0.0, 2.0 * np.pi, n_points)
    circle = np.stack([np.cos(t), np.sin(t)])
    return (best[:, None] + math.sqrt(-2.0 * math.log1p(-mass)) * root @ circle).T


def credible_levels(density: np.ndarray, masses=CREDIBLE_MASSES) -> list[float]:
    """Histogram heights whose super-level sets hold each of ``masses`` of the total.

    ``density`` is a histogram (any shape, counts or densities on equal cells); returned in
    increasing height, as ``contour`` wants them (the largest mass is the lowest level).
    """
    heights = np.sort(density.ravel())[::-1]
    cumulative = np.cumsum(heights) / heights.sum()
    levels = [heights[min(np.searchsorted(cumulative, m), heights.size - 1)] for m in masses]
    return sorted(levels)


def corner_figure(samples: Mapping[str, np.ndarray], units: Mapping[str, str] | None = None,
                  reference: Uncertainty | None = None, title: str | None = None):
    """The corner plot (module doc) as a new matplotlib Figure.

    Args:
        samples: ``{name: draws}`` of any shape (flattened: chains are pooled), in the
            parameters' units; the plot's order is the mapping's order.
        units: ``{name: unit}`` for the axis labels.
        reference: the Hessian uncertainty (best fit and covariance) to overlay; names
            missing from it get no Gaussian curve.
        title: the figure's title.
    """
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    names = list(samples)
    units = units or {}
    draws = {name: np.asarray(samples[name], dtype=np.float64).ravel() for name in names}
    limits = {name: _limits(draws[name]) for name in names}
    gaussian = _gaussian_names(reference, names)
    n = len(names)
    fig, axes = plt.subplots(n, n, figsize=(2.3 * n + 0.6, 2.3 * n + 0.4), squeeze=False)
    for i, yname in enumerate(names):
        for j, xname in enumerate(names):
            ax = axes[i, j]
            if j > i:
                ax.set_visible(False)
                continue
            if i == j:
                _marginal(ax, draws[xname], limits[xname],
                          _normal(reference, xname) if xname in gaussian else None)
            else:
                _pair(ax, draws[xname], draws[yname], limits[xname], limits[yname],
                      _block(reference, xname, yname) if {xname, yname} <= gaussian else None)
            ax.set_xlim(limits[xname])
            # few, slanted ticks: long numbers (0.02237) on narrow panels run into each other
            ax.xaxis.set_major_locator(MaxNLocator(4))
            ax.yaxis.set_major_locator(MaxNLocator(4))
            if i == n - 1:
                ax.tick_params(axis="x", labelrotation=45)
                ax.set_xlabel(_label(xname, units))
            else:
                ax.tick_params(labelbottom=False)
            if j == 0 and i > 0:
                ax.set_ylabel(_label(yname, units))
            elif i != j:
                ax.tick_params(labelleft=False)
            if i == j:
                ax.set_yticks([])
    handles = [plt.Line2D([], [], color="k", lw=1.2, label="NUTS draws (68%, 95%)")]
    if gaussian:
        handles.append(plt.Line2D([], [], color="C3", lw=1.2, ls="--",
                                  label="Hessian approximation (68%, 95%)"))
    fig.legend(handles=handles, loc="upper right", fontsize=8, frameon=False)
    if title:
        fig.suptitle(title, x=0.02, ha="left")  # the legend holds the right-hand side
    fig.subplots_adjust(hspace=0.08, wspace=0.08)
    return fig


def _limits(values: np.ndarray) -> tuple[float, float]:
    low, high = np.quantile(values, _RANGE_QUANTILES)
    pad = 0.05 * (high - low) if high > low else max(abs(low), 1.0) * 1e-3
    return float(low - pad), float(high + pad)


def _label(name: str, units: Mapping[str, str]) -> str:
    return f"{name} [{units[name]}]" if units.get(name) else name


def _gaussian_names(reference: Uncertainty | None, names) -> set[str]:
    if reference is None:
        return set()
    return {n for n in names if n in reference.names and n not in reference.unconstrained}


def _normal(reference: Uncertainty, name: str) -> tuple[float, float]:
    i = reference.names.index(name)
    return reference.best[name], math.sqrt(reference.covariance[i, i])


def _block(reference: Uncertainty, xname: str, yname: str) -> tuple[np.ndarray, np.ndarray]:
    index = [reference.names.index(xname), reference.names.index(yname)]
    best = np.array([reference.best[xname], reference.best[yname]])
    return best, reference.covariance[np.ix_(index, index)]


def _marginal(ax, values, limits, normal):
    ax.hist(values, bins=_BINS, range=limits, density=True, histtype="step", color="k")
    if normal is not None:
        mean, sigma = normal
        grid = np.linspace(*limits, 200)
        density = np.exp(-0.5 * ((grid - mean) / sigma) ** 2) / (sigma * math.sqrt(2 * math.pi))
        ax.plot(grid, density, "C3--", lw=1.2)


def _pair(ax, x, y, xlim, ylim, block):
    counts, xedges, yedges = np.histogram2d(x, y, bins=_BINS, range=[xlim, ylim])
    centres = 0.5 * (xedges[1:] + xedges[:-1]), 0.5 * (yedges[1:] + yedges[:-1])
    ax.pcolormesh(xedges, yedges, counts.T, cmap="Greys", alpha=0.5, shading="flat")
    smooth = gaussian_filter(counts, _SMOOTH_CELLS)
    levels = credible_levels(smooth)
    if smooth.sum() > 0 and levels[0] < levels[1]:  # a single-cell histogram has no contour
        ax.contour(*centres, smooth.T, levels=levels, colors="k", linewidths=1.0)
    if block is not None:
        best, cov = block
        for mass in CREDIBLE_MASSES:
            ax.plot(*ellipse(best, cov, mass).T, "C3--", lw=1.2)
    ax.set_ylim(ylim)
