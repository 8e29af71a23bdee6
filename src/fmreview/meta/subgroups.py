"""Subgroup analysis: a model per subgroup and the test for subgroup differences.

Two tests are reported, as in metafor's documentation and the Cochrane Handbook:

* ``between`` - separate tau^2 per subgroup: ``Q_b = sum_g w_g (b_g - b_w)^2`` with
  ``w_g = 1/se_g^2`` and ``b_w`` their weighted mean, chi^2 with G-1 df (RevMan's
  "test for subgroup differences");
* ``moderator`` - a common tau^2: the subgroup factor as moderator in one
  meta-regression, its omnibus test QM (chi^2 or F, by the model's test).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats

from fmreview.errors import FmreviewError, InputError
from fmreview.meta.design import design_matrix
from fmreview.meta.rma import RMA, MetaWarning

__all__ = ["subgroup_analysis"]


def subgroup_analysis(
    yi: ArrayLike,
    vi: ArrayLike,
    groups: Sequence[Any],
    *,
    method: str = "REML",
    test: str = "z",
    level: float = 95.0,
    control: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Fit one model per subgroup and test for differences between subgroups.

    Returns ``{"groups": {level: RMA | error message}, "between": {...}, "moderator": {...}}``;
    studies with a missing group label are left out (and counted in ``"missing"``).
    """
    y = np.asarray(yi, dtype=float)
    v = np.asarray(vi, dtype=float)
    g = [
        None if (x is None or (isinstance(x, float) and math.isnan(x)) or x == "") else str(x)
        for x in groups
    ]
    if len(g) != y.size:
        raise InputError(
            f"{len(g)} subgroup labels for {y.size} effects; give one label per effect"
        )
    levels = sorted({x for x in g if x is not None})
    if len(levels) < 2:
        raise InputError(f"subgroup analysis needs at least two subgroups; found {levels}")
    fits: dict[str, RMA | str] = {}
    for lev in levels:
        idx = np.array([x == lev for x in g])
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", MetaWarning)
                fits[lev] = RMA(method=method, test=test, level=level, control=control).fit(
                    y[idx], v[idx]
                )
        except FmreviewError as exc:
            fits[lev] = str(exc)
    ok = {lev: f for lev, f in fits.items() if isinstance(f, RMA)}
    between: dict[str, Any] = {"Q": None, "df": None, "pval": None}
    if len(ok) >= 2:
        b = np.array([float(f.beta_[0]) for f in ok.values()])
        w = np.array([1 / float(f.se_[0]) ** 2 for f in ok.values()])
        if np.all(np.isfinite(w)):
            bw = float(np.sum(w * b) / np.sum(w))
            q = float(np.sum(w * (b - bw) ** 2))
            df = len(ok) - 1
            between = {"Q": q, "df": df, "pval": float(stats.chi2.sf(q, df))}
    rows = [{"group": x} for x in g]
    keep = np.array([x is not None for x in g])
    moderator: dict[str, Any] = {}
    try:
        M, names = design_matrix([r for r, kk in zip(rows, keep, strict=True) if kk], ["group"])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", MetaWarning)
            mr = RMA(method=method, test=test, level=level, control=control).fit(
                y[keep], v[keep], M, coef_names=names
            )
        moderator = {
            "QM": mr.QM_,
            "QMdf": list(mr.QMdf_),
            "QMp": mr.QMp_,
            "tau2": mr.tau2_,
            "R2": mr.R2_,
        }
    except FmreviewError as exc:
        moderator = {"error": str(exc)}
    return {
        "levels": levels,
        "groups": fits,
        "between": between,
        "moderator": moderator,
        "missing": int((~keep).sum()),
    }
