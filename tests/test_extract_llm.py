"""LLM extraction over an OpenAI-compatible endpoint (httpx.MockTransport only)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from fmreview.errors import FormatError, SourceError
from fmreview.extract.llm import LLMExtractor
from fmreview.protocol import flagship_path, load_protocol
from fmreview.store import Store, schema

TEXTS = {
    "title": "RadCLIP: a vision-language model for chest X-ray classification",
    "abstract": "We pretrain an image-text model on MIMIC-CXR and evaluate zero-shot on CheXpert.",
}
ANSWER = {
    "fm_type": {"value": "vision_language", "evidence": "a vision-language model"},
    "modality": {"value": ["xray"], "evidence": "chest X-ray"},
    "task": {"value": ["classification", "teleportation"], "evidence": "classification"},
    "datasets": {"value": ["MIMIC-CXR"], "evidence": "pretrain an image-text model on MIMIC-CXR"},
    "architecture": {"value": [], "evidence": ""},
    "adaptation": {"value": ["zero_shot"], "evidence": "not in the text"},
}


def completion(content: str) -> dict[str, Any]:
    return {
        "id": "x",
        "model": "test-model",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}}],
    }


class Recorder:
    def __init__(self, content: str, status: int = 200) -> None:
        self.content = content
        self.status = status
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.status != 200:
            return httpx.Response(self.status, text="model not found")
        return httpx.Response(200, json=completion(self.content))


@pytest.fixture(scope="module")
def protocol():  # type: ignore[no-untyped-def]
    return load_protocol(flagship_path())


def make(protocol, handler) -> LLMExtractor:  # type: ignore[no-untyped-def]
    client = httpx.Client(transport=httpx.MockTransport(handler))
    return LLMExtractor(
        protocol,
        base_url="http://llm.test/v1",
        model="test-model",
        api_key="k",
        client=client,
        gazetteer_names=["MIMIC-CXR", "CheXpert"],
    )


def test_request_carries_the_taxonomy_schema(protocol) -> None:  # type: ignore[no-untyped-def]
    rec = Recorder(json.dumps(ANSWER))
    make(protocol, rec).extract(TEXTS)
    (req,) = rec.requests
    assert req.url == "http://llm.test/v1/chat/completions"
    assert req.headers["authorization"] == "Bearer k"
    body = json.loads(req.content)
    assert body["model"] == "test-model" and body["temperature"] == 0.0
    schema_ = body["response_format"]["json_schema"]["schema"]
    assert body["response_format"]["type"] == "json_schema"
    assert set(schema_["required"]) == {a.name for a in protocol.taxonomy}
    fm = schema_["properties"]["fm_type"]["properties"]["value"]
    assert fm["enum"] == ["vision_language", "vision_only", None] or set(fm["enum"]) == {
        "vision_only",
        "vision_language",
        None,
    }
    assert schema_["properties"]["modality"]["properties"]["value"]["type"] == "array"
    assert "RadCLIP" in body["messages"][1]["content"]


def test_valid_json_gives_labels_with_spans(protocol) -> None:  # type: ignore[no-untyped-def]
    labels, log = make(protocol, Recorder(json.dumps(ANSWER))).extract(TEXTS)
    got = {(lab.axis, lab.value): lab for lab in labels}
    assert set(got) == {
        ("fm_type", "vision_language"),
        ("modality", "xray"),
        ("task", "classification"),
        ("datasets", "MIMIC-CXR"),
        ("adaptation", "zero_shot"),
    }
    fm = got[("fm_type", "vision_language")]
    assert fm.method == "llm" and fm.confidence == 0.8
    (span,) = fm.evidence
    assert TEXTS[span.field][span.start : span.end] == span.text == "a vision-language model"
    assert got[("adaptation", "zero_shot")].confidence == 0.6  # quote not found in the text
    assert "task: 'teleportation' is not an allowed value" in log["notes"]
    assert log["model"] == "test-model" and log["prompt"][0]["role"] == "system"
    assert log["response"]["choices"][0]["message"]["content"] == json.dumps(ANSWER)


def test_fenced_json_is_accepted(protocol) -> None:  # type: ignore[no-untyped-def]
    labels, _ = make(protocol, Recorder("```json\n" + json.dumps(ANSWER) + "\n```")).extract(TEXTS)
    assert labels


def test_invalid_json_is_a_clear_error(protocol) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(FormatError, match=r"invalid JSON .*response_format json_schema"):
        make(protocol, Recorder("Sure! The study is vision-language.")).extract(TEXTS)
    with pytest.raises(FormatError, match="not an object"):
        make(protocol, Recorder("[1, 2]")).extract(TEXTS)


def test_http_errors_are_source_errors(protocol) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SourceError, match="HTTP 404: model not found"):
        make(protocol, Recorder("", status=404)).extract(TEXTS)

    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    with pytest.raises(SourceError, match="unreachable"):
        make(protocol, down).extract(TEXTS)


def test_exchange_is_logged_per_work(store: Store, protocol) -> None:  # type: ignore[no-untyped-def]
    ex = make(protocol, Recorder(json.dumps(ANSWER)))
    labels = ex.extract_work(store, 7, TEXTS, run_id=None)
    assert labels
    bad = make(protocol, Recorder("not json"))
    assert bad.extract_work(store, 8, TEXTS) == []
    with store.connect() as conn:
        rows = conn.execute(
            sa.select(schema.artifacts)
            .where(schema.artifacts.c.kind == "llm-extraction")
            .order_by(schema.artifacts.c.id)
        ).all()
    assert [r.key for r in rows] == ["work-7", "work-8"]
    ok, err = rows[0].meta, rows[1].meta
    assert ok["model"] == "test-model" and ok["parameters"]["temperature"] == 0.0
    assert "RadCLIP" in ok["prompt"][1]["content"]
    assert ok["response"]["choices"][0]["message"]["content"] == json.dumps(ANSWER)
    assert "invalid JSON" in err["error"]


def test_extract_store_with_llm(store: Store) -> None:
    from fmreview.extract.store_io import current_labels, extract_store
    from fmreview.record import Record
    from fmreview.store.records import add_records
    from fmreview.store.works import works_from_records

    with store.run("import") as run:
        add_records(
            store,
            [Record(title=TEXTS["title"], abstract=TEXTS["abstract"])],
            source="t",
            source_kind="other",
            run_id=run.id,
        )
        works_from_records(store, run.id)
    ex = make(store.protocol, Recorder(json.dumps(ANSWER)))
    with store.run("extract") as run:
        counts = extract_store(store, run_id=run.id, methods=["llm", "rule"], llm=ex)
    assert counts["rows_added"]["llm"] == 5
    cur = current_labels(store)
    fm = cur[cur.axis == "fm_type"].iloc[0]
    assert fm["method"] == "llm"  # llm outranks rule


def test_from_protocol_reads_the_key_from_the_environment(protocol, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from fmreview.protocol.model import ExtractionSettings, LLMSettings

    proto = protocol.model_copy(
        update={
            "extraction": ExtractionSettings(
                llm=LLMSettings(
                    enabled=True, base_url="http://h/v1/", model="m", api_key_env="MY_LLM_KEY"
                )
            )
        }
    )
    monkeypatch.setenv("MY_LLM_KEY", "secret")
    rec = Recorder(json.dumps(ANSWER))
    ex = LLMExtractor.from_protocol(proto, client=httpx.Client(transport=httpx.MockTransport(rec)))
    assert ex.base_url == "http://h/v1" and ex.model == "m" and ex.api_key == "secret"
    from fmreview.extract.gazetteer import bundled_gazetteer

    allowed = ex.allowed("datasets")
    assert "MIMIC-CXR" in allowed and len(allowed) == len(bundled_gazetteer()) > 113
    ex.extract(TEXTS)
    assert rec.requests[0].headers["authorization"] == "Bearer secret"


def test_single_valued_axis_keeps_one_value(protocol) -> None:  # type: ignore[no-untyped-def]
    answer = {"fm_type": {"value": ["vision_only", "vision_language"], "evidence": ""}}
    labels, log = make(protocol, Recorder(json.dumps(answer))).extract(TEXTS)
    assert [lab.value for lab in labels] == ["vision_only"]
    assert any("single-valued" in n for n in log["notes"])


def test_answer_without_content_is_a_format_error(protocol) -> None:  # type: ignore[no-untyped-def]
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"choices": []})

    with pytest.raises(FormatError, match="no choices"):
        make(protocol, handler).extract(TEXTS)
