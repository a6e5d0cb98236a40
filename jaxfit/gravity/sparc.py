"""SPARC galaxies as one padded, masked batch: loading a folder, and fetching SPARC.

  :class:`SparcBatch` (galaxies sorted by name), with per-galaxy velocity dispersions from an
  optional summary CSV (:func:`read_sparc_summary`; missing galaxies get ``default_sigma_v``
  = 25 km/s, the research default).
- :func:`download_sparc` (``jaxfit data sparc``) fetches ``Rotmod_LTG.zip`` and the master
  table from :data:`SPARC_URLS` into ``data_home()/sparc`` (:func:`default_sparc_dir`).

Padding convention of :class:`SparcBatch` (fixed shapes ``(G, N_max)``, nothing NaN): at
padded points ``mask`` is False, ``R`` repeats the galaxy's last radius (so ``R > 0``
everywhere and logs/divisions stay finite), ``errV`` is 1, and ``Vobs``, ``Vgas``,
``Vdisk``, ``Vbul``, ``SBdisk``, ``SBbul`` are 0. Reductions must use ``mask``.

**Milky Way**:

Units: ``R`` kpc, speeds km/s, surface brightnesses Lsun/pc^2 at 3.6 um, distances Mpc.
The file readers are :mod:`jaxfit.gravity.sparc_files`.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import re
import shutil
import tempfile
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path, PurePosixPath

import jax
import jax.numpy as jnp
import numpy as np

from jaxfit.core import checks
from jaxfit.gravity.arrays import loaded_f64
from jaxfit.gravity.limits import speed
from jaxfit.gravity.sparc_files import (
    ROTMOD_COLUMNS,
    ROTMOD_SUFFIX,
    SPARC_HASHES,
    SPARC_MASTER_FILE,
    SPARC_ROTMOD_DIR,
    SPARC_URLS,
    SPARC_ZIP,
    how_to_get_sparc,
    read_rotmod,
    read_sparc_master,
    read_sparc_summary,
)

_MAX_ZIP_MEMBER = 16 * 2**20  # bytes; a rotmod file is a few kB
_MAX_ZIP_TOTAL = 256 * 2**20


_BATCH_ARRAYS = ("R", "Vobs", "errV", "Vgas", "Vdisk", "Vbul", "SBdisk", "SBbul", "mask",
                 "n_points", "distance", "sigma_v")


@functools.partial(jax.tree_util.register_dataclass, data_fields=list(_BATCH_ARRAYS),
                   meta_fields=["names"])
@dataclasses.dataclass(frozen=True, eq=False)
class SparcBatch:
    """All galaxies in one padded, masked batch (a JAX pytree; ``names`` is static).

    Attributes:
        names: galaxy names, one per row.
        R: radii [kpc], shape ``(G, N_max)``.
        Vobs, errV: observed rotation velocity and its error [km/s].
        Vgas, Vdisk, Vbul: baryonic contributions [km/s] (disc and bulge for M/L = 1).
        SBdisk, SBbul: surface brightnesses [Lsun/pc^2].
        mask: True at real points, shape ``(G, N_max)``.
        n_points: real points per galaxy, int32, shape ``(G,)``.
        distance: distance [Mpc], shape ``(G,)``.
        sigma_v: velocity dispersion [km/s] for the resonance kernel, shape ``(G,)``.

    Padded points (``mask`` False) hold finite values: ``R`` = the galaxy's last radius,
    ``errV`` = 1, all velocities and surface brightnesses 0.
    """

    names: tuple[str, ...]
    R: jax.Array
    Vobs: jax.Array
    errV: jax.Array
    Vgas: jax.Array
    Vdisk: jax.Array
    Vbul: jax.Array
    SBdisk: jax.Array
    SBbul: jax.Array
    mask: jax.Array
    n_points: jax.Array
    distance: jax.Array
    sigma_v: jax.Array

    @property
    def n_galaxies(self) -> int:
        """Number of galaxies ``G``."""
        return len(self.names)

    @property
    def n_max(self) -> int:
        """Padded length ``N_max``."""
        return int(self.R.shape[-1])

    @property
    def n_total(self) -> int:
        """Number of real points (host-side; not inside jit)."""
        return int(np.asarray(self.n_points).sum())

    def index(self, name: str) -> int:
        """Row of galaxy ``name``."""
        try:
            return self.names.index(name)
        except ValueError:
            raise KeyError(f"galaxy {name!r} is not in this batch ({self.n_galaxies} galaxies)")\
                from None

    def galaxy(self, name: str) -> dict:
        """The real (unpadded) points of galaxy ``name`` as numpy arrays, with
        ``distance`` and ``sigma_v`` (host-side)."""
        i = self.index(name)
        n = int(self.n_points[i])
        out = {c: np.asarray(getattr(self, c)[i, :n]) for c in ROTMOD_COLUMNS[1:]}
        out["R"] = np.asarray(self.R[i, :n])
        out["distance"] = float(self.distance[i])
        out["sigma_v"] = float(self.sigma_v[i])
        return out


def make_sparc_batch(curves: Sequence[Mapping], sigma_v=None, *,
                     default_sigma_v: float = 25.0) -> SparcBatch:
    """Pad rotation curves into a :class:`SparcBatch` (in the given order).

    Args:
        curves: dicts as returned by :func:`read_rotmod` (``name``, ``distance_Mpc`` and the
            :data:`ROTMOD_COLUMNS` arrays of equal length >= 1).
        sigma_v: None, a ``{name: km/s}`` mapping (missing names get the default) or one
            value per curve.
        default_sigma_v: sigma_v [km/s] for galaxies without one.

    Raises:
        ValueError: no curves, repeated names, arrays of unequal length or non-finite,
            a sigma_v that is not a speed in (0, V_MAX_KMS] km/s.
    """
    if not curves:
        raise ValueError("no rotation curves given")
    default = speed(default_sigma_v, "default_sigma_v")
    names = tuple(str(c["name"]) for c in curves)
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ValueError(f"galaxy names repeated: {repeated}")
    if sigma_v is None:
        sigmas = [default] * len(names)
    elif isinstance(sigma_v, Mapping):
        sigmas = [sigma_v.get(n, default) for n in names]
    else:
        sigmas = list(sigma_v)
        if len(sigmas) != len(names):
            raise ValueError(f"sigma_v has {len(sigmas)} values for {len(names)} galaxies")
    sigmas = [speed(s, f"sigma_v of {n}")
              for s, n in zip(sigmas, names, strict=True)]
    lengths = []
    for curve, name in zip(curves, names, strict=True):
        columns = [np.asarray(curve[c], dtype=np.float64) for c in ROTMOD_COLUMNS]
        n = columns[0].shape
        if len(n) != 1 or n[0] < 1 or any(c.shape != n for c in columns):
            raise ValueError(f"{name}: columns must be 1-D arrays of one common length >= 1")
        if not all(np.all(np.isfinite(c)) for c in columns):
            raise ValueError(f"{name}: rotation-curve values must be finite")
        lengths.append(n[0])
    n_max = max(lengths)
    shape = (len(names), n_max)
    pad_value = {"errV": 1.0}
    arrays = {c: np.full(shape, pad_value.get(c, 0.0)) for c in ROTMOD_COLUMNS}
    mask = np.zeros(shape, dtype=bool)
    for i, (curve, n) in enumerate(zip(curves, lengths, strict=True)):
        for c in ROTMOD_COLUMNS:
            arrays[c][i, :n] = np.asarray(curve[c], dtype=np.float64)
        arrays["Rad"][i, n:] = arrays["Rad"][i, n - 1]
        mask[i, :n] = True
    distance = [checks.real(c["distance_Mpc"], f"distance of {n}", positive=True)
                for c, n in zip(curves, names, strict=True)]
    return SparcBatch(
        names=names,
        R=loaded_f64(arrays["Rad"], "SPARC R"),
        **{c: loaded_f64(arrays[c], f"SPARC {c}") for c in ROTMOD_COLUMNS[1:]},
        mask=jnp.asarray(mask),
        n_points=jnp.asarray(lengths, dtype=jnp.int32),
        distance=loaded_f64(distance, "SPARC distance"),
        sigma_v=loaded_f64(sigmas, "SPARC sigma_v"),
    )


def default_sparc_dir() -> Path:
    """``data_home()/"sparc"``, where ``jaxfit data sparc`` puts SPARC.

    Raises:
        FileNotFoundError: nothing downloaded there yet (the message says to run
            ``jaxfit data sparc`` or pass a path).
    """
    from jaxfit.core.download import data_home

    folder = data_home() / "sparc"
    rotmod = folder / SPARC_ROTMOD_DIR
    if not (rotmod.is_dir() and any(rotmod.glob(f"*{ROTMOD_SUFFIX}"))):
        raise FileNotFoundError(
            f"no SPARC download in {folder}: run `jaxfit data sparc` (fetches {SPARC_ZIP} and "
            f"{SPARC_MASTER_FILE} from {SPARC_URLS[SPARC_ZIP].rsplit('/', 1)[0]}/) or pass the "
            "folder holding the *_rotmod.dat files"
        )
    return folder


def _rotmod_files(folder) -> list[Path]:
    folder = Path(folder)
    if not folder.exists():
        raise FileNotFoundError(f"SPARC folder not found: {folder}; {how_to_get_sparc()}")
    if not folder.is_dir():
        raise NotADirectoryError(
            f"SPARC rotmod_dir must be a folder of *_rotmod.dat files, got the file {folder}"
        )
    for candidate in (folder, folder / SPARC_ROTMOD_DIR):
        files = sorted(candidate.glob(f"*{ROTMOD_SUFFIX}")) if candidate.is_dir() else []
        if files:
            return files
    raise FileNotFoundError(
        f"no *_rotmod.dat files in {folder} (nor in {folder / SPARC_ROTMOD_DIR}); "
        f"{how_to_get_sparc()}"
    )


def load_sparc(rotmod_dir=None, master=None, *, summary=None, galaxy_col: str = "galaxy_name",
               sigma_col: str = "sigma_velocity", default_sigma_v: float = 25.0,
               max_galaxies: int | None = None,
               galaxies: Iterable[str] | None = None) -> SparcBatch:
    """Load SPARC rotation curves into one padded :class:`SparcBatch`, sorted by name.

    Args:
        rotmod_dir: folder of ``*_rotmod.dat`` files, or the SPARC folder holding
            ``Rotmod_LTG/``; None: :func:`default_sparc_dir` (the ``jaxfit data sparc``
            download).
        master: optional path of ``SPARC_Lelli2016c.mrt``; when given, the galaxy set of the
            folder must equal the table's.
        summary: optional CSV of per-galaxy sigma_v (:func:`read_sparc_summary`).
        galaxy_col, sigma_col: its columns (``--summary-galaxy-col``, ``--summary-sigma-col``).
        default_sigma_v: sigma_v [km/s] of galaxies without a summary value (research: 25).
        max_galaxies: keep only the first N galaxies in name order (``--max-sparc-galaxies``).
        galaxies: keep only these galaxies (applied before ``max_galaxies``).

    Raises:
        FileNotFoundError: a path that does not exist, or no rotmod files (the message says
            how to get SPARC).
        ValueError: a malformed file (naming file and line), a master table whose galaxies
            differ from the folder's (listing both differences), unknown names in
            ``galaxies``, a bad summary column or value, ``max_galaxies`` < 1.
    """
    folder = default_sparc_dir() if rotmod_dir is None else rotmod_dir
    files = _rotmod_files(folder)
    by_name = {f.name[: -len(ROTMOD_SUFFIX)]: f for f in files}
    if master is not None:
        table = read_sparc_master(master)
        listed = set(table["Galaxy"])
        only_files = sorted(set(by_name) - listed)
        only_master = sorted(listed - set(by_name))
        if only_files or only_master:
            raise ValueError(
                f"SPARC galaxies in {folder} differ from the master table {master}: "
                f"only in the folder: {only_files}; only in the master table: {only_master}"
            )
    names = sorted(by_name)
    if galaxies is not None:
        wanted = [galaxies] if isinstance(galaxies, str) else list(galaxies)
        unknown = [g for g in wanted if g not in by_name]
        if unknown:
            raise ValueError(
                f"galaxies not in {folder}: {unknown} ({len(by_name)} galaxies there, e.g. "
                f"{', '.join(names[:3])})"
            )
        if not wanted:
            raise ValueError("galaxies is empty; give at least one name or None for all")
        names = sorted(set(wanted))
    if max_galaxies is not None:
        names = names[: checks.count(max_galaxies, "max_galaxies")]
    sigma = {} if summary is None else read_sparc_summary(summary, galaxy_col, sigma_col)
    curves = [read_rotmod(by_name[n]) for n in names]
    return make_sparc_batch(curves, sigma, default_sigma_v=default_sigma_v)


# --------------------------------------------------------------------------------------------
# SPARC: download (jaxfit data sparc)
# --------------------------------------------------------------------------------------------


def _extract_rotmod_zip(zip_path: Path, target: Path) -> int:
    """Extract the ``*_rotmod.dat`` members of ``zip_path`` into ``target`` (replaced).

    Only regular-file members whose base name ends in ``_rotmod.dat`` are written,
    flattened to that base name (``Rotmod_LTG/NGC3198_rotmod.dat`` -> ``NGC3198_rotmod.dat``);
    ``__MACOSX`` entries and hidden files are skipped; an absolute path, a ``..`` component
    or a symbolic link anywhere in the archive rejects the whole archive; sizes are capped;
    the folder is built aside and moved into place, so a failure leaves the old one.
    """
    try:
        archive = zipfile.ZipFile(zip_path)
    except (zipfile.BadZipFile, OSError) as err:
        raise RuntimeError(f"{zip_path} is not a valid zip archive ({err})") from None
    with archive:
        members = {}
        total = 0
        for info in archive.infolist():
            if info.is_dir():
                continue
            posix = PurePosixPath(info.filename.replace("\\", "/"))
            parts = posix.parts
            if posix.is_absolute() or ".." in parts or re.match(r"^[A-Za-z]:", info.filename):
                raise RuntimeError(f"{zip_path}: unsafe member path {info.filename!r}")
            if (info.external_attr >> 16) & 0o170000 == 0o120000:
                raise RuntimeError(f"{zip_path}: member {info.filename!r} is a symbolic link")
            base = parts[-1] if parts else ""
            if (not base.endswith(ROTMOD_SUFFIX) or base.startswith(".")
                    or "__MACOSX" in parts):
                continue
            if base in members:
                raise RuntimeError(f"{zip_path}: {base} appears twice in the archive")
            if info.file_size > _MAX_ZIP_MEMBER or total + info.file_size > _MAX_ZIP_TOTAL:
                raise RuntimeError(f"{zip_path}: {info.filename} is implausibly large")
            total += info.file_size
            members[base] = info
        if not members:
            raise RuntimeError(f"{zip_path} holds no *_rotmod.dat files")
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
        try:
            for base, info in members.items():
                with archive.open(info) as source:
                    data = source.read(_MAX_ZIP_MEMBER + 1)
                if len(data) > _MAX_ZIP_MEMBER:
                    raise RuntimeError(f"{zip_path}: {info.filename} is implausibly large")
                (staging / base).write_bytes(data)
            old = None
            if target.exists():
                old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old.", dir=target.parent))
                os.replace(target, old / target.name)
            os.replace(staging, target)
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    return len(members)


def download_sparc(destination=None, *, force: bool = False, check: bool = True) -> Path:
    """Fetch SPARC (``jaxfit data sparc``): :data:`SPARC_URLS` into ``destination``
    (default ``data_home()/"sparc"``), then extract ``Rotmod_LTG.zip`` into
    ``destination/Rotmod_LTG`` and (``check``) read it all with :func:`load_sparc`, checked
    against the master table.

    Files already present are kept unless ``force``. Returns the folder, which
    :func:`load_sparc` and :func:`default_sparc_dir` then find.

    Raises:
        RuntimeError: a download failed (naming the URL) or the zip is not valid (the bad
            zip is removed, so a second run fetches it again).
        DataHashError: a downloaded file's sha256 differs from :data:`SPARC_HASHES` (the
            download registry): refused and not written.
        ValueError: the downloaded files are malformed (naming file and line).
    """
    from jaxfit.core.download import data_home, fetch

    folder = Path(destination) if destination is not None else data_home() / "sparc"
    fetch(dict(SPARC_URLS), folder, force=force, hashes=dict(SPARC_HASHES))
    rotmod = folder / SPARC_ROTMOD_DIR
    if force or not (rotmod.is_dir() and any(rotmod.glob(f"*{ROTMOD_SUFFIX}"))):
        try:
            _extract_rotmod_zip(folder / SPARC_ZIP, rotmod)
        except RuntimeError:
            (folder / SPARC_ZIP).unlink(missing_ok=True)
            raise
    if check:
        load_sparc(folder, master=folder / SPARC_MASTER_FILE)
    return folder
