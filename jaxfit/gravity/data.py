"""Gravity data in one import: SPARC rotation curves and the Milky Way.

The data live in their rooms; this module gathers their public names (the names it has
always offered):

- :mod:`jaxfit.gravity.sparc_files`: readers of the SPARC files (rotmod, master table,
  per-galaxy dispersions);
- :mod:`jaxfit.gravity.sparc`: the padded, masked :class:`SparcBatch`, loading a folder,
  and ``jaxfit data sparc``;
- :mod:`jaxfit.gravity.milky_way`: the Eilers+2019 curve, the McMillan 2017 baryons and
  the research star-level parquet.
"""

from jaxfit.gravity.milky_way import (
    BASELINE_COLUMNS,
    EILERS_COLUMNS,
    EILERS_FILE,
    G_KPC,
    MCMILLAN_FILE,
    BaselineStars,
    ExponentialDisc,
    McMillan2017,
    MilkyWay,
    NFWHalo,
    SpheroidalBulge,
    disc_vc2,
    freeman_vc2,
    load_baseline_parquet,
    load_mcmillan2017,
    load_milky_way,
    nfw_vc2,
    read_mw_curve,
    spheroid_vc2,
)
from jaxfit.gravity.sparc import (
    SparcBatch,
    default_sparc_dir,
    download_sparc,
    load_sparc,
    make_sparc_batch,
)
from jaxfit.gravity.sparc_files import (
    ROTMOD_COLUMNS,
    SPARC_CITATION,
    SPARC_MASTER_COLUMNS,
    SPARC_MASTER_FILE,
    SPARC_ROTMOD_DIR,
    SPARC_URLS,
    SPARC_ZIP,
    read_rotmod,
    read_sparc_master,
    read_sparc_summary,
)

__all__ = [
    "BASELINE_COLUMNS", "EILERS_COLUMNS", "EILERS_FILE", "G_KPC", "MCMILLAN_FILE",
    "ROTMOD_COLUMNS", "SPARC_CITATION", "SPARC_MASTER_COLUMNS", "SPARC_MASTER_FILE",
    "SPARC_ROTMOD_DIR", "SPARC_URLS", "SPARC_ZIP", "BaselineStars", "ExponentialDisc",
    "McMillan2017", "MilkyWay", "NFWHalo", "SparcBatch", "SpheroidalBulge", "default_sparc_dir",
    "disc_vc2", "download_sparc", "freeman_vc2", "load_baseline_parquet", "load_mcmillan2017",
    "load_milky_way", "load_sparc", "make_sparc_batch", "nfw_vc2", "read_mw_curve",
    "read_rotmod", "read_sparc_master", "read_sparc_summary", "spheroid_vc2",
]  # fmt: skip
