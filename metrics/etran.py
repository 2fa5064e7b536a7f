"""Placeholder: being written."""


def etran(features_by_model, labels):
    raise NotImplementedError("etran")
