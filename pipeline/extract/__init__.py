"""Stage 1 of every task: run the candidates over a dataset's samples and store what they see.

:func:`run_batches` is the one loop: a DataLoader in fixed order, ``torch.inference_mode``, batches moved to
the device, optional bf16 autocast, a tqdm bar with the rate, and ``forward(batch)`` returning a dict
``{name: tensor (B, ...)}`` or a tuple of such dicts, gathered on the CPU as float32 arrays. It knows nothing of
models or files.

:func:`extract_candidate` runs one :class:`pipeline.tasks.Candidate` on a task's
:class:`pipeline.tasks.Samples` and writes, through :class:`pipeline.store.Store`, each stored name's
``<model>_feature.npy`` (float32 (N, D), row i = sample i of the fixed order), ``<model>_label.npy`` and, where
the candidate has a source head, ``<model>_source_probs.npy``; the meta file comes last and marks the set
complete, so an interrupted run leaves nothing a later stage reads. A stored name whose files exist is skipped
(after checking that they were made with the requested settings: :class:`pipeline.store.SettingsMismatchError`
otherwise) unless ``overwrite``. :func:`run_stage1` is the stage script of every task. Under ``torchrun``,
each process runs its part of the samples and rank 0 joins the parts (:mod:`pipeline.extract.distributed`).
"""
from pipeline.extract.candidate import extract_candidate
from pipeline.extract.loop import (BadSample, forward_samples, make_loader, memory_format, pick_device, run_batches,
                                   to_device)
from pipeline.extract.saving import ExtractResult, requested_settings, save_candidate, versions
from pipeline.extract.stage import OPTIONS, check_arguments, main, run_stage1

__all__ = ["OPTIONS", "BadSample", "ExtractResult", "check_arguments", "extract_candidate", "forward_samples", "main",
           "make_loader", "memory_format", "pick_device", "requested_settings", "run_batches", "run_stage1",
           "save_candidate", "to_device", "versions"]
