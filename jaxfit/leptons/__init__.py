"""Leptons: Hill-vortex energy functional, global-scale mass fits, cross-lepton profiles.

Modules: ``params`` (the 11 parameters), ``model`` (the energy functional), ``data`` (CODATA
targets), ``objective`` (``fun(params, data)``), ``problem`` (the batched fit and scan),
the workflows ``fit``, ``scan``, ``cross``, and ``results``, ``checklist`` (what they return).
"""
