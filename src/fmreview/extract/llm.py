"""Optional LLM extraction over an OpenAI-compatible ``/chat/completions`` endpoint.

Works with a local Ollama or vLLM server or a hosted API. The request asks for JSON that
follows a schema built from the protocol's taxonomy (``response_format: json_schema``):
for every axis its value(s) from the allowed list and a short verbatim quote as evidence.
Every call is logged in ``artifacts`` (kind ``llm-extraction``, key ``work-<id>``): the
messages sent, the model, the parameters and the raw response, so each label can be
traced to the exchange that produced it.

LLM labels get confidence 0.8 when the quote is found in the work's text (the span is the
evidence) and 0.6 when it is not. The HTTP client is injected (tests use
``httpx.MockTransport``).
"""

from __future__ import annotations

import json
import os
import re
from typing import Any

import httpx
import sqlalchemy as sa

from fmreview.errors import FormatError, SourceError
from fmreview.extract.label import Label, Span
from fmreview.protocol.model import Protocol

FOUND = 0.8
NOT_FOUND = 0.6
SYSTEM = (
    "You classify studies of foundation models in medical image analysis into a fixed taxonomy. "
    "Answer only with JSON that follows the given schema. For each axis choose only from the allowed "
    "values; use null (single-valued) or [] (multi-valued) when the text does not say. For each axis "
    "quote the shortest phrase of the text that supports your answer, verbatim, or an empty string."
)


class LLMExtractor:
    """Label works with an LLM.

    Parameters
    ----------
    protocol : Protocol
    base_url : str
        The API root, e.g. ``http://127.0.0.1:11434/v1`` (``/chat/completions`` is appended).
    model : str
    api_key : str, optional
    temperature : float
    client : httpx.Client, optional
        Injected client (default: a new one with ``timeout``).
    max_chars : int
        Text sent per work is cut to this many characters.
    gazetteer_names : list of str, optional
        Allowed values of axes with ``from_gazetteer: true``.
    """

    def __init__(
        self,
        protocol: Protocol,
        *,
        base_url: str,
        model: str,
        api_key: str | None = None,
        temperature: float = 0.0,
        client: httpx.Client | None = None,
        max_chars: int = 8000,
        timeout: float = 120.0,
        gazetteer_names: list[str] | None = None,
    ) -> None:
        self.protocol = protocol
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.api_key = api_key
        self.temperature = temperature
        self.client = client or httpx.Client(timeout=timeout)
        self.max_chars = max_chars
        self.gazetteer_names = gazetteer_names or []

    @classmethod
    def from_protocol(
        cls, protocol: Protocol, *, client: httpx.Client | None = None
    ) -> LLMExtractor:
        s = protocol.extraction.llm
        key = os.environ.get(s.api_key_env) if s.api_key_env else None
        names: list[str] = []
        if any(a.from_gazetteer for a in protocol.taxonomy):
            from fmreview.extract.gazetteer import load_gazetteer

            gaz = load_gazetteer(protocol)
            names = sorted(gaz.entities) if gaz is not None else []
        return cls(
            protocol,
            base_url=s.base_url,
            model=s.model,
            api_key=key,
            temperature=s.temperature,
            client=client,
            gazetteer_names=names,
        )

    # ------------------------------------------------------------------ request
    def allowed(self, axis: str) -> list[str]:
        a = self.protocol.axis(axis)
        return list(self.gazetteer_names) if a.from_gazetteer else [v.name for v in a.values]

    def schema(self) -> dict[str, Any]:
        """The JSON schema of an answer (strict: every axis present, nothing else)."""
        props: dict[str, Any] = {}
        for a in self.protocol.taxonomy:
            allowed = self.allowed(a.name)
            if a.multi:
                items: dict[str, Any] = {"type": "string"}
                if allowed:
                    items["enum"] = allowed
                value: dict[str, Any] = {"type": "array", "items": items}
            else:
                value = {"type": ["string", "null"]}
                if allowed:
                    value["enum"] = [*allowed, None]
            props[a.name] = {
                "type": "object",
                "properties": {"value": value, "evidence": {"type": "string"}},
                "required": ["value", "evidence"],
                "additionalProperties": False,
            }
        return {
            "type": "object",
            "properties": props,
            "required": list(props),
            "additionalProperties": False,
        }

    def messages(self, texts: dict[str, str]) -> list[dict[str, str]]:
        lines = []
        for a in self.protocol.taxonomy:
            kind = "one or more of" if a.multi else "one of"
            vals = ", ".join(self.allowed(a.name)[:200])
            lines.append(f"- {a.name} ({kind}): {a.description.strip()} Allowed: {vals}")
        body = "\n\n".join(f"{k.upper()}:\n{v}" for k, v in texts.items() if v)[: self.max_chars]
        user = "Taxonomy:\n" + "\n".join(lines) + "\n\nStudy:\n" + body
        return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]

    def payload(self, texts: dict[str, str]) -> dict[str, Any]:
        return {
            "model": self.model,
            "temperature": self.temperature,
            "messages": self.messages(texts),
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": "taxonomy_labels", "strict": True, "schema": self.schema()},
            },
        }

    def call(self, payload: dict[str, Any]) -> dict[str, Any]:
        url = f"{self.base_url}/chat/completions"
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        try:
            resp = self.client.post(url, json=payload, headers=headers)
        except httpx.HTTPError as exc:
            raise SourceError(
                f"LLM endpoint {url} unreachable: {exc}; is the server running?"
            ) from exc
        if resp.status_code >= 400:
            raise SourceError(
                f"LLM endpoint {url} answered HTTP {resp.status_code}: {resp.text[:300]}"
            )
        try:
            data: dict[str, Any] = resp.json()
        except ValueError as exc:
            raise SourceError(
                f"LLM endpoint {url} did not return JSON: {resp.text[:200]!r}"
            ) from exc
        return data

    # ------------------------------------------------------------------ response
    def parse(self, content: str, texts: dict[str, str]) -> tuple[list[Label], list[str]]:
        """Labels from the model's JSON answer, and notes on what was rejected.

        Raises
        ------
        FormatError
            When the answer is not a JSON object.
        """
        text = content.strip()
        fenced = re.match(r"^```(?:json)?\s*(.*?)\s*```$", text, re.DOTALL)
        if fenced:
            text = fenced.group(1)
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise FormatError(
                f"the LLM ({self.model}) answered with invalid JSON ({exc}): {content[:120]!r}; "
                "check that the server supports response_format json_schema"
            ) from exc
        if not isinstance(data, dict):
            raise FormatError(
                f"the LLM ({self.model}) answered with JSON that is not an object: {content[:120]!r}"
            )
        labels: list[Label] = []
        notes: list[str] = []
        for a in self.protocol.taxonomy:
            item = data.get(a.name)
            if item is None:
                continue
            if isinstance(item, dict):
                value, quote = item.get("value"), str(item.get("evidence") or "")
            else:
                value, quote = item, ""
            values = value if isinstance(value, list) else [value] if value else []
            allowed = set(self.allowed(a.name))
            span = _find(quote, texts)
            for v in values:
                if not isinstance(v, str) or (allowed and v not in allowed):
                    notes.append(f"{a.name}: {v!r} is not an allowed value")
                    continue
                conf = FOUND if span else NOT_FOUND
                ev = [span] if span else ([Span("llm", None, None, quote)] if quote else [])
                labels.append(Label(a.name, v, "llm", conf, ev))
            if not a.multi and len([lab for lab in labels if lab.axis == a.name]) > 1:
                notes.append(f"{a.name}: several values for a single-valued axis; kept the first")
                first = next(lab for lab in labels if lab.axis == a.name)
                labels = [lab for lab in labels if lab.axis != a.name or lab is first]
        return labels, notes

    def extract(self, texts: dict[str, str]) -> tuple[list[Label], dict[str, Any]]:
        """Labels for one work and the log entry of the exchange."""
        payload = self.payload(texts)
        data = self.call(payload)
        try:
            content = data["choices"][0]["message"]["content"]
        except (KeyError, IndexError, TypeError) as exc:
            raise FormatError(
                f"the LLM endpoint's answer has no choices[0].message.content: {json.dumps(data)[:200]}"
            ) from exc
        log = {
            "model": self.model,
            "parameters": {"temperature": self.temperature, "base_url": self.base_url},
            "prompt": payload["messages"],
            "response_format": payload["response_format"],
            "response": data,
        }
        labels, notes = self.parse(str(content), texts)
        log["notes"] = notes
        return labels, log

    def extract_work(
        self, store: Any, work_id: int, texts: dict[str, str], *, run_id: int | None = None
    ) -> list[Label]:
        """Extract one work and log the exchange in the store's ``artifacts``."""
        from fmreview.store import schema

        try:
            labels, log = self.extract(texts)
        except FormatError as exc:
            labels, log = (
                [],
                {"model": self.model, "prompt": self.messages(texts), "error": str(exc)},
            )
        with store.begin() as conn:
            conn.execute(
                sa.insert(schema.artifacts).values(
                    kind="llm-extraction",
                    key=f"work-{work_id}",
                    run_id=run_id,
                    created_at=store.clock(),
                    content_type="application/json",
                    data=None,
                    meta=json.loads(json.dumps(log, default=str)),
                )
            )
        return labels


def _find(quote: str, texts: dict[str, str]) -> Span | None:
    q = quote.strip().strip('"').strip()
    if len(q) < 3:
        return None
    for fld, text in texts.items():
        i = text.lower().find(q.lower())
        if i >= 0:
            return Span(fld, i, i + len(q), text[i : i + len(q)])
    return None
