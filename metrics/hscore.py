"""Placeholder: being written."""


def hscore(features, labels):
    raise NotImplementedError


def reg_hscore(features, labels):
    raise NotImplementedError
