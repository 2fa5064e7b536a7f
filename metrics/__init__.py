"""Transferability metrics: numpy arrays in, one float out (higher = more transferable).

No torch import is needed and nothing here reads or writes files. ``METRICS`` maps each name to a
:class:`~metrics.registry.MetricSpec` that says which inputs the metric needs (:class:`Needs`) and which
label formats it takes (:class:`Target`). Every caveat a metric raises is a :class:`MetricWarning`. The
contract every metric follows is in docs/metrics.md.
"""
from metrics._warnings import MetricWarning
from metrics.emms import EmmsFit, emms, emms_fit
from metrics.etran import etran
from metrics.gbc import gbc
from metrics.hscore import hscore, reg_hscore
from metrics.knn import knn
from metrics.leep import leep
from metrics.logme import logme
from metrics.nce import nce
from metrics.ncti import ncti
from metrics.nleep import nleep
from metrics.parc import parc
from metrics.registry import MetricSpec, Needs, Target
from metrics.sfda import sfda
from metrics.transrate import transrate

METRICS: dict[str, MetricSpec] = {spec.name: spec for spec in (
    MetricSpec("emms", emms, Needs.FEATURES_FLABELS, (Target.CLASSES, Target.REAL),
               description="EMMS: weighted least squares from features onto foundation-model F-labels"),
    MetricSpec("logme", logme, Needs.FEATURES_LABELS, (Target.CLASSES, Target.REAL),
               description="LogME: log marginal evidence of Bayesian linear regression"),
    MetricSpec("leep", leep, Needs.SOURCE_PROBS_LABELS, description="LEEP: log expected empirical prediction"),
    MetricSpec("nce", nce, Needs.SOURCE_PROBS_LABELS, description="NCE: negative conditional entropy"),
    MetricSpec("nleep", nleep, Needs.FEATURES_LABELS, description="N-LEEP: LEEP on a Gaussian mixture of PCA features"),
    MetricSpec("hscore", hscore, Needs.FEATURES_LABELS, description="H-score"),
    MetricSpec("reg_hscore", reg_hscore, Needs.FEATURES_LABELS, description="H-score with Ledoit-Wolf shrinkage"),
    MetricSpec("transrate", transrate, Needs.FEATURES_LABELS, description="TransRate: coding-rate mutual information"),
    MetricSpec("gbc", gbc, Needs.FEATURES_LABELS, defaults={"pca_dim": 64},
               description="GBC: Gaussian Bhattacharyya coefficient between classes"),
    MetricSpec("sfda", sfda, Needs.FEATURES_LABELS, description="SFDA: self-challenging Fisher discriminant analysis"),
    MetricSpec("parc", parc, Needs.FEATURES_LABELS, description="PARC: pairwise annotation representation comparison"),
    MetricSpec("knn", knn, Needs.FEATURES_LABELS, description="leave-one-out k-NN accuracy on cosine similarity"),
    MetricSpec("ncti", ncti, Needs.ZOO_LABELS, description="NCTI: neural collapse transferability index (zoo-relative)"),
    MetricSpec("etran", etran, Needs.ZOO_LABELS, description="ETran: energy + LDA classification scores (zoo-relative)"),
)}

__all__ = ["METRICS", "EmmsFit", "MetricSpec", "MetricWarning", "Needs", "Target", "emms", "emms_fit", "etran",
           "gbc", "hscore", "reg_hscore", "knn", "leep", "logme", "nce", "ncti", "nleep", "parc", "sfda",
           "transrate"]
