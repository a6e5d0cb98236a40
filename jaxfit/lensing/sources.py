"""Source tensors: a galaxy's flux and velocity maps, normalised and resampled to ``(2, N, N)``.

The ray tracer (:mod:`jaxfit.lensing.simulate`) and the CNN take these tensors as plain
arrays. :func:`source_tensor` (float32): channel 0 flux ``(f - p5) / (p99.5 - p5)`` clipped to
[0, 1]; channel 1 velocity ``(v - median) / p95(|v - median|)`` clipped to [-1, 1];
percentiles (numpy's default linear interpolation) and the median over the channel's valid
pixels only; invalid pixels 0. Then resampled to ``N x N`` by bilinear interpolation with
pixel-area alignment: output pixel centre ``j`` reads the input at ``(j + 1/2) H / N - 1/2``
(``scipy.ndimage.map_coordinates``, order 1, edges ``'nearest'``; identical to
``scipy.ndimage.zoom(order=1, grid_mode=True, mode='nearest')``). Linear interpolation keeps
both channels inside their ranges. :func:`prep_folder` writes ``<plateifu>.npy`` and
``<plateifu>.png`` per MAPS file; :func:`load_sources` stacks them.
"""

from __future__ import annotations

import io
import os
import re
import warnings
from pathlib import Path

import numpy as np

from jaxfit.core import checks
from jaxfit.core.io import atomic_write_bytes, save_figure
from jaxfit.core.progress import progress_bar
from jaxfit.lensing.manga import HALPHA, VELOCITY_KINDS, MapsData, maps_files, read_maps

__all__ = ["load_sources", "prep_folder", "preview_figure", "source_tensor"]


def _normalise_flux(flux, valid, where: str) -> np.ndarray:
    if not valid.any():
        raise ValueError(f"{where}: no valid flux pixels")
    p5, p995 = np.percentile(flux[valid], [5.0, 99.5])
    if not p995 > p5:
        raise ValueError(f"{where}: flux has no dynamic range (p99.5 = p5 = {p5:.6g})")
    out = np.clip((flux - p5) / (p995 - p5), 0.0, 1.0)
    return np.where(valid, out, 0.0)


def _normalise_velocity(vel, valid) -> np.ndarray:
    if not valid.any():
        return np.zeros(vel.shape)
    med = np.median(vel[valid])
    scale = np.percentile(np.abs(vel[valid] - med), 95.0)
    if not scale > 0:  # no velocity structure: the channel is 0
        return np.zeros(vel.shape)
    out = np.clip((vel - med) / scale, -1.0, 1.0)
    return np.where(valid, out, 0.0)


def _resample(image: np.ndarray, n_pix: int) -> np.ndarray:
    from scipy.ndimage import map_coordinates

    ny, nx = image.shape
    if (ny, nx) == (n_pix, n_pix):
        return image
    rows = (np.arange(n_pix) + 0.5) * (ny / n_pix) - 0.5
    cols = (np.arange(n_pix) + 0.5) * (nx / n_pix) - 0.5
    rr, cc = np.meshgrid(rows, cols, indexing="ij")
    return map_coordinates(image, [rr, cc], order=1, mode="nearest")


def source_tensor(maps: MapsData, n_pix: int | None = 64, *, velocity: str = "stellar",
                  dtype=np.float32) -> np.ndarray:
    """The ``(2, N, N)`` source tensor of one galaxy: normalised flux and velocity.

    Args:
        maps: from :func:`read_maps` or :func:`synthetic_maps`.
        n_pix: output size ``N`` (None: keep the native spaxel grid).
        velocity: ``"stellar"`` (the research choice) or ``"gas"``.
        dtype: output dtype (float32: the tensors feed the float32 CNN).

    Returns:
        channel 0 flux in [0, 1], channel 1 velocity in [-1, 1]; invalid pixels 0
        (normalisation and resampling in the module docstring).

    Raises:
        ValueError: no valid flux pixel, or a flux map without dynamic range.
    """
    n_pix = None if n_pix is None else checks.count(n_pix, "n_pix", minimum=2)
    where = f"source_tensor({maps.plateifu})"
    flux = _normalise_flux(maps.flux, maps.flux_valid, where)
    vel = _normalise_velocity(*maps.velocity(velocity))
    if n_pix is not None:
        flux = np.clip(_resample(flux, n_pix), 0.0, 1.0)
        vel = np.clip(_resample(vel, n_pix), -1.0, 1.0)
    return np.stack([flux, vel]).astype(dtype)


def _save_npy(path: Path, array: np.ndarray) -> Path:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return atomic_write_bytes(path, buffer.getvalue())


def preview_figure(tensor: np.ndarray, title: str = ""):
    """A matplotlib figure of both channels of a ``(2, N, N)`` source tensor."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(8, 3.6))
    panels = ((tensor[0], "flux (normalised)", "inferno", 0.0, 1.0),
              (tensor[1], "velocity (normalised)", "RdBu_r", -1.0, 1.0))
    for ax, (image, label, cmap, lo, hi) in zip(axes, panels, strict=True):
        im = ax.imshow(image, origin="lower", cmap=cmap, vmin=lo, vmax=hi)
        ax.set_title(label)
        ax.set_xticks([])
        ax.set_yticks([])
        fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    if title:
        fig.suptitle(title)
    return fig


def _read_index(index, folder: Path) -> list[Path]:
    if isinstance(index, (str, os.PathLike)):
        index_path = Path(index)
        if not index_path.is_file():
            raise FileNotFoundError(f"usable index file not found: {index_path}")
        names = [line.strip() for line in index_path.read_text().splitlines()]
        names = [n for n in names if n and not n.startswith("#")]
    else:
        names = [str(n) for n in index]
    return [Path(n) if Path(n).is_absolute() else folder / n for n in names]


def prep_folder(folder, out_dir, n_pix: int = 64, *, index=None, velocity: str = "stellar",
                line: str = HALPHA, preview: bool = True, progress: bool = True) -> list[Path]:
    """Write ``<plateifu>.npy`` source tensors (and ``<plateifu>.png`` previews).

    Args:
        folder: the MAPS files.
        out_dir: output folder.
        n_pix: tensor size ``N``.
        index: which files: None (every MAPS file of ``folder``), the path of a usable index
            (:func:`inspect_folder`'s ``usable_maps.txt``: one name per line, relative to
            ``folder``; ``#`` comments) or a sequence of names/paths.
        velocity: ``"stellar"`` or ``"gas"``.
        line: emission line (default H-alpha).
        preview: also write the PNG of both channels.
        progress: show a progress bar.

    Returns:
        the ``.npy`` paths written, in input order. A file that cannot be read or normalised
        is skipped with a warning naming it (as is a second file of an already written
        plateifu).

    Raises:
        ValueError: no file could be prepared (the first failure is named).
    """
    checks.one_of(velocity, "velocity", VELOCITY_KINDS)
    n_pix = checks.count(n_pix, "n_pix", minimum=2)
    folder = checks.existing_folder(folder, "MAPS folder")
    out_dir = Path(out_dir)
    files = maps_files(folder) if index is None else _read_index(index, folder)
    if not files:
        raise FileNotFoundError(f"{folder}: no MAPS files to prepare")
    written: list[Path] = []
    failures: list[str] = []
    seen: dict[str, Path] = {}
    with progress_bar(len(files), "prep sources", enabled=progress) as advance:
        for path in files:
            try:
                maps = read_maps(path, line=line)
                tensor = source_tensor(maps, n_pix, velocity=velocity)
            except Exception as exc:
                failures.append(f"{path} ({type(exc).__name__}: {exc})")
                advance()
                continue
            name = re.sub(r"[^A-Za-z0-9._-]", "_", maps.plateifu)
            if name in seen:
                warnings.warn(f"prep_folder: skipping {path}: plateifu {maps.plateifu} already "
                              f"written from {seen[name]}", stacklevel=2)
                advance()
                continue
            seen[name] = path
            written.append(_save_npy(out_dir / f"{name}.npy", tensor))
            if preview:
                save_figure(preview_figure(tensor, f"{maps.plateifu} ({velocity} velocity)"),
                            out_dir / f"{name}.png")
            advance()
    if failures and not written:
        raise ValueError(f"{folder}: none of the {len(files)} MAPS files could be prepared; "
                         f"the first: {failures[0]}")
    # warned after the loop, so a run that prepares nothing says so once, as its error
    for failure in failures:
        warnings.warn(f"prep_folder: skipping {failure}", stacklevel=2)
    return written


def load_sources(folder_or_files) -> tuple[np.ndarray, list[str]]:
    """Stack saved source tensors.

    Args:
        folder_or_files: a folder (every ``*.npy``, sorted by name) or a sequence of files.

    Returns:
        ``(sources, plateifus)``: float32 array ``(S, 2, N, N)`` and the file stems (the
        plateifus written by :func:`prep_folder`), for splitting by galaxy.

    Raises:
        FileNotFoundError: a missing file or folder, or no ``.npy`` in the folder.
        ValueError: naming the file: not ``(2, N, N)``, sizes that differ between files,
            non-finite values, flux outside [0, 1] or velocity outside [-1, 1].
    """
    if isinstance(folder_or_files, (str, os.PathLike)) and Path(folder_or_files).is_dir():
        files = sorted(Path(folder_or_files).glob("*.npy"))
        if not files:
            raise FileNotFoundError(f"{folder_or_files}: no source tensors (*.npy)")
    elif isinstance(folder_or_files, (str, os.PathLike)):
        raise FileNotFoundError(f"source tensor folder not found: {folder_or_files}")
    else:
        files = [Path(p) for p in folder_or_files]
        if not files:
            raise ValueError("load_sources: no files given")
    arrays, names = [], []
    for path in files:
        if not path.is_file():
            raise FileNotFoundError(f"source tensor not found: {path}")
        try:
            array = np.load(path, allow_pickle=False)
        except Exception as exc:
            raise ValueError(f"{path}: not a numpy .npy file ({exc})") from exc
        if array.ndim != 3 or array.shape[0] != 2 or array.shape[1] != array.shape[2]:
            raise ValueError(f"{path}: expected a (2, N, N) source tensor, got {array.shape}")
        if arrays and array.shape != arrays[0].shape:
            raise ValueError(
                f"{path}: shape {array.shape} differs from {files[0]}'s {arrays[0].shape}")
        if not np.all(np.isfinite(array)):
            raise ValueError(f"{path}: non-finite values in the source tensor")
        tol = 1e-6
        if array[0].min() < -tol or array[0].max() > 1 + tol:
            raise ValueError(f"{path}: flux channel outside [0, 1]")
        if np.abs(array[1]).max() > 1 + tol:
            raise ValueError(f"{path}: velocity channel outside [-1, 1]")
        arrays.append(array.astype(np.float32))
        names.append(path.name[: -len(".npy")])
    return np.stack(arrays), names
