"""The search commands: thin shells over run_search / enrich / update / describe_requests."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import httpx
import pytest
import typer
from typer.testing import CliRunner

from fmreview.cli import main
from fmreview.cli.search import register
from fmreview.search.http import HttpClient
from fmreview.store import Store
from fmreview.update import LOCK_FILE, ReviewLock
from tests.test_search_fakes import CrossrefServer, OpenAlexServer

PROTOCOL = (
    "name: t\ntitle: T\nquestion: Q?\ndate_range:\n  start: 2020-01-01\nsearch:\n  email: a@b.org\n"
    "  api_keys:\n    openalex: OPENALEX_KEY_FOR_TEST\n"
    "sources:\n  openalex:\n    query:\n      search: sam\n    params:\n      page_size: 4\n"
    "  crossref:\n    query: sam\n    params:\n      page_size: 4\n"
)


@pytest.fixture
def review(tmp_path: Path) -> Path:
    proto = tmp_path / "protocol.yaml"
    proto.write_text(PROTOCOL, encoding="utf-8")
    Store.create(tmp_path / "review", protocol_path=proto).close()
    return tmp_path / "review"


@pytest.fixture
def transport(monkeypatch):
    """Route every client the commands make to fake servers."""
    servers = {"openalex": OpenAlexServer(6), "crossref": CrossrefServer(5)}

    def handler(request: httpx.Request) -> httpx.Response:
        for key, server in servers.items():
            if key in request.url.host:
                return server(request)
        raise AssertionError(request.url)

    from fmreview.search import http as http_mod

    real = http_mod.make_http

    def fake_make_http(settings=None, *, folder=None, client=None, cache=None, **kw):
        return real(
            settings,
            folder=folder,
            client=httpx.Client(transport=httpx.MockTransport(handler)),
            cache=cache,
            sleep=lambda s: None,
            **kw,
        )

    for mod in ("fmreview.search.runner", "fmreview.search.enrich"):
        monkeypatch.setattr(importlib.import_module(mod), "make_http", fake_make_http)
    return servers


def app() -> typer.Typer:
    a = typer.Typer()
    register(a)
    return a


def test_search_urls_prints_one_line_per_source(tmp_path) -> None:
    proto = tmp_path / "p.yaml"
    proto.write_text(PROTOCOL, encoding="utf-8")
    result = CliRunner().invoke(app(), ["search", "urls", "--protocol", str(proto)])
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert [ln.split("\t")[0] for ln in lines] == ["openalex", "crossref"]
    assert lines[0].split("\t")[1].startswith("https://api.openalex.org/works?search=sam")
    assert "OPENALEX_KEY" not in result.output and "api_key" not in result.output
    as_json = CliRunner().invoke(app(), ["search", "urls", "--protocol", str(proto), "--json"])
    assert set(json.loads(as_json.output)) == {"openalex", "crossref"}


def test_search_urls_of_a_review_folder_and_of_the_flagship(review) -> None:
    result = CliRunner().invoke(app(), ["search", "urls", "--dir", str(review)])
    assert result.exit_code == 0 and "api.crossref.org" in result.output
    flagship = CliRunner().invoke(app(), ["search", "urls"])
    assert flagship.exit_code == 0 and flagship.output.count("\n") >= 1


def test_search_command_runs_and_prints_counts(review, transport) -> None:
    result = CliRunner().invoke(app(), ["search", "--dir", str(review), "--json", "--max", "5"])
    assert result.exit_code == 0, result.output
    counts = json.loads(result.output)
    assert counts["openalex"]["fetched"] == 5 and counts["crossref"]["fetched"] == 5
    table = CliRunner().invoke(
        app(), ["search", "--dir", str(review), "--source", "crossref", "-q"]
    )
    assert table.exit_code == 0 and "crossref" in table.output and "openalex" not in table.output


def test_search_since_option_reaches_the_request(review, transport) -> None:
    result = CliRunner().invoke(
        app(), ["search", "--dir", str(review), "-s", "openalex", "--since", "2024-02-01"]
    )
    assert result.exit_code == 0, result.output
    assert "from_publication_date:2024-02-01" in transport["openalex"].calls[0].url.params["filter"]


def test_failed_source_gives_one_line_and_nonzero_exit(review, transport, capsys) -> None:
    transport["crossref"].fail = {
        k: httpx.Response(
            400,
            json={
                "status": "failed",
                "message": [
                    {
                        "type": "unknown-filter",
                        "message": "Filter foo specified but there is no such filter",
                    }
                ],
            },
        )
        for k in range(1, 5)
    }
    code = main(["search", "--dir", str(review), "-q"])
    err = " ".join(capsys.readouterr().err.split())  # wrapped at 80 columns: join the lines
    assert code != 0
    assert "crossref rejected the query 'sam'" in err and "no such filter" in err
    store = Store.open(review)
    from fmreview.store.records import count_records

    assert count_records(store) == 6  # openalex kept


def test_bad_since_is_an_input_error(review, transport, capsys) -> None:
    code = main(["search", "--dir", str(review), "--since", "yesterday"])
    assert code == 2 and "expected YYYY-MM-DD" in capsys.readouterr().err


def test_enrich_command(review, transport) -> None:
    result = CliRunner().invoke(app(), ["enrich", "--dir", str(review), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["candidates"] == 0
    text = CliRunner().invoke(app(), ["enrich", "--dir", str(review)])
    assert "lacked an abstract" in text.output


def test_update_command_and_lock(review, transport, capsys) -> None:
    result = CliRunner().invoke(app(), ["update", "--dir", str(review), "--note", "weekly"])
    assert result.exit_code == 0, result.output
    out = " ".join(result.output.split())
    assert "Version 1 recorded: 11 new record(s)," in out
    # the whole pipeline ran (no registry to fill first), and the new works wait for people
    assert all(f"{stage}:" in out for stage in ("dedupe", "eligibility", "extract", "report"))
    assert "wait for screening" in out
    with ReviewLock(review / LOCK_FILE):
        code = main(["update", "--dir", str(review), "-q"])
    err = capsys.readouterr().err
    assert code != 0 and "another fmreview update is running" in " ".join(err.split())
    assert err.count("error:") == 1 and "Traceback" not in err  # one message


def test_every_command_has_an_example() -> None:
    root = typer.main.get_command(app())
    cmds: dict = {
        "enrich": root.commands["enrich"],
        "update": root.commands["update"],
        "search": root.commands["search"],
    }
    search = root.commands["search"]
    cmds["search urls"] = search.commands["urls"]
    for name, cmd in cmds.items():
        assert f"Example: fmreview {name}" in (cmd.help or ""), name


def test_update_offline_exits_non_zero_at_once_with_a_line_per_source(
    review, monkeypatch, capsys
) -> None:
    made: list[HttpClient] = []

    def offline(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno -3] Temporary failure in name resolution")

    from fmreview.search import http as http_mod

    real = http_mod.make_http

    def fake_make_http(settings=None, *, folder=None, client=None, cache=None, **kw):
        client = httpx.Client(transport=httpx.MockTransport(offline))
        made.append(real(settings, folder=folder, client=client, cache=cache, sleep=lambda s: None))
        return made[-1]

    monkeypatch.setattr(
        importlib.import_module("fmreview.search.runner"), "make_http", fake_make_http
    )
    code = main(["update", "--dir", str(review), "-q"])
    err = " ".join(capsys.readouterr().err.split())
    assert code != 0
    assert "update failed: all 2 source(s) failed; no version recorded" in err
    assert "openalex: cannot connect to api.openalex.org" in err
    assert "crossref: cannot connect to api.crossref.org" in err
    # two attempts per source and one backoff of at most a second, not minutes of retries
    (http,) = made
    assert http.requests_sent == 4
    retries = [w for _, reason, w in http.waits if reason == "retry"]
    assert len(retries) == 2 and all(w <= 1.0 for w in retries)
    store = Store.open(review)
    assert [r["status"] for r in store.runs("update")] == ["failed"]
    from fmreview.store import schema

    with store.connect() as conn:
        assert conn.execute(schema.versions.select()).first() is None
