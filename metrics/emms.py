"""Placeholder: being written."""


def emms(features, flabels, labels=None, *, solver="exact", ridge=0.0, max_iter=100, tol=1e-8):
    raise NotImplementedError("emms")
