"""The tasks, registered where they are defined (``register(MyTask())`` at the end of the task's module).

``get("classification")`` returns the task; :data:`BUILTIN` lists the modules loaded on first use. A task of
your own registers itself when its module is imported (see docs/extending.md).
"""
from __future__ import annotations

import importlib

from pipeline.tasks.base import Candidate, FeatureModel, FlabelKind, Samples, Task

BUILTIN = ("classification", "captioning", "vqa", "tqa", "rec")
_TASKS: dict[str, Task] = {}


def register(task: Task) -> Task:
    if not task.name:
        raise ValueError(f"{type(task).__name__} has no name")
    _TASKS[task.name] = task
    return task


def get(name: str) -> Task:
    _load_builtin()
    if name not in _TASKS:
        raise ValueError(f"unknown task {name!r}; known: {', '.join(sorted(_TASKS))}")
    return _TASKS[name]


def names() -> list[str]:
    _load_builtin()
    return sorted(_TASKS)


def _load_builtin() -> None:
    for module in BUILTIN:
        importlib.import_module(f"pipeline.tasks.{module}")


__all__ = ["BUILTIN", "Candidate", "FeatureModel", "FlabelKind", "Samples", "Task", "get", "names", "register"]
