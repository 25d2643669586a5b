"""2D classification of particle images by metric learning.

Modules, one job each:

- :mod:`.models`: the rotation-pooled CNN that maps a particle image to a unit-length embedding.
- :mod:`.triplets`: distances, triplet margin loss and triplet miners (random, semi-hard, batch-hard).
- :mod:`.augment`: in-plane rotation, shift, flip and noise augmentations (torch).
- :mod:`.train`: supervised and self-supervised training with early stopping and checkpoints.
- :mod:`.embed`: embeddings for a particle stack from a trained model.
- :mod:`.cluster`: k-means, elbow curve, suggested k and rotationally aligned class averages.
- :mod:`.evaluate`: ARI, NMI, Hungarian-matched accuracy and the class cosine-similarity matrix.
- :mod:`.features`: classical baselines (raw-pixel PCA, rotation-invariant polar-Fourier features).
- :mod:`.ctf`: per-particle CTF phase flipping from the stack's defocus metadata.
- :mod:`.mra`: reference-based classification by multi-reference alignment (no network, no labels);
  the strongest method on noisy view classes (benchmarks/results/classify2d.md); ``mra_profile`` aligns
  particles onto MRA references, so a network can train on rotation-normalised particles
  (``train_embedding(references=...)``, CLI ``train --align``; benchmarks/results/classify2d_aligned.md).
- :mod:`.generic`: a generic embedding trained on (shape, view) classes of many simulated shapes (monomers
  and point-group assemblies), for molecules without labels (CLI ``generic``, then ``embed --mra-k K``;
  benchmarks/results/classify2d_generic.md).
"""
