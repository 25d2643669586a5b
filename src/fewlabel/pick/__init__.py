"""Positive-unlabeled particle picking (Bepler et al. 2018): train, extract, evaluate.

Modules: ``models`` (fully convolutional scorers), ``objectives`` (PN, NNPU, GE-KL,
GE-binomial, autoencoder term), ``sampling`` (positive masks, pi, training tiles), ``train``,
``nms`` (non-maximum suppression), ``extract`` (streamed scoring + NMS), ``metrics``
(matching, precision/recall, AUPRC). Torch is imported only by the modules that need it.
"""
