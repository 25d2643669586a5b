"""Semi-supervised classification of 3D structures (point clouds, meshes) as voxel grids.

voxelize (clouds/meshes -> n^3 grids), grids (grid-set .npz I/O), pose (canonical centre, scale and
axes; rotated copies), featurizers (PCA, autoencoders, soft k-means; fit on labeled + unlabeled),
classify (featurizer + SVM, one interface for every method), cnn (end-to-end semi-supervised 3D
CNN), experiment (accuracy tables and curves).
"""
