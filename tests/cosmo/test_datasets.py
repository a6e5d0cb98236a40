"""Tests of jaxfit.cosmo.datasets: the registries of named data sets, their errors, and the
data-set selections (parse_datasets, load_datasets).

The download side (``jaxfit data cosmo`` and the loaders' use of it) is in test_cli_data.py.
"""

from __future__ import annotations

import numpy as np
import pytest

import jaxfit  # noqa: F401  (switches on float64)
from jaxfit.cosmo import cmb, datasets


def test_bao_registry_errors():
    with pytest.raises(KeyError, match="desi_dr2.*desi_dr1.*boss_dr12.*eboss_dr16"):
        datasets.load_bao("desi_dr3")
    with pytest.raises(FileNotFoundError, match="desi_dr1.*jaxfit data"):
        datasets.load_bao("desi_dr1")  # not packaged, no folder
    with pytest.raises(FileNotFoundError, match="no_such_dir"):
        datasets.load_bao("desi_dr2", "/no_such_dir")


def test_sn_registry_errors(tmp_path):
    with pytest.raises(KeyError, match="union3, pantheon_plus, des_y5"):
        datasets.load_sn("jla", tmp_path)
    with pytest.raises(FileNotFoundError, match="not packaged"):
        datasets.load_sn("union3")
    with pytest.raises(FileNotFoundError, match="lcparam_full.txt"):
        datasets.load_sn("union3", tmp_path)


def test_parse_datasets_defaults_and_names():
    assert datasets.parse_datasets("cmb,bao,sn") == [
        ("cmb", "planck2018"),
        ("bao", "desi_dr2"),
        ("sn", "union3"),
    ]
    assert datasets.parse_datasets(" CMB , bao:desi_dr1,sn:des_y5") == [
        ("cmb", "planck2018"),
        ("bao", "desi_dr1"),
        ("sn", "des_y5"),
    ]
    assert datasets.parse_datasets(["bao:boss_dr12", "bao:eboss_dr16"]) == [
        ("bao", "boss_dr12"),
        ("bao", "eboss_dr16"),
    ]


@pytest.mark.parametrize(
    ("spec", "pattern"),
    [
        ("cmb,lensing", r"unknown data set 'lensing'; valid: cmb, bao, sn"),
        ("bao:desi_dr9", r"unknown bao data set 'bao:desi_dr9'; valid bao names: desi_dr2"),
        ("sn:jla", r"valid sn names: union3, pantheon_plus, des_y5"),
        ("cmb,cmb:planck2018", "selected twice"),
        ("", "no data sets selected"),
        ("cmb,,bao", "empty entry"),
    ],
)
def test_parse_datasets_errors(spec, pattern):
    with pytest.raises(ValueError, match=pattern):
        datasets.parse_datasets(spec)


def test_load_datasets_packaged_only():
    loaded = datasets.load_datasets("cmb,bao", cov_scale=2.0)
    assert list(loaded) == ["cmb:planck2018", "bao:desi_dr2"]
    assert isinstance(loaded["cmb:planck2018"], cmb.CMBPriors)
    assert len(loaded["bao:desi_dr2"]) == 13
    np.testing.assert_allclose(loaded["cmb:planck2018"].cov, 2 * cmb.load_cmb_priors().cov)
    with pytest.raises(FileNotFoundError, match="jaxfit data"):
        datasets.load_datasets("cmb,sn")
