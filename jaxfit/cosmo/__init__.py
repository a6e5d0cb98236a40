"""Cosmology: LCDM and PBUF backgrounds, CMB distance priors, BAO, SN, a parameter store.

One idea per module:

- :mod:`~jaxfit.cosmo.params`: the parameters (defaults, bounds, units), declared once;
- :mod:`~jaxfit.cosmo.model`: the background physics (E(z), distances, sound horizons);
- :mod:`~jaxfit.cosmo.cmb`, :mod:`~jaxfit.cosmo.bao`, :mod:`~jaxfit.cosmo.sn`: the data of
  each kind, their readers and chi2; :mod:`~jaxfit.cosmo.datasets`: the named data sets,
  downloads and selections (:mod:`~jaxfit.cosmo.data` keeps their former path);
- :mod:`~jaxfit.cosmo.objective`: ``chi2(params, data)`` and its data pytree;
- :mod:`~jaxfit.cosmo.fit`, :mod:`~jaxfit.cosmo.regression`, :mod:`~jaxfit.cosmo.config`:
  the fit workflow, its reproduction check, its config files;
- :mod:`~jaxfit.cosmo.results`: :class:`~jaxfit.cosmo.results.OptimizationResult`;
- :mod:`~jaxfit.cosmo.store`: the parameter store (its file format in
  :mod:`~jaxfit.cosmo.store_file`, its update records in :mod:`~jaxfit.cosmo.records`);
- :mod:`~jaxfit.cosmo.report`: plots and the HTML report.
"""
