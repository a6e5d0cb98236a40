"""Quality metrics and lensibility of MaNGA galaxies as lensed sources (research definitions).

**Quality metrics** (:func:`quality_metrics`; ``velocity="stellar"``, the research choice, or
``"gas"`` for the H-alpha velocity). Pixel coordinates are array indices, ``x`` = column,
``y`` = row:

- ``vel_grad``: ``hypot(a, b)`` of the least-squares plane ``v = a x + b y + c`` over the valid
  velocity pixels (km/s per spaxel); NaN when fewer than :data:`MIN_PLANE_PIXELS` (30).
- ``frac_valid_in_1.5Re``: among pixels with finite ``r/R_e <= 1.5``, the fraction that is
  valid in flux *and* velocity.
- ``mask_fraction``: fraction of all pixels not valid in flux and velocity (~0.5 for a good
  galaxy: the corners outside the hexagonal IFU are masked).
- ``vel_std``: standard deviation (ddof 0) of the valid velocities, km/s.
- ``flux_max``, ``flux_mean``: over valid flux pixels, 1e-17 erg/s/cm^2/spaxel.
- ``flux_vel_corr``: Pearson correlation of flux and velocity over pixels valid in both (near
  0 for a symmetric rotating disc; NaN below 3 pixels or without variance).
- Flags, the thresholds of the hard cuts of :func:`lensibility_score`
  (:data:`HARD_CUTS`): ``flag_low_rotation`` = ``vel_grad < 2.5`` or NaN,
  ``flag_heavily_masked`` = ``mask_fraction > 0.70``, ``flag_low_flux`` = ``flux_max < 50``;
  ``flag_low_coverage`` = ``frac_valid_in_1.5Re < 0.60``; ``usable`` = no flag raised.

**Lensibility** (:func:`lensibility_score`): hard reject if ``frac_valid_in_1.5Re < 0.60``,
``vel_grad < 2.5``, ``mask_fraction > 0.70`` or ``flux_max < 50`` (a NaN in any of them
rejects too; score 0). Otherwise points: vel_grad >= 5 -> 30, >= 3 -> 22, else 12;
frac >= 0.9 -> 30, >= 0.8 -> 24, else 16; vel_std >= 120 -> 20, >= 70 -> 14, else 8;
mask_fraction <= 0.4 -> 10, <= 0.6 -> 6, else (<= 0.7) 2; flux_max >= 200 -> 5, >= 100 -> 3,
else 1; |flux_vel_corr| <= 0.2 -> +3, > 0.4 -> -5 (in between, or NaN, 0). Tiers
(:data:`TIERS`): elite >= 80, good >= 60, borderline >= 40, else reject. The research warns
that the point system is arbitrary; the hard cuts are the robust part.
:func:`inspect_folder` writes ``maps_quality_summary.csv``, ``maps_lensability_scored.csv``
and the usable index ``usable_maps.txt`` (file names with tier != reject, best first).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from jaxfit.core import checks
from jaxfit.core.io import atomic_write_bytes, write_csv
from jaxfit.core.progress import progress_bar
from jaxfit.lensing.manga import HALPHA, VELOCITY_KINDS, MapsData, maps_files, read_maps

__all__ = [
    "HARD_CUTS",
    "METRIC_KEYS",
    "MIN_PLANE_PIXELS",
    "QUALITY_FILE",
    "SCORED_FILE",
    "TIERS",
    "USABLE_INDEX_FILE",
    "inspect_folder",
    "lensibility_score",
    "quality_metrics",
]

MIN_PLANE_PIXELS = 30
"""Fewer valid velocity pixels than this: ``vel_grad`` is NaN (research definition)."""

HARD_CUTS = {
    "frac_valid_in_1.5Re": 0.60,  # reject below
    "vel_grad": 2.5,  # km/s per spaxel; reject below
    "mask_fraction": 0.70,  # reject above
    "flux_max": 50.0,  # 1e-17 erg/s/cm^2/spaxel; reject below
}
"""Hard-reject thresholds of :func:`lensibility_score` (also the quality flags)."""

TIERS = (("elite", 80), ("good", 60), ("borderline", 40))
"""Tier thresholds on the lensibility score (>=); below the last one: ``reject``."""

METRIC_KEYS = ("vel_grad", "frac_valid_in_1.5Re", "vel_std", "mask_fraction", "flux_max",
               "flux_vel_corr")
"""Metrics :func:`lensibility_score` needs."""

QUALITY_FILE = "maps_quality_summary.csv"
SCORED_FILE = "maps_lensability_scored.csv"
USABLE_INDEX_FILE = "usable_maps.txt"

_QUALITY_COLUMNS = (
    "file", "plateifu", "velocity", "n_pix", "n_valid_flux", "n_valid_vel", "n_valid",
    "vel_grad", "frac_valid_in_1.5Re", "vel_std", "mask_fraction", "flux_max", "flux_mean",
    "flux_vel_corr", "flag_low_rotation", "flag_heavily_masked", "flag_low_flux",
    "flag_low_coverage", "usable", "error",
)


def _plane_gradient(v: np.ndarray, valid: np.ndarray, min_pixels: int) -> float:
    rows, cols = np.nonzero(valid)
    if rows.size < min_pixels:
        return float("nan")
    design = np.column_stack([cols.astype(np.float64), rows.astype(np.float64),
                              np.ones(rows.size)])
    coef, *_ = np.linalg.lstsq(design, v[rows, cols], rcond=None)
    return float(math.hypot(coef[0], coef[1]))


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    if a.size < 3 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])


def quality_metrics(maps: MapsData, *, velocity: str = "stellar",
                    min_pixels: int = MIN_PLANE_PIXELS) -> dict:
    """Research quality metrics of one galaxy (definitions in the module docstring).

    Args:
        maps: from :func:`read_maps` or :func:`synthetic_maps`.
        velocity: ``"stellar"`` (the research choice) or ``"gas"`` (the line's velocity).
        min_pixels: below this many valid velocity pixels ``vel_grad`` is NaN.

    Returns:
        dict with ``plateifu``, ``velocity``, pixel counts (``n_pix``, ``n_valid_flux``,
        ``n_valid_vel``, ``n_valid``), ``vel_grad`` (km/s/spaxel), ``frac_valid_in_1.5Re``,
        ``vel_std`` (km/s), ``mask_fraction``, ``flux_max``, ``flux_mean``
        (1e-17 erg/s/cm^2/spaxel), ``flux_vel_corr`` and the flags ``flag_low_rotation``,
        ``flag_heavily_masked``, ``flag_low_flux``, ``flag_low_coverage`` and ``usable``.
    """
    vel, vel_valid = maps.velocity(velocity)
    flux, flux_valid = maps.flux, maps.flux_valid
    valid = vel_valid & flux_valid
    n_pix = valid.size
    vel_grad = _plane_gradient(vel, vel_valid, int(min_pixels))
    vel_std = float(np.std(vel[vel_valid])) if vel_valid.any() else float("nan")
    flux_max = float(np.max(flux[flux_valid])) if flux_valid.any() else float("nan")
    flux_mean = float(np.mean(flux[flux_valid])) if flux_valid.any() else float("nan")
    with np.errstate(invalid="ignore"):
        inner = np.isfinite(maps.r_re) & (maps.r_re <= 1.5)
    frac_in = float(valid[inner].mean()) if inner.any() else float("nan")
    mask_fraction = float(1.0 - valid.mean())
    corr = _corr(flux[valid], vel[valid])
    metrics = {
        "plateifu": maps.plateifu, "velocity": velocity, "n_pix": int(n_pix),
        "n_valid_flux": int(flux_valid.sum()), "n_valid_vel": int(vel_valid.sum()),
        "n_valid": int(valid.sum()), "vel_grad": vel_grad, "frac_valid_in_1.5Re": frac_in,
        "vel_std": vel_std, "mask_fraction": mask_fraction, "flux_max": flux_max,
        "flux_mean": flux_mean, "flux_vel_corr": corr,
    }
    metrics.update(_flags(metrics))
    return metrics


def _flags(m: Mapping) -> dict:
    def below(value, cut):  # NaN counts as failing the cut
        return not (value >= cut)

    flags = {
        "flag_low_rotation": below(m["vel_grad"], HARD_CUTS["vel_grad"]),
        "flag_heavily_masked": not (m["mask_fraction"] <= HARD_CUTS["mask_fraction"]),
        "flag_low_flux": below(m["flux_max"], HARD_CUTS["flux_max"]),
        "flag_low_coverage": below(m["frac_valid_in_1.5Re"],
                                   HARD_CUTS["frac_valid_in_1.5Re"]),
    }
    flags["usable"] = not any(flags.values())
    return flags


def _tier(score: float) -> str:
    for name, threshold in TIERS:
        if score >= threshold:
            return name
    return "reject"


def lensibility_score(metrics: Mapping) -> tuple[int, str, list[str]]:
    """Score a galaxy for use as a lensed source (research rules; module docstring).

    Args:
        metrics: a mapping (dict, pandas row) with the keys :data:`METRIC_KEYS`.

    Returns:
        ``(score, tier, reasons)``: integer points (0 for a hard reject), ``'elite'``,
        ``'good'``, ``'borderline'`` or ``'reject'``, and one line per cut or point award.

    Raises:
        ValueError: a key is missing or a value is not a number.
    """
    values = {}
    for key in METRIC_KEYS:
        if key not in metrics:
            raise ValueError(
                f"lensibility_score: metric {key!r} missing; needed: {', '.join(METRIC_KEYS)}")
        try:
            values[key] = float(metrics[key])
        except (TypeError, ValueError):
            raise ValueError(
                f"lensibility_score: metric {key!r} must be a number, got {metrics[key]!r}"
            ) from None
    g, f, s = values["vel_grad"], values["frac_valid_in_1.5Re"], values["vel_std"]
    m, fx, c = values["mask_fraction"], values["flux_max"], values["flux_vel_corr"]

    rejects = []
    if not f >= HARD_CUTS["frac_valid_in_1.5Re"]:
        rejects.append(f"frac_valid_in_1.5Re = {f:.3g} < {HARD_CUTS['frac_valid_in_1.5Re']}")
    if not g >= HARD_CUTS["vel_grad"]:
        rejects.append(f"vel_grad = {g:.3g} < {HARD_CUTS['vel_grad']} km/s/spaxel")
    if not m <= HARD_CUTS["mask_fraction"]:
        rejects.append(f"mask_fraction = {m:.3g} > {HARD_CUTS['mask_fraction']}")
    if not fx >= HARD_CUTS["flux_max"]:
        rejects.append(f"flux_max = {fx:.3g} < {HARD_CUTS['flux_max']}")
    if rejects:
        return 0, "reject", ["hard reject: " + r for r in rejects]

    reasons = []

    def award(label, points):
        reasons.append(f"{label}: {points:+d}")
        return points

    score = 0
    score += award(f"vel_grad {g:.3g}", 30 if g >= 5 else 22 if g >= 3 else 12)
    score += award(f"frac_valid_in_1.5Re {f:.3g}", 30 if f >= 0.9 else 24 if f >= 0.8 else 16)
    score += award(f"vel_std {s:.3g}", 20 if s >= 120 else 14 if s >= 70 else 8)
    score += award(f"mask_fraction {m:.3g}", 10 if m <= 0.4 else 6 if m <= 0.6 else 2)
    score += award(f"flux_max {fx:.3g}", 5 if fx >= 200 else 3 if fx >= 100 else 1)
    if abs(c) <= 0.2:
        score += award(f"|flux_vel_corr| {abs(c):.3g}", 3)
    elif abs(c) > 0.4:
        score += award(f"|flux_vel_corr| {abs(c):.3g}", -5)
    else:
        reasons.append(f"|flux_vel_corr| {abs(c):.3g}: +0")
    return score, _tier(score), reasons


def inspect_folder(folder, out_dir, *, velocity: str = "stellar", line: str = HALPHA,
                   progress: bool = True):
    """Quality metrics and lensibility of every MAPS file (``*.fits``, ``*.fits.gz``) of a folder.

    A file that cannot be read gets a row with the ``error`` column filled (tier ``reject``)
    instead of stopping the folder.

    Args:
        folder: the MAPS files.
        out_dir: where ``maps_quality_summary.csv``, ``maps_lensability_scored.csv`` and
            ``usable_maps.txt`` are written (atomically).
        velocity: ``"stellar"`` or ``"gas"`` (see :func:`quality_metrics`).
        line: emission line read (default H-alpha).
        progress: show a progress bar (one step per file; silenced by ``--quiet``).

    Returns:
        ``(quality, scored, index_path)``: the quality DataFrame (file order), the scored
        DataFrame (quality + ``score``, ``tier``, ``reasons``; best first) and the path of the
        usable index (one file name per line, tier != reject, best first).

    Raises:
        FileNotFoundError: ``folder`` does not exist or holds no MAPS files.
        ValueError: ``folder`` is a file, or ``velocity`` is unknown.
    """
    import pandas as pd

    checks.one_of(velocity, "velocity", VELOCITY_KINDS)
    files = maps_files(folder)
    out_dir = Path(out_dir)
    if not files:
        raise FileNotFoundError(f"{folder}: no MAPS files (*.fits, *.fits.gz)")
    rows = []
    with progress_bar(len(files), "inspect MAPS", enabled=progress) as advance:
        for path in files:
            row = dict.fromkeys(_QUALITY_COLUMNS)
            row.update(file=path.name, velocity=velocity, error="")
            try:
                row.update(quality_metrics(read_maps(path, line=line), velocity=velocity))
            except Exception as exc:  # one bad file fails alone
                row.update(error=f"{type(exc).__name__}: {exc}", usable=False)
            rows.append(row)
            advance()
    quality = pd.DataFrame(rows, columns=list(_QUALITY_COLUMNS))
    scores, tiers, reasons = [], [], []
    for row in rows:
        if row["error"]:
            scores.append(0)
            tiers.append("reject")
            reasons.append("error: " + row["error"])
            continue
        score, tier, why = lensibility_score(row)
        scores.append(score)
        tiers.append(tier)
        reasons.append("; ".join(why))
    scored = quality.assign(score=scores, tier=tiers, reasons=reasons)
    scored = scored.sort_values(["score", "file"], ascending=[False, True], kind="stable")
    scored = scored.reset_index(drop=True)
    write_csv(out_dir / QUALITY_FILE, quality)
    write_csv(out_dir / SCORED_FILE, scored)
    usable = scored.loc[scored["tier"] != "reject", "file"].tolist()
    text = "".join(f"{name}\n" for name in usable)
    index_path = atomic_write_bytes(out_dir / USABLE_INDEX_FILE, text.encode())
    return quality, scored, index_path
