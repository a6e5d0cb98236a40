"""jaxfit.core.checks: every helper accepts what it should, refuses what it should, and its
message names the input and what was expected."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxfit.core import checks


def test_real_accepts_numbers_and_numpy_scalars():
    assert checks.real(2, "x") == 2.0
    assert checks.real(np.float32(0.5), "x", positive=True) == 0.5
    assert checks.real(0.0, "x", nonnegative=True) == 0.0
    assert checks.real(3.0, "x", low=3.0, high=4.0) == 3.0


@pytest.mark.parametrize(
    ("value", "kwargs", "expected"),
    [
        (float("nan"), {}, "a finite number"),
        (float("inf"), {}, "a finite number"),
        (True, {}, "a finite number"),
        ("3", {}, "a finite number"),
        (None, {}, "a finite number"),
        (0.0, {"positive": True}, "a finite number > 0"),
        (-1e-300, {"nonnegative": True}, "a finite number >= 0"),
        (5.0, {"low": 0.0, "high": 1.0}, "in [0.0, 1.0]"),
    ],
)
def test_real_refuses_with_the_name_and_expectation(value, kwargs, expected):
    with pytest.raises(ValueError, match="sigma_v") as err:
        checks.real(value, "sigma_v", **kwargs)
    assert expected in str(err.value)
    assert repr(value) in str(err.value)


def test_count():
    assert checks.count(3, "n") == 3
    assert checks.count(np.int64(3), "n") == 3
    assert checks.count(" 7 ", "n") == 7
    with pytest.raises(ValueError, match=r"num_samples must be an integer >= 4, got 2"):
        checks.count(2, "num_samples", minimum=4)
    for bad in (0, 2.0, True, "two", None):
        with pytest.raises(ValueError, match=r"n must be a positive integer"):
            checks.count(bad, "n")


def test_finite_array_names_the_first_bad_entry():
    np.testing.assert_array_equal(checks.finite_array([1, 2], "v"), [1.0, 2.0])
    with pytest.raises(ValueError, match=r"v_obs must be finite > 0 everywhere.*v_obs\[1\]"):
        checks.finite_array([1.0, -2.0, 3.0], "v_obs", positive=True)
    with pytest.raises(ValueError, match=r"R must be finite everywhere.*R\[0, 1\]"):
        checks.finite_array([[1.0, np.nan]], "R")
    with pytest.raises(ValueError, match="must be a 1-D array"):
        checks.finite_array([[1.0]], "R", ndim=1)
    with pytest.raises(ValueError, match="must not be empty"):
        checks.finite_array([], "R")
    with pytest.raises(ValueError, match="array of numbers"):
        checks.finite_array(["a"], "R")


def test_satisfies_checks_host_values_and_trusts_traced_ones():
    with pytest.raises(ValueError, match=r"z must be > 0, got \[0.5, -1.0\]"):
        checks.satisfies([0.5, -1.0], "z", lambda v: v > 0, "> 0")
    with pytest.raises(ValueError, match="z must be > 0"):
        checks.satisfies(np.nan, "z", lambda v: v > 0, "> 0")

    @jax.jit
    def f(z):
        checks.satisfies(z, "z", lambda v: v > 0, "> 0")
        return z * 2

    assert float(f(jnp.asarray(-1.0))) == -2.0


def test_choices_types_and_paths(tmp_path):
    assert checks.one_of("cpu", "--device", ("cpu", "gpu")) == "cpu"
    with pytest.raises(ValueError, match="--device must be one of cpu, gpu, got 'tpu'"):
        checks.one_of("tpu", "--device", ("cpu", "gpu"))
    with pytest.raises(TypeError, match="config must be a dict, got list"):
        checks.instance([], "config", dict)
    file = tmp_path / "a.dat"
    file.write_text("1")
    assert checks.existing_file(file, "rotation curve") == file
    with pytest.raises(FileNotFoundError, match="rotation curve not found"):
        checks.existing_file(tmp_path / "b.dat", "rotation curve")
    with pytest.raises(ValueError, match="must be a file, got the folder"):
        checks.existing_file(tmp_path, "rotation curve")
    assert checks.existing_folder(tmp_path, "SPARC folder") == tmp_path
    with pytest.raises(ValueError, match="must be a folder, got the file"):
        checks.existing_folder(file, "SPARC folder")


def test_comma_list():
    assert checks.comma_list(" cpu, gpu,,", "--devices") == ["cpu", "gpu"]
    assert checks.comma_list("cpu", "--devices", ("cpu", "gpu")) == ["cpu"]
    with pytest.raises(ValueError, match="--devices must be a comma-separated list"):
        checks.comma_list(" , ", "--devices")
    with pytest.raises(ValueError, match="each item of --devices must be one of cpu, gpu"):
        checks.comma_list("cpu,tpu", "--devices", ("cpu", "gpu"))


def test_writable_folder_creates_nothing_and_refuses_a_file_in_its_path(tmp_path):
    from jaxfit.core.checks import writable_folder

    assert writable_folder(tmp_path / "a" / "b") == tmp_path / "a" / "b"
    assert not list(tmp_path.iterdir())  # no folder made, no probe file left
    (tmp_path / "f").write_text("x")
    with pytest.raises(ValueError, match=r"--out must be a folder, got the file .*f$"):
        writable_folder(tmp_path / "f" / "g")
    with pytest.raises(ValueError, match="results must be a folder"):
        writable_folder(tmp_path / "f", "results")
