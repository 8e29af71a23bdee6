"""Eligibility rules: apply the protocol's machine rules to works before screening.

A criterion's :class:`~fmreview.protocol.model.Rule` *matches* a work when its test is true:

- ``field`` + ``in`` / ``not_in``: the field's value is (not) in the list (strings compared
  case-insensitively; a list field such as ``keywords`` matches when any element does);
- ``field`` + ``min`` / ``max``: the numeric value lies in the closed range (a missing
  value never matches);
- ``any`` / ``all`` / ``none``: regular expressions searched case-insensitively in
  ``fields`` — every part given must hold (at least one ``any``, every ``all``, no ``none``);
- ``missing``: the field is empty (``missing: true``) or not (``missing: false``).

An *include* criterion (``action: include``) states what every eligible work shows; a work
fails it when its rule does not match. Absence of evidence in a title is not evidence
(titles of foundation-model papers often name only the model), so include criteria are
checked only for works with an abstract of at least :data:`MIN_ABSTRACT_CHARS`
characters; a work that fails one is excluded by that criterion ("does not meet: ...").

:func:`apply_rules` records one decision per excluded work — stage ``automation``, reviewer
``rules``, the criterion id, the rule in the decision's ``model`` column — so PRISMA counts
them as "excluded by automation". It is idempotent: a work already excluded by the rules is
left alone.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from fmreview.protocol.model import Criterion, Rule

#: The reviewer name automation decisions carry.
RULES_REVIEWER = "rules"
AUTOMATION_STAGE = "automation"
#: Include criteria are only checked when the abstract has at least this many characters
#: (a short "abstract" is usually a snippet or a list's note, too little to judge from).
MIN_ABSTRACT_CHARS = 200


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        return " ; ".join(_text(v) for v in value)
    return str(value)


def _empty(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, list | tuple | dict):
        return len(value) == 0
    return False


def _norm(v: Any) -> Any:
    return v.strip().lower() if isinstance(v, str) else v


def _in(value: Any, options: Sequence[Any]) -> bool:
    opts = {_norm(o) for o in options}
    if isinstance(value, list | tuple):
        return any(_norm(v) in opts for v in value) if value else _norm("") in opts
    return _norm("" if value is None else value) in opts


def _compiled(patterns: Sequence[str] | None) -> list[re.Pattern[str]]:
    return [re.compile(p, re.IGNORECASE) for p in patterns or []]


def rule_matches(rule: Rule, work: Mapping[str, Any]) -> bool:
    """Whether ``rule`` matches ``work`` (a mapping of field name to value)."""
    if rule.missing is not None:
        return _empty(work.get(rule.field or "")) == rule.missing
    if rule.in_ is not None or rule.not_in is not None:
        value = work.get(rule.field or "")
        if rule.in_ is not None and not _in(value, rule.in_):
            return False
        if rule.not_in is not None and _in(value, rule.not_in):
            return False
        return True
    if rule.min is not None or rule.max is not None:
        value = work.get(rule.field or "")
        try:
            x = float(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return False
        if rule.min is not None and x < rule.min:
            return False
        if rule.max is not None and x > rule.max:
            return False
        return True
    text = "\n".join(_text(work.get(f)) for f in rule.fields)
    if rule.any and not any(p.search(text) for p in _compiled(rule.any)):
        return False
    if rule.all and not all(p.search(text) for p in _compiled(rule.all)):
        return False
    if rule.none and any(p.search(text) for p in _compiled(rule.none)):
        return False
    return True


def rule_meta(rule: Rule) -> dict[str, Any]:
    return rule.model_dump(by_alias=True, exclude_none=True)


def automation_criteria(
    criteria: Iterable[Criterion], stages: Sequence[str] = (AUTOMATION_STAGE,)
) -> list[Criterion]:
    """The criteria with a machine rule at the given stages (exclusions, then inclusions)."""
    chosen = [c for c in criteria if c.rule is not None and c.stage in stages]
    return [c for c in chosen if c.action == "exclude"] + [
        c for c in chosen if c.action == "include"
    ]


def first_exclusion(work: Mapping[str, Any], criteria: Sequence[Criterion]) -> Criterion | None:
    """The first exclusion criterion whose rule matches ``work`` (None: eligible)."""
    for c in criteria:
        if c.rule is not None and c.action == "exclude" and rule_matches(c.rule, work):
            return c
    return None


def include_failure(work: Mapping[str, Any], criteria: Sequence[Criterion]) -> Criterion | None:
    """The first include criterion ``work`` fails (None: all met, or too little text to judge).

    Only works whose abstract has :data:`MIN_ABSTRACT_CHARS` characters or more are judged.
    """
    if len(_text(work.get("abstract")).strip()) < MIN_ABSTRACT_CHARS:
        return None
    for c in criteria:
        if c.rule is not None and c.action == "include" and not rule_matches(c.rule, work):
            return c
    return None


def assess(work: Mapping[str, Any], criteria: Sequence[Criterion]) -> Criterion | None:
    """The criterion that makes ``work`` ineligible: an exclusion that matches, else an
    include criterion it fails (see :func:`include_failure`); None when eligible."""
    return first_exclusion(work, criteria) or include_failure(work, criteria)


def reason(criterion: Criterion) -> str:
    """The decision note for a criterion that made a work ineligible."""
    if criterion.action == "include":
        return f"does not meet: {criterion.description}"
    return criterion.description


@dataclass
class RuleCounts:
    """What :func:`apply_rules` did."""

    checked: int = 0
    excluded: int = 0
    already: int = 0
    by_criterion: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def apply_rules(
    store: Any, *, stages: Sequence[str] = (AUTOMATION_STAGE,), run_id: int | None = None
) -> RuleCounts:
    """Exclude works matched by the protocol's automation rules, recording each decision.

    Parameters
    ----------
    stages : which criteria stages to apply (default: only ``automation``; the
        ``title_abstract`` rules are shown to reviewers instead)
    run_id : the run that records the decisions (one is opened when None)
    """
    import sqlalchemy as sa

    from fmreview.store import schema
    from fmreview.store.works import active_works

    crit = automation_criteria(store.protocol.eligibility, stages)
    counts = RuleCounts(by_criterion={c.id: 0 for c in crit})
    if not crit:
        return counts

    def _apply(rid: int) -> None:
        d = schema.decisions
        with store.begin() as conn:
            done = {
                int(r.work_id)
                for r in conn.execute(
                    sa.select(d.c.work_id).where(
                        d.c.stage == AUTOMATION_STAGE, d.c.reviewer == RULES_REVIEWER
                    )
                )
            }
            rows = conn.execute(active_works(conn).order_by(schema.works.c.id)).all()
            now = store.clock()
            batch = []
            for row in rows:
                work = dict(row._mapping)
                counts.checked += 1
                if int(work["id"]) in done:
                    counts.already += 1
                    continue
                c = assess(work, crit)
                if c is None:
                    continue
                counts.excluded += 1
                counts.by_criterion[c.id] += 1
                batch.append(
                    {
                        "work_id": int(work["id"]),
                        "stage": AUTOMATION_STAGE,
                        "reviewer": RULES_REVIEWER,
                        "label": "exclude",
                        "criterion": c.id,
                        "note": reason(c),
                        "created_at": now,
                        "model": {"rule": rule_meta(c.rule)} if c.rule else None,
                        "run_id": rid,
                    }
                )
            if batch:
                conn.execute(sa.insert(d), batch)

    if run_id is not None:
        _apply(run_id)
    else:
        with store.run("screen-rules", {"stages": list(stages)}) as run:
            _apply(run.id)
            run.counts.update(counts.as_dict())
    return counts
