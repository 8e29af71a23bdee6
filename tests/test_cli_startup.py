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


def test_update_stages_still_resolve_when_run() -> None:
    from fmreview.pipeline import update_stages

    names = [name for name, _ in update_stages()]
    assert names[:2] == ["dedupe", "eligibility"] and "report" in names
