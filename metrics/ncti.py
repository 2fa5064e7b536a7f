"""Placeholder: being written."""


def ncti(features_by_model, labels):
    raise NotImplementedError("ncti")
