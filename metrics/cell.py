"""Score a cell once (issue 26): all the named metrics of one model's features on one dataset, each shared
statistic computed once.

:class:`CellStatistics` holds, computed on first access and cached, what several metrics derive from the same
features: the validated float64 copy of the features centred by their column means (one N x D array, as
H-score held before), the means, the features' largest magnitude, the squared row norms, the centred Gram
XcᵀXc (D x D, when N > D) or Xc Xcᵀ (N x N), blocked as :mod:`metrics._gram` does, its eigendecomposition, the
integer classes and their counts, the class sums of the centred and of the raw features, and SFDA's step-1
LDA posteriors of the centred features. Each metric that uses them has a private ``_score_from(stats,
**options)`` and its public function is ``_score_from(CellStatistics(features, labels), **options)``, so a
metric scored here equals its separate call by construction (same operations on the same numbers):

====================  ==========================================================================================
statistic             metrics
====================  ==========================================================================================
centred copy Xc       hscore, reg_hscore, transrate (its class blocks), gbc / nleep / ncti (PCA scores), sfda
                      (both LDA steps), etran (S_cls)
centred Gram          hscore, reg_hscore, transrate (whole coding rate), gbc / nleep / ncti (PCA, N >= D),
                      logme with precision="float32" (FᵀF = XcᵀXc + N mean meanᵀ, N > D),
                      sfda / etran (step 1's N S_w = XcᵀXc - Σ_c N_c μ_c μ_cᵀ, N > D)
eigh of that Gram     hscore, reg_hscore (eigenvalues divided by the squared peak), gbc, nleep, ncti (N > D)
centred class sums    sfda, etran (class means of Xc)
step-1 LDA posterior  sfda (step 1), etran (S_cls, the mean posterior of the true class)
raw class sums        logme (Fᵀ Y of the one-hot targets)
features as given     etran (S_en, in row blocks, no copy)
classes, counts       every metric above
====================  ==========================================================================================

Metrics that share nothing with these (emms, knn, parc, leep, nce) are called as they are, after the
statistics above are released, and N-LEEP, which releases them once it has its PCA scores (its mixture need not
sit beside the N x D copy), runs after the other metrics that share them. The peak memory is then SFDA's beside
the cached statistics: 5.3 GiB of numpy arrays at 108,754 x 2048, where SFDA alone takes 3.5
(``bench/results/2026-12-03-grid-sun397-memory.md``).

Whole-zoo metrics (ncti, etran) normalise per-model components over the models of a zoo, so they are no score of
one cell; given ``zoo_components={}``, :func:`score_cell` puts this cell's components there (NCTI's (seli, ncc,
vc), ETran's (S_en, S_cls)), from the same statistics, and :func:`combine_zoo` turns {model: components} into
{model: score}, equal to the zoo call by construction (it scores each model's components from its own
statistics and combines them the same way)::

    components = {}
    for model, features in zoo.items():
        found = {}
        score_cell(features, labels, ["gbc", "sfda", "ncti", "etran"], zoo_components=found)
        components[model] = found
    ncti = combine_zoo("ncti", {model: found["ncti"] for model, found in components.items()})
    # == metrics.ncti(zoo, labels); likewise metrics.ncti.from_components, metrics.etran.from_components
"""
from __future__ import annotations

import sys
import time
import warnings

import numpy as np

from metrics._stats import CellStatistics
from metrics.registry import Needs

__all__ = ["CellStatistics", "SHARED", "ZOO_SHARED", "combine_zoo", "score_cell"]


# ---------------------------------------------------------------------------------------------- score_cell

# metric: the function of its module that scores it from CellStatistics (a metric module imports no peer, so
# they are reached through the registry's functions)
SHARED = {"hscore": "_hscore_from", "reg_hscore": "_reg_hscore_from", "transrate": "_score_from",
          "logme": "_score_from", "gbc": "_score_from", "nleep": "_score_from", "sfda": "_score_from"}
# whole-zoo metric: the function of its module giving one model's components from CellStatistics
ZOO_SHARED = {"ncti": "_components_from", "etran": "_components_from"}
# metrics that release the statistics once they have read them (N-LEEP, before its mixture fit, the largest
# temporary of a cell): they run after the other metrics that share them
RELEASES = ("nleep",)


def _shared(metrics: dict, attributes: dict) -> dict:
    return {name: getattr(sys.modules[metrics[name].function.__module__], attribute)
            for name, attribute in attributes.items()}


def combine_zoo(name: str, components_by_model: dict) -> dict[str, float]:
    """{model: score} of the whole-zoo metric ``name`` (ncti, etran) from {model: its components}, each from
    :func:`score_cell`'s ``zoo_components[name]`` of that model's cell (the module's ``from_components``)."""
    from metrics import METRICS

    if name not in ZOO_SHARED:
        raise ValueError(f"{name!r} is not a whole-zoo metric; those are {sorted(ZOO_SHARED)}")
    return sys.modules[METRICS[name].function.__module__].from_components(components_by_model)


def score_cell(features, labels, names, *, flabels=None, source_probs=None, options=None, seconds=None,
               errors=None, caught=None, zoo_components=None, device=None) -> dict[str, float]:
    """All the metrics ``names`` of one cell, each shared statistic computed once (see the module docstring).

    ``features`` (N, D) and ``labels`` (N,) integer classes, or real-valued targets (N, K) for the metrics
    that take them (LogME with ``options={"logme": {"regression": True}}``); ``flabels``: EMMS's F-labels,
    class tables when ``labels`` are integer classes, per-sample F-labels when ``labels`` is None or
    real-valued; ``source_probs`` (N, Z) for LEEP and NCE. ``options`` {metric: {keyword: value}} is passed to
    each metric after the registry's ``defaults``, as a separate call through the registry would. Returns
    {name: score} in the order of ``names``; every value equals the metric's separate call, and the metric's
    warnings are emitted as that call emits them.

    A metric that raises stops the call with its error, unless ``errors`` is a dict: then the error is stored
    there under the metric's name, the metric is left out of the result and the others go on. ``seconds``, a
    dict, receives each metric's wall seconds (a shared statistic is counted in the first metric that needs it).
    ``caught``, a dict, receives each metric's warnings (a list of ``warnings.WarningMessage``, all of them, as
    ``warnings.simplefilter("always")`` shows them) instead of their being emitted, so that a caller can tell
    which metric said what. ``zoo_components``, a dict, receives the components of the whole-zoo metrics
    named (ncti, etran; see the module docstring), which are not in the result; without it they raise.
    ``device`` (a torch device, e.g. "cuda"): the shared centred Gram and its eigh are made there, and every metric
    that takes a ``device`` gets it unless its ``options`` set one; with a device the values equal the separate
    calls given the same device to rounding, not bit for bit (their PCA and SFDA's scatter are on the CPU there).
    Unknown names, whole-zoo metrics without ``zoo_components`` and options for metrics not named raise ValueError.
    """
    from metrics import METRICS

    names = list(dict.fromkeys([names] if isinstance(names, str) else names))
    unknown = [name for name in names if name not in METRICS]
    if unknown:
        raise ValueError(f"unknown metric(s) {unknown}; known: {sorted(METRICS)}")
    whole_zoo = [name for name in names if METRICS[name].needs == Needs.ZOO_LABELS]
    if whole_zoo and zoo_components is None:
        raise ValueError(f"{whole_zoo} are scored over a zoo of models (relative to the other models' features), "
                         f"not on one cell: call them with {{model: features}} and the labels, or pass "
                         f"zoo_components={{}} to score_cell to receive this cell's components, then combine every "
                         f"model's with metrics.cell.combine_zoo")
    options = dict(options or {})
    stray = [name for name in options if name not in names]
    if stray:
        raise ValueError(f"options given for metric(s) {stray} that are not scored here ({names})")
    seconds = {} if seconds is None else seconds
    shared = _shared(METRICS, {**SHARED, **ZOO_SHARED})
    stats = CellStatistics(features, labels, device=device)
    scores = {}

    def run(name, call, into=scores):
        with warnings.catch_warnings(record=caught is not None) as recorded:
            if caught is not None:
                warnings.simplefilter("always")
            start = time.perf_counter()
            try:
                into[name] = call()
            except Exception as error:
                if errors is None:
                    raise
                errors[name] = error
            finally:
                seconds[name] = time.perf_counter() - start
        if caught is not None:
            caught[name] = list(recorded)

    try:
        for name in sorted((name for name in names if name in shared), key=lambda name: name in RELEASES):
            run(name, lambda: shared[name](stats, **_kwargs(METRICS[name], options, device)),
                zoo_components if name in ZOO_SHARED else scores)
    finally:
        stats.release()   # the shared statistics go before the metrics that share nothing run
    for name in [name for name in names if name not in shared]:
        run(name, lambda: _call(METRICS[name], features, labels, flabels, source_probs,
                                _kwargs(METRICS[name], options, device)))
    return {name: scores[name] for name in names if name in scores}


def _call(spec, features, labels, flabels, source_probs, kwargs):
    """A metric that shares nothing, called as it is."""
    if spec.needs == Needs.SOURCE_PROBS_LABELS:
        if source_probs is None:
            raise ValueError(f"{spec.name} needs source_probs (the source head's probabilities)")
        return spec.function(source_probs, labels, **kwargs)
    if spec.needs == Needs.FEATURES_FLABELS:
        if flabels is None:
            raise ValueError(f"{spec.name} needs flabels (F-label class tables or per-sample F-labels)")
        if labels is None or not _are_classes(labels):
            return spec.function(features, flabels, **kwargs)
        return spec.function(features, flabels, labels, **kwargs)
    return spec.function(features, labels, **kwargs)


def _kwargs(spec, options: dict, device=None) -> dict:
    """The registry's defaults, then score_cell's device for a metric that takes one, then the caller's options."""
    on_device = {"device": device} if device is not None and spec.takes_device else {}
    return {**spec.defaults, **on_device, **options.get(spec.name, {})}


def _are_classes(labels) -> bool:
    """1-D integer labels (or integral floats): class labels; anything else is real-valued targets."""
    array = np.asarray(labels)
    if array.ndim != 1:
        return False
    if array.dtype.kind in "iub":
        return True
    return array.dtype.kind == "f" and bool(np.isfinite(array).all() and np.all(array == np.round(array)))
