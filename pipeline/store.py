"""The store: every path under ``results/`` is built here and nowhere else.

Layout (docs/store.md says the same)::

    results/features/<dataset>/<model>_feature.npy   float32 (N, D)
    results/features/<dataset>/<model>_label.npy     int64 (N,)
    results/features/<dataset>/<model>_meta.json     settings the features were made with
    results/features/<dataset>/<model>_source_probs.npy  float32 (N, Z), optional: softmax of the source head (LEEP, NCE)
    results/flabels/<dataset>/<encoder>_class.npy    float32 (C, D2)
    results/flabels/<dataset>/<encoder>_sample.npy   float32 (N, D2): row i describes sample i (captions, answers)
    results/flabels/<dataset>/<encoder>_meta.json    {"class": settings, "sample": settings}: one entry per kind
    results/shards/<dataset>/<model>/rank<r>-of-<W>/  one rank's part of a feature set (torchrun), until joined
    results/scores/<dataset>/<metric>.json           {model: {"score": float, "seconds": float}}
    results/tables/...

Every file is written whole or not at all (temporary name in the same folder, then ``os.replace``).
For a feature set the meta file is written last and is what marks it complete: a run interrupted
before it leaves nothing that :meth:`Store.load_features` would read.
"""
from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.kinds import FlabelKind

_UMASK = os.umask(0)
os.umask(_UMASK)


class MissingInputError(FileNotFoundError):
    """An input a stage needs is not in the store; the message names the file and the command that makes it."""


class SettingsMismatchError(ValueError):
    """Files in the store were made with other settings than the ones requested."""


def _kind(kind) -> str:
    try:
        return FlabelKind(kind).value
    except ValueError:
        raise ValueError(f"F-label kind must be one of {[k.value for k in FlabelKind]}, got {kind!r}") from None


def check_compatible(stored: dict | None, requested: dict, what: str) -> None:
    """The one settings check of the store: raise SettingsMismatchError if `stored` (a meta) differs from
    `requested` on any key both have. Nothing stored: nothing to check."""
    if stored is None:
        return
    differing = {k: (stored[k], v) for k, v in requested.items() if k in stored and stored[k] != v}
    if differing:
        detail = ", ".join(f"{k}: stored {old!r}, requested {new!r}" for k, (old, new) in differing.items())
        raise SettingsMismatchError(f"{what} were made with other settings ({detail}); pass --overwrite to replace "
                                    f"them, or use another --results folder")


def safe_name(name: str) -> str:
    """A model, encoder or dataset name as a file name: 'hf-hub:org/m' -> 'hf-hub_org_m'."""
    cleaned = re.sub(r"[^A-Za-z0-9._+-]+", "_", str(name)).strip("._")
    if not cleaned:
        raise ValueError(f"name {name!r} has no characters usable in a file name")
    return cleaned


def _atomic_write(path: Path, write) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes the file private; results are ordinary files
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def save_npy(path: Path, array: np.ndarray) -> None:
    _atomic_write(Path(path), lambda handle: np.save(handle, array, allow_pickle=False))


def save_json(path: Path, obj: Any) -> None:
    text = json.dumps(obj, indent=2, sort_keys=False, default=_json_default) + "\n"
    _atomic_write(Path(path), lambda handle: handle.write(text.encode()))


def save_text(path: Path, text: str) -> None:
    _atomic_write(Path(path), lambda handle: handle.write(text.encode()))


def save_bytes(path: Path, data: bytes) -> None:
    _atomic_write(Path(path), lambda handle: handle.write(data))


def _json_default(obj):
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"{type(obj).__name__} is not JSON serialisable")


class CorruptFileError(ValueError):
    """A stored file cannot be read (cut short, not JSON, not an array); the message names it and the fix."""


def load_json(path: Path) -> Any:
    try:
        with open(path) as handle:
            return json.load(handle)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise CorruptFileError(f"{path} is damaged ({error}); delete it, or re-run the stage that wrote it with "
                               "--overwrite true") from None


def load_npy(path: Path, mmap: bool = False) -> np.ndarray:
    try:
        return np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
    except (ValueError, OSError, EOFError) as error:
        raise CorruptFileError(f"{path} is damaged ({error}); re-run the stage that wrote it with --overwrite true") \
            from None


class Store:
    """All files the stages read and write, under one results folder."""

    def __init__(self, root: str | os.PathLike = "results"):
        self.root = Path(root)

    @staticmethod
    def load_json_entry(path: Path, key: str):
        """The entry `key` of a JSON file of the store, or None when the file is absent (CorruptFileError when it
        is damaged)."""
        return load_json(path).get(key) if path.exists() else None

    def check_writable(self) -> None:
        """Fail before any work when the results folder cannot be written (a file, no permission)."""
        if self.root.exists() and not self.root.is_dir():
            raise NotADirectoryError(f"--results {self.root} is a file, not a folder; give a folder (made if absent)")
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryFile(dir=self.root):
                pass
        except OSError as error:
            raise PermissionError(f"cannot write to the results folder {self.root} ({error.strerror}); give another "
                                  "--results folder") from None

    # ----- features (stage 1) -----------------------------------------------------------------
    def feature_paths(self, dataset: str, model: str) -> dict[str, Path]:
        folder = self.root / "features" / safe_name(dataset)
        stem = safe_name(model)
        return {
            "feature": folder / f"{stem}_feature.npy",
            "label": folder / f"{stem}_label.npy",
            "meta": folder / f"{stem}_meta.json",
        }

    def has_features(self, dataset: str, model: str) -> bool:
        return all(path.exists() for path in self.feature_paths(dataset, model).values())

    def list_models(self, dataset: str) -> list[str]:
        """Models (names as stored in their meta) with a complete feature set for the dataset, sorted."""
        folder = self.root / "features" / safe_name(dataset)
        metas = []
        for path in sorted(folder.glob("*_meta.json")) if folder.is_dir() else ():
            try:
                metas.append(load_json(path))
            except CorruptFileError:
                continue  # named when its model is loaded
        return sorted(meta["model"] for meta in metas if self.has_features(dataset, meta.get("model", "")))

    def list_datasets(self, task: str | None = None) -> list[str]:
        """Datasets with at least one complete feature set (made by `task`, where given), sorted."""
        folder = self.root / "features"
        found = []
        for path in sorted(folder.iterdir()) if folder.is_dir() else ():
            metas = []
            for meta_path in sorted(path.glob("*_meta.json")):
                try:
                    metas.append(load_json(meta_path))
                except CorruptFileError:
                    continue
            if any(task is None or meta.get("task") == task for meta in metas):
                found.append(metas[0].get("dataset", path.name))
        return found

    def encoder_origins(self) -> dict[str, dict]:
        """{encoder: {"checkpoint", "script"}} of the F-label tables in the store, as their metas record them (so
        that a command can make a dataset's F-labels with the script and checkpoint another dataset's were made
        with); the first table of each encoder counts."""
        found = {}
        for path in sorted((self.root / "flabels").glob("*/*_meta.json")):
            try:
                entries = load_json(path)
            except CorruptFileError:
                continue
            for meta in entries.values() if isinstance(entries, dict) else ():
                if isinstance(meta, dict) and meta.get("encoder"):
                    found.setdefault(meta["encoder"], {"checkpoint": meta.get("checkpoint"),
                                                       "script": meta.get("script")})
        return found

    def features_meta(self, dataset: str, model: str) -> dict | None:
        paths = self.feature_paths(dataset, model)
        return load_json(paths["meta"]) if self.has_features(dataset, model) else None

    def save_features(self, dataset: str, model: str, features: np.ndarray, labels: np.ndarray, meta: dict, *,
                      source_probs: np.ndarray | None = None) -> dict[str, Path]:
        """Write a feature set: features (N, D), labels (N,), the source head's probabilities (N, Z) where the
        model has one (else any old file is removed, so it is never read as this model's), and the meta last."""
        features = np.asarray(features)
        labels = np.asarray(labels)
        if features.ndim != 2 or labels.ndim != 1 or len(features) != len(labels):
            raise ValueError(f"features must be (N, D) and labels (N,); got {features.shape} and {labels.shape}")
        if source_probs is not None and (np.ndim(source_probs) != 2 or len(source_probs) != len(features)):
            raise ValueError(f"source_probs must be (N, Z) with N = {len(features)}; got {np.shape(source_probs)}")
        paths = self.feature_paths(dataset, model)
        paths["meta"].unlink(missing_ok=True)  # the meta marks a complete set: drop it before rewriting
        save_npy(paths["feature"], features.astype(np.float32, copy=False))
        save_npy(paths["label"], labels.astype(np.int64, copy=False))
        probs_path = self.source_probs_path(dataset, model)
        if source_probs is None:
            probs_path.unlink(missing_ok=True)
        else:
            save_npy(probs_path, np.asarray(source_probs, dtype=np.float32))
        meta = {**meta, "model": model, "dataset": dataset, "N": int(features.shape[0]), "D": int(features.shape[1]),
                "source_probs_saved": source_probs is not None}
        save_json(paths["meta"], meta)
        return paths

    def load_features(self, dataset: str, model: str, *, mmap: bool = True,
                      make_command: str | None = None) -> tuple[np.ndarray, np.ndarray, dict]:
        """(features, labels, meta); features memory-mapped float32. Raises MissingInputError or ValueError."""
        paths = self.feature_paths(dataset, model)
        if not self.has_features(dataset, model):
            missing = next(p for p in (paths["meta"], paths["feature"], paths["label"]) if not p.exists())
            command = make_command or "stage 1 (a forward_feature_*.py script)"
            raise MissingInputError(f"missing {missing} (features of model {model!r} on dataset {dataset!r}); "
                                    f"make it with: {command}")
        features = load_npy(paths["feature"], mmap)
        labels = load_npy(paths["label"])
        meta = load_json(paths["meta"])
        if features.ndim != 2 or len(features) != len(labels):
            raise ValueError(f"{paths['feature']} holds {features.shape} features but {paths['label']} holds "
                             f"{labels.shape} labels; re-extract with --overwrite")
        return features, labels, meta

    def source_probs_path(self, dataset: str, model: str) -> Path:
        return self.feature_paths(dataset, model)["feature"].with_name(f"{safe_name(model)}_source_probs.npy")

    def load_source_probs(self, dataset: str, model: str) -> np.ndarray | None:
        """The stored source probabilities, or None where the model has no source head (or none was saved)."""
        path = self.source_probs_path(dataset, model)
        return load_npy(path) if path.exists() and self.has_features(dataset, model) else None

    def check_settings(self, dataset: str, model: str, requested: dict) -> None:
        """Raise SettingsMismatchError if the stored features of `model` differ from `requested`."""
        check_compatible(self.features_meta(dataset, model), requested,
                         f"features of {model!r} on {dataset!r} in {self.feature_paths(dataset, model)['meta'].parent}")

    # ----- stage 1 in parts (torchrun): one shard per rank, joined by rank 0 ---------------------
    def shard_folder(self, dataset: str, model: str) -> Path:
        """results/shards/<dataset>/<model>/: the parts of a feature set being made by several processes."""
        return self.root / "shards" / safe_name(dataset) / safe_name(model)

    def remove_shards(self, dataset: str, model: str) -> None:
        """Remove a joined feature set's parts, and the folders above them that are left empty."""
        import shutil

        folder = self.shard_folder(dataset, model)
        shutil.rmtree(folder, ignore_errors=True)
        for parent in (folder.parent, folder.parent.parent):   # results/shards/<dataset>/, results/shards/
            try:
                parent.rmdir()
            except OSError:
                break   # not empty (other parts), or gone

    def shard_paths(self, dataset: str, model: str, rank: int, world_size: int) -> dict[str, Path]:
        """One rank's part: its folder (arrays named ``<stored name>_feature.npy``, ``..._source_probs.npy``),
        the sample indices it read, and its meta (written last: the part is finished once it exists)."""
        folder = self.shard_folder(dataset, model) / f"rank{rank}-of-{world_size}"
        return {"folder": folder, "kept": folder / "kept.npy", "meta": folder / "meta.json"}

    # ----- F-labels (stage 2) -----------------------------------------------------------------
    def flabel_paths(self, dataset: str, encoder: str, kind: str) -> dict[str, Path]:
        kind = _kind(kind)
        folder = self.root / "flabels" / safe_name(dataset)
        stem = safe_name(encoder)
        return {"flabel": folder / f"{stem}_{kind}.npy", "meta": folder / f"{stem}_meta.json"}

    def has_flabels(self, dataset: str, encoder: str, kind: str) -> bool:
        kind = _kind(kind)
        paths = self.flabel_paths(dataset, encoder, kind)
        return paths["flabel"].exists() and kind in self._flabel_metas(paths["meta"])

    @staticmethod
    def _flabel_metas(path: Path) -> dict:
        """The meta file of an encoder holds one entry per kind ({"class": {...}, "sample": {...}}), so the
        class and per-sample F-labels of one dataset never overwrite each other's settings."""
        return load_json(path) if path.exists() else {}

    def save_flabels(self, dataset: str, encoder: str, kind: str, flabels: np.ndarray, meta: dict) -> dict[str, Path]:
        kind = _kind(kind)
        flabels = np.asarray(flabels)
        if flabels.ndim != 2:
            raise ValueError(f"F-labels must be 2-D (rows, width); got shape {flabels.shape}")
        paths = self.flabel_paths(dataset, encoder, kind)
        metas = self._flabel_metas(paths["meta"])
        if metas.pop(kind, None) is not None:  # the meta entry marks a complete table: drop it before rewriting
            save_json(paths["meta"], metas)
        save_npy(paths["flabel"], flabels.astype(np.float32, copy=False))
        metas[kind] = {**meta, "encoder": encoder, "dataset": dataset, "kind": kind,
                       "rows": int(flabels.shape[0]), "dim": int(flabels.shape[1])}
        save_json(paths["meta"], metas)
        return paths

    def load_flabels(self, dataset: str, encoder: str, kind: str, *,
                     make_command: str | None = None) -> tuple[np.ndarray, dict]:
        kind = _kind(kind)
        paths = self.flabel_paths(dataset, encoder, kind)
        if not self.has_flabels(dataset, encoder, kind):
            command = make_command or "stage 2 (a Label_embedding/ script)"
            raise MissingInputError(f"missing {paths['flabel']} ({kind} F-labels of encoder {encoder!r} on "
                                    f"dataset {dataset!r}); make it with: {command}")
        return load_npy(paths["flabel"]), self._flabel_metas(paths["meta"])[kind]

    def list_flabel_encoders(self, dataset: str, kind: str) -> list[str]:
        """Encoders (file stems) with complete F-labels of this kind for the dataset, sorted."""
        kind = _kind(kind)
        folder = self.root / "flabels" / safe_name(dataset)
        suffix = f"_{kind}.npy"
        stems = sorted(p.name[: -len(suffix)] for p in folder.glob(f"*{suffix}")) if folder.is_dir() else []
        return [s for s in stems if kind in self._flabel_metas(folder / f"{s}_meta.json")]

    # ----- scores and tables (stage 3) --------------------------------------------------------
    def scores_path(self, dataset: str, metric: str) -> Path:
        return self.root / "scores" / safe_name(dataset) / f"{safe_name(metric)}.json"

    def load_scores(self, dataset: str, metric: str) -> dict[str, dict]:
        path = self.scores_path(dataset, metric)
        return load_json(path) if path.exists() else {}

    def save_scores(self, dataset: str, metric: str, scores: dict[str, dict]) -> Path:
        """Merge {model: {"score", "seconds", ...}} into the stored scores of this metric and dataset. The
        read-merge-write holds a file lock, so two stage-3 runs sharing a results folder lose no entry."""
        path = self.scores_path(dataset, metric)
        with self._lock(path):
            save_json(path, {**self.load_scores(dataset, metric), **scores})
        return path

    def drop_scores(self, dataset: str, metric: str, models) -> None:
        """Forget the stored scores of these models (their inputs changed and re-scoring failed)."""
        path = self.scores_path(dataset, metric)
        if not path.exists():
            return
        with self._lock(path):
            scores = self.load_scores(dataset, metric)
            kept = {model: entry for model, entry in scores.items() if model not in set(models)}
            if len(kept) < len(scores):
                save_json(path, kept)

    @staticmethod
    def _lock(path: Path):
        from filelock import FileLock

        path.parent.mkdir(parents=True, exist_ok=True)
        return FileLock(str(path.with_name(f".{path.name}.lock")), timeout=600)

    def table_path(self, name: str) -> Path:
        """results/tables/<name>; `name` may hold sub-folders ('cifar10/emms.png')."""
        parts = [safe_name(part) for part in Path(name).parts]
        return self.root.joinpath("tables", *parts)

    # ----- stage 0: fine-tuning progress ------------------------------------------------------
    def finetune_progress_path(self, zoo: str) -> Path:
        """results/finetune/<zoo>_progress.json: stage 0's finished candidates, so a rerun resumes."""
        return self.root / "finetune" / f"{safe_name(zoo)}_progress.json"
