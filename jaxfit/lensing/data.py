"""Lensing data, one room per idea; this module re-exports them under their old path.

- :mod:`jaxfit.lensing.manga`: reading MaNGA DAP ``MAPS`` files (:func:`read_maps`,
  :class:`MapsData`, channel lookup by name, pixel validity);
- :mod:`jaxfit.lensing.fits_io`: writing MAPS-format files (:func:`write_maps_fits`);
- :mod:`jaxfit.lensing.quality`: quality metrics and lensibility of a galaxy
  (:func:`quality_metrics`, :func:`lensibility_score`, :func:`inspect_folder`);
- :mod:`jaxfit.lensing.sources`: normalised ``(2, N, N)`` source tensors
  (:func:`source_tensor`, :func:`prep_folder`, :func:`load_sources`);
- :mod:`jaxfit.lensing.synthetic`: synthetic rotating-disc galaxies.
"""

from jaxfit.lensing.fits_io import write_maps_fits
from jaxfit.lensing.manga import (
    DR15_EMLINE_CHANNELS,
    DR17_EMLINE_CHANNELS,
    HALPHA,
    REQUIRED_EXTENSIONS,
    SENTINEL,
    WAVELENGTH_TOLERANCE,
    MapsData,
    MapsFormatError,
    channel_index,
    channel_names,
    read_maps,
    valid_pixels,
)
from jaxfit.lensing.quality import (
    HARD_CUTS,
    METRIC_KEYS,
    MIN_PLANE_PIXELS,
    QUALITY_FILE,
    SCORED_FILE,
    TIERS,
    USABLE_INDEX_FILE,
    inspect_folder,
    lensibility_score,
    quality_metrics,
)
from jaxfit.lensing.sources import load_sources, prep_folder, preview_figure, source_tensor
from jaxfit.lensing.synthetic import (
    SYNTHETIC_RANGES,
    synthetic_maps,
    synthetic_source,
    synthetic_sources,
)

__all__ = [
    "DR15_EMLINE_CHANNELS",
    "DR17_EMLINE_CHANNELS",
    "HALPHA",
    "HARD_CUTS",
    "MapsData",
    "METRIC_KEYS",
    "MIN_PLANE_PIXELS",
    "MapsFormatError",
    "QUALITY_FILE",
    "REQUIRED_EXTENSIONS",
    "SCORED_FILE",
    "SENTINEL",
    "SYNTHETIC_RANGES",
    "TIERS",
    "USABLE_INDEX_FILE",
    "WAVELENGTH_TOLERANCE",
    "channel_index",
    "channel_names",
    "inspect_folder",
    "lensibility_score",
    "load_sources",
    "prep_folder",
    "preview_figure",
    "quality_metrics",
    "read_maps",
    "source_tensor",
    "synthetic_maps",
    "synthetic_source",
    "synthetic_sources",
    "valid_pixels",
    "write_maps_fits",
]
