"""Transferability metrics: numpy arrays in, one float out (higher = more transferable).

No torch import is needed and nothing here reads or writes files. ``METRICS`` maps each name to a
:class:`~metrics.registry.MetricSpec` that says which inputs the metric needs (:class:`Needs`) and which
label formats it takes (:class:`Target`). Every caveat a metric raises is a :class:`MetricWarning`. The
contract every metric follows is in docs/metrics.md.
"""
from metrics._warnings import MetricWarning
from metrics.cell import score_cell
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


def _emms_details(*args, **kwargs) -> tuple[float, dict]:
    """EMMS's score and the weight λ of each F-label table (which F-labels carried the score)."""
    fit = emms_fit(*args, **kwargs)
    return fit.score, {"flabel_weights": [float(weight) for weight in fit.weights]}


DENSE = ("device", "precision")   # the options of a metric whose dense products may run in torch or float32
METRICS: dict[str, MetricSpec] = {spec.name: spec for spec in (
    MetricSpec("emms", emms, Needs.FEATURES_FLABELS, (Target.CLASSES, Target.REAL),
               description="EMMS: weighted least squares from features onto foundation-model F-labels",
               options=("solver", "ridge", "max_iter", "tol", *DENSE), takes_device=True,
               saturates_when_n_le_d=True, saturation_cured_by=("ridge",), details=_emms_details),
    MetricSpec("logme", logme, Needs.FEATURES_LABELS, (Target.CLASSES, Target.REAL),
               description="LogME: log marginal evidence of Bayesian linear regression",
               options=("regression", "tol", "max_iter", *DENSE), takes_device=True, takes_regression=True),
    MetricSpec("leep", leep, Needs.SOURCE_PROBS_LABELS, description="LEEP: log expected empirical prediction"),
    MetricSpec("nce", nce, Needs.SOURCE_PROBS_LABELS, description="NCE: negative conditional entropy"),
    MetricSpec("nleep", nleep, Needs.FEATURES_LABELS, description="N-LEEP: LEEP on a Gaussian mixture of PCA features",
               options=("components_per_class", "pca_variance", "seed", "covariance_type", "max_fit_samples",
                        "em_precision")),
    MetricSpec("hscore", hscore, Needs.FEATURES_LABELS, description="H-score", options=DENSE, takes_device=True,
               saturates_when_n_le_d=True),
    MetricSpec("reg_hscore", reg_hscore, Needs.FEATURES_LABELS, description="H-score with Ledoit-Wolf shrinkage",
               options=DENSE, takes_device=True, saturates_when_n_le_d=True),
    MetricSpec("transrate", transrate, Needs.FEATURES_LABELS, description="TransRate: coding-rate mutual information",
               options=("eps", *DENSE), takes_device=True, saturates_when_n_le_d=True),
    MetricSpec("gbc", gbc, Needs.FEATURES_LABELS, defaults={"pca_dim": 64},
               description="GBC: Gaussian Bhattacharyya coefficient between classes",
               options=("gaussian", "pca_dim", "published_spherical")),
    MetricSpec("sfda", sfda, Needs.FEATURES_LABELS, description="SFDA: self-challenging Fisher discriminant analysis",
               saturates_when_n_le_d=True),
    MetricSpec("parc", parc, Needs.FEATURES_LABELS, description="PARC: pairwise annotation representation comparison",
               options=("pca_dim", "max_samples", "seed")),
    MetricSpec("knn", knn, Needs.FEATURES_LABELS, description="leave-one-out k-NN accuracy on cosine similarity",
               options=("k", "max_queries", "seed")),
    MetricSpec("ncti", ncti, Needs.ZOO_LABELS, description="NCTI: neural collapse transferability index (zoo-relative)"),
    MetricSpec("etran", etran, Needs.ZOO_LABELS, description="ETran: energy + LDA classification scores (zoo-relative)",
               options=("published_lda",)),
)}

__all__ = ["METRICS", "EmmsFit", "MetricSpec", "MetricWarning", "Needs", "Target", "emms", "emms_fit", "etran",
           "gbc", "hscore", "reg_hscore", "knn", "leep", "logme", "nce", "ncti", "nleep", "parc", "score_cell",
           "sfda", "transrate"]
