"""Hostile input to every cosmo command and reader (issue 16).

Each CLI case asserts the exit code (2 bad input, 1 failed run), exactly one stderr line
``error: ...`` that names the input, no traceback, and the store bytes unchanged. Every case
fails before any compilation or fit; the physics-edge tests compile one small chi2.
"""

import gzip
import json
import math
import os
import tempfile

import filelock
import jax
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from jaxfit.cli.main import app
from jaxfit.cosmo import model as m
from jaxfit.cosmo.bao import read_bao_cobaya
from jaxfit.cosmo.config import load_config
from jaxfit.cosmo.sn import read_union3
from jaxfit.cosmo.store import OptimizedParameterStore

C_KM_S = 299792.458  # speed of light [km/s]
LCDM = dict(m.get_model("lcdm").spec.defaults)
CLOSED_EMPTY = {**LCDM, "Om0": 0.05, "Ok0": -0.3}  # inside the bounds, E^2 < 0 near z = 2


@pytest.fixture
def world(tmp_path):
    """A store with a valid lcdm file, a plain file, a newer-format store."""
    store = tmp_path / "store"
    OptimizedParameterStore(store).reset("lcdm")
    newer = tmp_path / "newer"
    newer.mkdir()
    (newer / "lcdm.json").write_text(json.dumps({"format_version": 99}))
    (tmp_path / "afile").write_text("x")
    return tmp_path


def snapshot(folder):
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def assert_one_line_error(result, code, *needles):
    stderr = result.stderr.strip()
    assert result.exit_code == code, (result.exit_code, result.output)
    assert "Traceback" not in result.output
    assert stderr.startswith("error: ") and "\n" not in stderr, stderr
    for needle in needles:
        assert needle in stderr, (needle, stderr)


def invoke(args):
    return CliRunner().invoke(app, [str(a) for a in args])


CONFIGS = {
    "truncated": ('{"model": "lcdm", "optimiz', "must be UTF-8 JSON"),
    "empty": ("", "must be UTF-8 JSON"),
    "binary": (b"\xff\xfe\x00{", "must be UTF-8 JSON"),
    "list": ("[1, 2]", "(top level): must be a JSON object"),
    "null": ("null", "(top level): must be a JSON object"),
    "unknown-key": ('{"optimisation": {}}', "(top level): must be only the keys"),
    "optimization-null": ('{"optimization": null}', "(optimization): must be an object"),
    "optimization-list": ('{"optimization": []}', "(optimization): must be an object"),
    "overrides-list": ('{"parameter_overrides": [1]}', "(parameter_overrides)"),
    "override-nan": ('{"parameter_overrides": {"H0": NaN}}', "parameter_overrides.H0"),
    "override-inf": ('{"parameter_overrides": {"Om0": Infinity}}', "parameter_overrides.Om0"),
    "override-null": ('{"parameter_overrides": {"H0": null}}', "parameter_overrides.H0"),
    "override-negative": ('{"parameter_overrides": {"H0": -5}}', "parameter_overrides.H0"),
    "override-unknown": ('{"parameter_overrides": {"XX": 1}}', "parameter_overrides.XX"),
    "cov-negative": ('{"optimization": {"covariance_scaling": -1}}', "covariance_scaling"),
    "gtol-nan": ('{"optimization": {"convergence_tolerance": NaN}}', "convergence_tolerance"),
    "names-not-strings": ('{"optimization": {"optimize_parameters": [1, null]}}',
                          "optimize_parameters"),
    "model-number": ('{"model": 3}', "(model)"),
    "datasets-numbers": ('{"datasets": [1]}', "(datasets)"),
}
FIT_COMMANDS = ["fit", "fit-cmb", "fit-bao", "fit-sn", "fit-joint"]


@pytest.mark.parametrize("name", list(CONFIGS))
def test_bad_config_file_is_one_line_naming_file_and_key(world, name):
    text, needle = CONFIGS[name]
    path = world / f"{name}.json"
    (path.write_bytes if isinstance(text, bytes) else path.write_text)(text)
    before = snapshot(world / "store")
    command = FIT_COMMANDS[len(name) % len(FIT_COMMANDS)]  # spread over the aliases
    result = invoke(["cosmo", command, "--config", path, "--store", world / "store"])
    assert_one_line_error(result, 2, str(path), needle)
    assert snapshot(world / "store") == before


def _cli_cases():
    """(id, args(world), exit code, needle)."""
    s = lambda w: ["--store", w / "store"]  # noqa: E731
    return [
        ("config-folder", lambda w: ["cosmo", "fit", "--config", w, *s(w)], 2, "must be a file"),
        ("config-missing", lambda w: ["cosmo", "fit", "--config", w / "no.json", *s(w)], 2,
         "not found"),
        ("cov-scale-nan", lambda w: ["cosmo", "fit", "--cov-scale", "nan", *s(w)], 2,
         "cov_scale"),
        ("cov-scale-negative", lambda w: ["cosmo", "fit-cmb", "--cov-scale", "-1", *s(w)], 2,
         "cov_scale"),
        ("unknown-model", lambda w: ["cosmo", "fit", "--model", "xx", *s(w)], 2, "'xx'"),
        ("unknown-dataset", lambda w: ["cosmo", "fit-joint", "--datasets", "cmb,zz", *s(w)], 2,
         "'zz'"),
        ("n-starts-zero", lambda w: ["cosmo", "fit", "--n-starts", "0", *s(w)], 2, "n_starts"),
        ("unknown-method", lambda w: ["cosmo", "fit", "--method", "zz", *s(w)], 2, "'zz'"),
        ("unknown-parameter", lambda w: ["cosmo", "fit", "--optimize", "XX", *s(w)], 2, "'XX'"),
        ("sn-data-dir-missing", lambda w: ["cosmo", "fit-sn", "--data-dir", w / "no", *s(w)], 2,
         "not found"),
        ("bao-data-dir-file", lambda w: ["cosmo", "fit-bao", "--datasets", "bao:desi_dr1",
                                         "--data-dir", w / "afile", *s(w)], 2, "afile"),
        ("fit-out-file", lambda w: ["cosmo", "fit", "--out", w / "afile", *s(w)], 2, "--out"),
        ("fit-out-under-file", lambda w: ["cosmo", "fit-bao", "--out", w / "afile" / "x",
                                          *s(w)], 2, "--out"),
        ("fit-store-file", lambda w: ["cosmo", "fit", "--store", w / "afile"], 2, "--store"),
        ("show-store-file", lambda w: ["cosmo", "store", "show", "--store", w / "afile"], 2,
         "--store"),
        ("history-store-file", lambda w: ["cosmo", "store", "history", "lcdm", "--store",
                                          w / "afile"], 2, "--store"),
        ("check-store-file", lambda w: ["cosmo", "store", "check", "--store", w / "afile"], 2,
         "--store"),
        ("export-store-file", lambda w: ["cosmo", "store", "export", "--out", w / "o",
                                         "--store", w / "afile"], 2, "--store"),
        ("store-under-file", lambda w: ["cosmo", "store", "show", "--store", w / "afile" / "s"],
         2, "--store"),
        ("history-unknown-model", lambda w: ["cosmo", "store", "history", "xx", *s(w)], 2,
         "'xx'"),
        ("show-newer", lambda w: ["cosmo", "store", "show", "--store", w / "newer"], 1,
         "format_version 99"),
        ("history-newer", lambda w: ["cosmo", "store", "history", "lcdm", "--store",
                                     w / "newer"], 1, "format_version 99"),
        ("export-newer", lambda w: ["cosmo", "store", "export", "--out", w / "o",
                                    "--store", w / "newer"], 1, "format_version 99"),
        ("check-newer", lambda w: ["cosmo", "store", "check", "--store", w / "newer"], 1,
         "lcdm"),
        ("fit-newer", lambda w: ["cosmo", "fit", "--store", w / "newer"], 1,
         "format_version 99"),
        ("export-out-file", lambda w: ["cosmo", "store", "export", "--out", w / "afile",
                                       *s(w)], 2, "--out"),
        ("export-out-under-file", lambda w: ["cosmo", "store", "export", "--out",
                                             w / "afile" / "x", *s(w)], 2, "--out"),
        ("report-out-file", lambda w: ["cosmo", "report", "--out", w / "afile", *s(w)], 2,
         "--out"),
        ("report-posterior-file", lambda w: ["cosmo", "report", "--out", w / "rep",
                                             "--posterior", w / "afile", *s(w)], 2,
         "--posterior"),
        ("report-store-file", lambda w: ["cosmo", "report", "--out", w / "rep", "--store",
                                         w / "afile"], 2, "--store"),
        ("profile-out-file", lambda w: ["cosmo", "profile", "--out", w / "afile", *s(w)], 2,
         "--out"),
        ("profile-bad-grid", lambda w: ["cosmo", "profile", "--x", "Om0=a:b:c", "--y",
                                        "H0=1:2:3", "--out", w / "p", *s(w)], 2, "--x"),
        ("profile-mixed-axes", lambda w: ["cosmo", "profile", "--x", "Om0=0.2:0.4:3", "--y",
                                          "H0", "--out", w / "p", *s(w)], 2, "--x"),
        ("profile-sigmas-text", lambda w: ["cosmo", "profile", "--sigmas", "one", "--out",
                                           w / "p", *s(w)], 2, "--sigmas"),
        ("profile-unknown-dataset", lambda w: ["cosmo", "profile", "--datasets", "zz", "--out",
                                               w / "p", *s(w)], 2, "'zz'"),
        ("sample-out-file", lambda w: ["cosmo", "sample", "--out", w / "afile", *s(w)], 2,
         "--out"),
        ("sample-resume-missing", lambda w: ["cosmo", "sample", "--resume", w / "no", *s(w)], 2,
         "--resume"),
        ("sample-resume-file", lambda w: ["cosmo", "sample", "--resume", w / "afile", *s(w)], 2,
         "--resume"),
        ("sample-resume-empty", lambda w: ["cosmo", "sample", "--resume", w / "store", *s(w)],
         2, "lcdm_nuts"),
        ("regression-out-file", lambda w: ["cosmo", "regression", "--quick", "--out",
                                           w / "afile", *s(w)], 2, "--out"),
        ("regression-store-file", lambda w: ["cosmo", "regression", "--quick", "--store",
                                             w / "afile"], 2, "--store"),
        ("regression-newer", lambda w: ["cosmo", "regression", "--quick", "--store",
                                        w / "newer"], 1, "format_version 99"),
    ]


@pytest.mark.parametrize(("args", "code", "needle"),
                         [c[1:] for c in _cli_cases()], ids=[c[0] for c in _cli_cases()])
def test_cli_failure_is_one_line_and_changes_nothing(world, args, code, needle):
    stores = [world / "store", world / "newer"]
    before = [snapshot(s) for s in stores]
    assert_one_line_error(invoke(args(world)), code, needle)
    assert [snapshot(s) for s in stores] == before


STORE_FILES = {
    "truncated": lambda good: good[: len(good) // 2],
    "empty": lambda good: b"",
    "list": lambda good: b"[1, 2]",
    "null": lambda good: b"null",
    "binary": lambda good: b"\xff\xfe\x00\x01",
    "edited-value": lambda good: good.replace(b'"H0": 67.4', b'"H0": 99.0'),
}


@pytest.mark.parametrize("kind", list(STORE_FILES))
def test_store_check_reports_a_corrupt_file_and_leaves_it(world, kind):
    path = world / "store" / "lcdm.json"
    path.write_bytes(STORE_FILES[kind](path.read_bytes()))
    before = snapshot(world / "store")
    result = invoke(["cosmo", "store", "check", "--store", world / "store"])
    assert_one_line_error(result, 1, "lcdm", str(world / "store"))
    assert "corrupt" in result.stdout
    assert snapshot(world / "store") == before


def test_lock_timeout_while_repairing_is_one_line_and_changes_nothing(world, monkeypatch):
    store = world / "store"
    (store / "lcdm.json").write_bytes(b'{"format_version": 1, "trunc')
    before = snapshot(store)
    # root, builtins, lock_timeout: a 0.05 s wait instead of the CLI's 60 s
    monkeypatch.setattr(OptimizedParameterStore.__init__, "__defaults__", (None, None, 0.05))
    with filelock.FileLock(store / "lcdm.lock"):  # another process is writing lcdm
        result = invoke(["cosmo", "store", "show", "--store", store])
    assert_one_line_error(result, 1, "lock", "lcdm")
    assert snapshot(store) == before


def test_killed_writer_leftovers_do_not_change_what_is_read(world):
    store = world / "store"
    good = (store / "lcdm.json").read_bytes()
    (store / ".lcdm.json.abc123.tmp").write_bytes(good[:40])  # a writer killed mid-write
    (store / "lcdm.lock").write_text("")  # its lock file, released by the OS at its death
    result = invoke(["cosmo", "store", "history", "lcdm", "--store", store])
    assert result.exit_code == 0, result.output
    assert (store / "lcdm.json").read_bytes() == good


def _refuse_probe_in(folder, monkeypatch):
    """Simulate a read-only ``folder`` for the writability probe (tests run as root)."""
    original = tempfile.NamedTemporaryFile

    def probe(*args, dir=None, **kwargs):
        if dir is not None and os.path.samefile(dir, folder):
            raise PermissionError(13, "Permission denied", str(dir))
        return original(*args, dir=dir, **kwargs)

    monkeypatch.setattr(tempfile, "NamedTemporaryFile", probe)


def test_read_only_out_fails_before_the_fit_and_the_store_write(world, monkeypatch):
    out = world / "out"
    out.mkdir()
    _refuse_probe_in(out, monkeypatch)
    before = snapshot(world / "store")
    result = invoke(["cosmo", "fit", "--out", out, "--store", world / "store"])
    assert_one_line_error(result, 1, "--out", str(out))
    assert "compiling" not in result.output
    assert snapshot(world / "store") == before


def test_read_only_store_fails_before_the_fit(world, monkeypatch):
    _refuse_probe_in(world / "store", monkeypatch)
    before = snapshot(world / "store")
    result = invoke(["cosmo", "fit-cmb", "--store", world / "store"])
    assert_one_line_error(result, 1, "--store")
    assert "compiling" not in result.output
    assert snapshot(world / "store") == before


def test_read_only_report_out_fails_before_writing(world, monkeypatch):
    out = world / "rep"
    out.mkdir()
    _refuse_probe_in(out, monkeypatch)
    result = invoke(["cosmo", "report", "--out", out, "--store", world / "store"])
    assert_one_line_error(result, 1, "--out")
    assert list(out.iterdir()) == []


# ---------------------------------------------------------------------------- the readers
BAO_MEANS = {
    "negative-z": ("-0.5 10.0 1.0 DM_over_rs\n", "negative redshift"),
    "nan-value": ("0.5 nan 1.0 DM_over_rs\n", "non-finite"),
    "inf-error": ("0.5 10 inf DM_over_rs\n", "non-finite"),
    "negative-value": ("0.5 -10 1.0 DM_over_rs\n", "must be > 0"),
    "zero-error": ("0.5 10 0 DM_over_rs\n", "must be > 0"),
    "unknown-quantity": ("0.5 10 1 XX\n", "unknown BAO quantity"),
    "text-number": ("0.5 ten 1 DM_over_rs\n", "expected numbers"),
    "no-data": ("# only a comment\n", "no data lines"),
    "binary": (b"\xff\xfe0.5 10 1 DM_over_rs\n", "must be UTF-8 text"),
    "broken-gzip": (b"not gzip at all", "gzip-compressed"),
    "truncated-gzip": (gzip.compress(b"0.5 10.0 1.0 DM_over_rs\n" * 20)[:25],
                       "gzip-compressed"),
}


@pytest.mark.parametrize("name", list(BAO_MEANS))
def test_bao_mean_file_hostile(tmp_path, name):
    text, needle = BAO_MEANS[name]
    path = tmp_path / ("mean.txt.gz" if "gzip" in name else "mean.txt")
    (path.write_bytes if isinstance(text, bytes) else path.write_text)(text)
    with pytest.raises(ValueError, match=needle) as err:
        read_bao_cobaya(path)
    assert str(path) in str(err.value)


def test_bao_folder_for_a_file_and_bad_covariances(tmp_path):
    with pytest.raises(ValueError, match="must be a file"):
        read_bao_cobaya(tmp_path)
    mean = tmp_path / "mean.txt"
    mean.write_text("0.5 10 DM_over_rs\n")
    for cov_text, needle in [("nan\n", "non-finite"), ("-1\n", "positive definite"),
                             ("1 2\n", "shape"), ("x\n", "expected numbers")]:
        cov = tmp_path / "cov.txt"
        cov.write_text(cov_text)
        with pytest.raises(ValueError, match=needle):
            read_bao_cobaya(mean, cov)


UNION_ROWS = {
    "negative-z": ("sn1 -0.1 0.1 0 35 0\nsn2 0.2 0.2 0 36 0\n", "redshift column"),
    "inf-mag": ("sn1 0.1 0.1 0 inf 0\nsn2 0.2 0.2 0 36 0\n", "'mb'"),
    "short-row": ("sn1 0.1 0.1 0 35 0\nsn2 0.2 0.2 0 36\n", "too few"),
    "text": ("sn1 0.1 zero 0 35 0\nsn2 0.2 0.2 0 36 0\n", "zhel"),
}


@pytest.mark.parametrize("name", list(UNION_ROWS))
def test_sn_table_hostile(tmp_path, name):
    rows, needle = UNION_ROWS[name]
    (tmp_path / "lcparam_full.txt").write_text("#name zcmb zhel dz mb dmb\n" + rows)
    (tmp_path / "mag_covmat.txt").write_text("2\n1 0 0 1\n")
    with pytest.raises(ValueError, match=needle):
        read_union3(tmp_path)


@pytest.mark.parametrize(("cov", "needle"), [("2\n1 0 0\n", "symmetric|entries"),
                                             ("", "got 0 numbers"), ("x\n", "non-numeric"),
                                             ("2\n1 0 0 nan\n", "non-finite")])
def test_sn_covariance_hostile(tmp_path, cov, needle):
    (tmp_path / "lcparam_full.txt").write_text(
        "#name zcmb zhel dz mb dmb\nsn1 0.1 0.1 0 35 0\nsn2 0.2 0.2 0 36 0\n")
    (tmp_path / "mag_covmat.txt").write_text(cov)
    with pytest.raises(ValueError, match=needle):
        read_union3(tmp_path)


PROPERTY = settings(max_examples=40, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


@PROPERTY
@given(st.one_of(st.text(max_size=80), st.binary(max_size=80)))
def test_config_reader_raises_only_value_error(tmp_path, content):
    path = tmp_path / "c.json"
    (path.write_bytes if isinstance(content, bytes) else path.write_text)(content)
    try:
        assert isinstance(load_config(path), dict)
    except ValueError as err:
        assert str(path) in str(err)


@PROPERTY
@given(st.lists(st.one_of(st.text(max_size=12), st.floats(allow_nan=True)), max_size=5),
       st.sampled_from(["DM_over_rs", "DH_over_rs", "XX", ""]))
def test_bao_reader_raises_only_value_error(tmp_path, cells, quantity):
    path = tmp_path / "mean.txt"
    path.write_text(" ".join(map(str, cells)) + " " + quantity + "\n")
    try:
        data = read_bao_cobaya(path)
    except ValueError as err:
        assert str(path) in str(err)
    else:
        assert np.all(np.isfinite(data.z)) and np.all(data.z >= 0)


@PROPERTY
@given(st.text(max_size=120))
def test_sn_reader_raises_only_value_error(tmp_path, table):
    (tmp_path / "lcparam_full.txt").write_text(table)
    (tmp_path / "mag_covmat.txt").write_text("1\n1\n")
    try:
        read_union3(tmp_path)
    except ValueError as err:
        assert str(tmp_path) in str(err)


# ------------------------------------------------------------------------- physics edges
@pytest.mark.parametrize("function", [m.E, m.comoving_distance, m.luminosity_distance,
                                      m.angular_diameter_distance, m.volume_distance,
                                      m.hubble_distance])
def test_negative_redshift_is_refused_naming_z(function):
    with pytest.raises(ValueError, match=r"redshift \(z at index \[1\]\): must be finite and >= 0"):
        function(np.array([0.5, -0.1]), LCDM)


@pytest.mark.parametrize("function", [m.E, m.comoving_distance, m.volume_distance,
                                      lambda z, p: m.cmb_observables(p)])
def test_no_expanding_universe_raises_naming_the_parameters(function):
    with pytest.raises(ValueError, match=r"Om0=0\.05.*Ok0=-0\.3.*E\^2\(z\).*must be > 0"):
        function(3.0, CLOSED_EMPTY)


def test_volume_distance_has_a_finite_gradient_at_z_zero():
    slope = jax.grad(lambda z: m.volume_distance(z, LCDM))(0.0)
    assert math.isclose(float(slope), C_KM_S / LCDM["H0"], rel_tol=1e-12)
    by_h0 = jax.grad(lambda h: m.volume_distance(0.0, {**LCDM, "H0": h}))(LCDM["H0"])
    assert float(by_h0) == 0.0
    z = 0.5  # the rewritten form equals the definition (z D_M^2 D_H)^(1/3)
    direct = np.cbrt(z * m.transverse_comoving_distance(z, LCDM) ** 2
                     * m.hubble_distance(z, LCDM))
    assert math.isclose(float(m.volume_distance(z, LCDM)), float(direct), rel_tol=1e-14)


def test_chi2_excludes_a_point_without_expansion_with_finite_gradient():
    from jaxfit.cosmo.objective import chi2, cosmo_data

    data = cosmo_data("lcdm", "cmb,bao")
    value, grad = jax.jit(jax.value_and_grad(chi2))(CLOSED_EMPTY, data)
    assert float(value) == math.inf
    assert all(np.isfinite(float(g)) for g in grad.values())
    assert math.isfinite(float(jax.jit(chi2)(LCDM, data)))
    assert float(chi2(CLOSED_EMPTY, data)) == math.inf  # eager: the same rule, no raise
    assert float(chi2({**CLOSED_EMPTY, "Om0": 0.3}, data)) < math.inf
