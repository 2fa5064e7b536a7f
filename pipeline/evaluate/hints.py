"""Stage 3, the commands that make what is missing: the task's stage-1 and stage-2 commands (built by the task
from the settings the store records), with ``--results`` where the run does not use the default folder."""
from __future__ import annotations

import shlex
from pathlib import Path

from pipeline import defaults
from pipeline.models import hub
from pipeline.models.names import BUNDLED_TEXT
from pipeline.evaluate.inputs import Inputs
from pipeline.evaluate.plan import Plan


class Hints:
    def __init__(self, plan: Plan, inputs: Inputs):
        self.plan, self.task, self.inputs = plan, plan.task, inputs
        self._origins: dict[str, dict] | None = None

    def stage1(self, dataset: str, models: list[str], meta: dict | None = None) -> str:
        """The stage-1 command that makes the features of the stored names `models` on `dataset`."""
        networks = [self.plan.network_of(model) for model in models]
        meta = meta if meta is not None else self.inputs.any_meta(dataset)
        return self._with_results(self.task.stage1_command(dataset, networks, meta))

    def stage2(self, dataset: str, encoder: str | None = None) -> str:
        """The stage-2 command that makes the dataset's F-labels of `encoder` (or of any encoder stored in the
        folder): the script and the checkpoint its stored F-labels were made with, so that the command works as
        printed (the box F-labels of referring expressions by their own script, with no model); with no encoder in
        the store and the hub out of reach, the bundled MiniLM."""
        if self._origins is None:
            self._origins = self.plan.store.encoder_origins()
        name = encoder if encoder in self._origins else next(iter(self._origins), None)
        origin = self._origins.get(name, {}) if name else {}
        model = origin.get("checkpoint") or (None if name or not hub.use_cache_only() else BUNDLED_TEXT)
        command = self.task.stage2_command(dataset, self.inputs.any_meta(dataset),
                                           script=self._script(origin.get("script"), name), model=model)
        return self._with_results(command)

    def _script(self, recorded: str | None, encoder: str | None) -> str:
        """The task's stage-2 script of the same kind as the one that made an encoder's F-labels (CLIP, GPT-2,
        BERT-like, box), found by the recorded script's name or, for older F-labels, the encoder's."""
        scripts = self.task.stage2_scripts
        if recorded in scripts.values():
            return recorded
        hint = Path(recorded or encoder or "").name
        for backend in ("box", "clip", "gpt2"):
            if backend in scripts and hint.startswith(backend):
                return scripts[backend]
        return scripts["bert"]

    def _with_results(self, command: str) -> str:
        results = Path(self.plan.settings.results)
        if results.resolve() == defaults.RESULTS.resolve():
            return command
        return f"{command} --results {shlex.quote(str(results))}"
