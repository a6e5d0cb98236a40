"""Gravity: Sigma-Gravity theory kernel, rotation curves (Milky Way, SPARC) and clusters.

Rooms, one idea each:

- parameters and units: :mod:`~jaxfit.gravity.params`, :mod:`~jaxfit.gravity.units`;
- physics: :mod:`~jaxfit.gravity.kernel` (theory kernel), :mod:`~jaxfit.gravity.empirical`
  (empirical kernels), :mod:`~jaxfit.gravity.rotation` (rotation curves),
  :mod:`~jaxfit.gravity.lens_geometry`, :mod:`~jaxfit.gravity.cluster_profiles`,
  :mod:`~jaxfit.gravity.cluster_baryons`;
- data: :mod:`~jaxfit.gravity.sparc_files`, :mod:`~jaxfit.gravity.sparc`,
  :mod:`~jaxfit.gravity.milky_way`, :mod:`~jaxfit.gravity.cluster_files`,
  :mod:`~jaxfit.gravity.cluster_set`;
- fitting: :mod:`~jaxfit.gravity.objective` (the losses), :mod:`~jaxfit.gravity.sparc_points`,
  :mod:`~jaxfit.gravity.mw_fit`, :mod:`~jaxfit.gravity.sparc_fit`,
  :mod:`~jaxfit.gravity.cluster_fit`, :mod:`~jaxfit.gravity.joint`,
  :mod:`~jaxfit.gravity.criteria`, :mod:`~jaxfit.gravity.results`.

:mod:`~jaxfit.gravity.model`, :mod:`~jaxfit.gravity.data`, :mod:`~jaxfit.gravity.clusters`
and :mod:`~jaxfit.gravity.fit` gather the public names of these rooms under their former
module paths.
"""
