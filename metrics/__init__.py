"""Transferability metrics: numpy arrays in, one float out (higher = more transferable).

No torch import is needed and nothing here reads or writes files. ``METRICS`` maps each name to a
:class:`~metrics.registry.MetricSpec` that says which inputs the metric needs.
"""
from metrics.emms import emms
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
from metrics.registry import MetricSpec
from metrics.sfda import sfda
from metrics.transrate import transrate

METRICS: dict[str, MetricSpec] = {spec.name: spec for spec in (
    MetricSpec("emms", emms, "features+flabels", ("classes", "real"),
               description="EMMS: weighted least squares from features onto foundation-model F-labels"),
    MetricSpec("logme", logme, "features+labels", ("classes", "real"),
               description="LogME: log marginal evidence of Bayesian linear regression"),
    MetricSpec("leep", leep, "source_probs+labels", description="LEEP: log expected empirical prediction"),
    MetricSpec("nce", nce, "source_probs+labels", description="NCE: negative conditional entropy"),
    MetricSpec("nleep", nleep, "features+labels", description="N-LEEP: LEEP on a Gaussian mixture of PCA features"),
    MetricSpec("hscore", hscore, "features+labels", description="H-score"),
    MetricSpec("reg_hscore", reg_hscore, "features+labels", description="H-score with Ledoit-Wolf shrinkage"),
    MetricSpec("transrate", transrate, "features+labels", description="TransRate: coding-rate mutual information"),
    MetricSpec("gbc", gbc, "features+labels", defaults={"pca_dim": 64},
               description="GBC: Gaussian Bhattacharyya coefficient between classes"),
    MetricSpec("sfda", sfda, "features+labels", description="SFDA: self-challenging Fisher discriminant analysis"),
    MetricSpec("parc", parc, "features+labels", description="PARC: pairwise annotation representation comparison"),
    MetricSpec("knn", knn, "features+labels", description="leave-one-out k-NN accuracy on cosine similarity"),
    MetricSpec("ncti", ncti, "zoo+labels", description="NCTI: neural collapse transferability index (zoo-relative)"),
    MetricSpec("etran", etran, "zoo+labels", description="ETran: energy + LDA + spectral (zoo-relative)"),
)}

__all__ = ["METRICS", "MetricSpec", "emms", "etran", "gbc", "hscore", "reg_hscore", "knn", "leep", "logme",
           "nce", "ncti", "nleep", "parc", "sfda", "transrate"]
