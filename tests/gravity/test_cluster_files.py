"""Tests of jaxfit.gravity.cluster_files: the shared real files in
../shared/data/clusters (ACCEPT tables, Bonamigo+2017 dPIE, helper-derived M_gas(<r) in
derived_Mgas_profiles.json; skipped when absent), user tables and profile CSVs, and
errors that name the file, row and column."""

import json
from pathlib import Path

import numpy as np
import pytest

import jaxfit  # noqa: F401  (float64 policy)
from jaxfit.gravity import cluster_baryons as gcb
from jaxfit.gravity import cluster_files as gcf
from jaxfit.gravity import cluster_profiles as gcp
from jaxfit.gravity import cluster_set as gcs

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "clusters"


BARYONS = SHARED / "baryons"


needs_shared = pytest.mark.skipif(not BARYONS.is_dir(), reason="../shared/data absent")


@needs_shared
def test_accept_files_parse_and_match_the_packaged_json(packaged):
    """The real ACCEPT files: 60 (A1689) and 39 (MACS J0717) contiguous shells, increasing,
    from 0 to 916.81 / 1191.1 kpc; the packaged JSON columns equal the files exactly."""
    cases = [
        ("ACCEPT_ABELL_1689_profiles.dat", "ABELL_1689", 60, 916.81),
        ("ACCEPT_MACS_J0717.5+3745_profiles.tsv", "MACSJ0717", 39, 1191.1),
    ]
    for filename, key, rows, r_out in cases:
        prof = gcf.read_accept_profile(BARYONS / filename)
        assert len(prof) == rows
        assert prof.r_in_kpc[0] == 0.0
        assert prof.r_out_kpc[-1] == pytest.approx(r_out, rel=1e-12)
        assert np.all(np.diff(prof.r_in_kpc) > 0)
        np.testing.assert_array_equal(prof.r_in_kpc[1:], prof.r_out_kpc[:-1])
        assert np.all(prof.n_e > 0)
        gas = packaged[key]["gas"]
        assert gas["accept_name"] == prof.name
        np.testing.assert_array_equal(1000.0 * np.asarray(gas["r_in_Mpc"]), prof.r_in_kpc)
        np.testing.assert_array_equal(1000.0 * np.asarray(gas["r_out_Mpc"]), prof.r_out_kpc)
        np.testing.assert_array_equal(gas["n_e_cm3"], prof.n_e)
        np.testing.assert_array_equal(gas["n_e_err_cm3"], prof.n_e_err)
        r = np.geomspace(5.0, r_out, 40)
        for interp in gcp.INTERPOLATIONS:
            m = np.asarray(prof.gas(interp=interp).mass(r, "3d"))
            assert np.all(m > 0) and np.all(np.diff(m) > 0)


@needs_shared
def test_gas_masses_vs_derived_profiles():
    """M_gas(<r) vs the helper-derived derived_Mgas_profiles.json, with its mu_e = 2/(1+X):
    ACCEPT 'shells' (its method: constant density per shell) to 1e-3 (its 4 significant
    figures, slightly different m_p/Msun/kpc); 'loglog' within 5% (1.5% for r >= 50 kpc);
    MACS J0416 dPIE concentric to 1e-3, about G1 within 2% (its Monte Carlo has ~1% noise)."""
    derived = json.loads((BARYONS / "derived_Mgas_profiles.json").read_text())
    mu_e = derived["assumptions"]["mu_e"]
    for name, key in [("ABELL_1689", "Abell1689"), ("MACSJ0717", "MACSJ0717")]:
        table = {float(k): v for k, v in derived[key]["Mgas_lt_r_Msun"].items() if v is not None}
        r, ref = np.array(list(table)), np.array(list(table.values()))
        shells = gcs.cluster_baryons(name, mu_e=mu_e, gas_interp="shells").mass(r, "3d")
        np.testing.assert_allclose(shells, ref, rtol=1e-3)
        loglog = np.asarray(gcs.cluster_baryons(name, mu_e=mu_e).mass(r, "3d"))
        np.testing.assert_allclose(loglog, ref, rtol=0.05)
        np.testing.assert_allclose(loglog[r >= 50], ref[r >= 50], rtol=0.015)
    dpie = derived["MACSJ0416_Bonamigo2017_dPIE"]
    for offsets, key, rtol in [
        (False, "Mgas_sum_each_about_own_centre_Msun", 1e-3),
        (True, "Mgas_sphere_about_G1_Msun", 0.02),
    ]:
        r = np.array([float(k) for k in dpie[key]])
        ref = np.array(list(dpie[key].values()))
        gas = gcs.cluster_baryons("MACSJ0416", dpie_offsets=offsets, stars=False)
        np.testing.assert_allclose(gas.mass(r, "3d"), ref, rtol=rtol)
    # dPIE central densities as derived there (4 significant figures)
    comps = gcs.cluster_baryons("MACSJ0416").components[0]
    ref_rho0 = [dpie["components"][c]["rho0_Msun_kpc3"] for c in ("Northeast_1", "Northeast_2",
                                                                   "Southwest")]  # fmt: skip
    np.testing.assert_allclose(comps.rho0, ref_rho0, rtol=1e-3)


@needs_shared
def test_packaged_json_matches_the_shared_literature(packaged):
    """z_lens, z_source, theta_E (and errors) equal ../shared/.../cluster_lensing_literature.json;
    the dPIE parameters equal the Bonamigo+2017 table file; DeMaio masses equal their file."""
    lit = json.loads((SHARED / "cluster_lensing_literature.json").read_text())["clusters"]
    lit = {c["name"]: c for c in lit}
    pairs = [("MACS J0717.5+3745", "MACSJ0717"), ("Abell 1689", "ABELL_1689")]
    for lit_name, key in pairs:
        er = lit[lit_name]["einstein_radius"]
        assert packaged[key]["z_lens"]["value"] == lit[lit_name]["z_lens"]
        assert packaged[key]["z_source"]["value"] == er["z_source"]
        assert packaged[key]["theta_E_arcsec"]["value"] == er["theta_E_arcsec"]
        assert packaged[key]["theta_E_arcsec"]["err"] == er["sigma_arcsec"]
    j0416 = lit["MACS J0416.1-2403"]
    assert packaged["MACSJ0416"]["z_lens"]["value"] == j0416["z_lens"]
    assert packaged["MACSJ0416"]["theta_E_arcsec"]["value"] == (
        j0416["einstein_radius"]["theta_E_eff_arcsec_derived"]
    )
    lines = (BARYONS / "MACSJ0416_Bonamigo2017_Table1_gas_dPIE.tsv").read_text().splitlines()
    comps = packaged["MACSJ0416"]["gas"]["components"]
    for line, comp in zip(lines[1:], comps, strict=True):
        name, x0, y0, sigma0, rc, rt = line.split("\t")
        assert comp["name"] == name
        assert (comp["x0_arcsec"], comp["y0_arcsec"]) == (float(x0), float(y0))
        assert (comp["sigma0_km_s"], comp["R_C_arcsec"]) == (float(sigma0), float(rc))
        assert comp["R_T_arcsec"] == float(rt.lstrip(">"))
        assert comp["R_T_is_lower_limit"] == rt.startswith(">")
    demaio = (BARYONS / "DeMaio2018_BCG_ICL_aperture_Mstar.tsv").read_text().splitlines()
    row = next(line.split("\t") for line in demaio if line.startswith("MACS0416\t"))
    masses = [1e11 * float(cell.split("+/-")[0]) for cell in row[-3:]]
    np.testing.assert_allclose(packaged["MACSJ0416"]["stars"]["M_Msun"], masses, rtol=1e-14)


def _write(path, text):
    path.write_text(text)
    return path


def test_cluster_table_with_profile_files(tmp_path):
    """A user table: gas CSV + stellar rho CSV, a beta-model row, a Hernquist BCG, a packaged
    name without baryon columns (uses the packaged profile), per-row sigma_v."""
    r = np.geomspace(1.0, 3000.0, 300)
    ne = 0.01 * (1 + (r / 120.0) ** 2) ** (-1.05)
    gas_rows = "".join(f"{a},{b}\n" for a, b in zip(r, ne, strict=True))
    _write(tmp_path / "gas.csv", "r_kpc,n_e_cm3\n" + gas_rows)
    rho_star = 1e9 * (r / 10.0) ** -3
    _write(tmp_path / "stars.csv",
           "# stellar density\nr_kpc, rho_Msun_kpc3\n"
           + "".join(f"{a},{b}\n" for a, b in zip(r, rho_star, strict=True)))  # fmt: skip
    table = _write(
        tmp_path / "clusters.csv",
        "name,z_lens,z_source,theta_E_arcsec,sigma,sigma_v_kms,gas_csv,stars_csv,ne0_cm3,"
        "rc_kpc,beta,bcg_mass_Msun,bcg_a_kpc\n"
        "FILES,0.3,2.0,30,2,1200,gas.csv,stars.csv,,,,,\n"
        "BETA,0.3,2.0,30,,,,,0.01,120,0.7,1e12,15\n"
        "ABELL_1689,0.183,2.0,47,1.2,,,,,,,,\n",
    )
    cs = gcs.load_clusters(table=table)
    assert cs.names == ("FILES", "BETA", "ABELL_1689")
    np.testing.assert_allclose(cs.sigma_v, [1200.0, 1000.0, 1000.0])
    assert np.isnan(float(cs.theta_E_err[1]))
    r_e = float(cs.R_E_kpc[0])
    gas = gcb.gas_from_ne_table(r, ne)
    stars = gcb.stars_from_rho_table(r, rho_star)
    assert float(cs.M_bar[0]) == pytest.approx(float(gas.mass(r_e) + stars.mass(r_e)), 1e-12)
    beta = gcb.beta_gas(0.01, 120.0, 0.7)
    bcg = gcp.hernquist_mass_projected(r_e, 1e12, 15.0)
    assert float(cs.M_bar[1]) == pytest.approx(float(beta.mass(r_e) + bcg), rel=1e-12)
    packaged = gcs.load_clusters(["ABELL_1689"])
    assert float(cs.M_bar[2]) == pytest.approx(float(packaged.M_bar[0]), rel=1e-14)
    assert gcs.load_clusters("BETA", table=table).names == ("BETA",)


def test_table_and_file_errors_name_the_input(tmp_path):
    """Missing columns, bad cells, z_s <= z_l, unknown names, missing baryons and bad ACCEPT
    files raise ValueError naming the file / column / cluster."""
    bad_col = _write(tmp_path / "t1.csv", "name,z_lens,theta_E_arcsec\nX,0.3,20\n")
    with pytest.raises(ValueError, match=r"t1\.csv.*z_source"):
        gcs.load_clusters(table=bad_col)
    bad_cell = _write(tmp_path / "t2.csv", "name,z_lens,z_source,theta_E_arcsec\nX,0.3,two,20\n")
    with pytest.raises(ValueError, match=r"t2\.csv, row 1: column 'z_source'"):
        gcs.load_clusters(table=bad_cell)
    order = _write(tmp_path / "t3.csv",
                   "name,z_lens,z_source,theta_E_arcsec,ne0_cm3,rc_kpc,beta\nX,0.5,0.4,20,0.01,100,0.7\n")  # fmt: skip # noqa: E501
    with pytest.raises(ValueError, match=r"cluster 'X': z_source"):
        gcs.load_clusters(table=order)
    negative = _write(tmp_path / "t4.csv",
                      "name,z_lens,z_source,theta_E_arcsec,ne0_cm3,rc_kpc,beta\nX,0.3,2,-5,0.01,100,0.7\n")  # fmt: skip # noqa: E501
    with pytest.raises(ValueError, match=r"cluster 'X': theta_E_arcsec"):
        gcs.load_clusters(table=negative)
    no_theta = _write(tmp_path / "t0.csv", "# comment\nname,z_lens,z_source\nX,0.3,2\n")
    with pytest.raises(ValueError, match=r"t0\.csv: missing column\(s\) \['theta_E_arcsec'\] "
                                         r"\(cluster table; required \['name'"):
        gcs.load_clusters(table=no_theta)
    nobar = _write(tmp_path / "t5.csv", "name,z_lens,z_source,theta_E_arcsec\nX,0.3,2,20\n")
    with pytest.raises(ValueError, match=r"cluster 'X': no baryon profile"):
        gcs.load_clusters(table=nobar)
    with pytest.raises(ValueError, match="unknown cluster 'Y'"):
        gcs.load_clusters("Y", table=nobar)
    _write(tmp_path / "gas.csv", "r_kpc,ne\n1,0.01\n2,0.005\n")
    t6 = _write(tmp_path / "t6.csv", "name,z_lens,z_source,theta_E_arcsec,gas_csv\nX,0.3,2,20,gas.csv\n")  # fmt: skip # noqa: E501
    with pytest.raises(ValueError, match=r"gas\.csv: missing column\(s\) \['n_e_cm3'\]"):
        gcs.load_clusters(table=t6)
    _write(tmp_path / "gas.csv", "r_kpc,n_e_cm3\n1,0.01\n2,abc\n")
    with pytest.raises(ValueError, match=r"gas\.csv, data row 2: column 'n_e_cm3'"):
        gcs.load_clusters(table=t6)
    _write(tmp_path / "gas.csv", "r_kpc,n_e_cm3\n2,0.01\n1,0.02\n")
    with pytest.raises(ValueError, match=r"gas\.csv: r_kpc must be > 0 and strictly increasing"):
        gcs.load_clusters(table=t6)
    with pytest.raises(FileNotFoundError, match="missing.dat"):
        gcf.read_accept_profile(tmp_path / "missing.dat")
    two = _write(tmp_path / "all_profiles.dat",
                 "Name Rin Rout nelec neerr\nA 0.0 0.01 0.02 0.001\nA 0.01 0.02 0.01 0.001\n"
                 "B 0.0 0.01 0.03 0.001\n")  # fmt: skip
    with pytest.raises(ValueError, match=r"several clusters, pass name= one of \['A', 'B'\]"):
        gcf.read_accept_profile(two)
    with pytest.raises(ValueError, match=r"no rows for cluster 'C'"):
        gcf.read_accept_profile(two, name="C")
    prof = gcf.read_accept_profile(two, name="A")
    np.testing.assert_allclose(prof.r_out_kpc, [10.0, 20.0])
    negative_ne = _write(tmp_path / "neg.dat", "Name Rin Rout nelec neerr\nA 0.0 0.01 -0.02 0.1\n")
    with pytest.raises(ValueError, match=r"neg\.dat, line 2: column nelec must be > 0"):
        gcf.read_accept_profile(negative_ne)
