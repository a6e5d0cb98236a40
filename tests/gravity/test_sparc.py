"""Tests of jaxfit.gravity.sparc_files and jaxfit.gravity.sparc: the SPARC readers, the
padded batch, loading a folder, and ``jaxfit data sparc``.

References (tolerances in each test): the real SPARC files in ../shared/data/sparc
(skipped cleanly when absent): the file text itself (NGC3198), the 175-galaxy master
table, and the independent all-in-one table ``MassModels_Lelli2016c.mrt`` (3391 points,
parsed here with numpy) to 0.01. No network: the download test serves file:// URLs
written under tmp_path.
"""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from typer.testing import CliRunner

import jaxfit  # noqa: F401  (switches on float64)
from jaxfit.cli.main import app
from jaxfit.gravity import sparc as gs
from jaxfit.gravity import sparc_files as gsf

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"


SPARC = SHARED / "sparc"


ROTMOD = SPARC / "Rotmod_LTG"


MASTER = SPARC / "SPARC_Lelli2016c.mrt"


MASSMODELS = SPARC / "MassModels_Lelli2016c.mrt"


runner = CliRunner()


def needs(*paths: Path) -> None:
    for path in paths:
        if not path.exists():
            pytest.skip(f"real data not available ({path})")


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch) -> Path:
    """An empty download cache of this test (never the user's)."""
    monkeypatch.setenv("JAXFIT_DATA", str(tmp_path / "cache"))
    monkeypatch.setenv("JAXFIT_STORE", str(tmp_path / "store"))
    return tmp_path / "cache"


@pytest.fixture(scope="module")
def real_batch() -> gs.SparcBatch:
    needs(ROTMOD, MASTER)
    return gs.load_sparc(ROTMOD, master=MASTER)


ROTMOD_HEADER = (
    "# Distance = 13.8 Mpc\n"
    "# Rad\tVobs\terrV\tVgas\tVdisk\tVbul\tSBdisk\tSBbul\t\t\n"
    "# kpc\tkm/s\tkm/s\tkm/s\tkm/s\tkm/s\tL/pc^2\tL/pc^2\n"
)


ROW1 = "0.32\t24.40\t35.90\t0.00\t63.28\t0.00\t1084.92\t0.00\n"


ROW2 = "0.64\t43.30\t16.30\t0.00\t73.66\t0.00\t590.57\t0.00\n"


ROW3 = "0.96\t45.50\t16.10\t0.00\t78.98\t0.00\t410.97\t0.00\n"


def write_rotmod(folder: Path, name: str, n: int = 3, distance: float = 13.8,
                 scale: float = 1.0) -> Path:
    """A synthetic rotmod file with ``n`` rows (radii 0.5, 1.0, ...)."""
    lines = [f"# Distance = {distance} Mpc",
             "# Rad\tVobs\terrV\tVgas\tVdisk\tVbul\tSBdisk\tSBbul",
             "# kpc\tkm/s\tkm/s\tkm/s\tkm/s\tkm/s\tL/pc^2\tL/pc^2"]
    for i in range(n):
        r = 0.5 * (i + 1)
        lines.append(f"{r:.2f}\t{scale * (20 + i):.2f}\t{1 + 0.1 * i:.2f}\t{-0.5 + i:.2f}\t"
                     f"{10 + i:.2f}\t{0.5 * i:.2f}\t{100 - i:.2f}\t{0.0:.2f}")
    path = folder / f"{name}_rotmod.dat"
    folder.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path


MASTER_HEADER = """Title: SPARC. I. Mass Models for 175 Disk Galaxies with
       Spitzer Photometry and Accurate Rotation Curves
Authors: Federico Lelli, Stacy S. McGaugh and James M. Schombert
Table: Galaxy Sample
================================================================================
Byte-by-byte Description of file: Table1.mrt
--------------------------------------------------------------------------------
   Bytes Format Units         Label   Explanations
--------------------------------------------------------------------------------
   1- 11 A11    ---           Galaxy  Galaxy Name
  12- 13 I2     ---           T       Hubble Type (1)
  14- 19 F6.2   Mpc           D       Distance
  20- 24 F5.2   Mpc         e_D       Mean error on D
  25- 26 I2     ---         f_D       Distance Method (2)
  27- 30 F4.1   deg           Inc     Inclination
  31- 34 F4.1   deg         e_Inc     Mean error on Inc
  35- 41 F7.3   10+9solLum    L[3.6]  Total Luminosity at [3.6]
  42- 48 F7.3   10+9solLum  e_L[3.6]  Mean error on L[3.6]
  49- 53 F5.2   kpc           Reff    Effective Radius at [3.6]
  54- 61 F8.2   solLum/pc2    SBeff   Effective Surface Brightness at [3.6]
  62- 66 F5.2   kpc           Rdisk   Disk Scale Length at [3.6]
  67- 74 F8.2   solLum/pc2    SBdisk  Disk Central Surface Brightness at [3.6]
  75- 81 F7.3   10+9solMass   MHI     Total HI mass
  82- 86 F5.2   kpc           RHI     HI radius at 1 Msun/pc2
  87- 91 F5.1   km/s          Vflat   Asymptotically Flat Rotation Velocity
  92- 96 F5.1   km/s        e_Vflat   Mean error on Vflat
  97- 99 I3     ---           Q       Quality Flag (3)
 100-113 A14    ---           Ref.    References for HI and Ha data (4)
--------------------------------------------------------------------------------
Note (1): Hubble types
--------------------------------------------------------------------------------
"""


def master_row(name: str, distance: float = 13.8, ref: str = "Tr09,dB01") -> str:
    return (f"{name:>11} 10  {distance:5.2f}  0.18  2 59.0  3.0   0.196   0.009  1.22    20.93"
            f"  0.70   115.04   0.290  0.00  57.7   2.7   1 {ref:>14}")


def write_master(path: Path, rows: list[str]) -> Path:
    path.write_text(MASTER_HEADER + "\n".join(rows) + "\n")
    return path


def test_real_sparc_folder_has_175_galaxies_and_3391_points(real_batch):
    batch = real_batch
    assert batch.n_galaxies == 175
    assert batch.n_total == 3391
    assert len(list(ROTMOD.glob("*_rotmod.dat"))) == 175
    assert batch.names == tuple(sorted(batch.names))
    master = gsf.read_sparc_master(MASTER)
    assert len(master) == 175
    assert list(master.columns) == list(gsf.SPARC_MASTER_COLUMNS)
    assert sorted(master["Galaxy"]) == list(batch.names)
    # distances agree with the master table (printed to 0.01 Mpc in both)
    d_master = master.set_index("Galaxy").loc[list(batch.names), "D"].to_numpy()
    np.testing.assert_allclose(np.asarray(batch.distance), d_master, atol=0.005, rtol=0)
    # the SPARC folder holding Rotmod_LTG/ is accepted too and gives the same batch
    again = gs.load_sparc(SPARC)
    assert again.names == batch.names
    np.testing.assert_array_equal(np.asarray(again.Vobs), np.asarray(batch.Vobs))
    assert batch.n_max == int(np.max(np.asarray(batch.n_points))) == 115


def test_real_ngc3198_matches_the_file_text(real_batch):
    # from the text of NGC3198_rotmod.dat: "# Distance = 13.8 Mpc" and its first two rows
    first = [0.32, 24.40, 35.90, 0.00, 63.28, 0.00, 1084.92, 0.00]
    third = [0.96, 45.50, 16.10, 0.00, 78.98, 0.00, 410.97, 0.00]
    curve = gsf.read_rotmod(ROTMOD / "NGC3198_rotmod.dat")
    assert curve["name"] == "NGC3198" and curve["distance_Mpc"] == 13.8
    text_rows = [r for r in (ROTMOD / "NGC3198_rotmod.dat").read_text().splitlines()
                 if r.strip() and not r.startswith("#")]
    assert len(curve["Rad"]) == len(text_rows)
    got = [curve[c][0] for c in gsf.ROTMOD_COLUMNS]
    assert got == first
    assert [curve[c][2] for c in gsf.ROTMOD_COLUMNS] == third
    g = real_batch.galaxy("NGC3198")
    assert g["distance"] == 13.8 and g["sigma_v"] == 25.0
    assert [g["R"][0], g["Vobs"][0], g["errV"][0], g["Vdisk"][0], g["SBdisk"][0]] == [
        0.32, 24.40, 35.90, 63.28, 1084.92]
    assert len(g["R"]) == len(text_rows)


def test_real_points_agree_with_massmodels_table(real_batch):
    """All 3391 points against the independent all-in-one MRT table, to 0.01."""
    needs(MASSMODELS)
    lines = MASSMODELS.read_text().splitlines()
    last_dashes = max(i for i, line in enumerate(lines)
                      if line.strip() and set(line.strip()) == {"-"})
    rows = [line.split() for line in lines[last_dashes + 1:] if line.strip()]
    assert len(rows) == 3391 and {len(r) for r in rows} == {10}
    ids = np.array([r[0] for r in rows])
    values = np.array([[float(x) for x in r[1:]] for r in rows])  # D R Vobs e_Vobs ... SBbul
    assert sorted(set(ids)) == list(real_batch.names)
    batch = real_batch
    mask = np.asarray(batch.mask)
    for i, name in enumerate(batch.names):
        ref = values[ids == name]
        n = int(batch.n_points[i])
        assert ref.shape[0] == n == mask[i].sum(), name
        mine = np.column_stack(
            [np.full(n, float(batch.distance[i]))]
            + [np.asarray(getattr(batch, c))[i, :n] for c in
               ("R", "Vobs", "errV", "Vgas", "Vdisk", "Vbul", "SBdisk", "SBbul")]
        )
        np.testing.assert_allclose(mine, ref, atol=0.01, rtol=0, err_msg=name)


def test_real_master_table_values():
    needs(MASTER)
    master = gsf.read_sparc_master(MASTER).set_index("Galaxy")
    # from the file text: "D631-7 10 7.72 0.18 2 59.0 3.0 0.196 0.009 1.22 20.93 0.70
    #   115.04 0.290 0.00 57.7 2.7 1 Tr09,dB01"
    row = master.loc["D631-7"]
    assert row["T"] == 10 and row["f_D"] == 2 and row["Q"] == 1
    assert (row["D"], row["e_D"], row["Inc"], row["L36"], row["SBdisk"], row["Vflat"]) == (
        7.72, 0.18, 59.0, 0.196, 115.04, 57.7)
    assert row["Ref"] == "Tr09,dB01"
    assert master.loc["NGC3198", "D"] == 13.8
    assert master["T"].dtype == np.int64 and master["D"].dtype == np.float64
    # the data rows really are wider than the byte-by-byte header says (113 bytes)
    data = MASTER.read_text().splitlines()[98:]
    assert all(len(line) > 113 for line in data)


@pytest.mark.parametrize(
    "text, line, words",
    [
        ("", 1, "empty file"),
        ("\n\n", 1, "empty file"),
        (ROTMOD_HEADER.replace("# Distance = 13.8 Mpc\n", "") + ROW1, 3, "Distance"),
        ("# Distance = abc Mpc\n" + ROW1, 1, "distance must be"),
        ("# Distance 13.8\n" + ROW1, 1, "malformed distance header"),
        ("# Distance = -2 Mpc\n" + ROW1, 1, "distance must be"),
        (ROTMOD_HEADER + ROW1 + "0.64\t43.30\t16.30\t0.00\t73.66\t0.00\t590.57\n", 5,
         "expected 8 columns"),
        (ROTMOD_HEADER + ROW1 + ROW2.replace("43.30", "nan"), 5, "column Vobs"),
        (ROTMOD_HEADER + ROW1 + ROW2 + ROW3.replace("78.98", "inf"), 6, "column Vdisk"),
        (ROTMOD_HEADER + ROW1 + ROW2.replace("16.30", "0.00"), 5, "column errV"),
        (ROTMOD_HEADER + ROW1 + ROW2.replace("16.30", "-1.0"), 5, "column errV"),
        (ROTMOD_HEADER + ROW1 + ROW2.replace("73.66", "7x.66"), 5, "not a number"),
        (ROTMOD_HEADER + ROW2 + ROW1, 5, "radii must increase"),
        (ROTMOD_HEADER + ROW1.replace("0.32", "0.00", 1), 4, "radius must be > 0"),
        (ROTMOD_HEADER.replace("\tSBbul", ""), 2, "column header"),
        (ROTMOD_HEADER, 3, "no data rows"),
    ],
    ids=["empty", "blank", "no-distance", "distance-nan", "distance-format", "distance-neg",
         "missing-column", "nan", "inf", "errV-zero", "errV-negative", "not-a-number",
         "unsorted", "radius-zero", "header-columns", "no-rows"],
)
def test_malformed_rotmod_names_file_and_line(tmp_path, text, line, words):
    path = tmp_path / "BAD_rotmod.dat"
    path.write_text(text)
    with pytest.raises(ValueError) as info:
        gsf.read_rotmod(path)
    message = str(info.value)
    assert str(path) in message
    assert f"line {line}" in message
    assert words in message


def test_good_synthetic_rotmod_and_missing_file(tmp_path):
    path = tmp_path / "GOOD_rotmod.dat"
    path.write_text(ROTMOD_HEADER + ROW1 + ROW2 + "\n" + ROW3)
    curve = gsf.read_rotmod(path)
    assert curve["name"] == "GOOD" and curve["distance_Mpc"] == 13.8
    np.testing.assert_array_equal(curve["Rad"], [0.32, 0.64, 0.96])
    missing = tmp_path / "NOPE_rotmod.dat"
    with pytest.raises(FileNotFoundError, match="jaxfit data sparc") as info:
        gsf.read_rotmod(missing)
    assert str(missing) in str(info.value)


def test_malformed_master_table(tmp_path):
    good = [master_row("AAA"), master_row("BBB", ref="Tr09, dB01")]
    frame = gsf.read_sparc_master(write_master(tmp_path / "m.mrt", good))
    assert list(frame["Galaxy"]) == ["AAA", "BBB"]
    assert list(frame["Ref"]) == ["Tr09,dB01", "Tr09, dB01"]  # a spaced Ref is re-joined
    first = MASTER_HEADER.count("\n") + 1  # line number of the first data row
    cases = [
        ([master_row("AAA"), "BBB 10 13.8"], first + 1, "expected 19"),
        ([master_row("AAA").replace(" 59.0", " 5x.0")], first, "column Inc"),
        ([master_row("AAA").replace(" 59.0", "  nan")], first, "column Inc"),
        ([master_row("AAA"), master_row("AAA")], first + 1, "repeated"),
        ([master_row("AAA").replace(" 10 ", " 1.5 ", 1)], first, "column T"),
    ]
    for rows, line, words in cases:
        path = write_master(tmp_path / "bad.mrt", rows)
        with pytest.raises(ValueError) as info:
            gsf.read_sparc_master(path)
        assert str(path) in str(info.value) and f"line {line}" in str(info.value), info.value
        assert words in str(info.value)
    path = tmp_path / "labels.mrt"
    path.write_text(MASTER_HEADER.replace("Vflat   Asymptotically", "Vmax    Asymptotically")
                    + master_row("AAA") + "\n")
    with pytest.raises(ValueError, match="byte-by-byte header describes"):
        gsf.read_sparc_master(path)
    path.write_text("just some text\n")
    with pytest.raises(ValueError, match="not an MRT table"):
        gsf.read_sparc_master(path)
    with pytest.raises(FileNotFoundError, match="jaxfit data sparc"):
        gsf.read_sparc_master(tmp_path / "absent.mrt")


def test_padded_batch_masks_and_finite_padding(tmp_path):
    folder = tmp_path / "rot"
    for name, n in (("GAL_C", 2), ("GAL_A", 5), ("GAL_B", 1)):
        write_rotmod(folder, name, n)
    batch = gs.load_sparc(folder)
    assert batch.names == ("GAL_A", "GAL_B", "GAL_C")
    assert batch.R.shape == (3, 5) and batch.n_max == 5
    np.testing.assert_array_equal(np.asarray(batch.n_points), [5, 1, 2])
    np.testing.assert_array_equal(np.asarray(batch.mask).sum(axis=1), np.asarray(batch.n_points))
    assert batch.n_total == 8 and batch.n_galaxies == 3
    for field in ("R", "Vobs", "errV", "Vgas", "Vdisk", "Vbul", "SBdisk", "SBbul", "distance",
                  "sigma_v"):
        value = getattr(batch, field)
        assert value.dtype == jnp.float64, field
        assert np.all(np.isfinite(np.asarray(value))), field
    mask = np.asarray(batch.mask)
    R = np.asarray(batch.R)
    assert np.all(R > 0)
    np.testing.assert_array_equal(R[1], [0.5] * 5)  # padded with the last radius
    np.testing.assert_array_equal(np.asarray(batch.errV)[~mask], 1.0)
    for field in ("Vobs", "Vgas", "Vdisk", "Vbul", "SBdisk", "SBbul"):
        np.testing.assert_array_equal(np.asarray(getattr(batch, field))[~mask], 0.0)
    assert batch.n_points.dtype == jnp.int32 and batch.mask.dtype == jnp.bool_
    np.testing.assert_array_equal(np.asarray(batch.sigma_v), 25.0)
    # a pytree: 12 array leaves, names static; jit equals eager
    leaves, treedef = jax.tree_util.tree_flatten(batch)
    assert len(leaves) == 12 and "GAL_A" in str(treedef)

    def masked_mean(b):
        return jnp.sum(jnp.where(b.mask, b.Vobs, 0.0), axis=1) / b.n_points

    np.testing.assert_allclose(jax.jit(masked_mean)(batch), masked_mean(batch), rtol=1e-15)
    np.testing.assert_allclose(masked_mean(batch), [22.0, 20.0, 20.5], rtol=1e-12)
    g = batch.galaxy("GAL_C")
    np.testing.assert_array_equal(g["R"], [0.5, 1.0])
    with pytest.raises(KeyError, match="NOPE"):
        batch.galaxy("NOPE")


def test_summary_csv_sigma_v_mapping_and_errors(tmp_path):
    folder = tmp_path / "rot"
    for name in ("GAL_A", "GAL_B", "GAL_C"):
        write_rotmod(folder, name)
    summary = tmp_path / "summary.csv"
    summary.write_text("galaxy_name,sigma_velocity,other\nGAL_A,12.5,x\n GAL_C ,40,y\n"
                       "GAL_B,,z\nNOT_IN_SPARC,9,w\n")
    batch = gs.load_sparc(folder, summary=summary, default_sigma_v=30.0)
    np.testing.assert_array_equal(np.asarray(batch.sigma_v), [12.5, 30.0, 40.0])
    # other column names
    other = tmp_path / "other.csv"
    other.write_text("name,sig\nGAL_B,7\n")
    batch = gs.load_sparc(folder, summary=other, galaxy_col="name", sigma_col="sig")
    np.testing.assert_array_equal(np.asarray(batch.sigma_v), [25.0, 7.0, 25.0])
    # missing columns name the column and the file
    with pytest.raises(ValueError) as info:
        gs.load_sparc(folder, summary=summary, sigma_col="sigma_v")
    assert "'sigma_v'" in str(info.value) and str(summary) in str(info.value)
    assert "sigma_velocity" in str(info.value)  # lists the columns there
    with pytest.raises(ValueError, match="'name'.*galaxy_col"):
        gs.load_sparc(folder, summary=summary, galaxy_col="name")
    # bad values name the line
    for bad in ("-3", "abc", "inf"):
        path = tmp_path / "bad.csv"
        path.write_text(f"galaxy_name,sigma_velocity\nGAL_A,10\nGAL_B,{bad}\n")
        with pytest.raises(ValueError) as info:
            gs.load_sparc(folder, summary=path)
        assert f"{path}, line 3" in str(info.value) and "GAL_B" in str(info.value)
    path = tmp_path / "dup.csv"
    path.write_text("galaxy_name,sigma_velocity\nGAL_A,10\nGAL_A,11\n")
    with pytest.raises(ValueError, match="line 3.*GAL_A has sigma_v 11"):
        gs.load_sparc(folder, summary=path)
    with pytest.raises(FileNotFoundError, match="summary"):
        gs.load_sparc(folder, summary=tmp_path / "absent.csv")
    with pytest.raises(ValueError, match="default_sigma_v"):
        gs.load_sparc(folder, default_sigma_v=0.0)


def test_selection_master_check_and_missing_paths(tmp_path):
    folder = tmp_path / "rot"
    for name in ("GAL_A", "GAL_B", "GAL_C"):
        write_rotmod(folder, name)
    assert gs.load_sparc(folder, max_galaxies=2).names == ("GAL_A", "GAL_B")
    assert gs.load_sparc(folder, galaxies=["GAL_C", "GAL_A"]).names == ("GAL_A", "GAL_C")
    assert gs.load_sparc(folder, galaxies=["GAL_C", "GAL_B"], max_galaxies=1).names == ("GAL_B",)
    with pytest.raises(ValueError, match=r"\['NOPE'\]"):
        gs.load_sparc(folder, galaxies=["GAL_A", "NOPE"])
    with pytest.raises(ValueError, match="max_galaxies"):
        gs.load_sparc(folder, max_galaxies=0)
    # master cross-check lists the differences both ways
    master = write_master(tmp_path / "m.mrt", [master_row("GAL_A"), master_row("GAL_B"),
                                               master_row("GAL_X")])
    with pytest.raises(ValueError) as info:
        gs.load_sparc(folder, master=master)
    assert "only in the folder: ['GAL_C']" in str(info.value)
    assert "only in the master table: ['GAL_X']" in str(info.value)
    master = write_master(tmp_path / "ok.mrt", [master_row(n) for n in ("GAL_C", "GAL_A",
                                                                         "GAL_B")])
    assert gs.load_sparc(folder, master=master).n_galaxies == 3
    # a malformed file inside the folder names itself
    (folder / "GAL_D_rotmod.dat").write_text(ROTMOD_HEADER + ROW1 + "1.0 2.0\n")
    with pytest.raises(ValueError, match=r"GAL_D_rotmod.dat, line 5"):
        gs.load_sparc(folder)
    # missing paths
    absent = tmp_path / "absent"
    with pytest.raises(FileNotFoundError) as info:
        gs.load_sparc(absent)
    assert str(absent) in str(info.value) and "jaxfit data sparc" in str(info.value)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(FileNotFoundError, match="no \\*_rotmod.dat files"):
        gs.load_sparc(empty)


def test_default_sparc_dir_tells_how_to_download(cache, tmp_path):
    with pytest.raises(FileNotFoundError) as info:
        gs.default_sparc_dir()
    assert "jaxfit data sparc" in str(info.value) and str(cache / "sparc") in str(info.value)
    with pytest.raises(FileNotFoundError, match="jaxfit data sparc"):
        gs.load_sparc()
    write_rotmod(cache / "sparc" / "Rotmod_LTG", "GAL_A")
    assert gs.default_sparc_dir() == cache / "sparc"
    assert gs.load_sparc().names == ("GAL_A",)


def test_make_sparc_batch_validates():
    a = {"name": "A", "distance_Mpc": 5.0, **{c: np.arange(1.0, 4.0) for c in gsf.ROTMOD_COLUMNS}}
    b = {**a, "name": "B"}
    batch = gs.make_sparc_batch([b, a], sigma_v=[10.0, 20.0])
    assert batch.names == ("B", "A")  # given order is kept
    np.testing.assert_array_equal(np.asarray(batch.sigma_v), [10.0, 20.0])
    with pytest.raises(ValueError, match="repeated"):
        gs.make_sparc_batch([a, a])
    with pytest.raises(ValueError, match="sigma_v of A"):
        gs.make_sparc_batch([a], sigma_v={"A": float("nan")})
    with pytest.raises(ValueError, match="finite"):
        gs.make_sparc_batch([{**a, "Vobs": np.array([1.0, np.nan, 2.0])}])
    with pytest.raises(ValueError, match="no rotation curves"):
        gs.make_sparc_batch([])


def _serve(monkeypatch, zip_path: Path, master_path: Path) -> None:
    monkeypatch.setitem(gsf.SPARC_URLS, gsf.SPARC_ZIP, zip_path.as_uri())
    monkeypatch.setitem(gsf.SPARC_URLS, gsf.SPARC_MASTER_FILE, master_path.as_uri())
    # the real registry pins the Zenodo files' hashes, which these test files do not have
    for name, path in ((gsf.SPARC_ZIP, zip_path), (gsf.SPARC_MASTER_FILE, master_path)):
        digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else "0" * 64
        monkeypatch.setitem(gsf.SPARC_HASHES, name, digest)


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args], env={"COLUMNS": "250"})


def test_data_sparc_downloads_and_extracts_safely(cache, tmp_path, monkeypatch):
    source = tmp_path / "source"
    zip_path = source / "Rotmod_LTG.zip"
    write_rotmod(source / "files", "GAL_A", 3)
    write_rotmod(source / "files", "GAL_B", 2)
    with zipfile.ZipFile(zip_path.parent / "Rotmod_LTG.zip", "w") as archive:
        archive.write(source / "files" / "GAL_A_rotmod.dat", "GAL_A_rotmod.dat")
        archive.write(source / "files" / "GAL_B_rotmod.dat", "Rotmod_LTG/GAL_B_rotmod.dat")
        archive.writestr("__MACOSX/._GAL_A_rotmod.dat", b"\x00junk")
        archive.writestr("README.txt", "not a rotation curve")
    master = write_master(source / "SPARC_Lelli2016c.mrt",
                          [master_row("GAL_A"), master_row("GAL_B")])
    _serve(monkeypatch, zip_path, master)

    result = invoke("data", "sparc")
    assert result.exit_code == 0, result.output
    folder = cache / "sparc"
    assert "".join("SPARC: 2 galaxies (5 points)".split()) in "".join(result.output.split())
    assert sorted(p.name for p in (folder / "Rotmod_LTG").iterdir()) == [
        "GAL_A_rotmod.dat", "GAL_B_rotmod.dat"]
    assert (folder / "Rotmod_LTG.zip").read_bytes() == zip_path.read_bytes()
    assert (folder / "SPARC_Lelli2016c.mrt").read_bytes() == master.read_bytes()
    assert sorted(p.name for p in folder.iterdir()) == [
        "Rotmod_LTG", "Rotmod_LTG.zip", "SPARC_Lelli2016c.mrt"]  # no staging leftovers
    batch = gs.load_sparc()  # the default folder now
    assert batch.names == ("GAL_A", "GAL_B") and batch.n_total == 5

    # present files are kept; --force fetches and extracts again
    (folder / "Rotmod_LTG" / "GAL_A_rotmod.dat").write_text("locally changed")
    write_rotmod(source / "files", "GAL_A", 4)
    with zipfile.ZipFile(zip_path, "w") as archive:
        archive.write(source / "files" / "GAL_A_rotmod.dat", "GAL_A_rotmod.dat")
        archive.write(source / "files" / "GAL_B_rotmod.dat", "GAL_B_rotmod.dat")
    _serve(monkeypatch, zip_path, master)  # the new zip's hash
    result = invoke("data", "sparc")
    assert result.exit_code == 1  # the kept, locally broken file is reported
    assert "GAL_A_rotmod.dat" in "".join(result.output.split())
    result = invoke("data", "sparc", "--force")
    assert result.exit_code == 0, result.output
    assert gs.load_sparc().n_total == 6


@pytest.mark.parametrize("member", ["../evil_rotmod.dat", "/abs/evil_rotmod.dat", "symlink"])
def test_data_sparc_rejects_unsafe_archives(cache, tmp_path, monkeypatch, member):
    source = tmp_path / "source"
    source.mkdir()
    zip_path = source / "Rotmod_LTG.zip"
    with zipfile.ZipFile(zip_path, "w") as archive:
        archive.writestr("GAL_A_rotmod.dat", ROTMOD_HEADER + ROW1)
        if member == "symlink":
            info = zipfile.ZipInfo("GAL_L_rotmod.dat")
            info.external_attr = (0o120777 << 16)
            archive.writestr(info, "/etc/passwd")
        else:
            archive.writestr(member, ROTMOD_HEADER + ROW1)
    master = write_master(source / "SPARC_Lelli2016c.mrt", [master_row("GAL_A")])
    _serve(monkeypatch, zip_path, master)
    result = invoke("data", "sparc")
    assert result.exit_code == 1, result.output
    text = "".join(result.output.split())
    assert ("unsafemember" in text) or ("symboliclink" in text)
    assert not (cache / "sparc" / "Rotmod_LTG").exists()
    assert not (cache / "sparc" / "Rotmod_LTG.zip").exists()  # removed: fetched again next time
    assert not (tmp_path / "cache" / "evil_rotmod.dat").exists()
    assert not list(tmp_path.rglob("evil_rotmod.dat"))


def test_data_sparc_bad_zip_and_missing_source(cache, tmp_path, monkeypatch):
    source = tmp_path / "source"
    source.mkdir()
    zip_path = source / "Rotmod_LTG.zip"
    zip_path.write_bytes(b"this is not a zip")
    master = write_master(source / "SPARC_Lelli2016c.mrt", [master_row("GAL_A")])
    _serve(monkeypatch, zip_path, master)
    result = invoke("data", "sparc")
    assert result.exit_code == 1
    assert "notavalidziparchive" in "".join(result.output.split())
    assert not (cache / "sparc" / "Rotmod_LTG.zip").exists()
    _serve(monkeypatch, source / "absent.zip", master)
    result = invoke("data", "sparc", "--force")
    assert result.exit_code == 1
    assert (source / "absent.zip").as_uri() in "".join(result.output.split())


def test_data_sparc_with_the_real_files(cache, tmp_path, monkeypatch):
    needs(ROTMOD, MASTER)
    zip_path = tmp_path / "Rotmod_LTG.zip"
    with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(ROTMOD.glob("*_rotmod.dat")):
            archive.write(path, path.name)
    _serve(monkeypatch, zip_path, MASTER)
    result = invoke("data", "sparc")
    assert result.exit_code == 0, result.output
    assert "".join("175 galaxies (3391 points)".split()) in "".join(result.output.split())
    for path in ROTMOD.glob("*_rotmod.dat"):
        assert (cache / "sparc" / "Rotmod_LTG" / path.name).read_bytes() == path.read_bytes()
    assert gs.load_sparc(master=cache / "sparc" / "SPARC_Lelli2016c.mrt").n_total == 3391
