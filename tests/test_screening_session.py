"""Store-backed screening: next work, append-only decisions, status, the interactive screen."""

from __future__ import annotations

import json

import numpy as np
import pytest
import sqlalchemy as sa
import typer
from rich.console import Console
from typer.testing import CliRunner

from fmreview.cli.screen import highlighted, register, run_screening
from fmreview.errors import InputError, NotFoundError
from fmreview.record import Record
from fmreview.screening.session import (
    ScreeningConfig,
    Session,
    load_state,
    record_decision,
    status,
    undo_last,
)
from fmreview.screening.synthetic import synthetic_frame
from fmreview.store import add_records, schema
from fmreview.store.works import works_from_records

FAST = {"name": "svm", "params": {}}


def _fill(store, n: int = 40, n_relevant: int = 6) -> dict[int, int]:
    """Add synthetic works; return work id -> true label."""
    df = synthetic_frame(n, n_relevant, seed=2)
    recs = [
        Record(
            title=r.title or "",
            abstract=r.abstract or "",
            year=2023,
            language="en",
            url=f"u{r.record_id}",
        )
        for r in df.itertuples()
    ]
    with store.run("import", {}) as run:
        add_records(store, recs, source="synthetic", source_kind="file", run_id=run.id)
        works_from_records(store, run.id)
    truth = {f"u{r.record_id}": int(r.label_included) for r in df.itertuples()}
    with store.connect() as conn:
        rows = conn.execute(sa.select(schema.works.c.id, schema.works.c.url)).all()
    return {int(w): truth[u] for w, u in rows}


def _decisions(store) -> list:
    d = schema.decisions
    with store.connect() as conn:
        return conn.execute(sa.select(d).order_by(d.c.id)).all()


def _config(**stopping) -> ScreeningConfig:
    return ScreeningConfig(
        model=FAST,
        stopping=stopping
        or {"name": "hypergeometric", "params": {"recall": 0.95, "confidence": 0.95}},
        seed=1,
    )


def test_config_round_trip_and_from_protocol(store) -> None:
    c = ScreeningConfig.from_protocol(store.protocol)
    assert c.stopping["name"] == store.protocol.screening.stopping.rule
    assert c.stopping["params"]["recall"] == store.protocol.screening.stopping.recall
    again = ScreeningConfig.from_meta(json.loads(json.dumps(c.to_meta())))
    assert again == c
    assert again.ranker().to_meta()["name"] in ("ensemble", "svm", "logistic", "nb")
    assert again.rule().name == c.stopping["name"]


def test_cold_start_then_ranked(store) -> None:
    truth = _fill(store)
    sess = Session(store, config=_config())
    first = sess.next_work("alice")
    assert first is not None and first.phase == "cold" and first.remaining == len(truth)
    inc = next(w for w, y in truth.items() if y == 1)
    exc = next(w for w, y in truth.items() if y == 0)
    record_decision(store, "alice", work_id=inc, label="include", config=sess.config)
    record_decision(
        store, "alice", work_id=exc, label="exclude", criterion="E-REVIEW", config=sess.config
    )
    nxt = sess.next_work("alice")
    assert nxt is not None and nxt.phase == "ranked" and nxt.rank == 1
    assert nxt.work_id not in (inc, exc)
    # with one inclusion on this easy data the top pick is relevant
    assert truth[nxt.work_id] == 1
    rows = _decisions(store)
    assert [r.label for r in rows] == ["include", "exclude"]
    assert rows[1].criterion == "E-REVIEW"
    assert rows[1].model["config"]["model"] == FAST
    # before an inclusion and an exclusion are both known there is no ranking yet
    assert rows[1].model["phase"] == "cold" and rows[1].model["rank"] is None
    record_decision(
        store, "alice", work_id=nxt.work_id, label="include", next_work=nxt, config=sess.config
    )
    third = _decisions(store)[2].model
    assert (
        third["phase"] == "ranked"
        and third["rank"] == 1
        and third["score"] == pytest.approx(nxt.score)
    )
    assert third["training"] == 2


def test_record_decision_refuses_bad_input(store) -> None:
    truth = _fill(store, 10, 2)
    w = next(iter(truth))
    with pytest.raises(InputError, match="label"):
        record_decision(store, "alice", work_id=w, label="yes")
    with pytest.raises(NotFoundError, match="E-REVIEW"):
        record_decision(store, "alice", work_id=w, label="exclude", criterion="E-NOPE")
    with pytest.raises(NotFoundError):
        record_decision(store, "alice", work_id=99999, label="include")
    with pytest.raises(InputError):
        record_decision(store, " ", work_id=w, label="include")


def test_decisions_are_append_only(store) -> None:
    truth = _fill(store, 10, 2)
    w = next(iter(truth))
    record_decision(store, "alice", work_id=w, label="include", config=_config())
    d = schema.decisions
    with pytest.raises(sa.exc.DBAPIError):
        with store.begin() as conn:
            conn.execute(sa.update(d).values(label="exclude"))
    with pytest.raises(sa.exc.DBAPIError):
        with store.begin() as conn:
            conn.execute(sa.delete(d))
    # an undo is a new row; the work returns to the queue
    assert undo_last(store, "alice", config=_config()) == w
    rows = _decisions(store)
    assert [r.label for r in rows] == ["include", "undo"]
    assert load_state(store).screened_by("alice") == set()
    assert undo_last(store, "alice", config=_config()) is None


def test_automation_exclusions_are_never_shown(store) -> None:
    from fmreview.screening.eligibility import apply_rules

    with store.run("import", {}) as run:
        add_records(
            store,
            [
                Record(title="old", abstract="a", year=2001),
                Record(title="new", abstract="b", year=2024),
            ],
            source="t",
            source_kind="file",
            run_id=run.id,
        )
        works_from_records(store, run.id)
    apply_rules(store)
    sess = Session(store, config=_config())
    nxt = sess.next_work("alice")
    assert nxt is not None and nxt.work["title"] == "new" and nxt.remaining == 1
    st = status(store, config=sess.config)
    assert st["excluded_by_automation"] == 1 and st["to_screen"] == 1


def test_status_and_random_phase_of_the_hypergeometric_rule(store) -> None:
    truth = _fill(store, 60, 5)
    cfg = _config(
        name="hypergeometric", params={"recall": 0.8, "confidence": 0.9, "switch_after": 5}
    )
    sess = Session(store, config=cfg)
    st = status(store, config=cfg)
    assert st["screened"] == 0 and not st["stopping"]["met"] and st["stopping"]["phase"] == "ranked"
    phases = []
    for _ in range(60):
        nxt = sess.next_work("alice")
        if nxt is None:
            break
        phases.append(nxt.phase)
        label = "include" if truth[nxt.work_id] else "exclude"
        record_decision(store, "alice", work_id=nxt.work_id, label=label, next_work=nxt, config=cfg)
        if status(store, config=cfg)["stopping"]["met"]:
            break
    st = status(store, config=cfg)
    assert "random" in phases and phases.index("random") > phases.index("ranked")
    # once random sampling started, every later pick is random
    assert set(phases[phases.index("random") :]) == {"random"}
    assert st["stopping"]["met"]
    assert st["stopping"]["recall_low"] is not None and st["stopping"]["recall_low"] >= 0.8
    assert st["labels"]["include"] == sum(truth.values())  # the easy data gives full recall
    rows = _decisions(store)
    assert {r.model["phase"] for r in rows} >= {"cold", "ranked", "random"}


def test_status_with_knee_rule_has_no_recall_estimate(store) -> None:
    _fill(store, 10, 2)
    st = status(store, config=_config(name="knee", params={}))
    assert st["stopping"]["rule"] == "knee" and st["stopping"]["recall"] is None


# ----------------------------------------------------------------------------- interactive
def keys(seq):
    it = iter(seq)

    def read():
        try:
            return next(it)
        except StopIteration:
            raise KeyboardInterrupt from None

    return read


def quiet() -> Console:
    return Console(file=open("/dev/null", "w"), width=100)  # noqa: SIM115


def test_interactive_screen_scripted_keys(store, monkeypatch) -> None:
    _fill(store, 20, 3)
    monkeypatch.setattr(ScreeningConfig, "from_protocol", classmethod(lambda cls, p: _config()))
    # include, exclude with criterion 1, maybe, note then include, unknown key, quit
    done = run_screening(
        store,
        "bob",
        read_key=keys(["i", "e", "1", "m", "n", "i", "x", "q"]),
        read_line=lambda prompt: "check the full text",
        out=quiet(),
    )
    assert done["include"] == 2 and done["exclude"] == 1 and done["maybe"] == 1
    rows = _decisions(store)
    assert [r.label for r in rows] == ["include", "exclude", "maybe", "include"]
    excl = [
        c for c in store.protocol.eligibility if c.action == "exclude" and c.stage != "automation"
    ]
    assert rows[1].criterion == excl[0].id
    assert rows[3].note == "check the full text"
    assert all(r.reviewer == "bob" and r.stage == "title_abstract" for r in rows)


def test_interactive_screen_interrupted_and_resumed_loses_nothing(store, monkeypatch) -> None:
    _fill(store, 20, 3)
    monkeypatch.setattr(ScreeningConfig, "from_protocol", classmethod(lambda cls, p: _config()))
    with pytest.raises(KeyboardInterrupt):
        run_screening(
            store, "bob", read_key=keys(["i", "e", "0", "e"]), out=quiet()
        )  # killed mid-criterion
    first = _decisions(store)
    assert [r.label for r in first] == ["include", "exclude"]
    assert first[1].criterion is None
    shown = set(load_state(store).screened_by("bob"))
    done = run_screening(store, "bob", read_key=keys(["e", "0", "u", "i", "q"]), out=quiet())
    rows = _decisions(store)
    assert [r.label for r in rows] == ["include", "exclude", "exclude", "undo", "include"]
    assert rows[:2] == first  # nothing rewritten
    # the undone work was shown again and re-decided
    assert rows[3].work_id == rows[2].work_id == rows[4].work_id
    assert rows[2].work_id not in shown
    assert done["undo"] == 1
    assert len(load_state(store).screened_by("bob")) == 3


def test_nothing_left_to_screen(store, monkeypatch) -> None:
    monkeypatch.setattr(ScreeningConfig, "from_protocol", classmethod(lambda cls, p: _config()))
    out = run_screening(store, "bob", read_key=keys([]), out=quiet())
    assert out["include"] == 0


def test_highlighting_marks_terms() -> None:
    t = highlighted("Segment Anything for radiology: a review", ["segment anything"], ["review"])
    styles = {(s.start, s.end, str(s.style)) for s in t.spans}
    assert (0, 16, "bold green") in styles
    assert (34, 40, "bold red") in styles


# ----------------------------------------------------------------------------- CLI
@pytest.fixture
def app() -> typer.Typer:
    a = typer.Typer()

    @a.callback()
    def _root() -> None:
        """root"""

    register(a)
    return a


def test_cli_screen_status_and_interactive(file_store, app, monkeypatch) -> None:
    _fill(file_store, 20, 3)
    folder = str(file_store.folder)
    monkeypatch.setattr(ScreeningConfig, "from_protocol", classmethod(lambda cls, p: _config()))
    runner = CliRunner()
    res = runner.invoke(app, ["screen", "--dir", folder, "--reviewer", "carol"], input="ie0q")
    assert res.exit_code == 0, res.output
    assert "Resume with" in res.output
    res = runner.invoke(app, ["screen", "status", "--dir", folder, "--json"])
    assert res.exit_code == 0, res.output
    st = json.loads(res.output)
    assert st["screened"] == 2 and st["labels"]["include"] == 1 and st["labels"]["exclude"] == 1
    assert st["reviewers"] == ["carol"]
    res = runner.invoke(app, ["screen", "status", "--dir", folder])
    assert res.exit_code == 0 and "estimated recall" in res.output
    res = runner.invoke(app, ["screen", "rules", "--dir", folder, "--json"])
    assert res.exit_code == 0 and json.loads(res.output)["checked"] == 20


def test_default_rule_is_the_counting_process_and_status_shows_its_estimate(
    file_store, app
) -> None:
    truth = _fill(file_store, 60, 6)
    cfg = ScreeningConfig.from_protocol(file_store.protocol)
    assert cfg.stopping == {
        "name": "poisson_process",
        "params": {"recall": 0.95, "confidence": 0.95},
    }
    cfg.model = FAST
    sess = Session(file_store, config=cfg)
    for _ in range(25):
        nxt = sess.next_work("carol")
        label = "include" if truth[nxt.work_id] else "exclude"
        record_decision(
            file_store, "carol", work_id=nxt.work_id, label=label, next_work=nxt, config=cfg
        )
    folder = str(file_store.folder)
    res = CliRunner().invoke(app, ["screen", "status", "--dir", folder, "--json"])
    assert res.exit_code == 0, res.output
    st = json.loads(res.output)
    est = st["estimate"]
    assert st["stopping"]["rule"] == "poisson_process" and st["stopping"]["phase"] == "ranked"
    assert est["method"] == "poisson_process" and est["unscreened"] == 35
    assert est["found"] == st["labels"]["include"] > 0
    # the estimate sits inside its interval, and the interval's low end is what was found
    assert est["relevant_low"] == est["found"] <= est["relevant"] <= est["relevant_high"]
    assert 0 <= est["recall_low"] <= est["recall"] <= est["recall_high"] == 1
    assert 0 <= est["to_target"] <= est["to_stop"] <= 35
    res = CliRunner().invoke(app, ["screen", "status", "--dir", folder])
    assert res.exit_code == 0 and "left to screen for 95%" in res.output


def test_cli_simulate(tmp_path, app) -> None:
    df = synthetic_frame(60, 6, seed=3)
    path = tmp_path / "data.csv"
    df.to_csv(path, index=False)
    runner = CliRunner()
    res = runner.invoke(
        app,
        [
            "simulate",
            str(path),
            "--model",
            "nb",
            "--seed",
            "2",
            "--json",
            "--plot",
            str(tmp_path / "curve.png"),
        ],
    )
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert out["n_records"] == 60 and out["n_included"] == 6 and out["seed"] == 2
    assert -0.05 <= out["wss95"] <= 1 and 0 <= out["recall10"] <= 1
    from fmreview.screening.simulate import DEFAULT_RULES

    assert set(out["stopping"]) == set(DEFAULT_RULES)
    assert (tmp_path / "curve.png").stat().st_size > 1000
    res = runner.invoke(app, ["simulate", str(path), "--model", "nb"])
    assert res.exit_code == 0 and "WSS@95" in res.output


def test_every_command_has_an_example(app) -> None:
    root = typer.main.get_command(app)
    seen = []

    def walk(cmd) -> None:
        seen.append(cmd.name)
        assert "Example: fmreview" in (cmd.help or ""), cmd.name
        for sub in (getattr(cmd, "commands", None) or {}).values():  # a (Typer)Group
            walk(sub)

    for sub in root.commands.values():
        walk(sub)
    assert {"screen", "status", "rules", "simulate"} <= set(seen)


def test_simulate_on_bench_data_beats_random() -> None:
    from pathlib import Path

    from fmreview.screening.simulate import read_dataset, simulate

    path = (
        Path(__file__).resolve().parents[2] / "shared/bench/screening/donners_2021/donners_2021.csv"
    )
    if not path.exists():
        pytest.skip(f"benchmark data {path} is absent")
    res = simulate(read_dataset(path), seed=1, stopping=("consecutive",))
    assert res.wss95 > 0.3
    assert np.array_equal(np.sort(res.order), np.arange(res.n_records))


def test_session_ranks_with_presumed_exclusions_like_a_simulation(store, monkeypatch) -> None:
    # the ranker sees every work: screened ones with their labels, the rest as -1, from
    # which it draws presumed exclusions (as simulate's loop does)
    from fmreview.screening import models

    truth = _fill(store, 30, 4)
    cfg = ScreeningConfig(
        model={"name": "logistic", "params": {"n_presumed": 5, "presumed_weight": 0.5}},
        stopping={"name": "knee", "params": {}},
        seed=1,
    )
    sess = Session(store, config=cfg)
    inc = next(w for w, y in truth.items() if y == 1)
    exc = next(w for w, y in truth.items() if y == 0)
    record_decision(store, "alice", work_id=inc, label="include", config=cfg)
    record_decision(store, "alice", work_id=exc, label="exclude", criterion="E-REVIEW", config=cfg)
    seen: list[np.ndarray] = []
    fit = models.Logistic.fit

    def spy(self, X, y):  # type: ignore[no-untyped-def]
        seen.append(np.asarray(y).copy())
        return fit(self, X, y)

    monkeypatch.setattr(models.Logistic, "fit", spy)
    assert sess.ranking() is not None
    (y,) = seen
    assert len(y) == len(truth) and sorted(y[y >= 0].tolist()) == [0, 1]
    assert int((y == -1).sum()) == len(truth) - 2


# ----------------------------------------------------------------------------- one engine
def test_terminal_and_web_share_one_engine_and_one_writer(store) -> None:
    """The terminal session serves from the same engine class as the web app, and its
    decisions go through the same writer: a merged work is refused here too (it used to be
    refused by the web only)."""
    from fmreview.errors import ForbiddenError
    from fmreview.screening.engine import ScreeningEngine

    truth = _fill(store, 6, 2)
    store.protocol.screening.reviewers_per_record = 1
    sess = Session(store)
    assert isinstance(sess.engine, ScreeningEngine)
    a, b = sorted(truth)[:2]
    with store.begin() as conn:
        conn.execute(sa.update(schema.works).where(schema.works.c.id == b).values(merged_into=a))
    with pytest.raises(InputError, match=f"merged into work {a}"):
        record_decision(store, "alice", work_id=b, label="include")
    # a work already holding its votes is not served, and a vote on it is refused
    record_decision(store, "alice", work_id=a, label="include")
    assert sess.next_work("bob").work_id != a
    with pytest.raises(ForbiddenError, match="not assigned"):
        record_decision(store, "bob", work_id=a, label="exclude")


def test_an_unknown_stopping_rule_is_refused_by_every_entry_point(store) -> None:
    """A bad stopping-rule name raises in the terminal session and in the web app alike
    (the web queue used to drop it silently and run without a random phase)."""
    from fmreview.web.app import create_app
    from fmreview.web.settings import WebSettings

    _fill(store, 4, 1)
    store.protocol.screening.stopping.rule = "magic"
    with pytest.raises(NotFoundError, match="magic"):
        Session(store)
    with pytest.raises(NotFoundError, match="magic"):
        create_app(store, settings=WebSettings(secret_key="k" * 20, ranking="off"))
