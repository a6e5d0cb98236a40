"""The named cosmo data sets: where each one lives, how to fetch it, how to load a selection.

- :data:`BAO_DATASETS` and :data:`SN_DATASETS`: one :class:`DatasetEntry` per data set (its
  files in CobayaSampler/bao_data or sn_data and the reader of :mod:`jaxfit.cosmo.bao` or
  :mod:`jaxfit.cosmo.sn` that takes them); :func:`load_bao` and :func:`load_sn` find the
  files (a folder given, else the ``jaxfit data cosmo`` download, else the packaged table).
- :func:`download_urls`: what ``jaxfit data cosmo`` fetches for an entry, and where to.
- :func:`parse_datasets` validates a selection such as ``"cmb,bao:desi_dr1,sn:union3"`` and
  :func:`load_datasets` loads it (the CMB priors of :mod:`jaxfit.cosmo.cmb` included).

**Cuts.** Pantheon+: ``zHD > 0.01`` as cobaya's ``sn.pantheonplus``; DES-Y5 and Union3: none
(see :mod:`jaxfit.cosmo.sn`). ``eboss_dr16`` is the Gaussian LRG (z = 0.698) and QSO
(z = 1.48) D_M/D_H pairs (the Lyman-alpha and ELG grid likelihoods are not read).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from jaxfit.core import checks
from jaxfit.cosmo.bao import (
    BOSS_DR12_RD_FID,
    BAOData,
    combine_bao,
    load_desi_dr2_embedded,
    read_bao_cobaya,
)
from jaxfit.cosmo.cmb import load_cmb_priors
from jaxfit.cosmo.sn import (
    DES_Y5_CITATION,
    PANTHEON_PLUS_CITATION,
    UNION3_CITATION,
    SNData,
    read_des_y5,
    read_pantheon_plus,
    read_union3,
)

DATASETS = ("cmb", "bao", "sn")
"""Data kinds for :func:`parse_datasets`; ``kind:name`` picks a data set of that kind."""

BAO_REPOSITORY = "https://github.com/CobayaSampler/bao_data"
SN_REPOSITORY = "https://github.com/CobayaSampler/sn_data"


@dataclass(frozen=True)
class DatasetEntry:
    """How to find and read one named data set.

    Attributes:
        name: registry key.
        description: one line for humans.
        citation: the paper(s) to cite.
        files: paths relative to the root of the source repository (``repository``), i.e.
            the files ``jaxfit data`` has to fetch; ``()`` for nothing.
        repository: where the files are published.
        reader: ``reader(folder)`` returns the data object; ``folder`` is the local copy of
            the repository (the folder holding ``files``).
        embedded: whether a packaged copy is used when no folder is given.
    """

    name: str
    description: str
    citation: str
    files: tuple[str, ...]
    repository: str
    reader: Callable
    embedded: bool = False


_DESI_DR2_CITATION = (
    "DESI Collaboration, DESI DR2 Results II, arXiv:2503.14738; DESI DR2 Results I (Lya), "
    "arXiv:2503.14739"
)
_DESI_DR1_CITATION = (
    "DESI Collaboration, DESI 2024 III (arXiv:2404.03000), IV (arXiv:2404.03001), "
    "VI (arXiv:2404.03002)"
)
_BOSS_DR12_CITATION = "S. Alam et al. (BOSS), MNRAS 470 (2017) 2617, arXiv:1607.03155"
_EBOSS_DR16_CITATION = "S. Alam et al. (eBOSS), Phys. Rev. D 103 (2021) 083533, arXiv:2007.08991"


def _desi_dr2(folder: Path) -> BAOData:
    return read_bao_cobaya(
        folder / "desi_bao_dr2/desi_gaussian_bao_ALL_GCcomb_mean.txt",
        folder / "desi_bao_dr2/desi_gaussian_bao_ALL_GCcomb_cov.txt",
        name="desi_dr2",
        citation=_DESI_DR2_CITATION,
    )


def _desi_dr1(folder: Path) -> BAOData:
    return read_bao_cobaya(
        folder / "desi_2024_gaussian_bao_ALL_GCcomb_mean.txt",
        folder / "desi_2024_gaussian_bao_ALL_GCcomb_cov.txt",
        name="desi_dr1",
        citation=_DESI_DR1_CITATION,
    )


def _boss_dr12(folder: Path) -> BAOData:
    return read_bao_cobaya(
        folder / "sdss_DR12Consensus_bao.dat",
        folder / "BAO_consensus_covtot_dM_Hz.txt",
        name="boss_dr12",
        rd_fid=BOSS_DR12_RD_FID,
        citation=_BOSS_DR12_CITATION,
    )


def _eboss_dr16(folder: Path) -> BAOData:
    lrg = read_bao_cobaya(
        folder / "sdss_DR16_LRG_BAO_DMDH.dat",
        folder / "sdss_DR16_LRG_BAO_DMDH_covtot.txt",
        name="eboss_dr16_lrg",
        citation=_EBOSS_DR16_CITATION,
    )
    qso = read_bao_cobaya(
        folder / "sdss_DR16_QSO_BAO_DMDH.txt",
        folder / "sdss_DR16_QSO_BAO_DMDH_covtot.txt",
        name="eboss_dr16_qso",
        citation=_EBOSS_DR16_CITATION,
    )
    return combine_bao([lrg, qso], "eboss_dr16", _EBOSS_DR16_CITATION)


BAO_DATASETS: dict[str, DatasetEntry] = {
    "desi_dr2": DatasetEntry(
        "desi_dr2",
        "DESI DR2 BAO, all tracers (13 points, z = 0.295 ... 2.33); default; packaged",
        _DESI_DR2_CITATION,
        (
            "desi_bao_dr2/desi_gaussian_bao_ALL_GCcomb_mean.txt",
            "desi_bao_dr2/desi_gaussian_bao_ALL_GCcomb_cov.txt",
        ),
        BAO_REPOSITORY,
        _desi_dr2,
        embedded=True,
    ),
    "desi_dr1": DatasetEntry(
        "desi_dr1",
        "DESI 2024 (DR1) BAO, all tracers (12 points, z = 0.295 ... 2.33)",
        _DESI_DR1_CITATION,
        (
            "desi_2024_gaussian_bao_ALL_GCcomb_mean.txt",
            "desi_2024_gaussian_bao_ALL_GCcomb_cov.txt",
        ),
        BAO_REPOSITORY,
        _desi_dr1,
    ),
    "boss_dr12": DatasetEntry(
        "boss_dr12",
        "BOSS DR12 consensus BAO: D_M rd_fid/rd [Mpc] and H rd/rd_fid [km/s/Mpc] at "
        "z = 0.38, 0.51, 0.61 (rd_fid = 147.78 Mpc)",
        _BOSS_DR12_CITATION,
        ("sdss_DR12Consensus_bao.dat", "BAO_consensus_covtot_dM_Hz.txt"),
        BAO_REPOSITORY,
        _boss_dr12,
    ),
    "eboss_dr16": DatasetEntry(
        "eboss_dr16",
        "eBOSS DR16 BAO: LRG (z = 0.698) and QSO (z = 1.48) D_M/r_d, D_H/r_d "
        "(Lya and ELG grid likelihoods not included)",
        _EBOSS_DR16_CITATION,
        (
            "sdss_DR16_LRG_BAO_DMDH.dat",
            "sdss_DR16_LRG_BAO_DMDH_covtot.txt",
            "sdss_DR16_QSO_BAO_DMDH.txt",
            "sdss_DR16_QSO_BAO_DMDH_covtot.txt",
        ),
        BAO_REPOSITORY,
        _eboss_dr16,
    ),
}
"""BAO data sets by name; ``reader(folder)`` takes a local copy of CobayaSampler/bao_data."""


SN_DATASETS: dict[str, DatasetEntry] = {
    "union3": DatasetEntry(
        "union3",
        "Union3/UNITY1.5 binned distance moduli, 22 bins, full covariance",
        UNION3_CITATION,
        ("Union3/lcparam_full.txt", "Union3/mag_covmat.txt"),
        SN_REPOSITORY,
        lambda folder: read_union3(_data_folder(folder, "Union3")),
    ),
    "pantheon_plus": DatasetEntry(
        "pantheon_plus",
        "Pantheon+ (no SH0ES), zHD > 0.01: 1590 light curves; STAT+SYS covariance if present",
        PANTHEON_PLUS_CITATION,
        ("PantheonPlus/Pantheon+SH0ES.dat", "PantheonPlus/Pantheon+SH0ES_STAT+SYS.cov"),
        SN_REPOSITORY,
        lambda folder: read_pantheon_plus(_data_folder(folder, "PantheonPlus")),
    ),
    "des_y5": DatasetEntry(
        "des_y5",
        "DES-SN5YR, 1829 supernovae; systematics covariance if present",
        DES_Y5_CITATION,
        ("DESY5/DES-SN5YR_HD.csv", "DESY5/covsys_000.txt"),
        SN_REPOSITORY,
        lambda folder: read_des_y5(_data_folder(folder, "DESY5")),
    ),
}
"""SN samples by name; ``reader(folder)`` takes CobayaSampler/sn_data or the sample's folder."""

DEFAULT_SN = "union3"


def _lookup(registry: dict, name: str, what: str) -> DatasetEntry:
    if name not in registry:
        raise KeyError(f"unknown {what} data set {name!r}; valid: {', '.join(registry)}")
    return registry[name]


def _data_folder(data_dir, subfolder: str) -> Path:
    """``data_dir`` itself, or ``data_dir/subfolder`` when that exists (a parent folder)."""
    folder = checks.existing_folder(data_dir, "data directory")
    if (folder / subfolder).is_dir():
        return folder / subfolder
    return folder


def _pinned_base(folder: str) -> str:
    """The registry's pinned raw URL prefix (a commit SHA, never a branch) of a repository."""
    from jaxfit.core.download import registry_info

    commit = registry_info()[folder]["commit"]
    return f"https://raw.githubusercontent.com/CobayaSampler/{folder}/{commit}/"


RAW_URLS = {
    BAO_REPOSITORY: _pinned_base("bao_data"),
    SN_REPOSITORY: _pinned_base("sn_data"),
}
"""Where ``jaxfit data cosmo`` downloads from: each repository at the commit pinned in the
download registry (``jaxfit/data/download_registry.json``), whose sha256 and git blob hashes
every downloaded file must match."""
DOWNLOAD_FOLDER = {BAO_REPOSITORY: "bao_data", SN_REPOSITORY: "sn_data"}
CACHE_FOLDER = "cosmology"
"""Sub-folder of ``data_home()`` holding the ``bao_data/`` and ``sn_data/`` downloads."""


def download_urls(entry: DatasetEntry) -> dict[str, str]:
    """``{path under data_home()/cosmology: url}`` of the files ``entry`` reads."""
    folder = DOWNLOAD_FOLDER[entry.repository]
    return {f"{folder}/{f}": RAW_URLS[entry.repository] + f for f in entry.files}


def download_hashes(entry: DatasetEntry) -> dict:
    """``{path under data_home()/cosmology: registry entry}``: the hashes each file of
    ``entry`` must have (from the download registry)."""
    from jaxfit.core.download import REGISTRY

    return {rel: REGISTRY[f"{CACHE_FOLDER}/{rel}"] for rel in download_urls(entry)}


def _downloaded(entry: DatasetEntry):
    """The ``jaxfit data cosmo`` copy holding every file of ``entry``, or None.

    Packaged data sets keep using the packaged table (a download never silently replaces
    the default a result was produced with). A cached file whose hash differs from the
    registry is refused (:class:`~jaxfit.core.download.DataHashError`, one line) and not used.
    """
    from jaxfit.core.download import DataHashError, check_file, data_home

    if entry.embedded:
        return None
    root = data_home() / CACHE_FOLDER
    hashes = download_hashes(entry)
    if not all((root / rel).is_file() for rel in hashes):
        return None
    for rel, expected in hashes.items():
        try:
            check_file(root / rel, expected, name=str(root / rel))
        except DataHashError as err:
            raise DataHashError(f"{err}; `jaxfit data cosmo --sets {entry.name} --force` "
                                "downloads it again") from None
    return root


def load_bao(name: str = "desi_dr2", data_dir=None) -> BAOData:
    """Load a BAO data set from :data:`BAO_DATASETS`.

    Args:
        name: registry key (default ``"desi_dr2"``).
        data_dir: a local copy of CobayaSampler/bao_data (or a folder containing
            ``bao_data/``). None: the packaged table for ``desi_dr2``, else the
            ``jaxfit data cosmo`` download when it is there.

    Raises:
        KeyError: unknown name (the message lists the valid ones).
        FileNotFoundError: no ``data_dir`` for a data set that is not packaged, or a missing
            file (named).
    """
    entry = _lookup(BAO_DATASETS, name, "BAO")
    data_dir = data_dir if data_dir is not None else _downloaded(entry)
    if data_dir is None:
        if entry.embedded:
            return load_desi_dr2_embedded()
        raise FileNotFoundError(
            f"BAO data set {name!r} is not packaged with jaxfit; give the folder holding "
            f"{BAO_REPOSITORY} (files: {', '.join(entry.files)}) as data_dir, or fetch it with "
            "`jaxfit data`"
        )
    return entry.reader(_data_folder(data_dir, "bao_data"))


def load_sn(name: str = DEFAULT_SN, path=None) -> SNData:
    """Load an SN sample from :data:`SN_DATASETS`.

    Args:
        name: registry key.
        path: a local copy of CobayaSampler/sn_data, a folder containing ``sn_data/``, or
            the sample's own folder. None: the ``jaxfit data cosmo`` download, if present.

    Raises:
        KeyError: unknown name (the message lists the valid ones).
        FileNotFoundError: no path, or a missing file (named).
    """
    entry = _lookup(SN_DATASETS, name, "SN")
    path = path if path is not None else _downloaded(entry)
    if path is None:
        raise FileNotFoundError(
            f"SN data set {name!r} is not packaged with jaxfit; give the folder holding "
            f"{SN_REPOSITORY} (files: {', '.join(entry.files)}), or fetch it with `jaxfit data`"
        )
    return entry.reader(_data_folder(path, "sn_data"))


CMB_DATASETS = ("planck2018",)
DEFAULT_NAMES = {"cmb": "planck2018", "bao": "desi_dr2", "sn": DEFAULT_SN}


def _names_for(kind: str) -> tuple[str, ...]:
    return {"cmb": CMB_DATASETS, "bao": tuple(BAO_DATASETS), "sn": tuple(SN_DATASETS)}[kind]


def _valid_selection() -> str:
    names = [f"{k}:{n}" for k in DATASETS for n in _names_for(k)]
    return (
        ", ".join(DATASETS)
        + " (defaults "
        + ", ".join(f"{k}={v}" for k, v in DEFAULT_NAMES.items())
        + "), or one of "
        + ", ".join(names)
    )


def parse_datasets(spec) -> list[tuple[str, str]]:
    """Validate a data-set selection like ``"cmb,bao"`` or ``"cmb,bao:desi_dr1,sn:union3"``.

    Args:
        spec: comma-separated string, or a sequence of entries. Each entry is a kind from
            :data:`DATASETS` (its default data set, :data:`DEFAULT_NAMES`) or ``kind:name``.

    Returns:
        ``[(kind, name), ...]`` in the order given.

    Raises:
        ValueError: empty selection, an unknown kind or name, or a repeated entry (the message
            names the bad entry and lists the valid ones).
    """
    if isinstance(spec, str):
        entries = spec.split(",")
    else:
        entries = list(spec)
    pairs: list[tuple[str, str]] = []
    for raw in entries:
        entry = str(raw).strip().lower()
        if not entry:
            if isinstance(spec, str) and spec.strip():
                raise ValueError(f"empty entry in data-set selection {spec!r}")
            continue
        kind, _, name = entry.partition(":")
        kind, name = kind.strip(), name.strip()
        if kind not in DATASETS:
            raise ValueError(f"unknown data set {raw!r}; valid: {_valid_selection()}")
        name = name or DEFAULT_NAMES[kind]
        if name not in _names_for(kind):
            raise ValueError(
                f"unknown {kind} data set {raw!r}; valid {kind} names: "
                f"{', '.join(_names_for(kind))}"
            )
        if (kind, name) in pairs:
            raise ValueError(f"data set {kind}:{name} selected twice in {spec!r}")
        pairs.append((kind, name))
    if not pairs:
        raise ValueError(f"no data sets selected; valid: {_valid_selection()}")
    return pairs


def load_datasets(spec, *, data_dir=None, cov_scale: float = 1.0) -> dict:
    """Parse ``spec`` (:func:`parse_datasets`) and load every data set.

    Args:
        spec: the selection, e.g. ``"cmb,bao,sn:union3"``.
        data_dir: folder with the cobaya ``bao_data/`` and ``sn_data/`` copies (as ``jaxfit
            data`` writes them); None: packaged data only (CMB priors and DESI DR2).
        cov_scale: multiplies the CMB covariance.

    Returns:
        ``{"kind:name": CMBPriors | BAOData | SNData}`` in the order given.
    """
    loaded = {}
    for kind, name in parse_datasets(spec):
        if kind == "cmb":
            loaded[f"{kind}:{name}"] = load_cmb_priors(cov_scale)
        elif kind == "bao":
            loaded[f"{kind}:{name}"] = load_bao(name, data_dir)
        else:
            loaded[f"{kind}:{name}"] = load_sn(name, data_dir)
    return loaded
