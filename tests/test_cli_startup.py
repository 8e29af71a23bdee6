"""Starting the command line loads no stage's heavy libraries (they load when used)."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("sklearn", "matplotlib", "scipy", "torch", "fmreview.screening.features")


def test_building_the_cli_imports_no_stage_libraries() -> None:
    code = (
        "import json, sys\n"
        "from fmreview.cli import build_app\n"
        "build_app()\n"
        f"print(json.dumps([m for m in {list(HEAVY)!r} if m in sys.modules]))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    ).stdout
    assert json.loads(out.strip().splitlines()[-1]) == []


def test_the_update_runs_the_pipeline_stages_without_importing_them_at_start() -> None:
    from fmreview import stages
    from fmreview.update import default_stages

    got = default_stages()
    assert [s.name for s in got][:2] == ["dedupe", "eligibility"]
    assert got[0].fn is stages.dedupe and got[-1].name == "report"
