"""Readers and writers for the files microscopists already have.

- :mod:`fewlabel.io.micrographs`: MRC/MRCS, TIFF, PNG/JPEG <-> :class:`Micrograph`.
- :mod:`fewlabel.io.picks`: Topaz tsv, RELION STAR 3.0/3.1, EMAN .box, CSV <-> picks table.
- :mod:`fewlabel.io.stacks`: particle stacks (``.mrcs`` + ``.star`` metadata).
- :mod:`fewlabel.io.pointclouds`: SMLM point clouds and meshes for voxelization.

Submodules are imported on use (``from fewlabel.io.picks import read_picks``) so that importing
one format does not pull in the libraries of all the others.
"""
