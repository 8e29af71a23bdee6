"""Turning a file's bytes into text: encoding detection and a forgiving decoder.

Order of trust: a byte-order mark (UTF-8, UTF-16 LE/BE, UTF-32), then UTF-16 without BOM
recognised from its NUL-byte pattern, then UTF-8 when the first block decodes as UTF-8,
then charset-normalizer's guess, then cp1252. Bytes that turn out invalid later in a
UTF-8 file (a Latin-1 record pasted into a UTF-8 export) are decoded as cp1252 by the
``fmreview-cp1252`` error handler instead of stopping the import.
"""

from __future__ import annotations

import codecs
import io
from pathlib import Path
from typing import TextIO

from fmreview.errors import FormatError

SAMPLE_BYTES = 64 * 1024

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


_LATIN = {
    "ascii",
    "latin_1",
    "cp1250",
    "cp1252",
    "cp1254",
    "cp1257",
    "iso8859_2",
    "iso8859_15",
    "iso8859_9",
    "iso8859_10",
    "iso8859_13",
    "iso8859_14",
    "iso8859_16",
    "mac_roman",
    "mac_latin2",
    "cp850",
    "cp437",
}


def _cp1252_fallback(exc: UnicodeError) -> tuple[str, int]:
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    bad = exc.object[exc.start : exc.end]
    return bad.decode("cp1252", errors="replace").replace("\ufffd", ""), exc.end


codecs.register_error("fmreview-cp1252", _cp1252_fallback)


def read_sample(path: Path, size: int = SAMPLE_BYTES) -> bytes:
    with open(path, "rb") as fh:
        return fh.read(size)


def is_binary(sample: bytes) -> bool:
    """True when ``sample`` looks like binary data rather than text in any encoding."""
    if not sample:
        return False
    if any(sample.startswith(bom) for bom, _ in _BOMS) or _utf16_without_bom(sample):
        return False
    if b"\x00" in sample:
        return True
    control = sum(1 for b in sample if b < 32 and b not in (9, 10, 12, 13, 27))
    return control / len(sample) > 0.05


def _utf16_without_bom(sample: bytes) -> str | None:
    head = sample[:4096]
    if len(head) < 4:
        return None
    even = head[0::2].count(0)
    odd = head[1::2].count(0)
    half = len(head) // 2
    if odd > 0.6 * half and even < 0.05 * half:
        return "utf-16-le"
    if even > 0.6 * half and odd < 0.05 * half:
        return "utf-16-be"
    return None


def detect_encoding(sample: bytes) -> str:
    """The Python codec name to decode a file whose first bytes are ``sample``."""
    for bom, name in _BOMS:
        if sample.startswith(bom):
            return name
    utf16 = _utf16_without_bom(sample)
    if utf16:
        return utf16
    try:
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=False)
        return "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        from charset_normalizer import from_bytes

        best = from_bytes(sample).best()
        guess = str(best.encoding) if best is not None and best.encoding else ""
        # charset-normalizer tells Latin-script code pages apart poorly on short samples;
        # bibliographic exports in a Latin script that are not UTF-8 are cp1252/Latin-1.
        if guess and not guess.startswith(("utf_16", "utf_32")) and guess not in _LATIN:
            return guess
    except Exception:  # noqa: BLE001 - detection is best effort; cp1252 below is always safe
        pass
    return "cp1252"


def open_text(path: Path, encoding: str | None = None, newline: str | None = None) -> TextIO:
    """Open ``path`` for streaming text reading with the detected encoding.

    Newlines are universal (``\\r\\n`` and ``\\r`` become ``\\n``); a BOM is dropped.
    """
    enc = encoding or detect_encoding(read_sample(path))
    errors = "fmreview-cp1252" if enc in ("utf-8", "utf-8-sig") else "replace"
    return open(path, encoding=enc, errors=errors, newline=newline)


def decode_bytes(data: bytes) -> str:
    """Decode a whole in-memory document (API pages) with the same rules as files."""
    enc = detect_encoding(data[:SAMPLE_BYTES])
    errors = "fmreview-cp1252" if enc in ("utf-8", "utf-8-sig") else "replace"
    text = data.decode(enc, errors=errors)
    return text[1:] if text.startswith("\ufeff") else text


def read_head(path: Path, size: int = 16 * 1024) -> str:
    """The first characters of ``path`` as text (for sniffing); raises on binary data."""
    sample = read_sample(path, SAMPLE_BYTES)
    if is_binary(sample):
        raise FormatError(f"{path.name} looks like a binary file")
    enc = detect_encoding(sample)
    with io.TextIOWrapper(io.BytesIO(sample), encoding=enc, errors="replace") as fh:
        text = fh.read(size)
    return text[1:] if text.startswith("\ufeff") else text
