"""Lensing: MaNGA kinematic sources, SIS + subhalo ray tracing with PSF and noise, and a
Flax CNN that detects subhalos."""
