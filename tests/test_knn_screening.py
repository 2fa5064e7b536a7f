"""kNN's float32 screening with float64 re-ranking (metrics/knn.py) gives the float64 ranking exactly."""
from __future__ import annotations

import importlib

import numpy as np
import pytest

knn_module = importlib.import_module("metrics.knn")


def unit_rows(x):
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def near_ties(seed=0, copies=10, jitter=1e-9):
    """Groups of rows that differ by `jitter`: their similarities differ far below float32's resolution."""
    rng = np.random.default_rng(seed)
    base = rng.standard_normal((20, 64))
    x = np.repeat(base, copies, axis=0) + jitter * rng.standard_normal((20 * copies, 64))
    return unit_rows(x)


@pytest.mark.parametrize("k", [1, 3, 9])
def test_screened_neighbours_are_the_float64_ones_where_float32_cannot_tell_them_apart(k):
    unit = near_ties()
    rows = np.arange(len(unit))
    screened = knn_module._nearest_screened(unit, unit.astype(np.float32), rows, k)
    exact = knn_module._nearest_exact(unit, rows, k)
    np.testing.assert_array_equal(screened, exact)
    float32_order = np.argsort(-(unit.astype(np.float32) @ unit.astype(np.float32).T - 2 * np.eye(len(unit))),
                               axis=1, kind="stable")[:, :k]
    assert (float32_order != exact).any()   # the case is one where float32 alone ranks differently


def test_screened_neighbours_equal_the_float64_ones_with_duplicates_and_zero_rows_over_many_blocks():
    rng = np.random.default_rng(1)
    x = np.round(rng.standard_normal((700, 12)), 1)
    x[100:140] = x[3]   # duplicates: 40 exact ties, more than the re-ranked rows hold
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    unit = x / norms
    unit[:5] = 0.0   # all-zero rows: similarity 0 with everything
    rows = rng.choice(len(unit), 300, replace=False)
    for k in (1, 10, 50):
        np.testing.assert_array_equal(knn_module._nearest_screened(unit, unit.astype(np.float32), rows, k),
                                      knn_module._nearest_exact(unit, rows, k))


def test_screening_error_is_the_stated_bound_and_bounds_the_float32_error():
    u = 2.0 ** -24
    gamma = 2048 * u / (1 - 2048 * u)
    assert knn_module._screening_error(2048) == pytest.approx(gamma * (1 + u) ** 2 + 2 * u + u * u
                                                              + 4 * 2048 * 2.0 ** -53, rel=1e-12)
    assert knn_module._screening_error(2 ** 23) is None   # D u = 1/2: the bound no longer holds
    unit = unit_rows(np.random.default_rng(2).standard_normal((300, 2048)))
    screen = unit.astype(np.float32)
    error = np.abs((screen @ screen.T).astype(np.float64) - unit @ unit.T).max()
    assert 0 < error <= knn_module._screening_error(2048)


def test_knn_does_not_modify_its_input():
    x = near_ties(seed=3)
    before = x.copy()
    labels = np.repeat(np.arange(4), 50)
    knn_module.knn(x, labels, k=3)
    np.testing.assert_array_equal(x, before)
