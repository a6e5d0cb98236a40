"""Tests of jaxfit.core.params: validation, pack/unpack, and the bound transforms.

References: the closed forms of the transforms written out here in numpy (sigmoid, softplus
and their derivatives), numpy's slogdet of JAX's own Jacobian, and plain dict round trips.
"""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import jaxfit  # noqa: F401  (switches on float64)
from jaxfit.core.params import BOUND_EPS, Param, ParamSpec

INF = math.inf

# one parameter of every bound kind, plus a frozen one: the transforms pick a branch per
# element, so a single spec exercises all four branches side by side
SPEC = ParamSpec(
    [
        Param("both", 0.5, -1.0, 2.0, unit="m", doc="two finite bounds"),
        Param("low", 3.0, 1.0, INF),
        Param("high", -2.0, -INF, -0.5),
        Param("free", 0.25),
        Param("frozen", 7.0, 0.0, 10.0, frozen=True),
    ]
)
FREE = ("both", "low", "high", "free")


def _sigmoid(u):
    return 1.0 / (1.0 + np.exp(-u))


def _softplus(u):
    return np.logaddexp(u, 0.0)


def _numpy_from_unconstrained(u):
    """The transform of the module doc, written independently in numpy for SPEC."""
    u = np.asarray(u, dtype=np.float64)
    return np.array(
        [-1.0 + 3.0 * _sigmoid(u[0]), 1.0 + _softplus(u[1]), -0.5 - _softplus(-u[2]), u[3]]
    )


def _numpy_dx_du(u):
    """Diagonal of dx/du of the transform above (analytic derivatives)."""
    return np.array([3.0 * _sigmoid(u[0]) * _sigmoid(-u[0]), _sigmoid(u[1]), _sigmoid(-u[2]), 1.0])


# ---------------------------------------------------------------------------- Param
def test_param_converts_numbers_to_float():
    p = Param("a", np.int64(2), np.float32(-1.0), 5)
    assert (p.default, p.lower, p.upper) == (2.0, -1.0, 5.0)
    assert all(type(v) is float for v in (p.default, p.lower, p.upper))
    assert Param("b", 1.0).lower == -INF and Param("b", 1.0).upper == INF


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"name": "a b", "default": 0.0}, ValueError, r"identifier, got 'a b'"),
        ({"name": "a", "default": "1"}, TypeError, r"parameter 'a': default must be a number"),
        ({"name": "a", "default": 0.0, "upper": None}, TypeError, r"'a': upper must be a number"),
        ({"name": "a", "default": math.nan}, ValueError, r"parameter 'a': default must be finite"),
        ({"name": "a", "default": INF}, ValueError, r"parameter 'a': default must be finite"),
        ({"name": "a", "default": 0.0, "lower": math.nan}, ValueError, r"'a': bounds must not"),
        # inverted and empty bounds
        (
            {"name": "a", "default": 0.0, "lower": 2.0, "upper": 1.0},
            ValueError,
            r"parameter 'a': lower bound 2.0 must be below upper bound 1.0",
        ),
        (
            {"name": "a", "default": 1.0, "lower": 1.0, "upper": 1.0},
            ValueError,
            r"parameter 'a': lower bound 1.0 must be below upper bound 1.0",
        ),
        # default outside the bounds
        (
            {"name": "mass", "default": 3.0, "lower": 0.0, "upper": 2.0},
            ValueError,
            r"parameter 'mass': default 3.0 lies outside its bounds \[0.0, 2.0\]",
        ),
    ],
)
def test_param_rejects_bad_fields(kwargs, error, match):
    with pytest.raises(error, match=match):
        Param(**kwargs)


def test_param_default_on_bound_is_allowed():
    assert Param("a", 2.0, 0.0, 2.0).default == 2.0
    assert Param("a", 0.0, 0.0, 2.0).default == 0.0


# ------------------------------------------------------------------------ ParamSpec
def test_spec_attributes():
    assert SPEC.names == ("both", "low", "high", "free", "frozen")
    assert SPEC.free_names == FREE
    assert SPEC.frozen_names == ("frozen",)
    assert SPEC.n_free == 4 and len(SPEC) == 5
    np.testing.assert_array_equal(SPEC.lower, [-1.0, 1.0, -INF, -INF])
    np.testing.assert_array_equal(SPEC.upper, [2.0, INF, -0.5, INF])
    assert SPEC.defaults == {"both": 0.5, "low": 3.0, "high": -2.0, "free": 0.25, "frozen": 7.0}
    assert SPEC["low"] == Param("low", 3.0, 1.0, INF)
    assert not SPEC.has_finite_bounds()
    assert ParamSpec([Param("a", 0.0, -1.0, 1.0)]).has_finite_bounds()
    assert "frozen=7[0,10]*" in repr(SPEC)


def test_spec_rejects_empty_and_duplicates():
    with pytest.raises(ValueError, match="at least one parameter"):
        ParamSpec([])
    with pytest.raises(ValueError, match=r"duplicate parameter names: \['a'\]"):
        ParamSpec([Param("a", 0.0), Param("b", 0.0), Param("a", 1.0)])


def test_from_dict_forms():
    spec = ParamSpec.from_dict(
        {"a": 1.0, "b": (0.5, 0.0, 1.0), "c": {"default": 2.0, "lower": 0.0, "frozen": True}}
    )
    assert spec == ParamSpec(
        [Param("a", 1.0), Param("b", 0.5, 0.0, 1.0), Param("c", 2.0, lower=0.0, frozen=True)]
    )
    with pytest.raises(ValueError, match=r"parameter 'b': default 5.0 lies outside"):
        ParamSpec.from_dict({"b": (5.0, 0.0, 1.0)})


def test_spec_hashable_and_equal_by_value():
    a = ParamSpec([Param("x", 1.0, 0.0, 2.0), Param("y", 0.0)])
    b = ParamSpec([Param("x", 1.0, 0.0, 2.0), Param("y", 0.0)])
    assert a is not b and a == b and hash(a) == hash(b)
    assert len({a, b}) == 1 and {a: 1}[b] == 1
    assert a != a.replace("x", upper=3.0)
    assert a != a.freeze(["y"])
    assert a != ParamSpec([Param("y", 0.0), Param("x", 1.0, 0.0, 2.0)])  # order matters
    assert a != "not a spec"


def test_unknown_names_list_the_valid_ones():
    msg = r"unknown parameter 'nope'; valid names: both, low, high, free, frozen"
    with pytest.raises(KeyError, match=msg):
        SPEC["nope"]
    with pytest.raises(KeyError, match=msg):
        SPEC.pack({"nope": 1.0})
    with pytest.raises(KeyError, match=msg):
        SPEC.freeze(["nope"])
    with pytest.raises(KeyError, match=msg):
        SPEC.free_only(["both", "nope"])
    with pytest.raises(KeyError, match=msg):
        SPEC.replace("nope", default=1.0)
    with pytest.raises(KeyError, match=msg):
        SPEC.with_defaults({"nope": 1.0})
    with pytest.raises(KeyError, match=r"unknown parameter 'p', 'q'; valid names"):
        SPEC.check_names(["both", "p", "q"])
    with pytest.raises(KeyError, match=r"unknown scan parameter 'p'"):
        SPEC.check_names(["p"], "scan parameter")


def test_validate():
    assert SPEC.validate({"both": np.float32(1.5), "low": 1}) == {"both": 1.5, "low": 1.0}
    assert SPEC.validate({"both": 2.0}) == {"both": 2.0}  # on the bound is inside
    with pytest.raises(ValueError, match=r"parameter 'low': value must be finite, got nan"):
        SPEC.validate({"low": math.nan})
    with pytest.raises(ValueError, match=r"parameter 'free': value must be finite, got inf"):
        SPEC.validate({"free": INF})
    with pytest.raises(
        ValueError, match=r"parameter 'both': value 2.5 is outside its bounds \[-1.0, 2.0\]"
    ):
        SPEC.validate({"both": 2.5})
    with pytest.raises(ValueError, match=r"parameter 'high': value 0.0 is outside"):
        SPEC.validate({"high": 0.0})
    with pytest.raises(KeyError, match=r"missing parameter values for \['high', 'frozen'\]"):
        SPEC.validate({"both": 0.0, "low": 2.0, "free": 0.0}, complete=True)


# ------------------------------------------------------------------- pack / unpack
def test_pack_unpack_round_trip():
    values = {"both": -0.25, "low": 1.5, "high": -3.0, "free": 4.0}
    x = SPEC.pack(values)
    assert x.dtype == jnp.float64 and x.shape == (4,)
    np.testing.assert_array_equal(np.asarray(x), [-0.25, 1.5, -3.0, 4.0])
    out = SPEC.unpack(x)
    assert list(out) == list(SPEC.names)
    assert {k: float(v) for k, v in out.items()} == values | {"frozen": 7.0}
    assert SPEC.to_dict(x) == values | {"frozen": 7.0}
    assert all(type(v) is float for v in SPEC.to_dict(x).values())
    # defaults fill what is not given; the frozen value comes from ``fixed``
    np.testing.assert_array_equal(np.asarray(SPEC.pack()), [0.5, 3.0, -2.0, 0.25])
    np.testing.assert_array_equal(np.asarray(SPEC.pack({"low": 2.0})), [0.5, 2.0, -2.0, 0.25])
    np.testing.assert_array_equal(np.asarray(SPEC.fixed_vector()), [7.0])
    np.testing.assert_array_equal(np.asarray(SPEC.fixed_vector({"frozen": 3.0})), [3.0])
    assert float(SPEC.unpack(x, jnp.array([3.0]))["frozen"]) == 3.0
    assert SPEC.to_dict(x, jnp.array([9.5]))["frozen"] == 9.5


def test_pack_rejects_bad_values():
    with pytest.raises(ValueError, match=r"parameter 'both': value must be finite, got nan"):
        SPEC.pack({"both": math.nan})
    with pytest.raises(ValueError, match=r"parameter 'low': value 0.5 is outside"):
        SPEC.pack({"low": 0.5})
    with pytest.raises(ValueError, match=r"parameter 'frozen': value 11.0 is outside"):
        SPEC.fixed_vector({"frozen": 11.0})


def test_unpack_and_transforms_jit_equal_eager():
    rng = np.random.default_rng(1)
    u = jnp.asarray(rng.normal(scale=3.0, size=4))
    fixed = jnp.array([4.5])

    def f(u, fixed):
        x = SPEC.from_unconstrained(u)
        return SPEC.unpack(x, fixed), SPEC.to_unconstrained(x), SPEC.log_abs_det_jacobian(u)

    eager = f(u, fixed)
    jitted = jax.jit(f)(u, fixed)
    for a, b in zip(jax.tree_util.tree_leaves(eager), jax.tree_util.tree_leaves(jitted),
                    strict=True):
        np.testing.assert_allclose(np.asarray(b), np.asarray(a), rtol=1e-14, atol=1e-14)
    # and eager agrees with the numpy formula of the module doc
    x_np = _numpy_from_unconstrained(np.asarray(u))
    np.testing.assert_allclose([float(eager[0][n]) for n in FREE], x_np, rtol=1e-14, atol=1e-15)
    assert float(eager[0]["frozen"]) == 4.5


def test_unpack_under_vmap_and_grad():
    """unpack is traceable: vmap over frozen values, grad through the free ones."""
    spec = ParamSpec([Param("a", 1.0), Param("b", 2.0, frozen=True)])

    def f(x, fixed):
        p = spec.unpack(x, fixed)
        return p["a"] ** 2 * p["b"]

    fixed = jnp.array([[1.0], [2.0], [3.0]])
    values = jax.vmap(f, in_axes=(None, 0))(jnp.array([2.0]), fixed)
    np.testing.assert_allclose(np.asarray(values), [4.0, 8.0, 12.0], rtol=1e-15)
    grads = jax.vmap(jax.grad(f), in_axes=(None, 0))(jnp.array([2.0]), fixed)
    np.testing.assert_allclose(np.asarray(grads)[:, 0], [4.0, 8.0, 12.0], rtol=1e-15)


# ----------------------------------------------------------------- derived specs
def test_freeze_free_only_replace_with_defaults():
    frozen = SPEC.freeze(["both", "low"], {"low": 5.0})
    assert frozen.free_names == ("high", "free")
    assert frozen.frozen_names == ("both", "low", "frozen")
    assert frozen["low"].default == 5.0 and frozen["both"].default == 0.5
    np.testing.assert_array_equal(np.asarray(frozen.fixed_vector()), [0.5, 5.0, 7.0])
    assert SPEC.freeze(["low"]) != SPEC  # SPEC itself is unchanged (immutable)
    assert SPEC.free_names == FREE
    with pytest.raises(ValueError, match=r"parameter 'low': default 0.0 lies outside"):
        SPEC.freeze(["low"], {"low": 0.0})

    only = SPEC.free_only(["frozen", "free"])
    assert only.free_names == ("free", "frozen")
    assert only.frozen_names == ("both", "low", "high")

    wider = SPEC.replace("both", lower=-5.0, unit="cm")
    assert wider["both"] == Param("both", 0.5, -5.0, 2.0, unit="cm", doc="two finite bounds")
    assert wider["low"] is SPEC["low"]
    with pytest.raises(ValueError, match=r"parameter 'both': lower bound 3.0 must be below"):
        SPEC.replace("both", lower=3.0)

    moved = SPEC.with_defaults({"both": 1.5, "frozen": 2.0})
    assert moved.defaults == SPEC.defaults | {"both": 1.5, "frozen": 2.0}
    assert moved.frozen_names == SPEC.frozen_names
    with pytest.raises(ValueError, match=r"parameter 'both': value must be finite"):
        SPEC.with_defaults({"both": math.nan})
    with pytest.raises(ValueError, match=r"parameter 'both': value -2.0 is outside"):
        SPEC.with_defaults({"both": -2.0})


def test_skeleton_keeps_structure_with_canonical_bounds_and_defaults():
    skeleton = SPEC.skeleton()
    assert skeleton.names == SPEC.names and skeleton.frozen_names == SPEC.frozen_names
    # the kinds of bounds stay (finite or not); their values become canonical
    np.testing.assert_array_equal(np.isfinite(skeleton.lower), np.isfinite(SPEC.lower))
    np.testing.assert_array_equal(np.isfinite(skeleton.upper), np.isfinite(SPEC.upper))
    assert skeleton["both"].lower == 0.0 and skeleton["both"].upper == 1.0
    assert skeleton["low"].lower == 0.0 and skeleton["high"].upper == 0.0
    assert skeleton.defaults == {"both": 0.0, "low": 0.0, "high": 0.0, "free": 0.0,
                                 "frozen": 0.0}
    moved = SPEC.with_defaults({"both": 1.5, "low": 9.0, "frozen": 2.0})
    assert moved != SPEC and moved.skeleton() == skeleton
    assert hash(moved.skeleton()) == hash(skeleton)
    # other bound values share the skeleton (bounds are arguments of compiled solvers) ...
    assert SPEC.replace("both", upper=3.0).skeleton() == skeleton
    # ... another kind of bound does not
    assert SPEC.replace("free", lower=0.0).skeleton() != skeleton


def test_transforms_with_bounds_given_as_arrays_equal_the_specs():
    """from/to_unconstrained with ``bounds=`` (traced in compiled solvers) equal the spec's
    own transforms for the same bound values."""
    narrow = SPEC.replace("both", lower=-0.5, upper=0.75).replace("low", lower=2.0)
    skeleton = narrow.skeleton()
    u = np.linspace(-3.0, 3.0, narrow.n_free)
    x_spec = np.asarray(narrow.from_unconstrained(u))
    x_args = np.asarray(skeleton.from_unconstrained(u, narrow.bound_arrays()))
    np.testing.assert_allclose(x_args, x_spec, rtol=1e-15, atol=0)
    np.testing.assert_allclose(np.asarray(skeleton.to_unconstrained(x_spec,
                                                                    narrow.bound_arrays())),
                               np.asarray(narrow.to_unconstrained(x_spec)), rtol=1e-12)


def test_require_finite_bounds_names_the_offenders():
    with pytest.raises(
        ValueError,
        match=r"sampling needs finite lower and upper bounds; parameters without them: "
        r"\['low', 'high', 'free'\]",
    ):
        SPEC.require_finite_bounds("sampling")
    SPEC.freeze(["low", "high", "free"]).require_finite_bounds("sampling")  # no error


# --------------------------------------------------------------------- transforms
def test_from_unconstrained_matches_numpy_formula_and_stays_inside():
    u = np.array([[-40.0, -40.0, -40.0, -40.0], [0.3, -1.2, 2.5, 7.0], [40.0, 40.0, 40.0, 40.0]])
    for row in u:
        x = np.asarray(SPEC.from_unconstrained(jnp.asarray(row)))
        np.testing.assert_allclose(x, _numpy_from_unconstrained(row), rtol=1e-14, atol=1e-15)
        assert np.all(x >= SPEC.lower) and np.all(x <= SPEC.upper)


def test_to_unconstrained_keeps_bound_points_finite():
    """Points on a bound map to finite u, BOUND_EPS (relative) inside the bound."""
    x_on = jnp.array([-1.0, 1.0, -0.5, 0.0])
    x_on_hi = jnp.array([2.0, 1.0, -0.5, 0.0])
    for x in (x_on, x_on_hi):
        u = np.asarray(SPEC.to_unconstrained(x))
        assert np.all(np.isfinite(u))
        back = np.asarray(SPEC.from_unconstrained(jnp.asarray(u)))
        np.testing.assert_allclose(back, np.asarray(x), rtol=0, atol=10 * BOUND_EPS * 3.0)
    # analytic: logit(BOUND_EPS) for the two-sided bound
    u_lo = float(SPEC.to_unconstrained(x_on)[0])
    assert u_lo == pytest.approx(math.log(BOUND_EPS / (1 - BOUND_EPS)), rel=1e-6)


@st.composite
def _bounds_and_values(draw):
    """1-3 parameters of random bound kinds, and values inside (bounds included)."""
    n = draw(st.integers(1, 3))
    params, values, scales = [], [], []
    for i in range(n):
        kind = draw(st.sampled_from(["both", "low", "high", "none"]))
        lo = draw(st.floats(-1e3, 1e3))
        width = draw(st.floats(1e-3, 1e3))
        frac = draw(st.one_of(st.just(0.0), st.just(1.0), st.floats(0.0, 1.0)))
        dist = draw(st.one_of(st.just(0.0), st.floats(0.0, 1e3)))
        if kind == "both":
            p, x = Param(f"p{i}", lo, lo, lo + width), lo + frac * width
            x = min(x, lo + width)
            scale = width
        elif kind == "low":
            p, x, scale = Param(f"p{i}", lo, lower=lo), lo + dist, max(1.0, abs(lo), dist)
        elif kind == "high":
            p, x, scale = Param(f"p{i}", lo, upper=lo), lo - dist, max(1.0, abs(lo), dist)
        else:
            p, x, scale = Param(f"p{i}", lo), lo + dist, max(1.0, abs(lo), dist)
        params.append(p)
        values.append(x)
        scales.append(scale)
    return ParamSpec(params), np.array(values), np.array(scales)


@settings(max_examples=60, deadline=None)
@given(_bounds_and_values())
def test_transforms_are_inverses(case):
    """from_unconstrained(to_unconstrained(x)) == x, to 1e-9 of each parameter's range."""
    spec, x, scale = case
    u = spec.to_unconstrained(jnp.asarray(x))
    assert np.all(np.isfinite(np.asarray(u)))
    back = np.asarray(spec.from_unconstrained(u))
    assert np.all(back >= spec.lower) and np.all(back <= spec.upper)
    err = np.abs(back - x)
    assert np.all(err <= 1e-9 * scale), (spec, x, back, err / scale)


@pytest.mark.parametrize(
    "param, side",
    [
        (Param("a", 0.0, -1.0, 2.0), "lower"),
        (Param("a", 0.0, -1.0, 2.0), "upper"),
        (Param("a", 5.0, lower=1.0), "lower"),
        (Param("a", -5.0, upper=-0.5), "upper"),
        (Param("a", 5.0e3, lower=1.0e3), "lower"),  # scale of the bound matters for BOUND_EPS
    ],
    ids=["both-lower", "both-upper", "lower-only", "upper-only", "large-lower-only"],
)
def test_gradient_finite_at_bound(param, side):
    """jax.grad of from_unconstrained at u = to_unconstrained(bound) is finite and analytic."""
    spec = ParamSpec([param])
    bound = getattr(param, side)
    u = spec.to_unconstrained(jnp.array([bound]))
    grad = jax.grad(lambda u: spec.from_unconstrained(u)[0])(u)
    assert np.all(np.isfinite(np.asarray(grad)))
    u0 = float(u[0])
    if math.isfinite(param.lower) and math.isfinite(param.upper):
        expected = (param.upper - param.lower) * _sigmoid(u0) * _sigmoid(-u0)
    elif math.isfinite(param.lower):
        expected = _sigmoid(u0)
    else:
        expected = _sigmoid(-u0)
    # jax differentiates sigmoid as s * (1 - s): at |u| ~ 27.6 the factor (1 - s) ~ 1e-12
    # carries ~1e-4 relative rounding, i.e. an absolute error of eps x (upper - lower)
    width = param.upper - param.lower if math.isfinite(param.upper - param.lower) else 1.0
    np.testing.assert_allclose(float(grad[0]), expected, rtol=1e-9, atol=1e-15 * width)
    assert float(grad[0]) > 0.0  # a bound point still feels a (tiny) gradient
    # the log-Jacobian is finite there too
    assert math.isfinite(float(spec.log_abs_det_jacobian(u)))
    # and a chain-rule gradient of an objective through the transform is finite
    g = jax.grad(lambda u: (spec.from_unconstrained(u)[0] - 0.3) ** 2)(u)
    x = float(spec.from_unconstrained(u)[0])
    np.testing.assert_allclose(float(g[0]), 2 * (x - 0.3) * float(grad[0]), rtol=1e-12)
    np.testing.assert_allclose(
        float(g[0]), 2 * (bound - 0.3) * expected, rtol=1e-9, atol=1e-14 * width
    )


@pytest.mark.parametrize("scale", [0.5, 2.0, 4.0])
def test_log_abs_det_jacobian_matches_jax_jacobian(scale):
    rng = np.random.default_rng(int(scale * 10))
    # |u| <= 12: further out jax's sigmoid derivative s (1 - s) loses digits to cancellation
    u = jnp.asarray(np.clip(rng.normal(scale=scale, size=4), -12.0, 12.0))
    jac = np.asarray(jax.jacobian(SPEC.from_unconstrained)(u))
    sign, logdet = np.linalg.slogdet(jac)
    assert sign == 1.0
    np.testing.assert_allclose(float(SPEC.log_abs_det_jacobian(u)), logdet, rtol=0, atol=1e-10)
    # the Jacobian is diagonal with the analytic derivatives
    np.testing.assert_allclose(jac, np.diag(_numpy_dx_du(np.asarray(u))), rtol=1e-12, atol=0)


def test_jacobians_of_the_two_maps_are_inverse():
    x = jnp.array([1.7, 1.0 + 1e-3, -0.6, -3.0])
    u = SPEC.to_unconstrained(x)
    j_to = np.asarray(jax.jacobian(SPEC.to_unconstrained)(x))
    j_from = np.asarray(jax.jacobian(SPEC.from_unconstrained)(u))
    np.testing.assert_allclose(j_to @ j_from, np.eye(4), rtol=0, atol=1e-9)
