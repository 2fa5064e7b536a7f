"""The flags of a stage script: its own constants, the settings its stage shares with the other scripts of that
stage, and its task's settings, each declared once (:class:`pipeline.cli.Option`) and listed by ``--help`` in
those three groups.

A stage script names its task with the constant ``TASK`` (also the flag ``--task``: any registered task, or the
module of a task of your own); :func:`parse` finds the task first, then parses every flag.
"""
from __future__ import annotations

import argparse
from typing import Callable, Mapping, Sequence

from pipeline import cli, tasks


def parse(constants: Mapping, argv: Sequence[str] | None, *, stage: str, options: Sequence[cli.Option],
          task_options: Callable[[tasks.Task], Sequence[cli.Option]],
          types: Mapping[str, Callable[[str], object]] | None = None) -> tuple[tasks.Task, argparse.Namespace]:
    """(task, args) of a stage script: `options` are the stage's shared settings, ``task_options(task)`` the
    task's."""
    chooser = argparse.ArgumentParser(add_help=False)
    chooser.add_argument("--task", default=constants.get("TASK"))
    chosen = chooser.parse_known_args(argv)[0].task
    try:
        task = tasks.get(chosen)
    except ValueError as error:
        raise SystemExit(f"error: --task: {error}") from None
    groups = [(f"{stage} (every {stage} script)", list(options)),
              (f"task {task.name} (every stage of it)", list(task_options(task)))]
    return task, cli.parse(constants, constants.get("__doc__"), argv, types=types, options=groups)
