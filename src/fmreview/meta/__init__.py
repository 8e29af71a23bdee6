"""Effect-size meta-analysis that agrees with R's metafor (3.8) to the last digits.

No Python package matches metafor (pimeta, PyMARE, statsmodels and PythonMeta each
differ in estimators, stopping rules, intervals or edge cases), so the estimators
here are hand-written after metafor's formulas and stopping rules and checked
against metafor's own output (``benchmarks/metafor_agreement.py``).

Public surface:

* effect sizes: :func:`escalc`, :func:`diagnostic_effects`, :func:`auc_hanley_mcneil`;
  back-transforms under metafor's names (:func:`transf_ztor`, :func:`transf_ilogit`,
  :func:`transf_exp`, :func:`transf_iarcsin`, :func:`transf_ipft_hm`, ...)
* models: :class:`RMA` (EE/FE/DL/HE/HS/HSk/SJ/ML/REML/EB/PM/PMM; z/t/knha/adhoc),
  :func:`confint_tau2`, :class:`MantelHaenszel`, :class:`Peto`, :class:`BivariateDTA`, :class:`BinomialGLMM`,
  :func:`subgroup_analysis`, :func:`design_matrix`, :func:`model_matrix` (R formulas)
* bias and sensitivity: :func:`regtest`, :func:`ranktest`, :func:`trimfill`, :func:`fsn`,
  :func:`leave_one_out`, :func:`influence`, :func:`blup`, :func:`ranef`, :func:`cumulative`
* one call: :func:`meta_analyze` (JSON-serialisable dict), :func:`read_effects_csv`,
  :func:`format_text`, :func:`format_summary` (metafor-like, 80 columns); presets :data:`PRESETS`; plots :func:`forest_plot`, :func:`funnel_plot`
* :class:`MetaWarning` - the warning category for conditions metafor warns about
"""

from __future__ import annotations

from fmreview.meta import transforms as _transforms
from fmreview.meta._common import MetaWarning
from fmreview.meta.analysis import format_text, meta_analyze, read_effects_csv
from fmreview.meta.bias import (
    FailSafeN,
    RankTest,
    RegTest,
    TrimFill,
    fsn,
    ranktest,
    regtest,
    trimfill,
)
from fmreview.meta.bivariate import BivariateDTA
from fmreview.meta.design import design_matrix, model_matrix
from fmreview.meta.escalc import (
    MEASURES,
    auc_hanley_mcneil,
    diagnostic_effects,
    escalc,
    hedges_correction,
)
from fmreview.meta.glmm import BinomialGLMM
from fmreview.meta.heterogeneity import confint_tau2
from fmreview.meta.influence import blup, cumulative, influence, leave_one_out, ranef
from fmreview.meta.mh import MantelHaenszel, Peto
from fmreview.meta.presets import PRESETS, Preset, get_preset
from fmreview.meta.rma import METHODS, RMA, TESTS
from fmreview.meta.subgroups import subgroup_analysis
from fmreview.meta.summary import format_summary
from fmreview.meta.transforms import (
    transf_arcsin as transf_arcsin,
)
from fmreview.meta.transforms import (
    transf_exp as transf_exp,
)
from fmreview.meta.transforms import (
    transf_iarcsin as transf_iarcsin,
)
from fmreview.meta.transforms import (
    transf_ilogit as transf_ilogit,
)
from fmreview.meta.transforms import (
    transf_ipft as transf_ipft,
)
from fmreview.meta.transforms import (
    transf_ipft_hm as transf_ipft_hm,
)
from fmreview.meta.transforms import (
    transf_logit as transf_logit,
)
from fmreview.meta.transforms import (
    transf_rtoz as transf_rtoz,
)
from fmreview.meta.transforms import (
    transf_ztor as transf_ztor,
)


def forest_plot(*args, **kwargs):  # type: ignore[no-untyped-def]
    """Forest plot of a :func:`meta_analyze` result (imports matplotlib lazily)."""
    from fmreview.meta.plots import forest_plot as _f

    return _f(*args, **kwargs)


def funnel_plot(*args, **kwargs):  # type: ignore[no-untyped-def]
    """Funnel plot of a :func:`meta_analyze` result (imports matplotlib lazily)."""
    from fmreview.meta.plots import funnel_plot as _f

    return _f(*args, **kwargs)


__all__ = [
    "MEASURES",
    "METHODS",
    "PRESETS",
    "RMA",
    "TESTS",
    "BinomialGLMM",
    "FailSafeN",
    "RankTest",
    "RegTest",
    "TrimFill",
    "BivariateDTA",
    "MantelHaenszel",
    "MetaWarning",
    "Peto",
    "Preset",
    "auc_hanley_mcneil",
    "blup",
    "confint_tau2",
    "cumulative",
    "design_matrix",
    "diagnostic_effects",
    "escalc",
    "forest_plot",
    "format_summary",
    "format_text",
    "fsn",
    "funnel_plot",
    "get_preset",
    "hedges_correction",
    "influence",
    "leave_one_out",
    "meta_analyze",
    "model_matrix",
    "ranef",
    "ranktest",
    "read_effects_csv",
    "regtest",
    "subgroup_analysis",
    "trimfill",
    # metafor's back-transformation names (transf_exp, transf_ilogit, ...)
    *(name for name in _transforms.__all__ if name.startswith("transf_")),
]
