"""Placeholder: being written."""


def sfda(features, labels):
    raise NotImplementedError("sfda")
