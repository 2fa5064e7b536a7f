"""What each metric needs, so that a stage can run any of them by name.

``needs`` (a :class:`Needs`) says how the metric is called; data arrays are positional, every option is
keyword-only:

- ``Needs.FEATURES_LABELS``: ``fn(features (N, D), labels (N,), *, ...) -> float``
- ``Needs.FEATURES_FLABELS``: ``fn(features, flabels, labels=None, *, ...) -> float`` (EMMS)
- ``Needs.SOURCE_PROBS_LABELS``: ``fn(source_probs (N, Z), labels (N,)) -> float`` (LEEP, NCE)
- ``Needs.ZOO_LABELS``: ``fn({model: features}, labels, *, ...) -> {model: float}`` (NCTI, ETran: relative
  to the zoo)

``targets`` (a tuple of :class:`Target`) says which label formats the metric accepts: ``Target.CLASSES``
(integer labels) and/or ``Target.REAL`` (real-valued targets (N, K), e.g. caption F-labels). ``defaults`` are the
keyword arguments the evaluate stage passes (e.g. ``gbc`` with ``pca_dim=64`` as in the published experiments).

The traits a stage needs to call a metric without knowing its name, declared here and nowhere else (a test checks
them against each function's signature):

- ``options``: the keyword options the function takes (what ``--metric-options`` may set);
- ``takes_device``: it runs its dense algebra on a torch device when given ``device=``;
- ``takes_regression``: it is told real-valued targets by ``regression=True`` (LogME);
- ``saturates_when_n_le_d``: with no more samples than feature dimensions it gives its extreme value whatever the
  features (a least-squares fit interpolates, a within-class covariance is singular), unless one of the options
  ``saturation_cured_by`` is set to a non-zero value (EMMS's ridge);
- ``details``: a function of the same arguments returning ``(score, {name: value})``, for what a metric returns
  besides its score (EMMS: the weight of each F-label table), or None.

Both enums are ``str`` enums, so ``spec.needs == "zoo+labels"`` holds, and a MetricSpec built from the plain
strings stores the enum members; any other value raises ValueError.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Callable


class Needs(str, Enum):
    """The inputs a metric is called with (see the module docstring for each signature)."""
    FEATURES_LABELS = "features+labels"
    FEATURES_FLABELS = "features+flabels"
    SOURCE_PROBS_LABELS = "source_probs+labels"
    ZOO_LABELS = "zoo+labels"

    def __str__(self) -> str:
        return self.value


class Target(str, Enum):
    """The label formats a metric accepts: integer classes, or real-valued targets (N, K)."""
    CLASSES = "classes"
    REAL = "real"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class MetricSpec:
    name: str
    function: Callable
    needs: Needs
    targets: tuple[Target, ...] = (Target.CLASSES,)
    defaults: dict = field(default_factory=dict)
    description: str = ""
    options: tuple[str, ...] = ()
    takes_device: bool = False
    takes_regression: bool = False
    saturates_when_n_le_d: bool = False
    saturation_cured_by: tuple[str, ...] = ()
    details: Callable | None = None

    def __post_init__(self):
        object.__setattr__(self, "needs", _member(Needs, self.needs, "needs"))
        if isinstance(self.targets, (str, Target)) or not self.targets:
            raise ValueError(f"targets must be a non-empty tuple of {[t.value for t in Target]}, "
                             f"got {self.targets!r}")
        object.__setattr__(self, "targets", tuple(_member(Target, t, "targets") for t in self.targets))

    def __call__(self, *args, **kwargs):
        return self.function(*args, **{**self.defaults, **kwargs})

    def saturates(self, options: dict) -> bool:
        """Whether the metric saturates at N <= D with these options (none of its cures set)."""
        return self.saturates_when_n_le_d and not any({**self.defaults, **options}.get(name)
                                                      for name in self.saturation_cured_by)

    def score_and_details(self, *args, **kwargs) -> tuple[float, dict]:
        """(score, details) with the defaults applied; details are {} for a metric that returns none."""
        if self.details is None:
            return self(*args, **kwargs), {}
        return self.details(*args, **{**self.defaults, **kwargs})


def _member(enum: type[Enum], value, what: str):
    try:
        return enum(value)
    except ValueError:
        raise ValueError(f"{what} must be one of {[member.value for member in enum]}, got {value!r}") from None
