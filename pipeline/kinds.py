"""The closed vocabularies of the pipeline, as enums in a module that imports nothing of the project.

``str`` enums: a member equals its string (``FlabelKind.CLASS == "class"``), so stored JSON and old callers that
pass the plain string keep working, and ``FlabelKind("sample")`` turns a stored string back into the member.
"""
from __future__ import annotations

from enum import Enum


class FlabelKind(str, Enum):
    """What one row of an F-label table describes."""
    CLASS = "class"    # one row per class; the features carry integer class labels (classification, VQA)
    SAMPLE = "sample"  # one row per sample, aligned with the features' rows (captioning, text QA, grounding)

    def __str__(self) -> str:
        return self.value


class Cell(str, Enum):
    """What a stage-3 cell scores: one model, or the whole zoo at once (NCTI, ETran)."""
    MODEL = "model"
    ZOO = "zoo"

    def __str__(self) -> str:
        return self.value


class Outcome(str, Enum):
    """How a cell ended; the counts of a stage-3 run are kept per member."""
    SCORED = "scored"
    SKIPPED = "skipped"                 # already scored from the same inputs
    FAILED = "failed"
    NOT_APPLICABLE = "not applicable"   # e.g. LEEP for a model without a source head

    def __str__(self) -> str:
        return self.value


class ProblemKind(str, Enum):
    """What a line of stage 3's "notes and problems" is about."""
    MISSING_FEATURES = "missing features"
    MISSING_INPUT = "missing input"
    BAD_INPUT = "bad input"
    DIFFERENT_SAMPLES = "different samples"
    FAILED = "failed"
    NOT_APPLICABLE = "not applicable"
    WARNING = "warning"
    NOTE = "note"
    NO_GROUND_TRUTH = "no ground truth"
    CORRELATION = "correlation"

    def __str__(self) -> str:
        return self.value
