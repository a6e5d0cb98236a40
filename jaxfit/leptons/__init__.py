"""Leptons: Hill-vortex energy functional, global-scale mass fits, cross-lepton profiles."""
