"""What each metric needs, so that a stage can run any of them by name.

``needs`` is one of:

- ``"features+labels"``: ``fn(features (N, D), labels (N,)) -> float``
- ``"features+flabels"``: ``fn(features, flabels, labels=None) -> float`` (EMMS)
- ``"source_probs+labels"``: ``fn(source_probs (N, Z), labels (N,)) -> float`` (LEEP, NCE)
- ``"zoo+labels"``: ``fn({model: features}, labels) -> {model: float}`` (NCTI, ETran: relative to the zoo)

``targets`` says which label formats the metric accepts: ``"classes"`` (integer labels) and/or
``"real"`` (real-valued targets (N, K), e.g. caption F-labels; the stage calls it with ``regression=True``
where the function takes that flag). ``defaults`` are the keyword arguments the evaluate stage passes
(e.g. ``gbc`` with ``pca_dim=64`` as in the published experiments).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

NEEDS = ("features+labels", "features+flabels", "source_probs+labels", "zoo+labels")


@dataclass(frozen=True)
class MetricSpec:
    name: str
    function: Callable
    needs: str
    targets: tuple[str, ...] = ("classes",)
    defaults: dict = field(default_factory=dict)
    description: str = ""

    def __post_init__(self):
        if self.needs not in NEEDS:
            raise ValueError(f"needs must be one of {NEEDS}, got {self.needs!r}")

    def __call__(self, *args, **kwargs):
        return self.function(*args, **{**self.defaults, **kwargs})
