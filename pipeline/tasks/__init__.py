"""The tasks: each a package ``pipeline/tasks/<task>/`` that registers itself where it is defined.

``get("classification")`` returns a task. The packages under ``pipeline/tasks/`` are found and loaded on first
use, so a new task in the repository is one new package and touches no other file; a task outside it is named by
its module (``--task my_project.my_task``, importable: imported, and the task it registers is used). See
docs/extending.md.
"""
from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

from pipeline.tasks.base import (Candidate, FeatureModel, Samples, Task, Zoo, find_zoo, register, register_zoo,
                                 registered_tasks, zoo, zoos)
from pipeline.kinds import FlabelKind


def get(name: str) -> Task:
    """The task registered as `name`; otherwise the module `name` is imported and the task it registers is it."""
    _load_builtin()
    tasks = registered_tasks()
    if name in tasks:
        return tasks[name]
    try:
        importlib.import_module(str(name))
    except ImportError:
        raise ValueError(f"unknown task {name!r}; known: {', '.join(sorted(tasks))} (or an importable module that "
                         "registers one)") from None
    found = [task for task in tasks.values() if type(task).__module__.startswith(str(name))]
    if len(found) != 1:
        raise ValueError(f"module {name!r} registers {len(found)} tasks; --task takes a task's name or the module "
                         "of exactly one")
    return found[0]


def names() -> list[str]:
    _load_builtin()
    return sorted(registered_tasks())


def _load_builtin() -> None:
    for found in pkgutil.iter_modules([str(Path(__file__).parent)]):
        if found.ispkg:
            importlib.import_module(f"{__name__}.{found.name}")


__all__ = ["Candidate", "FeatureModel", "FlabelKind", "Samples", "Task", "Zoo", "find_zoo", "get", "names",
           "register", "register_zoo", "zoo", "zoos"]
