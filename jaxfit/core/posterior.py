"""The posterior that NUTS leaves: draws, diagnostics, the chains' state, and their files.

A :class:`SampleResult` is saved (:meth:`SampleResult.save`) as six files, all rendered in
memory before the first is written, so a folder holds a complete set or the old one:

- ``stem.json``: settings and the summary table (plus the provenance);
- ``stem.csv``: the summary table, one row per parameter;
- ``stem.png``: the corner plot (:mod:`jaxfit.core.corner`), with the Hessian ellipses
  when an :class:`~jaxfit.core.uncertainty.Uncertainty` is given;
- ``stem.nc``: an ArviZ ``InferenceData`` in netCDF-4 (HDF5, written by h5netcdf) with the
  groups ``posterior`` (each free parameter, dims ``chain, draw``, its unit as the
  ``units`` attribute) and ``sample_stats`` (ArviZ's names: ``lp``, ``diverging``,
  ``acceptance_rate``, ``n_steps``, ``step_size``, ``energy``); run settings are attributes
  of ``posterior``. ``arviz.from_netcdf`` reads it;
- ``stem_draws.csv``: the same draws as a plain table with ``chain`` and ``draw`` columns;
- ``stem_state.json``: the :class:`ChainState` that :func:`jaxfit.core.sampling.resume_nuts`
  continues from.

:func:`read_posterior` reads ``stem.nc`` and ``stem_state.json`` back into a
:class:`SampleResult`, bit for bit (netCDF keeps float64 and JSON keeps ``repr`` floats).
"""

from __future__ import annotations

import dataclasses
import json
import math
import tempfile
import warnings
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
from numpyro.diagnostics import effective_sample_size, split_gelman_rubin

from jaxfit.core import checks
from jaxfit.core.corner import corner_figure
from jaxfit.core.io import png_bytes, to_jsonable, write_files
from jaxfit.core.results import ResultSet
from jaxfit.core.uncertainty import Uncertainty

SUMMARY_COLUMNS = ("mean", "std", "median", "q5", "q95", "n_eff", "r_hat")
# numpyro's extra fields -> ArviZ's sample_stats names; lp is minus the potential energy
STAT_FIELDS = {
    "potential_energy": "lp",
    "diverging": "diverging",
    "accept_prob": "acceptance_rate",
    "num_steps": "n_steps",
    "adapt_state.step_size": "step_size",
    "energy": "energy",
}
# Settings kept as attributes of the netCDF posterior group (numbers and strings only).
_SETTINGS = ("seed", "num_warmup", "kind", "chain_method", "target_accept")


@dataclasses.dataclass(frozen=True, eq=False)  # eq=False: arrays have no boolean equality
class ChainState:
    """Where every chain stands after its last draw: what NUTS needs to go on unchanged.

    All in the unconstrained space ``u`` of :meth:`ParamSpec.from_unconstrained`.

    Attributes:
        names: the free parameters, the order of the last axis below.
        position: ``(chains, n)`` last position ``u``.
        step_size: ``(chains,)`` adapted leapfrog step size in ``u``.
        inverse_mass_matrix: ``(chains, n)`` adapted diagonal inverse mass matrix (the
            variance of ``u`` that warmup measured).
        rng_key: ``(chains, k)`` uint32 raw data of each chain's next random key
            (``jax.random.key_data``; ``k = 2`` for JAX's default threefry keys).
    """

    names: tuple[str, ...]
    position: np.ndarray
    step_size: np.ndarray
    inverse_mass_matrix: np.ndarray
    rng_key: np.ndarray

    def to_dict(self) -> dict:
        """JSON-friendly copy (lists); floats are written in full (``repr``)."""
        return {"names": list(self.names), "position": self.position.tolist(),
                "step_size": self.step_size.tolist(),
                "inverse_mass_matrix": self.inverse_mass_matrix.tolist(),
                "rng_key": self.rng_key.tolist()}

    @classmethod
    def from_dict(cls, record: Mapping) -> ChainState:
        """Inverse of :meth:`to_dict`, with the shapes checked."""
        names = tuple(record["names"])
        position = checks.finite_array(record["position"], "state position", ndim=2)
        chains, n = position.shape
        if n != len(names):
            raise ValueError(f"state position must have {len(names)} columns (one per name), "
                             f"got shape {position.shape}")
        step_size = checks.finite_array(record["step_size"], "state step_size", positive=True,
                                        ndim=1)
        inverse_mass = checks.finite_array(record["inverse_mass_matrix"],
                                           "state inverse_mass_matrix", positive=True, ndim=2)
        rng_key = np.asarray(record["rng_key"], dtype=np.uint32)
        for name, array, shape in (("step_size", step_size, (chains,)),
                                   ("inverse_mass_matrix", inverse_mass, (chains, n)),
                                   ("rng_key", rng_key, (chains, rng_key.shape[-1]))):
            if array.shape != shape:
                raise ValueError(f"state {name} must have shape {shape}, got {array.shape}")
        return cls(names, position, step_size, inverse_mass, rng_key)


@dataclasses.dataclass(frozen=True, eq=False)
class SampleResult(ResultSet):
    """Posterior draws, their diagnostics and the state to continue from.

    Attributes:
        samples: ``{name: array (chains, draws)}`` for the free parameters, in their units.
        stats: ``{name: array (chains, draws)}`` per-draw NUTS statistics, ArviZ's names
            (values of :data:`STAT_FIELDS`): ``lp`` (log posterior density in ``u``, up to a
            constant), ``diverging``, ``acceptance_rate``, ``n_steps`` (leapfrog steps),
            ``step_size`` and ``energy`` (the Hamiltonian).
        state: the chains' state after the last draw (:class:`ChainState`).
        units: ``{name: unit}`` of the free parameters.
        seed: the seed of the first run (start jitter and NUTS; a resumed run goes on
            with the saved keys).
        num_warmup: adaptation steps per chain of the first run, discarded.
        kind, chain_method, target_accept: run settings, kept to reproduce and continue it.
    """

    samples: dict[str, np.ndarray]
    stats: dict[str, np.ndarray]
    state: ChainState
    units: dict[str, str]
    seed: int
    num_warmup: int
    kind: str
    chain_method: str
    target_accept: float

    default_stem = "nuts"

    @property
    def num_chains(self) -> int:
        return self.state.position.shape[0]

    @property
    def num_samples(self) -> int:
        """Kept draws per chain, every run together."""
        return next(iter(self.samples.values())).shape[1]

    @property
    def num_divergences(self) -> int:
        """Divergent transitions after warmup, all chains and runs together."""
        return int(np.sum(self.stats["diverging"]))

    @property
    def table(self) -> pd.DataFrame:
        """The summary table of :func:`summarize`."""
        return summarize(self.samples)

    def flat(self) -> dict[str, np.ndarray]:
        """``{name: 1-D draws}`` with the chains concatenated."""
        return {name: draws.reshape(-1) for name, draws in self.samples.items()}

    def summary(self) -> str:
        """Draw counts, the divergences and the worst R-hat and effective sample size."""
        table = self.table
        return (f"NUTS: {self.num_chains} chain(s) x {self.num_samples} draws after "
                f"{self.num_warmup} warmup; {self.num_divergences} divergences; "
                f"max r_hat {table['r_hat'].max():.3f}, min n_eff {table['n_eff'].min():.0f}")

    def to_dict(self) -> dict:
        """JSON-friendly summary table and settings (no draws; non-finite -> ``None``)."""
        summary = {
            name: {col: _json_float(row[col]) for col in SUMMARY_COLUMNS}
            for name, row in self.table.iterrows()
        }
        return {
            "summary": summary,
            "num_divergences": self.num_divergences,
            "num_chains": self.num_chains,
            "num_samples": self.num_samples,
            **{name: getattr(self, name) for name in _SETTINGS},
        }

    def to_frame(self) -> pd.DataFrame:
        return self.table

    def plot(self, reference: Uncertainty | None = None):
        """The corner plot, with the Hessian of ``reference`` overlaid when given."""
        return corner_figure(self.samples, self.units, reference,
                             title=f"{self.num_chains} x {self.num_samples} NUTS draws")

    def save(self, directory, stem: str | None = None, provenance: dict | None = None,
             reference: Uncertainty | None = None) -> dict[str, Path]:
        """Write the six files of the module doc into ``directory``.

        Returns:
            ``{"json", "csv", "png", "nc", "draws", "state": path}``.
        """
        stem = stem or self.default_stem
        record = self.to_dict()
        if provenance is not None:
            record = record | {"provenance": provenance}
        contents = {
            "json": f"{stem}.json", "csv": f"{stem}.csv", "png": f"{stem}.png",
            "nc": f"{stem}.nc", "draws": f"{stem}_draws.csv", "state": f"{stem}_state.json",
        }
        rendered = {
            "json": _json_bytes(record),
            "csv": self.table.to_csv().encode(),
            "png": png_bytes(self.plot(reference)),
            "nc": netcdf_bytes(self),
            "draws": draws_frame(self).to_csv(index=False).encode(),
            "state": _json_bytes(self.state.to_dict()),
        }
        # the six files are one set: complete or absent (a full disk leaves the old set)
        paths = write_files(directory, {contents[kind]: data for kind, data in rendered.items()})
        return {kind: paths[contents[kind]] for kind in rendered}


def summarize(samples: Mapping[str, np.ndarray]) -> pd.DataFrame:
    """Summary of ``{name: (chains, draws)}``: ``mean``, ``std`` (``ddof=1``), ``median``,
    ``q5`` and ``q95`` (equal-tailed 5% and 95% quantiles over all chains), ``n_eff``
    (effective sample size) and ``r_hat`` (split Gelman-Rubin), indexed by name."""
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


def draws_frame(result: SampleResult) -> pd.DataFrame:
    """One row per draw: ``chain``, ``draw`` (both from 0), the parameters, ``diverging``."""
    chains, draws = result.num_chains, result.num_samples
    columns = {"chain": np.repeat(np.arange(chains), draws),
               "draw": np.tile(np.arange(draws), chains)}
    columns |= {name: values.reshape(-1) for name, values in result.samples.items()}
    columns["diverging"] = result.stats["diverging"].reshape(-1)
    return pd.DataFrame(columns)


def _arviz():
    # arviz 0.x announces its 1.0 refactor with a FutureWarning on every import; the API
    # used here (from_dict, to_netcdf, from_netcdf) is the documented 0.x one, pinned
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        import arviz

    return arviz


def to_inference_data(result: SampleResult):
    """The draws as an ArviZ ``InferenceData`` (groups ``posterior``, ``sample_stats``)."""
    idata = _arviz().from_dict(posterior=result.samples, sample_stats=result.stats)
    for name, unit in result.units.items():
        idata.posterior[name].attrs["units"] = unit
    idata.posterior.attrs.update({name: getattr(result, name) for name in _SETTINGS})
    return idata


def netcdf_bytes(result: SampleResult) -> bytes:
    """``stem.nc`` rendered in memory (through a temporary file: netCDF-4 is HDF5)."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "posterior.nc"
        to_inference_data(result).to_netcdf(str(path), engine="h5netcdf")
        return path.read_bytes()


def read_posterior(directory, stem: str = SampleResult.default_stem) -> SampleResult:
    """The :class:`SampleResult` saved by :meth:`SampleResult.save` as ``stem.nc`` and
    ``stem_state.json`` in ``directory``.

    Raises:
        FileNotFoundError: either file is missing.
        ValueError: the two files disagree (chains, parameter names) or hold bad values.
    """
    folder = checks.existing_folder(directory, "posterior folder")
    netcdf = checks.existing_file(folder / f"{stem}.nc", "posterior draws")
    state_file = checks.existing_file(folder / f"{stem}_state.json", "chain state")
    state = ChainState.from_dict(json.loads(state_file.read_text()))
    idata = _arviz().from_netcdf(str(netcdf))
    posterior, sample_stats = idata.posterior, idata.sample_stats
    if tuple(posterior.data_vars) != state.names:
        raise ValueError(f"{netcdf.name} must hold the parameters {', '.join(state.names)} "
                         f"of {state_file.name}, got {', '.join(posterior.data_vars)}")
    samples = {name: np.asarray(posterior[name].values, dtype=np.float64)
               for name in state.names}
    if samples[state.names[0]].shape[0] != state.position.shape[0]:
        raise ValueError(f"{netcdf.name} must hold {state.position.shape[0]} chains like "
                         f"{state_file.name}, got {samples[state.names[0]].shape[0]}")
    attrs = posterior.attrs
    return SampleResult(
        samples=samples,
        stats={name: np.asarray(sample_stats[name].values) for name in STAT_FIELDS.values()},
        state=state,
        units={name: str(posterior[name].attrs.get("units", "")) for name in state.names},
        seed=int(attrs["seed"]),
        num_warmup=int(attrs["num_warmup"]),
        kind=str(attrs["kind"]),
        chain_method=str(attrs["chain_method"]),
        target_accept=float(attrs["target_accept"]),
    )


def _json_float(value) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


def _json_bytes(record: dict) -> bytes:
    return (json.dumps(to_jsonable(record), indent=2, allow_nan=False) + "\n").encode()
