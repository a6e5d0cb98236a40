"""The objectives of gravity: pure JAX losses ``loss(params, data)``.

Each is one module-level function of a ``{name: value}`` dict over
:data:`~jaxfit.gravity.params.THEORY_PARAMS` and a data pytree (arrays as leaves; the
kernel configuration and the flags that choose the loss static), minimised by the workflows
with :func:`jaxfit.core.optimize.minimize` and ``data=``. The data are an argument of the
compiled programs, so another band, galaxy set or cluster set of the same shapes, or
another frozen value, compiles nothing new (SPARC sets of different sizes share a program
when padded to one shape: ``n_points_total``, ``n_dispersions`` of
:func:`~jaxfit.gravity.sparc_points.sparc_points`):

- **MW kernel shape** (:func:`mw_kernel_loss`): ``chi2_K = mean((K_th - K_emp)^2)`` over
  radii in the band ``[r_min, r_max]`` (research: 12-16 kpc), ``K_emp`` the research
  empirical kernel (its MW fit by default), plus the research correlation penalty
  (:func:`correlation_penalty`) on the Pearson correlation ``c`` of the two.
- **MW rotation curve** (:func:`mw_vc_loss`): ``chi2 = sum(((v_model - v_c)/sigma)^2)`` on
  the Eilers+2019 curve with ``v_model^2 = v_bar^2 (1 + K)`` (McMillan 2017 baryons).
- **SPARC** (:func:`sparc_metrics`): per galaxy ``delta_rms = rms(Vobs - V_model) -
  rms(Vobs - V_bar)`` in km/s (negative = improved), all 175 galaxies in one padded,
  masked evaluation; the joint loss uses ``L_SPARC = mean_g rms_model^2 / mean_g rms_bar^2``
  (dimensionless, 1 = no change).
- **Clusters** (:func:`profile_a_cluster`): ``M_th = M_bar (1 + A_cluster k)`` with
  ``k = phase_sign K_th(R_E)/A_global`` at ``sigma_v`` = 1000 km/s, so
  ``L_cl = sum(((M_th - M_req)/M_req)^2)`` is quadratic in ``A_cluster``: it is profiled
  analytically (:func:`jaxfit.core.likelihood.profile_scale`) and clipped to its bounds
  [0.01, 1000], which is the exact constrained optimum (the research searched it with
  ``minimize_scalar``). ``chi2_norm = L_cl / n_clusters``.
- **Joint** (:func:`joint_loss`): ``L = w_MW L_MW + w_SPARC L_SPARC + w_cl L_cl`` with one
  theta and the profiled ``A_cluster``.

The workflows that minimise them are :mod:`~jaxfit.gravity.mw_fit`,
:mod:`~jaxfit.gravity.sparc_fit`, :mod:`~jaxfit.gravity.cluster_fit` and
:mod:`~jaxfit.gravity.joint`.

Units: kpc, km/s, Msun throughout.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from jaxfit.core.likelihood import profile_scale
from jaxfit.gravity.arrays import f64, pytree
from jaxfit.gravity.cluster_set import ClusterSet
from jaxfit.gravity.empirical import empirical_kernel
from jaxfit.gravity.kernel import KernelConfig, theory_kernel, theory_kernel_points
from jaxfit.gravity.milky_way import MilkyWay
from jaxfit.gravity.params import A_CLUSTER_BOUNDS, RESEARCH_MW_EMPIRICAL, SIGMA_V
from jaxfit.gravity.rotation import v_model
from jaxfit.gravity.sparc import SparcBatch
from jaxfit.gravity.sparc_points import SparcPoints, sparc_points

FIT_CONFIG = KernelConfig(n_lambda=200)
"""Kernel quadrature of the fits: 200 Gauss-Legendre nodes (5 panels x 40) reproduce the
400- and 800-node kernel to < 1e-14 relative at the default and at a fitted theta
(measured over R = 0.2-60 kpc), at half the cost; the research trapezoid is
``KernelConfig(rule="trapezoid")``."""

FIT_OPTIONS = {"maxiter": 200, "linesearch_steps": 6}
"""Solver options of the gravity fits unless overridden. Measured, MW kernel fit with 8
starts on 2 shared CPU cores: 45 s; two starts stop at maxiter still improving chi2_K in
the 5th digit (5.3e-5), far below the criterion 1e-3. Under vmap each iteration costs the
slowest start's line search, so 6 steps instead of optax's 20 bound the cost per iteration."""


# ----------------------------------------------------------------------------- Milky Way
def pearson(x, y):
    """Pearson correlation of two 1-D arrays; 0 (not NaN, finite gradient) when either is
    constant."""
    dx, dy = x - jnp.mean(x), y - jnp.mean(y)
    sxx, syy = jnp.sum(dx * dx), jnp.sum(dy * dy)
    ok = (sxx > 0) & (syy > 0)
    denom = jnp.sqrt(jnp.where(ok, sxx * syy, 1.0))
    return jnp.where(ok, jnp.sum(dx * dy) / denom, 0.0)


def correlation_penalty(c):
    """Research penalty on the correlation ``c`` (the first matching case applies):
    ``c < 0``: ``1e10 (1 - c)^4``; ``c < 0.7``: ``1000 (0.7 - c)^2``; ``c < 0.9``:
    ``10 (0.9 - c)^2``; else 0."""
    return jnp.where(
        c < 0.0,
        1e10 * (1.0 - c) ** 4,
        jnp.where(c < 0.7, 1e3 * (0.7 - c) ** 2, jnp.where(c < 0.9, 10.0 * (0.9 - c) ** 2, 0.0)),
    )


def mw_band_radii(r_min: float = 12.0, r_max: float = 16.0, n: int = 64, stars=None) -> np.ndarray:
    """Radii of the MW kernel fit, kpc: the research parquet's stars in the band if given
    (:func:`jaxfit.gravity.data.load_baseline_parquet`), else ``n`` even radii."""
    if stars is not None:
        return np.asarray(stars.R, dtype=np.float64)
    if not 0.0 < r_min < r_max:
        raise ValueError(f"need 0 < r_min < r_max, got r_min={r_min}, r_max={r_max}")
    return np.linspace(r_min, r_max, n)



@pytree(["R", "target", "sigma_v"], ["config", "require_positive_corr"])
@dataclasses.dataclass(frozen=True, eq=False)
class MWKernelData:
    """Data of the MW kernel-shape loss :func:`mw_kernel_loss` (a pytree; build it with
    :func:`mw_kernel_data`).

    Attributes:
        R: radii of the band, kpc, shape (N,).
        target: the empirical kernel ``K_emp`` at ``R`` (dimensionless), shape (N,).
        sigma_v: MW velocity dispersion, km/s (0-d array).
        config: kernel quadrature and normalisation (static).
        require_positive_corr: add the research correlation penalty (static: it chooses
            the loss).
    """

    R: jax.Array
    target: jax.Array
    sigma_v: jax.Array
    config: KernelConfig = FIT_CONFIG
    require_positive_corr: bool = True


def mw_kernel_data(
    radii,
    *,
    sigma_v: float = SIGMA_V["mw"],
    empirical=RESEARCH_MW_EMPIRICAL,
    config: KernelConfig = FIT_CONFIG,
    require_positive_corr: bool = True,
) -> MWKernelData:
    """The MW kernel fit's data: ``radii`` (kpc, :func:`mw_band_radii`), the empirical kernel
    with parameters ``empirical`` evaluated there once, and ``sigma_v`` (km/s)."""
    R = f64(radii)
    return MWKernelData(R, empirical_kernel(R, dict(empirical)), f64(sigma_v), config,
                        bool(require_positive_corr))


def mw_kernel_loss(params, data: MWKernelData):
    """``chi2_K + penalty(corr)`` on the MW band (module doc): ``chi2_K = mean((K_th -
    K_emp)^2)``, ``corr`` the Pearson correlation of the two (dimensionless)."""
    return mw_shape_loss(theory_kernel(data.R, data.sigma_v, params, data.config), data)


def mw_shape_loss(K, data: MWKernelData):
    """:func:`mw_kernel_loss` of the theory kernel ``K`` at ``data.R``."""
    chi2_K = jnp.mean((K - data.target) ** 2)
    if not data.require_positive_corr:
        return chi2_K
    return chi2_K + correlation_penalty(pearson(K, data.target))


@pytree(["R", "v_bar", "v_c", "sigma", "sigma_v"], ["config"])
@dataclasses.dataclass(frozen=True, eq=False)
class MWCurveData:
    """Data of the MW rotation-curve chi2 :func:`mw_vc_loss` (a pytree; :func:`mw_curve_data`).

    Attributes:
        R: radii, kpc; v_bar: baryonic circular speed, v_c: observed circular speed and
            sigma: its symmetric error, km/s; all of shape (n,).
        sigma_v: MW velocity dispersion, km/s (0-d array).
        config: kernel quadrature and normalisation (static).
    """

    R: jax.Array
    v_bar: jax.Array
    v_c: jax.Array
    sigma: jax.Array
    sigma_v: jax.Array
    config: KernelConfig = FIT_CONFIG


def mw_curve_data(
    mw: MilkyWay, *, sigma_v: float = SIGMA_V["mw"], config: KernelConfig = FIT_CONFIG
) -> MWCurveData:
    """The arrays of a :class:`~jaxfit.gravity.data.MilkyWay` the rotation-curve chi2 uses
    (its source and citation strings stay behind, so another curve compiles nothing new)."""
    return MWCurveData(f64(mw.R), f64(mw.v_bar), f64(mw.v_c), f64(mw.sigma),
                       f64(sigma_v), config)


def mw_vc_loss(params, data: MWCurveData):
    """``chi2 = sum(((v_model - v_c) / sigma)^2)`` of the MW rotation curve,
    ``v_model^2 = v_bar^2 (1 + K)`` (dimensionless)."""
    K = theory_kernel(data.R, data.sigma_v, params, data.config)
    return jnp.sum(((v_model(data.v_bar**2, K) - data.v_c) / data.sigma) ** 2)



# --------------------------------------------------------------------------------- SPARC
def sparc_metrics(
    params, points: SparcPoints, *, phase_sign=1.0, config: KernelConfig = FIT_CONFIG
) -> dict:
    """Per galaxy ``rms_bar``, ``rms_model``, ``delta_rms`` (km/s, shape (G,)), the
    baryonic and model speeds ``V_bar``, ``V_model`` (km/s, shape (P,): the real points
    first, then the padding, see :class:`SparcPoints`) and the joint loss ``L_SPARC``
    (dimensionless). Pure JAX (jit/grad in ``params`` and ``points``); under jit the points
    are spread over the local devices."""
    points = points.spread()
    K = theory_kernel_points(
        points.R, points.sigma_index, points.sigma_values, params, config, phase_sign
    )
    return sparc_from_kernel(K, points)


def sparc_from_kernel(K, points: SparcPoints) -> dict:
    """:func:`sparc_metrics` from the (ungated) theory kernel ``K`` at the points."""
    K = points.gate * K

    def rms(v):
        total = jax.ops.segment_sum((points.Vobs - v) ** 2, points.galaxy, points.n_galaxies)
        return jnp.sqrt(total / points.n_points)

    V_bar, V_model = v_model(points.v_bar2, 0.0), v_model(points.v_bar2, K)
    rms_bar, rms_model = rms(V_bar), rms(V_model)
    return {
        "rms_bar": rms_bar,
        "rms_model": rms_model,
        "delta_rms": rms_model - rms_bar,
        "V_bar": V_bar,
        "V_model": V_model,
        "L_SPARC": jnp.mean(rms_model**2) / jnp.mean(rms_bar**2),
    }


# One compiled program per shape of the points (and config), not one small program per

# ------------------------------------------------------------------------------ clusters
@pytree(["R_E_kpc", "sigma_v", "M_bar", "M_required"])
@dataclasses.dataclass(frozen=True, eq=False)
class ClusterData:
    """The arrays of a :class:`~jaxfit.gravity.clusters.ClusterSet` that the cluster loss
    uses, shape (C,) (a pytree of arrays only, so another set of C clusters compiles
    nothing new): Einstein radius ``R_E_kpc`` (kpc), dispersion ``sigma_v`` (km/s), baryon
    mass inside R_E ``M_bar`` and the mass R_E requires ``M_required`` (Msun)."""

    R_E_kpc: jax.Array
    sigma_v: jax.Array
    M_bar: jax.Array
    M_required: jax.Array


def cluster_data(clusters: ClusterSet) -> ClusterData:
    """The :class:`ClusterData` of a cluster set."""
    return ClusterData(*(f64(getattr(clusters, k))
                         for k in ("R_E_kpc", "sigma_v", "M_bar", "M_required")))


def cluster_unit_kernel(
    params, clusters: ClusterSet, *, phase_sign=1.0, config: KernelConfig = FIT_CONFIG
):
    """``k = phase_sign K_th(R_E) / A_global`` per cluster: the kernel shape at the Einstein
    radius with unit amplitude (A_cluster multiplies it)."""
    unit = dict(params) | {"A_global": 1.0}
    return theory_kernel(clusters.R_E_kpc, clusters.sigma_v, unit, config, phase_sign)


def profile_a_cluster(k, clusters: ClusterSet, bounds=A_CLUSTER_BOUNDS):
    """``(A_cluster, L_cl)``: the exact minimum of ``sum(((M_bar (1 + A k) - M_req) /
    M_req)^2)`` over ``A`` in ``bounds`` (quadratic in A: profiled, then clipped)."""
    template = clusters.M_bar * k / clusters.M_required
    data = 1.0 - clusters.M_bar / clusters.M_required
    A, _ = profile_scale(template, data, sigma=jnp.ones_like(data))
    A = jnp.clip(A, *bounds)
    return A, jnp.sum((A * template - data) ** 2)



# --------------------------------------------------------------------------------- joint
@pytree(["mw", "sparc", "clusters", "weights", "bounds"], ["config"])
@dataclasses.dataclass(frozen=True, eq=False)
class JointData:
    """Data of the joint loss :func:`joint_loss` (a pytree; build it with :func:`joint_data`).

    Attributes:
        mw: the MW band (:class:`MWKernelData`, with the correlation penalty).
        sparc: the SPARC points (:class:`SparcPoints`).
        clusters: the clusters (:class:`ClusterData`).
        weights: ``(w_MW, w_SPARC, w_cl)``, shape (3,).
        bounds: the ``A_cluster`` range, shape (2,).
        config: kernel quadrature and normalisation of all three parts (static).
    """

    mw: MWKernelData
    sparc: SparcPoints
    clusters: ClusterData
    weights: jax.Array
    bounds: jax.Array
    config: KernelConfig = FIT_CONFIG


def joint_data(
    batch: SparcBatch,
    clusters: ClusterSet,
    *,
    radii,
    weights=(1.0, 1.0, 1.0),
    sigma_v_mw: float = SIGMA_V["mw"],
    empirical=RESEARCH_MW_EMPIRICAL,
    config: KernelConfig = FIT_CONFIG,
    bounds=A_CLUSTER_BOUNDS,
    use_sigma_gating: bool = False,
    beta_sigma: float = 1.0,
    n_points_total: int | None = None,
    n_dispersions: int | None = None,
) -> JointData:
    """The :class:`JointData` of MW radii (kpc), SPARC galaxies and clusters; the SPARC
    options (and the padding ``n_points_total``, ``n_dispersions``) as
    :func:`sparc_points`."""
    return JointData(
        mw=mw_kernel_data(radii, sigma_v=sigma_v_mw, empirical=empirical, config=config),
        sparc=sparc_points(batch, use_sigma_gating=use_sigma_gating, beta_sigma=beta_sigma,
                           n_points_total=n_points_total, n_dispersions=n_dispersions),
        clusters=cluster_data(clusters),
        weights=f64([float(w) for w in weights]),
        bounds=f64([float(b) for b in bounds]),
        config=config,
    )


def joint_kernels(params, data: JointData):
    """``(K_MW, K_SPARC, k_cl)``: the theory kernel at the MW radii and at the SPARC points
    (ungated), and its unit-amplitude shape at the clusters' Einstein radii
    (:func:`cluster_unit_kernel`), all dimensionless.

    All three come from one :func:`~jaxfit.gravity.model.theory_kernel_points` call over
    the concatenated radii, with one reference maximum per dispersion (the MW's, SPARC's
    distinct values, each cluster's): each value is computed exactly as the separate calls
    would, but the compiled gradient holds the wavelength quadrature once instead of three
    times, which is most of the fit's compile time.
    """
    mw, sparc, clusters = data.mw, data.sparc, data.clusters
    n_mw, n_sparc, n_cl = mw.R.shape[0], sparc.R.shape[0], clusters.R_E_kpc.shape[0]
    n_sigma = sparc.sigma_values.shape[0]
    R = jnp.concatenate([mw.R, sparc.R, clusters.R_E_kpc])
    sigma_values = jnp.concatenate([mw.sigma_v[None], sparc.sigma_values, clusters.sigma_v])
    sigma_index = jnp.concatenate([
        jnp.zeros(n_mw, jnp.int32),
        1 + sparc.sigma_index.astype(jnp.int32),
        1 + n_sigma + jnp.arange(n_cl, dtype=jnp.int32),
    ])
    # the clusters take the kernel shape at unit amplitude (A_cluster multiplies it)
    A = jnp.asarray(params["A_global"], jnp.float64)
    amplitude = jnp.concatenate([jnp.broadcast_to(A, (n_mw + n_sparc,)), jnp.ones(n_cl)])
    K = theory_kernel_points(R, sigma_index, sigma_values,
                             dict(params) | {"A_global": amplitude}, data.config)
    return K[:n_mw], K[n_mw:n_mw + n_sparc], K[n_mw + n_sparc:]


def joint_parts(params, data: JointData) -> dict:
    """The three parts of the joint loss and the profiled cluster amplitude:
    ``{"L_MW", "L_SPARC", "L_cluster", "A_cluster"}`` (dimensionless)."""
    K_mw, K_sparc, k_cl = joint_kernels(params, data)
    A_cluster, L_cl = profile_a_cluster(k_cl, data.clusters, data.bounds)
    return {
        "L_MW": mw_shape_loss(K_mw, data.mw),
        "L_SPARC": sparc_from_kernel(K_sparc, data.sparc)["L_SPARC"],
        "L_cluster": L_cl,
        "A_cluster": A_cluster,
    }


def joint_loss(params, data: JointData):
    """``L = w_MW L_MW + w_SPARC L_SPARC + w_cl L_cl`` (module doc), dimensionless."""
    p = joint_parts(params, data)
    w = data.weights
    return w[0] * p["L_MW"] + w[1] * p["L_SPARC"] + w[2] * p["L_cluster"]
