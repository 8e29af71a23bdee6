"""Review protocols: the YAML file that defines a review, validated with line numbers."""

from fmreview.protocol.loader import (
    check_protocol,
    flagship_path,
    load_protocol,
    parse_protocol,
    protocol_errors,
    template_text,
)
from fmreview.protocol.model import Axis, AxisValue, Criterion, Protocol, Rule

__all__ = [
    "Axis",
    "AxisValue",
    "Criterion",
    "Protocol",
    "Rule",
    "check_protocol",
    "flagship_path",
    "load_protocol",
    "parse_protocol",
    "protocol_errors",
    "template_text",
]
