"""precision="float32" of EMMS, LogME, H-score and TransRate against the float64 default.

Tolerance: relative 1e-5 on class-structured features, about 100x the largest difference measured by
``bench/bench_grid.py --precision`` on such features (1e-7), far below the differences between models that a
ranking sees. Each float32 score must also differ from the float64 one (the float32 path really ran).
"""
import numpy as np
import pytest

from metrics import emms, hscore, logme, reg_hscore, transrate

RELATIVE_TOLERANCE = 1e-5


def class_structured(n=600, d=48, c=6, seed=0, offset=0.0):
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.arange(n) % c)
    features = rng.normal(size=(c, d))[labels] + 2 * rng.standard_normal((n, d)) + offset
    return features.astype(np.float32), labels


FEATURES, LABELS = class_structured()
WIDE, WIDE_LABELS = class_structured(n=40, d=64, c=4, seed=1)        # N <= D: the N x N Gram paths
TABLES = [np.random.default_rng(k).normal(size=(6, 16)) for k in range(3)]
PER_SAMPLE = np.stack([table[LABELS] for table in TABLES], axis=2) + \
    np.random.default_rng(9).normal(size=(len(LABELS), 16, 3))

SCORES = {
    "emms class tables": lambda p: emms(FEATURES, TABLES, LABELS, precision=p),
    "emms per-sample": lambda p: emms(FEATURES, PER_SAMPLE, precision=p),
    "emms ridge, N <= D": lambda p: emms(WIDE, [t[:4] for t in TABLES], WIDE_LABELS, ridge=4.0, precision=p),
    "logme": lambda p: logme(FEATURES, LABELS, precision=p),
    "logme regression": lambda p: logme(FEATURES, PER_SAMPLE[:, :3, 0], regression=True, precision=p),
    "hscore": lambda p: hscore(FEATURES, LABELS, precision=p),
    "hscore N <= D": lambda p: reg_hscore(WIDE, WIDE_LABELS, precision=p),
    "reg_hscore": lambda p: reg_hscore(FEATURES, LABELS, precision=p),
    "transrate": lambda p: transrate(FEATURES, LABELS, precision=p),
}


@pytest.mark.parametrize("name", SCORES)
def test_float32_agrees_with_float64_within_the_stated_tolerance(name):
    exact, single = SCORES[name]("float64"), SCORES[name]("float32")
    assert single == pytest.approx(exact, rel=RELATIVE_TOLERANCE)
    assert single != exact


def test_float64_is_the_default():
    assert logme(FEATURES, LABELS) == logme(FEATURES, LABELS, precision="float64")
    assert emms(FEATURES, TABLES, LABELS) == emms(FEATURES, TABLES, LABELS, precision="float64")


def test_float32_on_offset_features_within_the_stated_tolerance():
    """LogME does not centre: a mean 20x the spread would dominate a plain float32 FᵀF (5e-4 off here)."""
    features, labels = class_structured(offset=40.0)
    exact = logme(features, labels)
    assert logme(features, labels, precision="float32") == pytest.approx(exact, rel=RELATIVE_TOLERANCE)


def test_float32_does_not_modify_the_callers_features():
    features = FEATURES.copy()
    for name in SCORES:
        SCORES[name]("float32")
    np.testing.assert_array_equal(features, FEATURES)


@pytest.mark.parametrize("metric", [
    lambda p: emms(FEATURES, TABLES, LABELS, precision=p), lambda p: logme(FEATURES, LABELS, precision=p),
    lambda p: hscore(FEATURES, LABELS, precision=p), lambda p: reg_hscore(FEATURES, LABELS, precision=p),
    lambda p: transrate(FEATURES, LABELS, precision=p)])
@pytest.mark.parametrize("bad", ["float16", "double", None, 32])
def test_an_unknown_precision_is_a_clear_error(metric, bad):
    with pytest.raises(ValueError, match="precision must be one of"):
        metric(bad)
