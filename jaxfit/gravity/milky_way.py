"""The Milky Way: its rotation curve, its baryonic mass model, and the research stars.

Everything here runs once, on the host (numpy and scipy), when the data are loaded; the
results are float64 JAX arrays in pytree containers that the fitted, jitted code takes as
arguments. Units: kpc, km/s, Msun; ``G`` = :data:`G_KPC`
= :data:`jaxfit.gravity.units.G_NEWTON` (4.30091727e-6 kpc km^2 s^-2 Msun^-1).

  24.82 kpc with asymmetric errors, packaged as ``data/gravity_mw_eilers2019.csv`` (citation
  in ``data/gravity_mw_mcmillan2017.json`` under ``"sources"``).
- McMillan 2017 (MNRAS 465, 76) best-fitting mass model (:class:`McMillan2017`,
  :func:`load_mcmillan2017`, packaged as ``data/gravity_mw_mcmillan2017.json``): thin and
  thick exponential stellar discs, HI and H2 discs with central holes and sech^2 vertical
  profiles, an oblate bulge, and an NFW halo. ``v_bar`` is the baryonic part (discs and
  bulge, not the halo). :func:`load_milky_way` evaluates it at the Eilers radii once.
- :func:`load_baseline_parquet` reads the research code's star-level Gaia table (columns
  ``R``, ``v_phi``, ``v_phi_GR``) in a radial band.

**How the McMillan circular speeds are computed** (host-side, scipy; accuracy verified in
tests/gravity/test_milky_way.py):

- Discs (:func:`disc_vc2`): ``rho(R, z) = Sigma(R) zeta(z)`` with ``zeta`` normalised to 1.
  The mid-plane radial force is the superposition of thin rings: a ring of radius ``a`` at
  height ``z`` pulls a unit mass at ``(R, 0)`` with
  ``dPhi/dR = G M / (pi R) [K(m) - (a^2 - R^2 + z^2) / ((a - R)^2 + z^2) E(m)] /
  sqrt((R + a)^2 + z^2)``, ``m = 4 a R / ((R + a)^2 + z^2)`` (complete elliptic integrals,
  the kernel of Casertano 1983, MNRAS 203, 735), so
  ``v_c^2(R) = 2 G int_0^inf a Sigma(a) H(R, a) da`` with ``H`` the kernel integrated over
  ``zeta``. Both integrals use fixed Gauss-Legendre panels that grade geometrically towards
  ``a = R`` (mirrored, so the principal-value part cancels node by node) and towards
  ``z = 0``; ``a - R`` is carried separately to avoid cancellation. ``vertical="thin"``
  gives the razor-thin disc. Accuracy: the razor-thin exponential disc equals Freeman's
  (1970) Bessel-function formula to 1e-8, thick discs equal an independent Hankel-transform
  evaluation (Binney & Tremaine 2008, section 2.6) to 1e-8, both in v_c^2.
- Bulge (:func:`spheroid_vc2`): for a density stratified on similar oblate spheroids
  ``m^2 = R^2 + z^2/q^2``, ``v_c^2(R) = 4 pi G q int_0^R rho(m) m^2 / sqrt(R^2 - e^2 m^2) dm``
  with ``e^2 = 1 - q^2`` (Binney & Tremaine 2008, eq. 2.132), by adaptive quadrature.
- Halo (:func:`nfw_vc2`): the NFW closed form ``G M(<r) / r``.
With these, McMillan's total circular speed at R0 = 8.21 kpc is 233.22 km/s (published
233.1) and ``v_bar(R0)`` = 176.8 km/s.
"""

from __future__ import annotations

import csv
import dataclasses
import functools
import importlib.resources
import io
import json
import math
from collections.abc import Callable, Sequence
from typing import NamedTuple

import jax
import numpy as np

from jaxfit.core import checks
from jaxfit.gravity.arrays import loaded_f64, parse_finite
from jaxfit.gravity.limits import R_MAX_KPC, V_MAX_KMS, band
from jaxfit.gravity.units import G_NEWTON

G_KPC = G_NEWTON
"""Newton's constant in kpc km^2 s^-2 Msun^-1."""

EILERS_FILE = "gravity_mw_eilers2019.csv"
MCMILLAN_FILE = "gravity_mw_mcmillan2017.json"
EILERS_COLUMNS = ("R_kpc", "vc_kms", "sigma_vc_minus_kms", "sigma_vc_plus_kms")
"""Columns of the Milky Way curve CSV (Eilers+2019 Table 1)."""

BASELINE_COLUMNS = ("R", "v_phi", "v_phi_GR")
"""Columns the research star-level parquet must have (kpc, km/s, km/s)."""


# --------------------------------------------------------------------------------------------
# Milky Way: circular speeds of axisymmetric mass components (host-side numpy/scipy)
# --------------------------------------------------------------------------------------------

_GL_NODES = 8          # Gauss-Legendre nodes per panel
_U_RATIO = 0.25        # geometric ratio of the panels towards a = R
_U_MIN_THIN = 1e-11    # innermost |a - R| / (R/2) for razor-thin discs
_U_MIN_THICK = 1e-3    # innermost |a - R| / z_d for thick discs
_Z_PANELS = 12         # geometric panels in z from 0.05 min(|a - R|, z_d) to 40 z_d
_TAIL = 36.0           # outer integration limit: 1.5 R + 36 scale lengths
_VERTICAL = ("thin", "exponential", "sech2")


def _gauss_panels(edges: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x, w = np.polynomial.legendre.leggauss(_GL_NODES)
    edges = np.asarray(edges, dtype=np.float64)
    lo, hi = edges[..., :-1, None], edges[..., 1:, None]
    nodes = 0.5 * (hi - lo) * x + 0.5 * (hi + lo)
    weights = 0.5 * (hi - lo) * w
    return nodes.reshape(*edges.shape[:-1], -1), weights.reshape(*edges.shape[:-1], -1)


def _ring_kernel(R: float, u: np.ndarray, z: np.ndarray) -> np.ndarray:
    """``pi R dPhi/dR / (G M)`` of a ring of radius ``a = R + u`` at height ``z``, felt at
    ``(R, 0)``; ``u`` is passed instead of ``a`` so that ``a - R`` is exact."""
    from scipy import special

    d = (2.0 * R + u) ** 2 + z * z
    q = u * u + z * z
    ratio = q / d  # 1 - m
    return (special.ellipkm1(ratio) - (u * (2.0 * R + u) + z * z) / q
            * special.ellipe(1.0 - ratio)) / np.sqrt(d)


def _vertical_density(z: np.ndarray, z_d: float, vertical: str) -> np.ndarray:
    if vertical == "exponential":
        return np.exp(-z / z_d) / (2.0 * z_d)
    with np.errstate(over="ignore"):
        return 1.0 / (4.0 * z_d * np.cosh(z / (2.0 * z_d)) ** 2)


def _check_radii(R) -> np.ndarray:
    """Radii [kpc] as a 1-D float64 array of finite values > 0."""
    return checks.finite_array(np.atleast_1d(R), "radii [kpc]", positive=True, ndim=1)


def disc_vc2(R, surface_density: Callable[[np.ndarray], np.ndarray], *, scale_length: float,
             z_d: float = 0.0, vertical: str = "thin", hole_radius: float = 0.0) -> np.ndarray:
    """Mid-plane ``v_c^2`` [km^2/s^2] of an axisymmetric disc ``Sigma(R) zeta(z)``
    (host-side numpy/scipy; see the module docstring for the method and its accuracy).

    Args:
        R: radii [kpc] (> 0).
        surface_density: ``Sigma(a)`` [Msun/kpc^2], vectorised over numpy arrays; it must
            be smooth and fall below 1e-15 of its peak within 36 ``scale_length`` beyond
            ``1.5 R``.
        scale_length: its exponential scale length [kpc] (sets panel widths and the tail).
        z_d: vertical scale [kpc] (> 0 unless ``vertical="thin"``).
        vertical: ``"thin"`` (razor-thin), ``"exponential"`` (``exp(-|z|/z_d) / (2 z_d)``)
            or ``"sech2"`` (``sech^2(z / (2 z_d)) / (4 z_d)``).
        hole_radius: ``R_m`` of a central hole ``exp(-R_m/R)`` (narrows the panels).
    """
    checks.one_of(vertical, "vertical", _VERTICAL)
    scale = checks.real(scale_length, "scale_length", positive=True)
    if vertical != "thin":
        z_d = checks.real(z_d, "z_d", positive=True)
    width = scale if not hole_radius else 0.5 * min(scale, float(hole_radius))
    out = []
    for r in _check_radii(R):
        half = 0.5 * r
        u_min = _U_MIN_THIN * half if vertical == "thin" else min(_U_MIN_THICK * z_d,
                                                                   1e-3 * half)
        n_geo = int(math.ceil(math.log(u_min / half) / math.log(_U_RATIO)))
        u_edges = np.concatenate([[0.0], half * _U_RATIO ** np.arange(n_geo, -1, -1.0)])
        un, uw = _gauss_panels(u_edges)
        left_edges = np.linspace(0.0, r - half, int(math.ceil((r - half) / width)) + 1)
        al, wl = _gauss_panels(left_edges)
        right = [r + half]
        while right[-1] < r + half + _TAIL * scale:
            right.append(right[-1] + min(0.5 * right[-1], 2.0 * scale))
        ar, wr = _gauss_panels(np.asarray(right))
        u = np.concatenate([al - r, -un, un, ar - r])
        w = np.concatenate([wl, uw, uw, wr])
        a = r + u
        if vertical == "thin":
            H = _ring_kernel(r, u, np.zeros_like(u))
        else:
            z_lo = 0.05 * np.minimum(np.abs(u), z_d)
            steps = np.arange(_Z_PANELS + 1) / _Z_PANELS
            z_edges = z_lo[:, None] * (40.0 * z_d / z_lo[:, None]) ** steps
            z_edges = np.concatenate([np.zeros((len(u), 1)), z_edges], axis=1)
            zn, zw = _gauss_panels(z_edges)
            H = 2.0 * np.sum(zw * _vertical_density(zn, z_d, vertical)
                             * _ring_kernel(r, u[:, None], zn), axis=1)
        out.append(2.0 * G_KPC * np.sum(w * a * surface_density(a) * H))
    return np.asarray(out)


def freeman_vc2(R, sigma0: float, r_d: float) -> np.ndarray:
    """``v_c^2`` [km^2/s^2] of a razor-thin exponential disc (Freeman 1970):
    ``4 pi G Sigma0 R_d y^2 [I0(y) K0(y) - I1(y) K1(y)]``, ``y = R / (2 R_d)``.

    Args:
        R: radii [kpc]; sigma0: central surface density [Msun/kpc^2]; r_d: scale length [kpc].
    """
    from scipy import special

    R = _check_radii(R)
    y = R / (2.0 * r_d)
    bessel = (special.i0e(y) * special.k0e(y) - special.i1e(y) * special.k1e(y))
    return 4.0 * np.pi * G_KPC * sigma0 * r_d * y * y * bessel


def spheroid_vc2(R, density: Callable[[float], float], q: float = 1.0,
                 breakpoints: Sequence[float] = ()) -> np.ndarray:
    """Mid-plane ``v_c^2`` [km^2/s^2] of a density stratified on similar spheroids
    ``m^2 = R^2 + z^2/q^2`` (Binney & Tremaine 2008 eq. 2.132; ``q = 1``: ``G M(<R)/R``).

    Args:
        R: radii [kpc].
        density: ``rho(m)`` [Msun/kpc^3] of one float.
        q: axis ratio in (0, 1].
        breakpoints: radii where ``rho`` changes quickly (help the quadrature).
    """
    from scipy import integrate

    if not (0.0 < q <= 1.0):
        raise ValueError(f"q must be in (0, 1], got {q!r}")
    e2 = 1.0 - q * q
    out = []
    for r in _check_radii(R):
        points = [p for p in breakpoints if 0.0 < p < r] or None
        value, _ = integrate.quad(lambda m, r=r: density(m) * m * m / math.sqrt(r * r - e2 * m * m),
                                  0.0, r, points=points, limit=500, epsabs=0.0, epsrel=1e-12)
        out.append(4.0 * math.pi * G_KPC * q * value)
    return np.asarray(out)


def nfw_vc2(R, rho0: float, r_s: float) -> np.ndarray:
    """``v_c^2 = G M(<R) / R`` [km^2/s^2] of an NFW halo ``rho0 / ((r/r_s)(1 + r/r_s)^2)``,
    ``M(<r) = 4 pi rho0 r_s^3 [ln(1 + x) - x/(1 + x)]``; rho0 in Msun/kpc^3, lengths in kpc."""
    R = _check_radii(R)
    x = R / r_s
    return 4.0 * np.pi * G_KPC * rho0 * r_s**3 * (np.log1p(x) - x / (1.0 + x)) / R


# --------------------------------------------------------------------------------------------
# Milky Way: McMillan 2017
# --------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ExponentialDisc:
    """``Sigma0 exp(-R_m/R - R/R_d) zeta(z)`` (``R_m = 0``: no hole).

    Attributes: sigma0 [Msun/kpc^2], r_d [kpc], z_d [kpc], r_m [kpc], vertical
    (``"exponential"``, ``"sech2"`` or ``"thin"``; see :func:`disc_vc2`).
    """

    sigma0: float
    r_d: float
    z_d: float
    r_m: float = 0.0
    vertical: str = "exponential"

    def surface_density(self, R: np.ndarray) -> np.ndarray:
        R = np.asarray(R, dtype=np.float64)
        if self.r_m:
            with np.errstate(divide="ignore", over="ignore"):
                return self.sigma0 * np.exp(-self.r_m / R - R / self.r_d)
        return self.sigma0 * np.exp(-R / self.r_d)

    def vc2(self, R) -> np.ndarray:
        """Mid-plane ``v_c^2`` [km^2/s^2] at ``R`` [kpc]."""
        return disc_vc2(R, self.surface_density, scale_length=self.r_d, z_d=self.z_d,
                        vertical=self.vertical, hole_radius=self.r_m)


@dataclasses.dataclass(frozen=True)
class SpheroidalBulge:
    """``rho0 (1 + m/r0)^-alpha exp(-(m/r_cut)^2)``, ``m = sqrt(R^2 + (z/q)^2)``
    (rho0 in Msun/kpc^3, lengths in kpc)."""

    rho0: float
    r0: float
    r_cut: float
    alpha: float
    q: float

    def density(self, m):
        return self.rho0 * (1.0 + m / self.r0) ** (-self.alpha) * np.exp(-((m / self.r_cut) ** 2))

    def vc2(self, R) -> np.ndarray:
        """Mid-plane ``v_c^2`` [km^2/s^2] at ``R`` [kpc]."""
        return spheroid_vc2(R, self.density, self.q, breakpoints=(self.r0, self.r_cut))


@dataclasses.dataclass(frozen=True)
class NFWHalo:
    """NFW halo (rho0 in Msun/kpc^3, r_s in kpc)."""

    rho0: float
    r_s: float

    def vc2(self, R) -> np.ndarray:
        """``v_c^2`` [km^2/s^2] at ``R`` [kpc]."""
        return nfw_vc2(R, self.rho0, self.r_s)


@dataclasses.dataclass(frozen=True)
class McMillan2017:
    """The McMillan 2017 Milky Way mass model (host-side numpy/scipy evaluation).

    Attributes:
        thin_disk, thick_disk: stellar exponential discs.
        hi_disk, h2_disk: gas discs with central holes, sech^2 vertical profiles.
        bulge: the oblate bulge (q = 0.5).
        halo: the NFW dark halo (not part of ``v_bar``).
        r0, v0: McMillan's solar radius [kpc] and circular speed there [km/s].
        citation: the paper.
    """

    thin_disk: ExponentialDisc
    thick_disk: ExponentialDisc
    hi_disk: ExponentialDisc
    h2_disk: ExponentialDisc
    bulge: SpheroidalBulge
    halo: NFWHalo
    r0: float = 8.21
    v0: float = 233.1
    citation: str = ""

    BARYONS = ("thin_disk", "thick_disk", "hi_disk", "h2_disk", "bulge")

    def vc2_components(self, R) -> dict[str, np.ndarray]:
        """``v_c^2`` [km^2/s^2] of each component (baryons and ``halo``) at ``R`` [kpc]."""
        return {name: getattr(self, name).vc2(R) for name in (*self.BARYONS, "halo")}

    def v_bar(self, R) -> np.ndarray:
        """Baryonic circular speed [km/s] (discs + bulge, no halo) at ``R`` [kpc]."""
        return np.sqrt(sum(getattr(self, name).vc2(R) for name in self.BARYONS))

    def v_halo(self, R) -> np.ndarray:
        """Circular speed of the NFW halo alone [km/s]."""
        return np.sqrt(self.halo.vc2(R))

    def v_c(self, R) -> np.ndarray:
        """Total circular speed [km/s] (baryons + halo)."""
        return np.sqrt(sum(self.vc2_components(R).values()))


def _packaged_text(filename: str) -> str:
    return importlib.resources.files("jaxfit.data").joinpath(filename).read_text(encoding="utf-8")


def load_mcmillan2017() -> McMillan2017:
    """The packaged McMillan 2017 model (``data/gravity_mw_mcmillan2017.json``), in
    Msun/kpc^2, Msun/kpc^3 and kpc."""
    raw = json.loads(_packaged_text(MCMILLAN_FILE))
    comps = raw["components"]

    def disc(key: str) -> ExponentialDisc:
        c = comps[key]
        return ExponentialDisc(sigma0=c["Sigma0"] * 1e6, r_d=c["Rd"], z_d=c["zd"],
                               r_m=c.get("Rm", 0.0), vertical=c["vertical"])

    b, h = comps["bulge"], comps["dm_halo"]
    return McMillan2017(
        thin_disk=disc("thin_disk"), thick_disk=disc("thick_disk"),
        hi_disk=disc("HI_disk"), h2_disk=disc("H2_disk"),
        bulge=SpheroidalBulge(rho0=b["rho0"] * 1e9, r0=b["r0"], r_cut=b["rcut"],
                              alpha=b["alpha"], q=b["q"]),
        halo=NFWHalo(rho0=h["rho0"] * 1e9, r_s=h["rs"]),
        r0=raw["solar"]["R0_kpc"], v0=raw["solar"]["vc_R0_kms"], citation=raw["citation"],
    )


# --------------------------------------------------------------------------------------------
# Milky Way: data
# --------------------------------------------------------------------------------------------


@functools.partial(jax.tree_util.register_dataclass,
                   data_fields=["R", "v_c", "err_minus", "err_plus", "sigma", "v_bar"],
                   meta_fields=["source", "citation"])
@dataclasses.dataclass(frozen=True, eq=False)
class MilkyWay:
    """The Milky Way rotation curve with its baryonic model (a JAX pytree).

    Attributes:
        R: Galactocentric radii [kpc], shape ``(n,)``.
        v_c: circular velocity [km/s].
        err_minus, err_plus: lower / upper 1-sigma errors [km/s].
        sigma: symmetric error ``(err_minus + err_plus) / 2`` [km/s].
        v_bar: McMillan 2017 baryonic circular speed at ``R`` [km/s].
        source: where the curve was read (static).
        citation: the papers (static).
    """

    R: jax.Array
    v_c: jax.Array
    err_minus: jax.Array
    err_plus: jax.Array
    sigma: jax.Array
    v_bar: jax.Array
    source: str = ""
    citation: str = ""

    def __len__(self) -> int:
        return int(self.R.shape[0])


def _read_mw_curve(text: str, where: str) -> dict[str, np.ndarray]:
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if header is None:
        raise ValueError(
            f"{where}, line 1: empty file; expected the header {','.join(EILERS_COLUMNS)}"
        )
    header = [h.strip() for h in header]
    missing = [c for c in EILERS_COLUMNS if c not in header]
    if missing:
        raise ValueError(
            f"{where}, line 1: missing column(s) {missing}; expected {', '.join(EILERS_COLUMNS)} "
            f"(got {', '.join(header)})"
        )
    index = {c: header.index(c) for c in EILERS_COLUMNS}
    rows = []
    for lineno, record in enumerate(reader, start=2):
        if not record or not "".join(record).strip():
            continue
        if len(record) != len(header):
            raise ValueError(
                f"{where}, line {lineno}: {len(record)} fields, the header has {len(header)}"
            )
        row = []
        for column in EILERS_COLUMNS:
            token = record[index[column]].strip()
            at = f"{where}, line {lineno}, column {column}"
            value = parse_finite(token, at)
            ceiling = R_MAX_KPC if column == "R_kpc" else V_MAX_KMS
            if not 0 < value <= ceiling:
                raise ValueError(f"{at}: must be in (0, {ceiling:g}], got {token}")
            row.append(value)
        if rows and row[0] <= rows[-1][0]:
            raise ValueError(f"{where}, line {lineno}, column R_kpc: radii must increase")
        rows.append(row)
    if not rows:
        raise ValueError(f"{where}, line 2: no data rows")
    table = np.asarray(rows)
    return {c: table[:, j] for j, c in enumerate(EILERS_COLUMNS)}


def read_mw_curve(path=None) -> dict[str, np.ndarray]:
    """The Milky Way curve CSV (columns :data:`EILERS_COLUMNS`) as numpy arrays; None: the
    packaged Eilers+2019 table.

    Raises:
        FileNotFoundError: no such file.
        ValueError: naming the file, line and column: missing column, non-numeric or
            NaN/inf values, a radius outside (0, R_MAX_KPC] kpc, a speed or error outside
            (0, V_MAX_KMS] km/s (:mod:`jaxfit.gravity.limits`), radii that do not increase.
    """
    if path is None:
        return _read_mw_curve(_packaged_text(EILERS_FILE), f"jaxfit.data/{EILERS_FILE}")
    path = checks.existing_file(
        path, "Milky Way rotation-curve CSV", "leave eilers_csv out to use the packaged "
        f"Eilers+2019 table (jaxfit.data/{EILERS_FILE}), or give a CSV with columns "
        f"{', '.join(EILERS_COLUMNS)}")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise ValueError(f"{path}: not a UTF-8 text file ({err})") from None
    try:
        return _read_mw_curve(text, str(path))
    except csv.Error as err:
        raise ValueError(f"{path}: not a readable CSV table ({err})") from None


def load_milky_way(eilers_csv=None, *, model: McMillan2017 | None = None) -> MilkyWay:
    """The Eilers+2019 Milky Way curve with McMillan 2017 ``v_bar`` at its radii.

    Args:
        eilers_csv: a CSV with columns :data:`EILERS_COLUMNS`; None: the packaged table
            (38 bins, 5.27-24.82 kpc).
        model: the baryonic model (default :func:`load_mcmillan2017`); ``v_bar`` is
            evaluated once here (host-side, about 1 s).
    """
    curve = read_mw_curve(eilers_csv)
    model = load_mcmillan2017() if model is None else model
    raw = json.loads(_packaged_text(MCMILLAN_FILE))
    eilers = raw["sources"][EILERS_FILE]["citation"]
    R = curve["R_kpc"]
    err_minus, err_plus = curve["sigma_vc_minus_kms"], curve["sigma_vc_plus_kms"]
    return MilkyWay(
        R=loaded_f64(R, "MW R"),
        v_c=loaded_f64(curve["vc_kms"], "MW v_c"),
        err_minus=loaded_f64(err_minus, "MW err_minus"),
        err_plus=loaded_f64(err_plus, "MW err_plus"),
        sigma=loaded_f64(0.5 * (err_minus + err_plus), "MW sigma"),
        v_bar=loaded_f64(model.v_bar(R), "MW v_bar"),
        source=f"jaxfit.data/{EILERS_FILE}" if eilers_csv is None else str(eilers_csv),
        citation=f"{eilers if eilers_csv is None else 'curve: ' + str(eilers_csv)}; "
                 f"baryons: {model.citation}",
    )


class BaselineStars(NamedTuple):
    """Stars of the research parquet inside the radial band (a pytree: a NamedTuple).

    Attributes: R [kpc], v_obs = ``v_phi`` [km/s], v_bar = ``v_phi_GR`` [km/s] (the
    research code's Newtonian baseline), each shape ``(n,)``.
    """

    R: jax.Array
    v_obs: jax.Array
    v_bar: jax.Array


def load_baseline_parquet(path, r_min: float = 12.0, r_max: float = 16.0, *,
                          drop_nonfinite: bool = False) -> BaselineStars:
    """The research star-level parquet (``--baseline-parquet``) in ``r_min <= R <= r_max``.

    Args:
        path: parquet with columns :data:`BASELINE_COLUMNS` (others are ignored).
        r_min, r_max: the radial band [kpc] (``--r-min``, ``--r-max``).
        drop_nonfinite: drop rows in the band with NaN/inf instead of raising.

    Raises:
        FileNotFoundError: no such file (the message says what it is and the alternative).
        ValueError: missing columns (naming them, the file and the columns there), NaN/inf
            values in the band (naming the column, the count and the first row), a v_phi
            or v_phi_GR in the band outside (0, V_MAX_KMS] km/s, an empty band, a band not
            ``0 < r_min < r_max <= R_MAX_KPC`` (:mod:`jaxfit.gravity.limits`).
    """
    import pandas as pd

    path = checks.existing_file(
        path, "baseline parquet", "this is the research code's star-level Gaia table (e.g. "
        f"gaia_with_gr_baseline.parquet, columns {', '.join(BASELINE_COLUMNS)}), which jaxfit "
        "does not distribute; load_milky_way() gives the published Eilers+2019 curve instead")
    lo, hi = band(r_min, r_max)
    try:
        frame = pd.read_parquet(path)
    except Exception as err:  # pyarrow raises several types for a non-parquet file
        raise ValueError(f"{path}: not a readable parquet file ({err})") from None
    missing = [c for c in BASELINE_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(
            f"{path}: missing column(s) {missing}; needs {', '.join(BASELINE_COLUMNS)} "
            f"(columns there: {', '.join(map(str, frame.columns))})"
        )
    values = {c: pd.to_numeric(frame[c], errors="coerce").to_numpy(np.float64)
              for c in BASELINE_COLUMNS}
    # stars with a non-finite R cannot be placed in or out of the band: they count as bad
    in_band = ~(values["R"] < lo) & ~(values["R"] > hi)
    finite = np.ones_like(in_band)
    for column in BASELINE_COLUMNS:
        finite &= np.isfinite(values[column])
    if (in_band & ~finite).any() and not drop_nonfinite:
        for column in BASELINE_COLUMNS:
            rows = np.flatnonzero(in_band & ~np.isfinite(values[column]))
            if rows.size:
                where = "" if column == "R" else f" in {lo} <= R <= {hi}"
                raise ValueError(
                    f"{path}, column {column}: {rows.size} NaN/inf or non-numeric value(s)"
                    f"{where} (first at row {rows[0]}); pass drop_nonfinite=True to drop those "
                    "stars"
                )
    keep = in_band & finite
    # a star-level v_phi is a rotation speed about the Galactic centre; a negative or
    # huge one in the band is a sign or unit mistake that would bias the fit silently
    for column in ("v_phi", "v_phi_GR"):
        rows = np.flatnonzero(keep & ~((values[column] > 0) & (values[column] <= V_MAX_KMS)))
        if rows.size:
            raise ValueError(
                f"{path}, column {column}: {rows.size} value(s) in {lo} <= R <= {hi} outside "
                f"(0, {V_MAX_KMS:g}] km/s (first at row {rows[0]}: {values[column][rows[0]]})"
            )
    if not keep.any():
        raise ValueError(f"{path}: no stars with {lo} <= R <= {hi} kpc (R spans "
                         f"{np.nanmin(values['R']):.3g}-{np.nanmax(values['R']):.3g})")
    return BaselineStars(
        R=loaded_f64(values["R"][keep], "baseline R"),
        v_obs=loaded_f64(values["v_phi"][keep], "baseline v_phi"),
        v_bar=loaded_f64(values["v_phi_GR"][keep], "baseline v_phi_GR"),
    )
