"""Simulated cryo-EM data with exact ground truth.

Modules (import the one you need; nothing is imported eagerly):

- ``density``: atomic models -> electron-scattering (Coulomb) potential, per element.
- ``ctf``: wavelength, contrast transfer function, its analytic zeros, envelopes.
- ``project``: uniform SO(3) rotations, exact projections of atoms, rotate-and-sum of volumes.
- ``noise``: particle footprints, SNR-calibrated white + CTF-filtered ice noise.
- ``artifacts``: ice-thickness gradient, contaminations, carbon edges (hard negatives).
- ``micrographs``: whole micrographs + truth tables (``fewlabel simulate micrographs``).
- ``particles``: labeled 2D particle sets (``fewlabel simulate particles``).
- ``volumes``: 3D geometries and point clouds for voxel classification.
"""
