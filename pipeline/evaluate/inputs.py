"""Stage 3, the inputs of a cell: a model's stored features (reduced with ``--feature-dim``), its labels and
source-head probabilities, and the dataset's F-labels, each checked to come from the same data."""
from __future__ import annotations

import numpy as np

from metrics.registry import Needs
from pipeline.evaluate.plan import Plan
from pipeline.evaluate.reduce import reduce_width
from pipeline.kinds import FlabelKind
from pipeline.store import CorruptFileError, MissingInputError


class Inputs:
    """Reads what the metrics of a plan need from its store; F-label tables are read once per dataset."""

    def __init__(self, plan: Plan):
        self.plan, self.store, self.task = plan, plan.store, plan.task
        self._flabels: dict[str, dict[str, tuple[np.ndarray, dict]]] = {}

    def meta(self, dataset: str, model: str) -> dict | None:
        """The features' meta, or None when absent or damaged (loading them then reports the damage)."""
        try:
            return self.store.features_meta(dataset, model)
        except CorruptFileError:
            return None

    def any_meta(self, dataset: str) -> dict | None:
        """The meta of a model stored for the dataset: the settings a command that makes what is missing repeats."""
        for model in self.plan.models.get(dataset, []) + self.store.list_models(dataset):
            meta = self.meta(dataset, model)
            if meta is not None:
                return meta
        return None

    def odd_samples(self, dataset: str, models: list[str]) -> tuple[list[str], dict | None]:
        """(models whose features were made from other samples than most of the others', the meta of one of the
        majority): the same data fingerprint and the same unreadable samples skipped make the same samples."""
        def samples_of(meta):
            skipped = tuple(sample["index"] for sample in meta.get("skipped_samples", []))
            return meta.get("data", {}).get("fingerprint"), skipped, meta.get("N")

        found = {m: samples_of(meta) for m in models if (meta := self.meta(dataset, m)) is not None}
        if len(set(found.values())) <= 1:
            return [], None
        counts: dict = {}
        for key in found.values():
            counts[key] = counts.get(key, 0) + 1
        majority = max(counts, key=lambda key: (counts[key], key[2] or 0))
        odd = [m for m, key in found.items() if key != majority]
        return odd, self.meta(dataset, next(m for m, key in found.items() if key == majority))

    def features(self, dataset: str, model: str, make_command: str) -> tuple[np.ndarray, np.ndarray, dict]:
        """(features, labels, meta), the features reduced to ``--feature-dim`` where asked. Raises
        MissingInputError (naming `make_command`) or ValueError."""
        features, labels, meta = self.store.load_features(dataset, model, make_command=make_command)
        width = self.plan.settings.feature_dim
        return (features if width is None else reduce_width(features, width)), labels, meta

    def source_probs(self, dataset: str, model: str, spec) -> np.ndarray | None:
        return self.store.load_source_probs(dataset, model) if spec.needs == Needs.SOURCE_PROBS_LABELS else None

    def encoders(self, dataset: str) -> list[str]:
        return self.plan.settings.flabel_encoders or self.store.list_flabel_encoders(dataset, self.task.flabel_kind)

    def load_flabels(self, dataset: str, make_command) -> list[str]:
        """Read the dataset's F-label tables (once); returns the messages of those that are missing."""
        if dataset in self._flabels:
            return []
        kind, missing, tables = self.task.flabel_kind, [], {}
        for encoder in self.encoders(dataset):
            try:
                tables[encoder] = self.store.load_flabels(dataset, encoder, kind, make_command=make_command(encoder))
            except MissingInputError as error:
                missing.append(str(error))
        if not self.encoders(dataset):
            missing.append(f"no {kind.value} F-labels in {self.store.root} for dataset {dataset!r}; make them with "
                           f"stage 2, e.g. {make_command(None)}")
        self._flabels[dataset] = tables
        return missing

    def flabels(self, dataset: str, features_meta: dict, remake) -> dict[str, np.ndarray]:
        """{encoder: F-labels} of the dataset, checked to describe the data the features were made from (the
        class names, or the sample list), with the rows of samples stage 1 could not read removed.
        ``remake(encoder)``: the stage-2 command a mismatch names."""
        self.load_flabels(dataset, remake)
        data = features_meta.get("data", {})
        skipped = [sample["index"] for sample in features_meta.get("skipped_samples", [])]
        out = {}
        for encoder, (table, meta) in self._flabels[dataset].items():
            stored = meta.get("data", {})
            for key in ("classes", "fingerprint"):
                if key in data and key in stored and data[key] != stored[key]:
                    raise ValueError(f"F-labels of {encoder!r} were made from other data than the features of "
                                     f"{features_meta.get('model')!r} (their {key} differ); re-run stage 2 on the "
                                     f"same data: {remake(encoder)} --overwrite true")
            out[encoder] = np.delete(table, skipped, axis=0) if skipped and len(table) == data.get("samples") else table
        return out

    def flabel_metas(self, dataset: str) -> dict[str, dict | None]:
        """The stored meta of each F-label encoder of the dataset (None where absent or damaged)."""
        kind = self.task.flabel_kind.value
        out = {}
        for encoder in self.encoders(dataset):
            path = self.store.flabel_paths(dataset, encoder, kind)["meta"]
            try:
                out[encoder] = self.store.load_json_entry(path, kind)
            except CorruptFileError:
                out[encoder] = None
        return out


def input_caveats(task, spec, labels: np.ndarray, flabels: dict[str, np.ndarray]) -> list[str]:
    """Warnings about inputs a metric gives a number for, but a degenerate one: classes of one sample, and
    F-label tables whose rows are all the same."""
    caveats = []
    if task.flabel_kind is FlabelKind.CLASS and spec.needs != Needs.SOURCE_PROBS_LABELS:
        _, counts = np.unique(labels, return_counts=True)
        if len(counts) == len(labels):
            caveats.append("every class has a single sample: there is no within-class spread, so class statistics "
                           "(covariances, Fisher ratios, neighbours) are degenerate; use several samples per class")
        elif (counts == 1).any():
            caveats.append(f"{int((counts == 1).sum())} of {len(counts)} classes have a single sample: their "
                           "within-class spread is zero, which the class statistics cannot estimate")
    for encoder, table in flabels.items():
        if len(table) > 1 and not np.ptp(np.asarray(table, dtype=np.float64), axis=0).any():
            caveats.append(f"the F-label table of {encoder!r} is constant (every row the same): it tells no class or "
                           "sample apart, so a fit onto it scores its best whatever the features")
    return caveats
