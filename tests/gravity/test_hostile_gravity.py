"""Hostile input for `jaxfit gravity` and its readers (issue 16): corrupt, truncated and
wrong-shaped files, non-finite and unphysical values, unwritable destinations.

Every CLI case must end as one line ``error: ...`` on stderr naming the input, with exit 2
for bad input and 1 for a runtime failure, and no traceback. Every case fails at
validation, before any compilation or fit, so the file runs in seconds. Tests run as root:
a read-only or full destination is simulated by making the probe of
:func:`jaxfit.core.checks.writable_folder` fail, a file where a folder is expected by a
real file.
"""

from __future__ import annotations

import errno
import json
import math
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from jaxfit.cli.main import app
from jaxfit.gravity import cluster_files, milky_way, sparc_files
from jaxfit.gravity.params import THEORY_DEFAULTS

runner = CliRunner()

HEADER = "# Distance = 10.0 Mpc\n# Rad Vobs errV Vgas Vdisk Vbul SBdisk SBbul\n"
ROWS = ["0.5 50.0 5.0 10.0 40.0 0.0 100.0 0.0", "1.0 80.0 5.0 15.0 60.0 0.0 80.0 0.0",
        "2.0 100.0 5.0 20.0 70.0 0.0 50.0 0.0"]
GOOD_ROTMOD = HEADER + "\n".join(ROWS) + "\n"


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args], env={"COLUMNS": "200"})


def assert_one_line(result, code: int, *needles: str) -> None:
    """Exit ``code``, one stderr line ``error: ...`` holding every needle, no traceback."""
    lines = result.stderr.strip().splitlines()
    assert result.exit_code == code, (result.exit_code, result.output, result.stderr)
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.output + result.stderr
    assert "internal error" not in lines[0], lines[0]
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])


def theory_record(**changes) -> dict:
    return {"theory_fit_params": dict(THEORY_DEFAULTS) | {"phase_sign": 1.0} | changes}


@pytest.fixture
def files(tmp_path):
    """A valid theory JSON, a folder with two good rotmod files, and the output folder."""
    theory = tmp_path / "theory.json"
    theory.write_text(json.dumps(theory_record()))
    rotmod = tmp_path / "rotmod"
    rotmod.mkdir()
    for name in ("GAL1", "GAL2"):
        (rotmod / f"{name}_rotmod.dat").write_text(GOOD_ROTMOD)
    return {"theory": theory, "rotmod": rotmod, "out": tmp_path / "out",
            "tmp": tmp_path}


# ----------------------------------------------------------------------- option values

OPTION_CASES = {
    "mw-sigma-zero": (["mw-fit", "--sigma-v", "0"], "--sigma-v"),
    "mw-sigma-negative": (["mw-fit", "--sigma-v", "-30"], "--sigma-v"),
    "mw-sigma-nan": (["mw-fit", "--sigma-v", "nan"], "--sigma-v"),
    "mw-sigma-inf": (["mw-fit", "--sigma-v", "inf"], "--sigma-v"),
    "mw-sigma-above-ceiling": (["mw-fit", "--sigma-v", "3e5"], "--sigma-v"),
    "mw-rmin-negative": (["mw-fit", "--r-min", "-1"], "--r-min"),
    "mw-band-reversed": (["mw-fit", "--r-min", "16", "--r-max", "12"], "--r-min < --r-max"),
    "mw-rmax-nan": (["mw-fit", "--r-max", "nan"], "--r-max"),
    "mw-n-starts-zero": (["mw-fit", "--n-starts", "0"], "--n-starts"),
    "mw-maxiter-zero": (["mw-fit", "--maxiter", "0"], "--maxiter"),
    "mw-target": (["mw-fit", "--target", "speed"], "--target"),
    "sparc-y-disk-negative": (["sparc-batch", "--y-disk", "-0.5"], "--y-disk"),
    "sparc-y-bulge-huge": (["sparc-batch", "--y-bulge", "1e3"], "--y-bulge"),
    "sparc-beta-nan": (["sparc-batch", "--beta-sigma", "nan"], "--beta-sigma"),
    "cluster-sigma-zero": (["cluster-amp", "--sigma-v-default", "0"], "--sigma-v-default"),
    "cluster-sigma-ceiling": (["cluster-amp", "--sigma-v-default", "1e5"], "--sigma-v-default"),
    "cluster-amin-negative": (["cluster-amp", "--A-cluster-min", "-1"], "--A-cluster-min"),
    "cluster-amax-inf": (["cluster-amp", "--A-cluster-max", "inf"], "--A-cluster-max"),
    "cluster-bounds-reversed": (["cluster-amp", "--A-cluster-min", "10", "--A-cluster-max",
                                 "1"], "--A-cluster-min must be < --A-cluster-max"),
    "joint-sigma-mw-zero": (["joint", "--sigma-v-mw", "0"], "--sigma-v-mw"),
    "joint-sigma-cluster-negative": (["joint", "--sigma-v-cluster", "-5"], "--sigma-v-cluster"),
    "joint-sigma-ref-nan": (["joint", "--sigma-ref", "nan"], "--sigma-ref"),
    "joint-weight-negative": (["joint", "--weight-sparc", "-1"], "--weight-sparc"),
    "joint-weights-zero": (["joint", "--weight-mw", "0", "--weight-sparc", "0",
                            "--weight-cluster", "0"], "must not all be 0"),
    "joint-max-galaxies-zero": (["joint", "--max-sparc-galaxies", "0"], "--max-sparc-galaxies"),
    "joint-band-reversed": (["joint", "--r-min", "5", "--r-max", "2"], "--r-min < --r-max"),
}


@pytest.mark.parametrize("args, needle", OPTION_CASES.values(), ids=OPTION_CASES.keys())
def test_bad_option_values_fail_before_any_work(args, needle, files):
    result = invoke("gravity", *args, "--out", files["out"])
    assert_one_line(result, 2, needle)
    assert not files["out"].exists()  # nothing created for a refused run


# ----------------------------------------------------------------------- JSON input files

THEORY_CASES = {
    "list": ("[1, 2, 3]", "expected a JSON object"),
    "null": ("null", "got null"),
    "params-null": (json.dumps({"theory_fit_params": None}), "key theory_fit_params: expected"),
    "params-list": (json.dumps({"parameters": [1.0, 2.0]}), "got a list"),
    "truncated": (json.dumps(theory_record())[:40], "not valid JSON"),
    "empty": ("", "not valid JSON"),
    "nan-alpha": (json.dumps(theory_record(alpha=float("nan"))), "theory_fit_params.alpha"),
    "lam-coh-out-of-bounds": (json.dumps(theory_record(lam_coh=1e6)),
                              "theory_fit_params.lam_coh"),
    "string-value": (json.dumps(theory_record(Q_ref="two")), "theory_fit_params.Q_ref"),
    "bool-value": (json.dumps(theory_record(burr_ell0=True)), "theory_fit_params.burr_ell0"),
    "null-value": (json.dumps(theory_record(lam_cut=None)), "theory_fit_params.lam_cut"),
    "missing-param": (json.dumps({"theory_fit_params": {"alpha": 1.0}}), "missing"),
    "phase-sign-zero": (json.dumps(theory_record(phase_sign=0.0)), "phase_sign"),
    "phase-sign-string": (json.dumps(theory_record(phase_sign="+")), "phase_sign"),
}


@pytest.mark.parametrize("command", ["sparc-batch", "cluster-amp"])
@pytest.mark.parametrize("text, needle", THEORY_CASES.values(), ids=THEORY_CASES.keys())
def test_theory_fit_json_is_checked(command, text, needle, files):
    files["theory"].write_text(text)
    out = "--out"
    result = invoke("gravity", command, "--theory-fit-json", files["theory"],
                    "--rotmod-dir", files["rotmod"], out, files["out"]) \
        if command == "sparc-batch" else \
        invoke("gravity", command, "--theory-fit-json", files["theory"], out, files["out"])
    assert_one_line(result, 2, str(files["theory"]), needle)


def test_theory_fit_json_binary_folder_and_missing(files):
    files["theory"].write_bytes(b"\xff\xfe\x00garbage")
    assert_one_line(invoke("gravity", "cluster-amp", "--theory-fit-json", files["theory"]), 2,
                    str(files["theory"]), "UTF-8")
    assert_one_line(invoke("gravity", "cluster-amp", "--theory-fit-json", files["tmp"]), 2,
                    "--theory-fit-json", "folder")
    assert_one_line(invoke("gravity", "cluster-amp", "--theory-fit-json",
                           files["tmp"] / "none.json"), 2, "none.json", "mw-fit")


MW_JSON_CASES = {
    "list": ("[]", "expected a JSON object"),
    "null": ("null", "got null"),
    "params-list": ('{"params": [1, 2]}', "key params"),
    "no-parameters": ('{"chi2": 3}', "none of the empirical parameters"),
    "string": ('{"A": "big"}', "key A"),
    "nan": ('{"params": {"lam_peak": NaN}}', "key params.lam_peak"),
    "negative-length": ('{"lam_peak": -5}', "key lam_peak"),
    "negative-amplitude": ('{"A": -1}', "key A"),
    "truncated": ('{"A": 5.69, "lam_p', "not valid JSON"),
}


@pytest.mark.parametrize("text, needle", MW_JSON_CASES.values(), ids=MW_JSON_CASES.keys())
def test_mw_fit_json_is_checked(text, needle, files):
    path = files["tmp"] / "empirical.json"
    path.write_text(text)
    result = invoke("gravity", "mw-fit", "--mw-fit-json", path, "--out", files["out"])
    assert_one_line(result, 2, str(path), needle)


# ----------------------------------------------------------------------- SPARC files

ROTMOD_CASES = {
    "negative-vobs": (GOOD_ROTMOD.replace("80.0 5.0", "-80.0 5.0"), "line 4, column Vobs"),
    "huge-vobs": (GOOD_ROTMOD.replace("80.0 5.0", "1e300 5.0"), "column Vobs"),
    "nan-vobs": (GOOD_ROTMOD.replace("80.0 5.0", "nan 5.0"), "column Vobs"),
    "zero-error": (GOOD_ROTMOD.replace("80.0 5.0", "80.0 0.0"), "column errV"),
    "huge-gas": (GOOD_ROTMOD.replace("15.0 60.0", "-2e4 60.0"), "column Vgas"),
    "negative-brightness": (GOOD_ROTMOD.replace("80.0 0.0\n", "-80.0 0.0\n"), "column SBdisk"),
    "radius-in-pc": (GOOD_ROTMOD.replace("2.0 100.0", "2e5 100.0"), "column Rad"),
    "truncated-row": (GOOD_ROTMOD[:-12], "expected 8 columns"),
    "no-distance": ("\n".join(ROWS) + "\n", "Distance"),
    "nan-distance": (GOOD_ROTMOD.replace("10.0 Mpc", "nan Mpc"), "distance"),
    "distance-beyond-hubble": (GOOD_ROTMOD.replace("10.0 Mpc", "1e6 Mpc"), "distance"),
    "empty": ("", "empty file"),
    "header-only": (HEADER, "no data rows"),
}


@pytest.mark.parametrize("text, needle", ROTMOD_CASES.values(), ids=ROTMOD_CASES.keys())
def test_corrupt_rotmod_files_name_file_and_line(text, needle, files):
    bad = files["rotmod"] / "GAL2_rotmod.dat"
    bad.write_text(text)
    result = invoke("gravity", "sparc-batch", "--theory-fit-json", files["theory"],
                    "--rotmod-dir", files["rotmod"], "--out", files["out"])
    assert_one_line(result, 2, str(bad), needle)
    assert not files["out"].exists()


def test_binary_rotmod_and_rotmod_dir_that_is_a_file(files):
    bad = files["rotmod"] / "GAL1_rotmod.dat"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n\xff\xff")
    result = invoke("gravity", "joint", "--rotmod-dir", files["rotmod"], "--out",
                    files["out"])
    assert_one_line(result, 2, str(bad), "UTF-8")
    assert_one_line(invoke("gravity", "sparc-batch", "--theory-fit-json", files["theory"],
                           "--rotmod-dir", bad), 2, str(bad), "folder")


SUMMARY_CASES = {
    "zero-sigma": ("galaxy_name,sigma_velocity\nGAL1,0\n", "line 2, column sigma_velocity"),
    "inf-sigma": ("galaxy_name,sigma_velocity\nGAL1,inf\n", "sigma_velocity"),
    "huge-sigma": ("galaxy_name,sigma_velocity\nGAL1,5e5\n", "sigma_velocity"),
    "text-sigma": ("galaxy_name,sigma_velocity\nGAL1,fast\n", "not a number"),
    "missing-column": ("galaxy,sigma\nGAL1,10\n", "'galaxy_name'"),
    "empty": ("", "not a readable CSV"),
}


@pytest.mark.parametrize("text, needle", SUMMARY_CASES.values(), ids=SUMMARY_CASES.keys())
def test_corrupt_sparc_summary(text, needle, files):
    summary = files["tmp"] / "summary.csv"
    summary.write_text(text)
    result = invoke("gravity", "sparc-batch", "--theory-fit-json", files["theory"],
                    "--rotmod-dir", files["rotmod"], "--sparc-summary", summary,
                    "--out", files["out"])
    assert_one_line(result, 2, str(summary), needle)


def test_summary_that_is_a_folder(files):
    result = invoke("gravity", "joint", "--rotmod-dir", files["rotmod"], "--sparc-summary",
                    files["rotmod"], "--out", files["out"])
    assert_one_line(result, 2, "SPARC summary CSV", "folder")


MASTER = """Byte-by-byte Description of file: SPARC
--------------------------------------------------------------------------------
 Bytes Format Units Label Explanations
--------------------------------------------------------------------------------
"""


@pytest.mark.parametrize("text, needle", [
    ("", "empty file"),
    ("Title: SPARC\n", "not an MRT table"),
    (MASTER, "malformed MRT header"),
], ids=["empty", "no-description", "truncated-header"])
def test_corrupt_sparc_master(text, needle, tmp_path):
    path = tmp_path / "SPARC_Lelli2016c.mrt"
    path.write_text(text)
    with pytest.raises(ValueError, match=needle) as info:
        sparc_files.read_sparc_master(path)
    assert str(path) in str(info.value)


# ----------------------------------------------------------------------- Milky Way files

def _parquet(path: Path, **columns) -> Path:
    base = {"R": [12.5, 13.0, 14.0], "v_phi": [230.0, 228.0, 226.0],
            "v_phi_GR": [200.0, 198.0, 196.0]}
    pd.DataFrame(base | columns).to_parquet(path)
    return path


PARQUET_CASES = {
    "negative-v_phi": ({"v_phi": [230.0, -228.0, 226.0]}, "column v_phi"),
    "huge-v_phi": ({"v_phi": [230.0, 1e300, 226.0]}, "column v_phi"),
    "nan-v_phi": ({"v_phi": [230.0, math.nan, 226.0]}, "column v_phi"),
    "negative-v_phi_GR": ({"v_phi_GR": [-1.0, 198.0, 196.0]}, "column v_phi_GR"),
    "nan-radius": ({"R": [12.5, math.nan, 14.0]}, "column R"),
}


@pytest.mark.parametrize("command", ["mw-fit", "joint"])
@pytest.mark.parametrize("columns, needle", PARQUET_CASES.values(), ids=PARQUET_CASES.keys())
def test_baseline_parquet_values_are_checked(command, columns, needle, files):
    path = _parquet(files["tmp"] / "stars.parquet", **columns)
    extra = ["--rotmod-dir", files["rotmod"]] if command == "joint" else []
    result = invoke("gravity", command, "--baseline-parquet", path, *extra,
                    "--out", files["out"])
    assert_one_line(result, 2, str(path), needle)


def test_baseline_parquet_corrupt_truncated_folder_and_columns(files):
    good = _parquet(files["tmp"] / "good.parquet")
    truncated = files["tmp"] / "truncated.parquet"
    truncated.write_bytes(good.read_bytes()[: len(good.read_bytes()) // 2])
    for path, needle in ((truncated, "not a readable parquet"),
                         (files["tmp"], "folder"),
                         (files["tmp"] / "none.parquet", "not found")):
        assert_one_line(invoke("gravity", "mw-fit", "--baseline-parquet", path, "--out",
                               files["out"]), 2, str(path), needle)
    pd.DataFrame({"R": [13.0], "vphi": [1.0]}).to_parquet(files["tmp"] / "cols.parquet")
    assert_one_line(invoke("gravity", "mw-fit", "--baseline-parquet",
                           files["tmp"] / "cols.parquet"), 2, "missing column(s)")


@pytest.mark.parametrize("row, needle", [
    ("8.0,-230.0,1.0,1.0", "column vc_kms"),
    ("8.0,2e5,1.0,1.0", "column vc_kms"),
    ("8.0,230.0,nan,1.0", "column sigma_vc_minus_kms"),
    ("8.0,230.0", "2 fields"),
], ids=["negative-vc", "huge-vc", "nan-error", "truncated-row"])
def test_corrupt_mw_curve_csv(row, needle, tmp_path):
    path = tmp_path / "mw.csv"
    path.write_text(",".join(milky_way.EILERS_COLUMNS) + "\n" + row + "\n")
    with pytest.raises(ValueError, match=needle) as info:
        milky_way.read_mw_curve(path)
    assert f"{path}, line 2" in str(info.value)


# ----------------------------------------------------------------------- cluster files

@pytest.mark.parametrize("reader, text, needle", [
    ("accept", "Name Rin Rout nelec neerr\nA1689 0.01 0.02 nan 0.001\n", "non-finite"),
    ("accept", "Name Rin Rout nelec neerr\nA1689 0.01 0.02 0.05 -0.001\n", "neerr"),
    ("accept", "Name Rin Rout nelec neerr\nA1689 0.01 5e4 0.05 0.001\n", "Rout"),
    ("accept", "Name Rin Rout nelec neerr\nA1689 0.01\n", "expected >= 5 columns"),
    ("gas", "r_kpc,n_e_cm3\n1,0.01\n2,nan\n", "non-finite"),
    ("gas", "r_kpc,n_e_cm3\n1,0.01\n2,-0.005\n", "must be > 0"),
    ("stars", "r_kpc,rho_Msun_kpc3\n1,1e8\n", "length >= 2"),
    ("table", "name,z_lens,z_source,theta_E_arcsec\nX,nan,1,20\n", "'z_lens' must be finite"),
    ("table", "name,z_lens,z_source,theta_E_arcsec,sigma_v_kms\nX,0.3,1,20,-900\n",
     "'sigma_v_kms' must be > 0"),
    ("table", "name,z_lens,z_source,theta_E_arcsec,sigma_v_kms\nX,0.3,1,20,3e5\n",
     "'sigma_v_kms' must be a speed"),
    ("table", "name,z_lens,z_source,theta_E_arcsec,sigma\nX,0.3,1,20,-1\n", "'sigma'"),
    ("table", "name,z_lens\n", "missing column(s)"),
], ids=["accept-nan", "accept-negative-error", "accept-rout-huge", "accept-truncated",
        "gas-nan", "gas-negative", "stars-one-row", "table-nan", "table-negative-sigma-v",
        "table-huge-sigma-v", "table-negative-theta-error", "table-truncated-header"])
def test_corrupt_cluster_files_name_the_file(reader, text, needle, tmp_path):
    path = tmp_path / f"{reader}.csv"
    path.write_text(text)
    with pytest.raises(ValueError) as info:
        CLUSTER_READERS[reader](path)
    assert str(path) in str(info.value) and needle in str(info.value), str(info.value)


CLUSTER_READERS = {"accept": cluster_files.read_accept_profile,
                   "gas": cluster_files.read_gas_csv, "stars": cluster_files.read_stars_csv,
                   "table": cluster_files.read_cluster_table}


def test_unknown_cluster_name_is_input_error(files):
    result = invoke("gravity", "cluster-amp", "--theory-fit-json", files["theory"],
                    "--clusters", "MACSJ0416,NOPE", "--out", files["out"])
    assert_one_line(result, 2, "NOPE")


# ----------------------------------------------------------------------- destinations

def _probe_fails(code: int):
    def refuse(*args, **kwargs):
        raise OSError(code, {errno.EACCES: "Permission denied",
                             errno.ENOSPC: "No space left on device"}[code])
    return refuse


@pytest.mark.parametrize("command", ["mw-fit", "sparc-batch", "cluster-amp", "joint"])
@pytest.mark.parametrize("code", [errno.EACCES, errno.ENOSPC], ids=["read-only", "full"])
def test_unwritable_out_fails_before_the_work(command, code, files, monkeypatch):
    # as root nothing is read-only: make the write probe fail as a read-only or full disk
    monkeypatch.setattr(tempfile, "NamedTemporaryFile", _probe_fails(code))
    args = {"mw-fit": [], "cluster-amp": ["--theory-fit-json", files["theory"]],
            "sparc-batch": ["--theory-fit-json", files["theory"], "--rotmod-dir",
                            files["rotmod"]],
            "joint": ["--rotmod-dir", files["rotmod"]]}[command]
    result = invoke("gravity", command, *args, "--out", files["out"])
    assert_one_line(result, 1, "--out", "not writable", str(files["out"]))


@pytest.mark.parametrize("command", ["mw-fit", "cluster-amp"])
def test_out_below_a_file_and_out_that_is_a_folder(command, files):
    blocker = files["tmp"] / "blocker"
    blocker.write_text("a file where a folder is expected")
    args = [] if command == "mw-fit" else ["--theory-fit-json", files["theory"]]
    result = invoke("gravity", command, *args, "--out", blocker / "r")
    assert_one_line(result, 2, "--out", "must be a folder", str(blocker))
    stem = {"mw-fit": "theory_metric_resonance_mw_fit",
            "cluster-amp": "theory_kernel_cluster_amp_fit"}[command]
    (files["tmp"] / "res" / f"{stem}.json").mkdir(parents=True)
    result = invoke("gravity", command, *args, "--out", files["tmp"] / "res")
    assert_one_line(result, 2, "--out", "must be a file, got a folder")


def test_out_json_is_a_deprecated_alias(files):
    """The old file-valued --out-json still works for one release: one note, then the
    command as before (here its first check fails, exit 2)."""
    result = invoke("gravity", "mw-fit", "--target", "speed", "--out-json",
                    files["out"] / "r.json")
    lines = result.stderr.strip().splitlines()
    assert result.exit_code == 2 and len(lines) == 2, result.stderr
    assert lines[0].startswith("note: --out-json is deprecated") and "--out DIR" in lines[0]
    assert lines[1].startswith("error: ") and "--target" in lines[1]
    result = invoke("gravity", "mw-fit", "--out", files["out"], "--out-json",
                    files["out"] / "r.json")
    assert_one_line(result, 2, "--out-json", "not both")


# ----------------------------------------------------------------------- properties

_TOKENS = st.sampled_from(["#", "Distance", "=", "Mpc", "Rad", "Vobs", "1", "-2.5", "0",
                           "nan", "inf", "1e400", "Name", "Rin", "Rout", "nelec", "neerr",
                           "r_kpc", "n_e_cm3", "name", "z_lens", "z_source",
                           "theta_E_arcsec", "sigma", ",", '"', "\t", "x"])
_TEXT = st.lists(st.lists(_TOKENS, max_size=10).map(" ".join), max_size=8).map("\n".join)
_CONTENT = st.one_of(st.binary(max_size=200), _TEXT.map(str.encode),
                     st.text(max_size=200).map(lambda t: t.encode("utf-8", "surrogatepass")))
_FOLDER = Path(tempfile.mkdtemp(prefix="jaxfit-hostile-"))


def _only_value_errors_naming(reader, path: Path, content: bytes) -> None:
    path.write_bytes(content)
    try:
        reader(path)
    except ValueError as err:
        assert str(path) in str(err), str(err)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(content=_CONTENT, rows=st.integers(0, 3))
def test_rotmod_reader_raises_only_value_errors_naming_the_file(content, rows):
    # arbitrary bytes alone, and after a valid header and rows (deeper parser states)
    path = _FOLDER / "PROP_rotmod.dat"
    prefix = (HEADER + "".join(r + "\n" for r in ROWS[:rows])).encode() if rows else b""
    _only_value_errors_naming(sparc_files.read_rotmod, path, prefix + content)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(content=_CONTENT, reader=st.sampled_from(sorted(["accept", "gas", "stars", "table"])))
def test_cluster_readers_raise_only_value_errors_naming_the_file(content, reader):
    _only_value_errors_naming(CLUSTER_READERS[reader], _FOLDER / f"prop_{reader}.csv", content)


def test_rotmod_reader_keeps_good_files(tmp_path):
    path = tmp_path / "GOOD_rotmod.dat"
    path.write_text(GOOD_ROTMOD)
    curve = sparc_files.read_rotmod(path)
    assert curve["distance_Mpc"] == 10.0
    np.testing.assert_array_equal(curve["Vobs"], [50.0, 80.0, 100.0])
