"""Runs that end abnormally: Ctrl-C says what was kept; a killed run becomes "interrupted".

Both are tested on real processes: a child runs ``fmreview run`` with a stage that waits,
and the test sends it SIGINT (or SIGKILL) once it says it is waiting.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from fmreview.cli import main
from fmreview.store import Store

DATA = Path(__file__).resolve().parent / "data"
SRC = Path(__file__).resolve().parents[1] / "src"

# The child replaces the extract stage with one that announces itself and waits.
CHILD = """
import sys, time
import fmreview.pipeline as pipeline
from fmreview.cli import main

def waiting(store, *, reporter=None):
    print("waiting", flush=True)
    time.sleep(120)

pipeline.STAGES = tuple(
    pipeline.Stage(s.name, waiting) if s.name == "extract" else s for s in pipeline.STAGES
)
sys.exit(main(sys.argv[1:]))
"""

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")


def _start(tmp_path: Path, folder: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(SRC), "COLUMNS": "80"}
    args = ["run", str(folder), "--protocol", str(DATA / "protocol-minimal.yaml"), "-q"]
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    assert child.stdout is not None
    line = child.stdout.readline()  # blocks until the stage is reached
    assert line.strip() == "waiting", child.stderr.read() if child.stderr else line
    return child


def _runs(folder: Path) -> dict[str, str]:
    return {r["command"]: r["status"] for r in Store.open(folder).runs()}


def test_ctrl_c_says_what_was_kept_and_how_to_resume(tmp_path: Path) -> None:
    folder = tmp_path / "r"
    child = _start(tmp_path, folder)
    child.send_signal(signal.SIGINT)
    _, err = child.communicate(timeout=60)
    assert child.returncode == 130, err
    text = " ".join(err.split())
    assert "interrupted." in text and "Traceback" not in text
    assert "Stopped run 1 (run)" in text and "recorded as interrupted" in text
    assert "finished stages dedupe, eligibility" in text
    assert f"run the same command again to resume: fmreview run {folder}" in text
    assert _runs(folder) == {"run": "interrupted", "dedupe": "ok", "eligibility": "ok"}


def test_a_killed_run_is_marked_interrupted_when_the_review_is_next_opened(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "r"
    child = _start(tmp_path, folder)
    child.kill()  # SIGKILL: no handler runs, the run row says "running"
    child.communicate(timeout=60)
    assert main(["runs", "--dir", str(folder), "--json"]) == 0
    rows = {r["command"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["run"]["status"] == "interrupted"
    assert "ended before the run did" in rows["run"]["error"]
    assert rows["dedupe"]["status"] == "ok"  # finished stages keep their status


def test_a_running_run_of_a_live_process_is_left_alone(tmp_path: Path) -> None:
    store = Store.create(tmp_path / "r")
    with store.run("import"):
        assert Store.open(tmp_path / "r").runs()[0]["status"] == "running"
    assert Store.open(tmp_path / "r").runs()[0]["status"] == "ok"
