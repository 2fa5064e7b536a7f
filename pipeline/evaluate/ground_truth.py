"""Published fine-tuning results (the ground truth a transferability metric is correlated with).

A ground-truth file is JSON with the keys ``zoo`` (name), ``task`` (the task it measures; a file without it is taken
for any task), ``description``, ``source`` (where the numbers were published), ``measure`` ({dataset: what the
number is}) and ``finetune`` ({dataset: {model: value}}, higher is better). The project ships the published tables
under ``data/ground_truth/``; a registered zoo names its file (:class:`pipeline.tasks.Zoo`), and a ground truth is
found by task and zoo, so that two tasks' zoos never read each other's results. A user's own file in the same format
(e.g. written by ``finetune.py``) is loaded by its path."""
from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

from pipeline import defaults

GROUND_TRUTH_DIR = defaults.REPO_ROOT / "data" / "ground_truth"


@dataclass(frozen=True)
class GroundTruth:
    zoo: str
    finetune: dict[str, dict[str, float]]
    task: str | None = None   # the task whose results these are; None: not said (a user's own file)
    description: str = ""
    source: str = ""
    measure: dict[str, str] = field(default_factory=dict)
    path: str = ""

    @property
    def datasets(self) -> list[str]:
        return list(self.finetune)

    def dataset_key(self, dataset: str) -> str | None:
        """The key of `dataset` in this file: exact, else the only case-insensitive match, else None."""
        if dataset in self.finetune:
            return dataset
        matches = [key for key in self.finetune if key.lower() == dataset.lower()]
        return matches[0] if len(matches) == 1 else None

    def for_dataset(self, dataset: str) -> dict[str, float] | None:
        """{model: fine-tuned result} on `dataset`, or None where this file has no such dataset."""
        key = self.dataset_key(dataset)
        return None if key is None else self.finetune[key]


def available_zoos() -> list[str]:
    return sorted(path.stem for path in GROUND_TRUTH_DIR.glob("*.json"))


def resolve(zoo_or_path: str | os.PathLike) -> Path | None:
    """The file for a zoo name or a path; None for a zoo name without a shipped ground truth."""
    text = str(zoo_or_path)
    if text.endswith(".json") or os.sep in text or Path(text).is_file():
        path = Path(text).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"ground-truth file {path} does not exist; "
                                    f"shipped zoos: {', '.join(available_zoos())}")
        return path
    path = GROUND_TRUTH_DIR / f"{text}.json"
    return path if path.is_file() else None


def load_ground_truth(zoo_or_path: str | os.PathLike, task: str | None = None) -> GroundTruth | None:
    """Load and validate a ground truth by zoo name (``"cnn_supervised"``) or file path; with `task`, a zoo name
    is looked up among that task's ground truths (a file of another task is an error, not a match).

    Returns None for a zoo name that has no shipped file (a zoo without published results); raises
    FileNotFoundError for a path that does not exist and ValueError for a file in the wrong format."""
    path = resolve(zoo_or_path)
    if path is None:
        return None
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise ValueError(f"ground-truth file {path} is not valid JSON: {error}") from None
    truth = validate(data, str(path))
    if task is not None and truth.task not in (None, task):
        raise ValueError(f"ground truth {path} measures the {truth.task} task, not {task}; pass --ground-truth a "
                         f"file of {task} results")
    return truth


def validate(data, where: str = "ground truth") -> GroundTruth:
    """A GroundTruth from the parsed JSON; ValueError naming the first problem and the expected format."""
    expected = ('expected {"zoo": name, "description": text, "source": text, "measure": {dataset: text}, '
                '"finetune": {dataset: {model: number}}}')
    if not isinstance(data, dict):
        raise ValueError(f"{where}: the top level must be a JSON object; {expected}")
    if "finetune" not in data:
        raise ValueError(f"{where}: no 'finetune' key; {expected}")
    finetune = data["finetune"]
    if not isinstance(finetune, dict) or not finetune:
        raise ValueError(f"{where}: 'finetune' must be a non-empty object {{dataset: {{model: number}}}}")
    clean = {}
    for dataset, results in finetune.items():
        if not isinstance(results, dict) or not results:
            raise ValueError(f"{where}: finetune[{dataset!r}] must be a non-empty object {{model: number}}")
        for model, value in results.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ValueError(f"{where}: finetune[{dataset!r}][{model!r}] must be a finite number, got {value!r}")
        clean[str(dataset)] = {str(m): float(v) for m, v in results.items()}
    for key in ("zoo", "task", "description", "source"):
        if key in data and not isinstance(data[key], str):
            raise ValueError(f"{where}: {key!r} must be a string, got {type(data[key]).__name__}")
    measure = data.get("measure", {})
    if not isinstance(measure, dict):
        raise ValueError(f"{where}: 'measure' must be an object {{dataset: text}}")
    zoo = data.get("zoo") or Path(where).stem
    return GroundTruth(zoo=zoo, finetune=clean, task=data.get("task"),
                       description=data.get("description", ""),
                       source=data.get("source", ""), measure={str(k): str(v) for k, v in measure.items()},
                       path=where)
