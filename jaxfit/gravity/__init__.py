"""Gravity: Sigma-Gravity theory kernel, rotation curves (Milky Way, SPARC) and clusters."""
