"""The cosmological data sets under their former module path.

The data live in one module per kind, and this module re-exports their names so that
``from jaxfit.cosmo.data import load_bao`` keeps working:

- :mod:`jaxfit.cosmo.cmb`: the Planck 2018 CMB distance priors (:class:`CMBPriors`);
- :mod:`jaxfit.cosmo.bao`: BAO tables in the CobayaSampler format, their model vector
  and chi2 (:class:`BAOData`);
- :mod:`jaxfit.cosmo.sn`: the Union3, Pantheon+ and DES-Y5 SN Ia samples (:class:`SNData`);
- :mod:`jaxfit.cosmo.datasets`: the named data sets, their downloads, and the selections
  such as ``"cmb,bao:desi_dr1,sn:union3"`` (:func:`parse_datasets`, :func:`load_datasets`).
"""

from __future__ import annotations

from jaxfit.constants import C_KM_S
from jaxfit.cosmo.bao import (
    BAO_QUANTITIES,
    BOSS_DR12_RD_FID,
    DESI_DR2_FILE,
    BAOData,
    bao_chi2,
    bao_model_vector,
    combine_bao,
    load_desi_dr2_embedded,
    read_bao_cobaya,
)
from jaxfit.cosmo.cmb import CMB_PRIORS_FILE, CMBPriors, cmb_chi2, load_cmb_priors
from jaxfit.cosmo.datasets import (
    BAO_DATASETS,
    CMB_DATASETS,
    DATASETS,
    DEFAULT_NAMES,
    DEFAULT_SN,
    DOWNLOAD_FOLDER,
    RAW_URLS,
    SN_DATASETS,
    DatasetEntry,
    download_urls,
    load_bao,
    load_datasets,
    load_sn,
    parse_datasets,
)
from jaxfit.cosmo.sn import (
    DiagonalCovarianceWarning,
    SNData,
    read_des_y5,
    read_pantheon_plus,
    read_union3,
    sn_chi2,
    sn_mu_model,
    sn_profile,
)

__all__ = [
    "BAO_DATASETS",
    "BAO_QUANTITIES",
    "BOSS_DR12_RD_FID",
    "CMB_DATASETS",
    "CMB_PRIORS_FILE",
    "C_KM_S",
    "DATASETS",
    "DEFAULT_NAMES",
    "DEFAULT_SN",
    "DESI_DR2_FILE",
    "DOWNLOAD_FOLDER",
    "RAW_URLS",
    "SN_DATASETS",
    "BAOData",
    "CMBPriors",
    "DatasetEntry",
    "DiagonalCovarianceWarning",
    "SNData",
    "bao_chi2",
    "bao_model_vector",
    "cmb_chi2",
    "combine_bao",
    "download_urls",
    "load_bao",
    "load_cmb_priors",
    "load_datasets",
    "load_desi_dr2_embedded",
    "load_sn",
    "parse_datasets",
    "read_bao_cobaya",
    "read_des_y5",
    "read_pantheon_plus",
    "read_union3",
    "sn_chi2",
    "sn_mu_model",
    "sn_profile",
]
