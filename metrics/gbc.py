"""Placeholder: being written."""


def gbc(features, labels, gaussian="spherical", pca_dim=None):
    raise NotImplementedError("gbc")
