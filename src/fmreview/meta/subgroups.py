"""Subgroup analysis: a model per subgroup and the test for subgroup differences.

Two tests are reported, as in metafor's documentation and the Cochrane Handbook:

* ``between`` - separate tau^2 per subgroup: ``Q_b = sum_g w_g (b_g - b_w)^2`` with
  ``w_g = 1/se_g^2`` and ``b_w`` their weighted mean, chi^2 with G-1 df (RevMan's
  "test for subgroup differences");
* ``moderator`` - a common tau^2: the subgroup factor as moderator in one
  meta-regression, its omnibus test QM (chi^2 or F, by the model's test).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats

from fmreview.errors import FmreviewError, InputError
from fmreview.meta._common import record_warnings
from fmreview.meta.design import _is_number, _missing, _r_number
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
    name: str = "group",
    step_halving: bool = False,
) -> dict[str, Any]:
    """Fit one model per subgroup and test for differences between subgroups.

    Returns ``{"levels", "groups": {level: RMA | error message}, "between": {...},
    "moderator": {...}, "model": RMA | None, "warnings": [...], "missing": n}``.
    ``model`` is the full meta-regression on the subgroup factor (common tau^2), with
    R's coefficient names for ``mods = ~ factor(<name>)`` (numeric codes) or
    ``~ <name>`` (text labels), e.g. ``factor(alloc)random``.  Levels are ordered as
    R orders factor levels.  Studies with a missing label are left out (``missing``).
    Every warning of the inner fits is re-emitted as a :class:`MetaWarning` naming
    the subgroup (``"subgroup random: ..."``) and listed in ``warnings``.
    """
    y = np.asarray(yi, dtype=float)
    v = np.asarray(vi, dtype=float)
    g = [None if _missing(x) else x for x in groups]
    if len(g) != y.size:
        raise InputError(
            f"{len(g)} subgroup labels for {y.size} effects; give one label per effect"
        )
    keep = np.array([x is not None for x in g])
    present = [x for x in g if x is not None]
    numeric = all(_is_number(x) for x in present)
    key = [None if x is None else (_r_number(float(x)) if numeric else str(x)) for x in g]
    if numeric:
        levels = [_r_number(t) for t in sorted({float(x) for x in present})]
    else:
        levels = sorted({str(x) for x in present}, key=lambda t: (t.lower(), t))
    if len(levels) < 2:
        raise InputError(f"subgroup analysis needs at least two subgroups; found {levels}")
    notes: list[str] = []

    def new() -> RMA:
        return RMA(
            method=method, test=test, level=level, control=control, step_halving=step_halving
        )

    fits: dict[str, RMA | str] = {}
    for lev in levels:
        idx = np.array([x == lev for x in key])
        try:

            def fit_level(i: np.ndarray = idx) -> RMA:
                return new().fit(y[i], v[i])

            fits[lev] = record_warnings(fit_level, f"subgroup {lev}: ", notes)
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
    formula = f"~ factor({name})" if numeric else f"~ {name}"
    moderator: dict[str, Any] = {}
    model: RMA | None = None
    try:
        data = {name: [x for x, kk in zip(g, keep, strict=True) if kk]}
        model = record_warnings(
            lambda: new().fit(y[keep], v[keep], formula, data=data),
            f"moderator model {formula}: ",
            notes,
        )
        moderator = {
            "formula": formula,
            "QM": model.QM_,
            "QMdf": list(model.QMdf_),
            "QMp": model.QMp_,
            "tau2": model.tau2_,
            "R2": model.R2_,
            "QE": model.QE_,
            "QEp": model.QEp_,
        }
    except FmreviewError as exc:
        moderator = {"formula": formula, "error": str(exc)}
    for msg in notes:
        warnings.warn(msg, MetaWarning, stacklevel=2)
    return {
        "levels": levels,
        "groups": fits,
        "between": between,
        "moderator": moderator,
        "model": model,
        "warnings": notes,
        "missing": int((~keep).sum()),
    }
