"""Stage 3, the cache of finished cells: a score is stored with a digest of everything it was computed from.

The digest covers the features' meta, the F-labels' metas (where the metric reads F-labels), the metric's
registry defaults and the user's options for it, ``--feature-dim``, and for a whole-zoo metric the zoo. A cell
whose stored digest equals the current one is skipped unless ``--overwrite``; one whose inputs changed is scored
again; a cell that fails has its old score dropped, so that no table shows a score of inputs that are gone.
"""
from __future__ import annotations

import hashlib
import json

import metrics as metric_registry
from metrics.registry import Needs
from pipeline.evaluate.inputs import Inputs
from pipeline.evaluate.plan import Plan


class ScoreCache:
    def __init__(self, plan: Plan, inputs: Inputs):
        self.plan, self.store, self.inputs = plan, plan.store, inputs

    def stored(self, dataset: str, metric: str) -> dict[str, dict]:
        """{model: entry} of the metric's stored scores on the dataset."""
        return self.store.load_scores(dataset, self.plan.score_file(metric))

    def current(self, done: dict, dataset: str, model: str, metric: str, zoo: list[str] | None = None) -> bool:
        """Whether the stored score of (model, metric) in `done` ({metric: stored}) was computed from the inputs in
        the store now."""
        entry = done[metric].get(model)
        return entry is not None and entry.get("inputs") == self.digest(dataset, model, metric, zoo)

    def digest(self, dataset: str, model: str, metric: str, zoo: list[str] | None = None) -> str | None:
        meta = self.inputs.meta(dataset, model)
        if meta is None:
            return None
        spec = metric_registry.METRICS[metric]
        settings = self.plan.settings
        parts = {"features": meta, "defaults": spec.defaults, "zoo": sorted(zoo or [])}
        if settings.feature_dim is not None:
            parts["feature_dim"] = settings.feature_dim
        if settings.metric_options.get(metric):
            parts["options"] = settings.metric_options[metric]
        if self.plan.task.reads_flabels(spec):
            parts["flabels"] = self.inputs.flabel_metas(dataset)
        return hashlib.sha1(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]

    def record(self, dataset: str, metric: str, entries: dict[str, dict]) -> None:
        """Store {model: {"score", "seconds", ...}}, each with the digest of its inputs."""
        zoo = sorted(entries) if metric_registry.METRICS[metric].needs == Needs.ZOO_LABELS else None
        stamped = {model: {**entry, "inputs": self.digest(dataset, model, metric, zoo)}
                   for model, entry in entries.items()}
        self.store.save_scores(dataset, self.plan.score_file(metric), stamped)

    def drop(self, dataset: str, models, metrics=None) -> None:
        """Forget the stored scores of these models (for these metrics; default every metric of the plan)."""
        for metric in metrics or self.plan.metrics[dataset]:
            self.store.drop_scores(dataset, self.plan.score_file(metric), list(models))
