"""Cosmology: LCDM and PBUF backgrounds, CMB distance priors, BAO, SN, a parameter store."""
