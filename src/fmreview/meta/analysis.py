"""``meta_analyze``: one call from effect rows to a JSON-serialisable meta-analysis.

Rows use metafor's escalc argument names (``ai, bi, ci, di, n1i, n2i, m1i, m2i,
sd1i, sd2i, xi, ni, ri, yi, vi, sei``) plus ``study`` (a label) and any moderator
or subgroup columns.  Effect sizes are computed from the raw columns when present,
otherwise taken from ``yi`` and ``vi`` (or ``sei``).
"""

from __future__ import annotations

import csv
import math
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats

from fmreview import __version__
from fmreview.errors import FmreviewError, InputError, unknown_name
from fmreview.meta._common import record_warnings
from fmreview.meta._json import jsonable
from fmreview.meta.bias import fsn, ranktest, regtest, trimfill
from fmreview.meta.design import design_matrix
from fmreview.meta.escalc import MEASURES, auc_hanley_mcneil, diagnostic_effects, escalc
from fmreview.meta.mh import MantelHaenszel, Peto
from fmreview.meta.presets import get_preset
from fmreview.meta.rma import RMA, MetaWarning
from fmreview.meta.subgroups import subgroup_analysis
from fmreview.meta.transforms import iarcsin, ilogit, ipft_hm, ztor

__all__ = ["BACKTRANSFORMS", "effect_sizes", "format_text", "meta_analyze", "read_effects_csv"]

RAW_COLUMNS = ("ai", "bi", "ci", "di", "n1i", "n2i", "m1i", "m2i", "sd1i", "sd2i", "xi", "ni", "ri")
DTA_COLUMNS = ("tp", "fn", "tn", "fp")
#: measures accepted by :func:`meta_analyze` beyond escalc's: diagnostic accuracy and AUC
EXTRA_MEASURES = ("SENS", "SPEC", "DOR", "AUC")
#: measure -> name of the back-transform to the natural scale
BACKTRANSFORMS = {
    "RR": "exp",
    "OR": "exp",
    "PETO": "exp",
    "ROM": "exp",
    "PLN": "exp",
    "PLO": "ilogit",
    "ZCOR": "ztor",
    "PAS": "iarcsin",
    "PFT": "ipft_hm",
    "SENS": "ilogit",
    "SPEC": "ilogit",
    "DOR": "exp",
}
#: fewest studies for which bias tests are attempted
MIN_K_BIAS = 3


def _num(x: Any) -> float:
    if x is None or x == "":
        return math.nan
    try:
        return float(x)
    except (TypeError, ValueError):
        raise InputError(f"expected a number, found {x!r}") from None


def _column(rows: Sequence[dict[str, Any]], name: str) -> np.ndarray | None:
    if not any(r.get(name) not in (None, "") for r in rows):
        return None
    out = []
    for i, r in enumerate(rows, start=1):
        try:
            out.append(_num(r.get(name)))
        except InputError:
            raise InputError(
                f"row {i}: column {name!r} holds {r.get(name)!r}, expected a number"
            ) from None
    return np.array(out)


def effect_sizes(
    rows: Sequence[dict[str, Any]], measure: str, **opts: Any
) -> tuple[np.ndarray, np.ndarray]:
    """``(yi, vi)`` for the rows: from the raw columns if any, else ``yi`` and ``vi``/``sei``.

    ``SENS``/``SPEC``/``DOR`` read ``tp, fn, tn, fp``; ``AUC`` reads ``auc`` (or ``yi``)
    with ``n1i`` (diseased) and ``n2i`` (non-diseased) for the Hanley-McNeil variance,
    or ``vi``/``sei`` when given.
    """
    m = measure.upper()
    if m not in MEASURES + EXTRA_MEASURES:
        raise unknown_name("effect-size measure", measure, MEASURES + EXTRA_MEASURES)
    if m in ("SENS", "SPEC", "DOR"):
        cols = [_column(rows, c) for c in DTA_COLUMNS]
        if any(c is None for c in cols):
            raise InputError(f"measure {m} needs the columns tp, fn, tn, fp (2x2 counts per study)")
        return diagnostic_effects(*cols, **opts)[m]  # type: ignore[arg-type]
    if m == "AUC":
        auc = _column(rows, "auc")
        if auc is None:
            auc = _column(rows, "yi")
        given_v = _column(rows, "vi")
        given_se = _column(rows, "sei")
        if auc is None:
            raise InputError("measure AUC needs a column 'auc' (or 'yi') with AUCs as fractions")
        if given_v is not None or given_se is not None:
            return auc, (given_v if given_v is not None else given_se**2)  # type: ignore[operator]
        n1, n2 = _column(rows, "n1i"), _column(rows, "n2i")
        if n1 is None or n2 is None:
            raise InputError(
                "measure AUC needs 'vi'/'sei' or the class sizes 'n1i' (diseased) and 'n2i'"
            )
        return auc_hanley_mcneil(auc, n1, n2)
    found = {c: _column(rows, c) for c in RAW_COLUMNS}
    raw: dict[str, Any] = {k: v for k, v in found.items() if v is not None}
    if m != "GEN" and raw:
        return escalc(m, **raw, **opts)
    yi, vi, sei = _column(rows, "yi"), _column(rows, "vi"), _column(rows, "sei")
    if yi is None or (vi is None and sei is None):
        raise InputError(
            f"no effect data: give the raw columns for measure {m} (e.g. ai/bi/ci/di, m1i/sd1i/n1i/..., xi/ni) "
            "or 'yi' with 'vi' or 'sei'"
        )
    if vi is None:
        assert sei is not None
        vi = sei**2
    return yi, vi


def _backtransform(
    measure: str, rows: Sequence[dict[str, Any]]
) -> tuple[str | None, Callable | None]:
    name = BACKTRANSFORMS.get(measure.upper())
    if name is None:
        return None, None
    if name == "exp":
        return name, np.exp
    if name == "ilogit":
        return name, ilogit
    if name == "ztor":
        return name, ztor
    if name == "iarcsin":
        return name, iarcsin
    ni = _column(rows, "ni")
    if ni is None:
        return None, None
    return name, lambda x: ipft_hm(x, ni)


def meta_analyze(
    rows: list[dict[str, Any]],
    *,
    measure: str,
    method: str | None = None,
    by: str | None = None,
    mods: list[str] | str | None = None,
    preset: str = "default",
    level: float = 95.0,
    bias: bool | Sequence[str] = True,
    test: str | None = None,
    step_halving: bool = False,
) -> dict[str, Any]:
    """Pool effect rows and return a JSON-serialisable result.

    Parameters
    ----------
    rows : effect rows (see module docstring)
    measure : escalc measure (OR, RR, RD, SMD, PLO, ...) or GEN for precomputed yi/vi
    method : tau^2 estimator; default from the preset
    by : column with subgroup labels (adds per-subgroup fits and the between-subgroup test)
    mods : moderator columns for a meta-regression (factors are dummy-coded), or an
        R formula such as ``"~ factor(alloc) + year"`` (R's coefficient names)
    preset : "default" (REML + HKSJ ad hoc + Q-profile + PI), "metafor" or "revman5"
    test : z, t, knha or adhoc instead of the preset's test
    step_halving : retry a non-converging Fisher scoring with step halving (else metafor's error)
    bias : add small-study/publication-bias tests (k >= 3, no moderators): True for
        all, or a selection of ``egger``, ``egger_lm``, ``ranktest``, ``trimfill``, ``fsn``

    Returns
    -------
    dict with ``measure, preset, method, test, level, k, studies, model, pooled,
    heterogeneity, subgroups, bias, mantel_haenszel, warnings``.
    """
    if not rows:
        raise InputError("no effect rows to pool; import or extract effects first")
    p = get_preset(preset)
    meth = method or p.method
    tst = test or p.test
    m = measure.upper()
    yi, vi = effect_sizes(rows, m)
    labels = [
        str(r.get("study") or r.get("label") or f"study {i}") for i, r in enumerate(rows, start=1)
    ]
    M: Any = None
    names: list[str] | None = None
    if isinstance(mods, str):
        M = mods
    elif mods:
        M, names = design_matrix(rows, mods)
    collected: list[str] = []
    model = record_warnings(
        lambda: RMA(method=meth, test=tst, level=level, step_halving=step_halving).fit(
            yi, vi, M, coef_names=names, data=list(rows) if isinstance(M, str) else None
        ),
        "",
        collected,
    )
    tname, tf = _backtransform(m, rows)
    result: dict[str, Any] = {
        "measure": m,
        "preset": p.to_dict(),
        "method": meth,
        "test": model.test_,
        "level": level,
        "k": model.k_,
        "backtransform": tname,
        "config": {
            "component": "fmreview.meta.meta_analyze",
            "version": __version__,
            "measure": m,
            "method": meth,
            "test": tst,
            "preset": p.name,
            "level": level,
            "by": by,
            "mods": (mods if isinstance(mods, str) else list(mods)) if mods else None,
            "control": model.control_,
        },
    }
    result["studies"] = _study_rows(rows, labels, yi, vi, model, by)
    result["model"] = model.to_dict()
    if M is None:
        result["pooled"] = _pooled(model, p.prediction_interval, tf)
    result["heterogeneity"] = _heterogeneity(model, p.tau2_ci, collected)
    if by:
        result["subgroups"] = record_warnings(
            lambda: _subgroups(
                yi, vi, [r.get(by) for r in rows], meth, tst, level, tf, by, step_halving
            ),
            "",
            collected,
        )
    if bias and M is None:
        which = BIAS_TESTS if bias is True else tuple(bias)
        result["bias"] = _bias(model, which, collected)
    if m in ("OR", "RR", "RD", "PETO") and _column(rows, "ai") is not None:
        result["mantel_haenszel"] = _mh(rows, m, collected)
    if m in ("SENS", "SPEC", "DOR"):
        result["bivariate"] = _bivariate(rows)
    result["warnings"] = collected
    return jsonable(result)


def _study_rows(
    rows: Sequence[dict[str, Any]],
    labels: list[str],
    yi: np.ndarray,
    vi: np.ndarray,
    model: RMA,
    by: str | None,
) -> list[dict[str, Any]]:
    """One entry per input row: effect, Wald CI (as in forest plots), weight, raw data."""
    used = np.flatnonzero(model.not_na_)
    w_used = dict(zip(used.tolist(), model.weights_.tolist(), strict=True))
    crit = float(stats.norm.isf(model.alpha_ / 2))
    studies = []
    for i, lab in enumerate(labels):
        se = math.sqrt(vi[i]) if vi[i] >= 0 else math.nan
        st = {
            "study": lab,
            "yi": yi[i],
            "vi": vi[i],
            "ci_lb": yi[i] - crit * se,
            "ci_ub": yi[i] + crit * se,
            "weight_pct": w_used.get(i),
            "used": i in w_used,
        }
        if by:
            st["group"] = rows[i].get(by)
        raw = {
            c: rows[i].get(c)
            for c in (*RAW_COLUMNS, *DTA_COLUMNS)
            if rows[i].get(c) not in (None, "")
        }
        if raw:
            st["data"] = {c: _num(x) for c, x in raw.items()}
        studies.append(st)
    return studies


def _pooled(model: RMA, with_pi: bool, tf: Any) -> dict[str, Any]:
    """The pooled estimate with CI (and PI when the preset shows it), back-transformed too."""
    pr = model.predict()
    pooled: dict[str, Any] = {k: float(np.atleast_1d(v)[0]) for k, v in pr.items() if v is not None}
    pooled.update(zval=float(model.zval_[0]), pval=float(model.pval_[0]))
    if not with_pi:
        pooled.pop("pi_lb", None)
        pooled.pop("pi_ub", None)
    if tf is not None:
        bt = model.predict(transf=tf)
        pooled["backtransformed"] = {
            k: float(np.atleast_1d(v)[0])
            for k, v in bt.items()
            if v is not None and (with_pi or not k.startswith("pi"))
        }
    return pooled


def _bivariate(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    from fmreview.meta.bivariate import BivariateDTA

    cols = [_column(rows, c) for c in DTA_COLUMNS]
    try:
        b = BivariateDTA().fit(*cols)  # type: ignore[arg-type]
    except FmreviewError as exc:
        return {"error": str(exc)}
    d = b.to_dict()
    curve = b.sroc(n=51)
    d["sroc"] = {"fpr": curve["fpr"], "sens": curve["sens"]}
    return jsonable(d)


def _heterogeneity(model: RMA, ci_type: str | None, collected: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "tau2": model.tau2_,
        "se_tau2": model.se_tau2_,
        "I2": model.I2_,
        "H2": model.H2_,
        "QE": model.QE_,
        "QEdf": model.k_ - model.p_,
        "QEp": model.QEp_,
    }
    if ci_type and model.method not in ("EE", "FE"):
        try:
            with warnings.catch_warnings(record=True) as rec:
                warnings.simplefilter("always", MetaWarning)
                out["ci"] = model.confint(type=ci_type)
            collected.extend(str(w.message) for w in rec if issubclass(w.category, MetaWarning))
            out["ci_type"] = ci_type
        except FmreviewError as exc:
            out["ci_error"] = str(exc)
    return out


def _subgroups(yi, vi, groups, method, test, level, tf, by, step_halving) -> dict[str, Any]:
    sg = subgroup_analysis(
        yi,
        vi,
        groups,
        method=method,
        test=test,
        level=level,
        name=by,
        step_halving=step_halving,
    )
    per: dict[str, Any] = {}
    for lev, f in sg["groups"].items():
        if isinstance(f, str):
            per[lev] = {"error": f}
            continue
        pr = f.predict()
        d: dict[str, Any] = {k: float(np.atleast_1d(v)[0]) for k, v in pr.items() if v is not None}
        d.update(k=f.k_, tau2=f.tau2_, I2=f.I2_, QE=f.QE_, QEp=f.QEp_, pval=float(f.pval_[0]))
        if tf is not None:
            d["backtransformed"] = {
                k: float(np.atleast_1d(v)[0])
                for k, v in f.predict(transf=tf).items()
                if v is not None
            }
        per[lev] = d
    return {
        "groups": per,
        "between": sg["between"],
        "moderator": sg["moderator"],
        "model": None if sg["model"] is None else sg["model"].to_dict(),
        "missing": sg["missing"],
    }


BIAS_TESTS = ("egger", "egger_lm", "ranktest", "trimfill", "fsn")


def _bias(model: RMA, which: Sequence[str], collected: list[str]) -> dict[str, Any]:
    bad = [w for w in which if w not in BIAS_TESTS]
    if bad:
        raise unknown_name("bias test", bad[0], BIAS_TESTS)
    out: dict[str, Any] = {}
    if model.k_ < MIN_K_BIAS:
        return {"note": f"bias tests need at least {MIN_K_BIAS} studies; k = {model.k_}"}
    if model.k_ < 10:
        out["note"] = (
            "fewer than 10 studies: bias tests have low power (Cochrane Handbook 13.3.5.4)"
        )
    for key, fn in (
        ("egger", lambda: regtest(model).to_dict()),
        ("egger_lm", lambda: regtest(model, model_type="lm").to_dict()),
        ("ranktest", lambda: ranktest(model).to_dict()),
        ("trimfill", lambda: _tf(model)),
        ("fsn", lambda: fsn(model.yi_, model.vi_).to_dict()),
    ):
        if key not in which:
            continue
        try:
            out[key] = record_warnings(fn, f"{key}: ", collected)
        except FmreviewError as exc:
            out[key] = {"error": str(exc)}
    return out


def _tf(model: RMA) -> dict[str, Any]:
    t = trimfill(model)
    pr = t.model.predict()
    return {
        "k0": t.k0,
        "se_k0": t.se_k0,
        "side": t.side,
        "estimator": t.estimator,
        "estimate": float(pr["pred"][0]),
        "ci_lb": float(pr["ci_lb"][0]),
        "ci_ub": float(pr["ci_ub"][0]),
        "filled_yi": t.yi[t.fill].tolist(),
        "filled_vi": t.vi[t.fill].tolist(),
    }


def _mh(rows: Sequence[dict[str, Any]], measure: str, collected: list[str]) -> dict[str, Any]:
    cols = {c: _column(rows, c) for c in ("ai", "bi", "ci", "di", "n1i", "n2i")}
    if cols["ai"] is None or cols["ci"] is None:
        return {"note": "Mantel-Haenszel needs 2x2 counts (ai, ci with bi/di or n1i/n2i)"}
    try:
        est: Any = Peto() if measure == "PETO" else MantelHaenszel(measure=measure)
        res: MantelHaenszel | Peto = record_warnings(
            lambda: est.fit(
                cols["ai"], cols["bi"], cols["ci"], cols["di"], n1i=cols["n1i"], n2i=cols["n2i"]
            ),
            "Mantel-Haenszel: " if measure != "PETO" else "Peto: ",
            collected,
        )
        d = res.to_dict()
        if measure in ("OR", "RR", "PETO"):
            d["exp"] = res.predict(transf=np.exp)
        return jsonable(d)
    except FmreviewError as exc:
        return {"error": str(exc)}


def read_effects_csv(path: str | Path) -> list[dict[str, Any]]:
    """Read effect rows from a CSV file (header row; empty cells and NA become None)."""
    p = Path(path)
    if not p.exists():
        raise InputError(
            f"effects file {str(p)!r} does not exist; pass the path of a CSV with a header row"
        )
    with p.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        if not reader.fieldnames:
            raise InputError(f"{p}: empty file; expected a header row such as study,ai,bi,ci,di")
        rows = []
        for r in reader:
            rows.append(
                {
                    k.strip(): (None if v is None or v.strip() in ("", "NA") else v.strip())
                    for k, v in r.items()
                    if k
                }
            )
    if not rows:
        raise InputError(f"{p}: no data rows after the header")
    return rows


def format_text(result: dict[str, Any]) -> str:
    """A short human-readable summary of a :func:`meta_analyze` result."""
    lines = [
        f"{result['measure']} meta-analysis: k = {result['k']}, method = {result['method']}, "
        f"test = {result['test']} (preset {result['preset']['name']})"
    ]
    pooled = result.get("pooled")
    lv = result.get("level", 95)
    if pooled:
        src = pooled.get("backtransformed") or pooled
        scale = f" ({result['backtransform']} scale)" if pooled.get("backtransformed") else ""
        lines.append(
            f"pooled{scale}: {src['pred']:.4g} [{lv:g}% CI {src['ci_lb']:.4g}, {src['ci_ub']:.4g}], p = {pooled['pval']:.3g}"
        )
        if "pi_lb" in src:
            lines.append(f"prediction interval: [{src['pi_lb']:.4g}, {src['pi_ub']:.4g}]")
    else:
        for name, c in result["model"]["coefficients"].items():
            lines.append(f"{name:>20}: {c['estimate']:.4g} (se {c['se']:.3g}), p = {c['pval']:.3g}")
        m = result["model"]
        if m.get("QM") is not None:
            lines.append(
                f"moderators: QM = {m['QM']:.3f} (df = {m['QMdf']}), p = {m['QMp']:.3g}; R2 = {m.get('R2')}"
            )
    h = result["heterogeneity"]
    if h.get("QE") is not None:
        txt = f"heterogeneity: tau2 = {h['tau2']:.4g}, I2 = {h['I2']:.1f}%, Q = {h['QE']:.2f} (df = {h['QEdf']}), p = {h['QEp']:.3g}"
        ci = h.get("ci")
        if ci:
            txt += f"; tau2 {lv:g}% CI [{ci['tau2']['ci_lb']:.4g}, {ci['tau2']['ci_ub']:.4g}]"
        lines.append(txt)
    sg = result.get("subgroups")
    if sg:
        for lev, g in sg["groups"].items():
            if "error" in g:
                lines.append(f"  {lev}: {g['error']}")
                continue
            src = g.get("backtransformed") or g
            lines.append(
                f"  {lev} (k = {g['k']}): {src['pred']:.4g} [{src['ci_lb']:.4g}, {src['ci_ub']:.4g}]"
            )
        b = sg["between"]
        if b.get("Q") is not None:
            lines.append(
                f"test for subgroup differences: Q = {b['Q']:.3f} (df = {b['df']}), p = {b['pval']:.3g}"
            )
    bias = result.get("bias") or {}
    eg = bias.get("egger")
    if isinstance(eg, dict) and "pval" in eg:
        lines.append(f"Egger test: z = {eg['zval']:.3f}, p = {eg['pval']:.3g}")
    tfd = bias.get("trimfill")
    if isinstance(tfd, dict) and "k0" in tfd:
        lines.append(
            f"trim and fill: k0 = {tfd['k0']} ({tfd['side']}), adjusted estimate {tfd['estimate']:.4g}"
        )
    for w in result.get("warnings", []):
        lines.append(f"warning: {w}")
    return "\n".join(lines)
