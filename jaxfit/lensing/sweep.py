"""Grids of CNN training runs: subhalo strength, PSF, noise and channel modes, one row each.

Every run is judged against chance (:func:`~jaxfit.lensing.metrics.chance_verdict`: its
test accuracy against the majority-class rate of its test set, one-sided binomial test at
p < 0.01), so a sweep reports which points the network learned nothing at instead of
listing their accuracy among the others.
"""

from __future__ import annotations

import dataclasses
import itertools
from pathlib import Path

from jaxfit.core import checks
from jaxfit.lensing.params import LensSimConfig
from jaxfit.lensing.results import SweepResult
from jaxfit.lensing.training import TrainConfig, train

__all__ = ["sweep"]

_SIM_FIELDS = tuple(f.name for f in dataclasses.fields(LensSimConfig))
_TRAIN_FIELDS = tuple(f.name for f in dataclasses.fields(TrainConfig) if f.name != "sim")


def _config_at(base: TrainConfig, point: dict) -> TrainConfig:
    """``base`` with the grid ``point``'s values; a bad value raises naming the grid name
    and the value (the config's own check says what was expected)."""
    try:
        sim = dataclasses.replace(base.sim, **{k: v for k, v in point.items()
                                               if k in _SIM_FIELDS})
        return dataclasses.replace(
            base, sim=sim, **{k: v for k, v in point.items() if k in _TRAIN_FIELDS})
    except (TypeError, ValueError) as exc:
        raise ValueError(f"grid point {point}: {exc}") from None


def sweep(grid: dict, base: TrainConfig, sources, out_dir, source_ids=None,
          progress: bool = True) -> SweepResult:
    """Train once per point of the Cartesian product of ``grid``; one row per run.

    Args:
        grid: ``{name: [values...]}``; names are ``LensSimConfig`` fields
            (``theta_E_sub_factor``, ``psf_sigma``, ``flux_noise_sigma``,
            ``vel_noise_sigma``, ...) or ``TrainConfig`` fields (``channels``, ``seed``,
            ``experiment``, ...).
        base: the :class:`~jaxfit.lensing.training.TrainConfig` every run starts from.
        sources, source_ids: as in :func:`~jaxfit.lensing.training.train`.
        out_dir: gets the :class:`~jaxfit.lensing.results.SweepResult` so far after every
            run (``sweep.json``, ``sweep.csv``, ``sweep.png``: test accuracy and ROC AUC
            against ``theta_E_sub_factor``, or the first numeric grid name, one line per
            channel mode and other grid values, and the loss curves of every run) and
            ``run_000/``... with each run's metrics and checkpoint.

    Returns:
        :class:`~jaxfit.lensing.results.SweepResult`; its ``frame`` has one row per run
        with ``run``, the grid values, ``accuracy``, ``roc_auc``, ``loss`` (test),
        ``majority_rate``, ``chance_p_value``, ``beats_chance``, ``val_accuracy`` (last
        epoch), ``steps_per_s``, ``seed`` and every config field.

    Raises:
        ValueError: an unknown grid name, an empty list of values, or a grid point whose
            config is not valid (named, before any run starts).
    """
    import pandas as pd

    checks.instance(grid, "grid", dict)
    if not grid:
        raise ValueError("grid must be a non-empty dict {name: [values]}")
    for name, values in grid.items():
        checks.one_of(name, "each name of grid", _SIM_FIELDS + _TRAIN_FIELDS)
        if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__") or not list(values):
            raise ValueError(f"grid[{name!r}] must be a non-empty list of values")
    names = list(grid)
    out_dir = Path(out_dir)
    # every config is built (and so validated) before the first run: a bad value in the
    # last grid point fails at once, not after hours of training the others
    points = [dict(zip(names, combo, strict=True))
              for combo in itertools.product(*(list(grid[n]) for n in names))]
    configs = [_config_at(base, point) for point in points]
    rows, curves = [], {}
    for i, (point, config) in enumerate(zip(points, configs, strict=True)):
        result = train(config, sources, source_ids, out_dir / f"run_{i:03d}", progress=progress)
        test = result.test
        row = {"run": i, **point,
               "accuracy": test["accuracy"], "roc_auc": test["roc_auc"], "loss": test["loss"],
               "n_test": test["n"], "majority_rate": test["majority_rate"],
               "chance_p_value": test["chance_p_value"], "beats_chance": test["beats_chance"],
               "val_accuracy": result.history[-1]["val_accuracy"],
               "steps_per_s": result.throughput.get("warm_steps_per_s")}
        for k in _TRAIN_FIELDS:
            row.setdefault(k, getattr(config, k) if k != "split" else str(config.split))
        for k in _SIM_FIELDS:
            row.setdefault(k, getattr(config.sim, k))
        rows.append(row)
        curves[i] = [{k: h[k] for k in ("epoch", "train_loss", "val_loss")}
                     for h in result.history]
        swept = SweepResult(pd.DataFrame(rows), names, dict(curves))
        swept.save(out_dir)
    return swept
