"""Galaxy clusters in one import: strong-lensing masses and baryon profiles for the
Sigma-Gravity test.

The cluster test of the research code asks whether the modified dynamics
``g_eff = g_bar (1 + K)`` turns the baryons of a cluster into the mass its Einstein radius
requires. The two sides of that comparison live in their rooms; this module gathers their
public names (the names it has always offered):

- :mod:`jaxfit.gravity.lens_geometry`: flat-LCDM distances, Sigma_crit, Einstein radius and
  the required mass;
- :mod:`jaxfit.gravity.cluster_profiles`: densities and enclosed masses (3-D and projected)
  of beta, Hernquist, dPIE, aperture and tabulated profiles;
- :mod:`jaxfit.gravity.cluster_baryons`: the component containers and the baryon model;
- :mod:`jaxfit.gravity.cluster_files`: ACCEPT, profile-CSV and cluster-table readers;
- :mod:`jaxfit.gravity.cluster_set`: the packaged clusters, :func:`load_clusters` and the
  :class:`ClusterSet` the fits use;
- :mod:`jaxfit.gravity.units`: the constants (``G`` is :data:`~jaxfit.gravity.units.G_NEWTON`).
"""

from jaxfit.constants import C_KM_S, KPC_M
from jaxfit.gravity.cluster_baryons import (
    PROJECTIONS,
    ApertureMasses,
    BaryonModel,
    BetaGas,
    DPIEGas,
    HernquistStars,
    TabulatedDensity,
    beta_gas,
    gas_from_ne_table,
    gas_from_shells,
    stars_from_rho_table,
)
from jaxfit.gravity.cluster_files import (
    ACCEPT_COLUMNS,
    TABLE_OPTIONAL,
    TABLE_REQUIRED,
    AcceptProfile,
    read_accept_profile,
    read_cluster_table,
    read_gas_csv,
    read_stars_csv,
)
from jaxfit.gravity.cluster_profiles import (
    INTERPOLATIONS,
    MU_E_DEFAULT,
    MU_E_RESEARCH,
    R_MAX_DEFAULT,
    aperture_mass,
    beta_model_density,
    beta_model_ne,
    dpie_density,
    dpie_mass_3d,
    dpie_mass_projected,
    dpie_rho0,
    dpie_surface_density,
    enclosed_mass_3d,
    enclosed_mass_projected,
    hernquist_density,
    hernquist_mass_3d,
    hernquist_mass_projected,
    ne_to_rho,
    offset_mass_3d,
    offset_mass_projected,
    tabulated_density,
    tabulated_mass_3d,
    tabulated_mass_projected,
)
from jaxfit.gravity.cluster_set import (
    CLUSTERS_FILE,
    DEFAULT_CLUSTERS,
    SIGMA_V_DEFAULT,
    ClusterSet,
    cluster_baryons,
    load_clusters,
    mass_ratio,
    packaged_clusters,
    theory_mass,
)
from jaxfit.gravity.lens_geometry import (
    comoving_distance_kpc,
    einstein_radius_kpc,
    lensing_distances,
    required_mass,
    sigma_crit,
)
from jaxfit.gravity.units import ARCSEC_RAD, KPC_CM, M_P_G, M_SUN_G, NE_TO_RHO
from jaxfit.gravity.units import G_NEWTON as G

__all__ = [
    "ACCEPT_COLUMNS", "ARCSEC_RAD", "AcceptProfile", "ApertureMasses", "BaryonModel",
    "BetaGas", "CLUSTERS_FILE", "C_KM_S", "ClusterSet", "DEFAULT_CLUSTERS", "DPIEGas", "G",
    "HernquistStars", "INTERPOLATIONS", "KPC_CM", "KPC_M", "MU_E_DEFAULT", "MU_E_RESEARCH",
    "M_P_G", "M_SUN_G", "NE_TO_RHO", "PROJECTIONS", "R_MAX_DEFAULT", "SIGMA_V_DEFAULT",
    "TABLE_OPTIONAL", "TABLE_REQUIRED", "TabulatedDensity", "aperture_mass", "beta_gas",
    "beta_model_density", "beta_model_ne", "cluster_baryons", "comoving_distance_kpc",
    "dpie_density", "dpie_mass_3d", "dpie_mass_projected", "dpie_rho0", "dpie_surface_density",
    "einstein_radius_kpc", "enclosed_mass_3d", "enclosed_mass_projected", "gas_from_ne_table",
    "gas_from_shells", "hernquist_density", "hernquist_mass_3d", "hernquist_mass_projected",
    "lensing_distances", "load_clusters", "mass_ratio", "ne_to_rho", "offset_mass_3d",
    "offset_mass_projected", "packaged_clusters", "read_accept_profile", "read_cluster_table",
    "read_gas_csv", "read_stars_csv", "required_mass", "sigma_crit", "stars_from_rho_table",
    "tabulated_density", "tabulated_mass_3d", "tabulated_mass_projected", "theory_mass",
]  # fmt: skip
