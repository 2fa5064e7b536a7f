"""Placeholder: being written."""


def nleep(features, labels, *, components_per_class=5, pca_variance=0.8, seed=0):
    raise NotImplementedError("nleep")
