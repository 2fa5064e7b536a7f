"""Stage 3, the commands that make what is missing: the task's stage-1 and stage-2 commands (built by the task
from the settings the store records), with ``--results`` where the run does not use the default folder."""
from __future__ import annotations

import shlex
from pathlib import Path

from pipeline import defaults
from pipeline.evaluate.inputs import Inputs
from pipeline.evaluate.plan import Plan


class Hints:
    def __init__(self, plan: Plan, inputs: Inputs):
        self.plan, self.task, self.inputs = plan, plan.task, inputs
        self._checkpoints: dict[str, str] | None = None

    def stage1(self, dataset: str, models: list[str], meta: dict | None = None) -> str:
        """The stage-1 command that makes the features of the stored names `models` on `dataset`."""
        networks = [self.plan.network_of(model) for model in models]
        meta = meta if meta is not None else self.inputs.any_meta(dataset)
        return self._with_results(self.task.stage1_command(dataset, networks, meta))

    def stage2(self, dataset: str, encoder: str | None = None) -> str:
        """The stage-2 command that makes the dataset's F-labels, with --model of `encoder` (or of any encoder
        stored in the folder) where the store records its checkpoint, so that the command works as printed."""
        if self._checkpoints is None:
            self._checkpoints = self.plan.store.encoder_checkpoints()
        name = encoder if encoder in self._checkpoints else next(iter(self._checkpoints), None)
        checkpoint = self._checkpoints.get(name) if name else None
        backend = "clip" if name and name.startswith("clip_") and "clip" in self.task.stage2_scripts else "bert"
        command = self.task.stage2_command(dataset, self.inputs.any_meta(dataset), backend=backend,
                                           model=checkpoint)
        return self._with_results(command)

    def _with_results(self, command: str) -> str:
        results = Path(self.plan.settings.results)
        if results.resolve() == defaults.RESULTS.resolve():
            return command
        return f"{command} --results {shlex.quote(str(results))}"
