"""Protocol amendments made from the admin page, and the random phase an admin starts.

The protocol file in the review folder (``<folder>/protocol.yaml``) is the source of truth for
how a review screens. A team changing a setting mid-review — reviewers per record, blinding,
the screening model, the stopping rule and its parameters — is amending its protocol, so the
admin page does what a careful person would do by hand, in this order:

1. read the posted values, each checked for its type (a bad one is named with its field);
2. refuse if the file changed since the page was shown (its SHA-256 travels with the form);
3. write the new values into the file's text, keeping everything else — comments included —
   as it was (:mod:`fmreview.web.yaml_edit`);
4. validate the new text with the protocol model (:func:`fmreview.protocol.parse_protocol`:
   errors name the line and key) and build its ranker and stopping rule (errors list the
   available names); any error stops here and nothing is written;
5. record the amendment as a run (command ``web settings``; parameters
   ``{"screening.blinding": [old, new], ..., "user": admin}``; the file's SHA-256 before and
   after in its config) and, inside it, replace the file atomically (a temporary file in the
   same folder, fsync, ``os.replace``);
6. hand the new protocol to the store, so the running app uses it at once.

The web refit cadence (``web.rank_every``) is a setting of the app, not of the review method:
it is recorded the same way (a ``web settings`` run) and read back when the app starts, but
not written to the protocol.

An in-memory store has no protocol file: amending its protocol is refused.
"""

from __future__ import annotations

import hashlib
import os
import stat
import tempfile
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import yaml
from filelock import FileLock

from fmreview.errors import FmreviewError, InputError
from fmreview.screening.phase import START_COMMAND, UNBLIND_COMMAND
from fmreview.screening.ranking import ScreeningConfig
from fmreview.screening.stopping import get_stopping_rule
from fmreview.store import schema
from fmreview.web.yaml_edit import CannotEdit, update_text

COMMAND = "web settings"
PROTOCOL_FILE = "protocol.yaml"
RANK_EVERY = "web.rank_every"
ON_OFF = {"on": True, "off": False, "true": True, "false": False, "yes": True, "no": False}
#: Stopping-rule parameters that have fields of their own in the protocol.
OWN_FIELDS = ("recall", "confidence")


@dataclass
class Amendment:
    """What an amendment changed: dotted key -> [old, new], and how the file was written."""

    changes: dict[str, list[Any]] = field(default_factory=dict)
    run_id: int | None = None
    written: str | None = None  # in place | ruamel.yaml | None (file untouched)

    def summary(self) -> str:
        if not self.changes:
            return "Nothing changed."
        parts = [f"{k}: {_show(old)} → {_show(new)}" for k, (old, new) in self.changes.items()]
        text = f"Amendment recorded as run {self.run_id}: " + "; ".join(parts) + "."
        if self.written == "ruamel.yaml":
            text += " The protocol file was rewritten with its comments; some line breaks changed."
        return text


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    return "—" if value is None else str(value)


# ----------------------------------------------------------------------------- reading
def protocol_path(store: Any) -> Path | None:
    folder = getattr(store, "folder", None)
    return None if folder is None else Path(folder) / PROTOCOL_FILE


def file_sha256(path: Path | None) -> str:
    if path is None or not path.exists():
        return ""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def rule_params(protocol: Any) -> dict[str, Any]:
    """The stopping rule's parameters in effect (the protocol's, else the rule's defaults)."""
    return dict(ScreeningConfig.from_protocol(protocol).rule().get_params())


def _rule_param_names(rule: str) -> list[str]:
    return list(get_stopping_rule(rule).get_params())


def choices() -> dict[str, list[str]]:
    """The screening models and stopping rules an admin may choose."""
    from fmreview.screening.models import MODELS
    from fmreview.screening.stopping import STOPPING_RULES

    return {"models": ["default", *MODELS], "rules": list(STOPPING_RULES)}


def current(store: Any, rank_every: int) -> dict[str, Any]:
    """The values the settings form shows."""
    p = store.protocol
    s = p.screening
    try:
        params = rule_params(p)
    except FmreviewError:  # a protocol naming a rule that does not exist: show what it says
        params = dict(s.stopping.params)
    return {
        "reviewers_per_record": s.reviewers_per_record,
        "blinding": bool(s.blinding),
        "model": s.model,
        "stopping_rule": s.stopping.rule,
        "recall": params.get("recall", s.stopping.recall),
        "confidence": params.get("confidence", s.stopping.confidence),
        "params": {k: v for k, v in params.items() if k not in OWN_FIELDS},
        "rank_every": rank_every,
        "protocol_sha256": file_sha256(protocol_path(store)),
        "amendable": protocol_path(store) is not None,
    }


def stored_rank_every(store: Any) -> int | None:
    """The latest ``web.rank_every`` an admin set (None: never set)."""
    r = schema.runs
    with store.connect() as conn:
        rows = conn.execute(
            sa.select(r.c.params)
            .where(r.c.command == COMMAND, r.c.status == "ok")
            .order_by(r.c.id.desc())
        ).scalars()
        for params in rows:
            if isinstance(params, dict) and RANK_EVERY in params:
                return int(params[RANK_EVERY][1])
    return None


# ----------------------------------------------------------------------------- parsing
def _int(name: str, raw: str, minimum: int | None = None) -> int:
    try:
        value = int(raw.strip())
    except ValueError:
        raise InputError(f"{name}: {raw!r} is not a whole number") from None
    if minimum is not None and value < minimum:
        raise InputError(f"{name}: {value} is below the minimum {minimum}")
    return value


def _number(name: str, raw: str) -> int | float:
    text = raw.strip()
    try:
        return int(text)
    except ValueError:
        pass
    try:
        value = float(text)
    except ValueError:
        raise InputError(f"{name}: {raw!r} is not a number") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise InputError(f"{name}: {raw!r} is not a finite number")
    return value


def _on_off(name: str, raw: str) -> bool:
    key = raw.strip().lower()
    if key not in ON_OFF:
        raise InputError(f"{name}: {raw!r} is not on or off")
    return ON_OFF[key]


def _name(name: str, raw: str) -> str:
    value = raw.strip()
    if not value:
        raise InputError(f"{name}: a name is needed (the list shows the available ones)")
    return value


def proposed(form: dict[str, str], store: Any, rank_every: int) -> dict[str, list[Any]]:
    """The changes a posted settings form asks for: dotted key -> [old, new].

    A field missing from the form is left as it is, and only values that differ from those
    in effect count. The stopping rule's parameters are written as one mapping
    (``screening.stopping.params``), keeping only those the chosen rule accepts.
    """
    now = current(store, rank_every)
    s = store.protocol.screening
    out: dict[str, list[Any]] = {}

    def put(key: str, old: Any, new: Any) -> None:
        if new != old:
            out[key] = [old, new]

    if "reviewers_per_record" in form:
        n = _int("reviewers per record", form["reviewers_per_record"])
        put("screening.reviewers_per_record", s.reviewers_per_record, n)
    if "blinding" in form:
        put("screening.blinding", bool(s.blinding), _on_off("blinding", form["blinding"]))
    if "model" in form:
        put("screening.model", s.model, _name("screening model", form["model"]))
    rule = s.stopping.rule
    if "stopping_rule" in form:
        rule = _name("stopping rule", form["stopping_rule"])
        put("screening.stopping.rule", s.stopping.rule, rule)
    own_new: dict[str, int | float] = {}
    for own in OWN_FIELDS:
        if own in form:
            number = _number(own, form[own])
            if number != now[own]:
                own_new[own] = number
                put(f"screening.stopping.{own}", getattr(s.stopping, own), number)
    old_params = dict(s.stopping.params)
    try:
        accepted = set(_rule_param_names(rule))
    except FmreviewError:
        accepted = set(old_params)  # an unknown rule: validation names the available ones
    new_params = {k: v for k, v in old_params.items() if k in accepted}
    for own, number in own_new.items():
        if own in new_params:  # the rule's params win over the field: keep the two equal
            new_params[own] = number
    for name in sorted(accepted - set(OWN_FIELDS)):
        raw = form.get(f"param_{name}", "")
        if raw.strip():
            number = _number(f"stopping parameter {name}", raw)
            if number != now["params"].get(name):
                new_params[name] = number
    put("screening.stopping.params", old_params, new_params)
    if "rank_every" in form:
        every = _int("web refit cadence (rank_every)", form["rank_every"], 1)
        put(RANK_EVERY, rank_every, every)
    return out


# ----------------------------------------------------------------------------- writing
def write_atomic(path: Path, data: bytes | str) -> None:
    """Replace ``path`` by ``data`` (text is written as UTF-8, line endings untouched) at
    once: a temporary file beside it, fsync, ``os.replace``. The file keeps its mode."""
    payload = data.encode("utf-8") if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        if path.exists():
            os.chmod(tmp, stat.S_IMODE(path.stat().st_mode))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    try:  # make the rename itself durable (best effort: not every filesystem allows it)
        dfd = os.open(path.parent, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dfd)
    except OSError:
        pass
    finally:
        os.close(dfd)


def _validate(text: str, path: Path) -> Any:
    from fmreview.protocol import parse_protocol

    protocol = parse_protocol(text, str(path))
    config = ScreeningConfig.from_protocol(protocol)
    config.ranker()  # an unknown model name lists the available ones
    config.rule()  # so does an unknown rule; wrong parameters are named
    return protocol


def use_protocol(store: Any, protocol: Any) -> None:
    """Make ``store`` answer with ``protocol`` from now on."""
    store.reload_protocol(protocol)


@dataclass
class _Rewrite:
    """The protocol file before and after an amendment (validated, not yet written)."""

    path: Path
    old: bytes
    new: bytes
    written: str
    protocol: Any


def _rewrite(path: Path, changes: dict[str, list[Any]], expected_sha256: str | None) -> _Rewrite:
    old = path.read_bytes()  # bytes: the hash is the file's, and line endings stay as they are
    if expected_sha256 and expected_sha256 != hashlib.sha256(old).hexdigest():
        raise InputError(
            f"{path} changed since this page was shown; reload the page and amend again"
        )
    try:
        text = old.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{path} is not UTF-8 text: {exc}") from exc
    edits = {tuple(k.split(".")): new for k, (_old, new) in changes.items()}
    try:
        new_text, written = update_text(text, edits)
    except yaml.YAMLError as exc:
        raise InputError(f"{path} is not valid YAML: {exc}") from exc
    except CannotEdit as exc:
        raise InputError(f"{path}: {exc}") from exc
    protocol = _validate(new_text, path)
    return _Rewrite(path, old, new_text.encode("utf-8"), written, protocol)


def amend(
    store: Any,
    form: dict[str, str],
    *,
    user: str,
    rank_every: int,
    expected_sha256: str | None = None,
) -> Amendment:
    """Apply a posted settings form (see the module docstring); returns what changed.

    Raises
    ------
    InputError
        A value of the wrong type, a file changed since the form was shown, or an in-memory
        store asked to change its protocol.
    ProtocolError, NotFoundError
        The amended protocol does not validate (the message names line and key, or lists
        the available names). Nothing is written then.
    """
    changes = proposed(form, store, rank_every)
    result = Amendment(changes=changes)
    if not changes:
        return result
    protocol_changes = {k: v for k, v in changes.items() if k != RANK_EVERY}
    path = protocol_path(store)
    if protocol_changes and (path is None or not path.exists()):
        raise InputError(
            "this review is held in memory, without a protocol file: its settings cannot "
            "be amended here; serve a review folder (fmreview serve --dir DIR)"
        )
    # another process serving the review may amend at the same moment: one at a time
    lock: AbstractContextManager[Any] = nullcontext()
    if path is not None and path.parent.exists():
        lock = FileLock(str(path.with_name(f".{path.name}.lock")), timeout=30)
    with lock:
        rewrite = None
        if path is not None and protocol_changes:
            rewrite = _rewrite(path, protocol_changes, expected_sha256)
        with store.run(COMMAND, {**changes, "user": user}) as run:
            if rewrite is not None:
                write_atomic(rewrite.path, rewrite.new)
                run.config = {
                    "file": str(rewrite.path),
                    "previous_sha256": hashlib.sha256(rewrite.old).hexdigest(),
                    "protocol_sha256": hashlib.sha256(rewrite.new).hexdigest(),
                    "written": rewrite.written,
                }
            run.counts = {"changed": len(changes)}
    result.run_id = run.id
    if rewrite is not None:
        result.written = rewrite.written
        use_protocol(store, rewrite.protocol)
    return result


def start_random_phase(store: Any, *, user: str) -> int:
    """Record an admin starting the random phase (a ``web random phase`` run); its id."""
    with store.run(START_COMMAND, {"user": user}) as run:
        run.counts = {"started": 1}
    return run.id


def unblind(store: Any, *, user: str) -> int:
    """Record an admin lifting blinding for the whole review (a ``web unblind`` run): from
    then on every reviewer sees every vote. There is no way back (what was seen was seen)."""
    with store.run(UNBLIND_COMMAND, {"user": user}) as run:
        run.counts = {"unblinded": 1}
    return run.id


def run_message(store: Any, run_id: int) -> str | None:
    """What a ``web settings`` or ``web random phase`` run did, in a sentence (None: no
    such run)."""
    r = schema.runs
    with store.connect() as conn:
        row = conn.execute(
            sa.select(r.c.command, r.c.params, r.c.config).where(
                r.c.id == run_id, r.c.command.in_((COMMAND, START_COMMAND, UNBLIND_COMMAND))
            )
        ).first()
    if row is None:
        return None
    params = dict(row.params or {})
    if row.command == START_COMMAND:
        return f"Random phase started by {params.get('user', '?')} (run {run_id})."
    if row.command == UNBLIND_COMMAND:
        return f"Blinding lifted by {params.get('user', '?')} (run {run_id})."
    done = Amendment(
        changes={k: v for k, v in params.items() if isinstance(v, list)},
        run_id=run_id,
        written=(row.config or {}).get("written"),
    )
    return done.summary()


def amendments(store: Any, limit: int = 20) -> list[dict[str, Any]]:
    """The latest settings amendments and random-phase starts, newest first (admin page)."""
    r = schema.runs
    with store.connect() as conn:
        rows = conn.execute(
            sa.select(r.c.id, r.c.command, r.c.params, r.c.started_at, r.c.status)
            .where(r.c.command.in_((COMMAND, START_COMMAND, UNBLIND_COMMAND)))
            .order_by(r.c.id.desc())
            .limit(limit)
        ).all()
    out = []
    for row in rows:
        params = dict(row.params or {})
        who = params.pop("user", "")
        out.append(
            {
                "id": row.id,
                "command": row.command,
                "user": who,
                "when": row.started_at,
                "status": row.status,
                "changes": {k: v for k, v in params.items() if isinstance(v, list)},
            }
        )
    return out
