"""ExpertSender XML success bodies: <ApiResponse><Data>...</Data></ApiResponse> (ExpertSender API v2: Data
format)."""

from __future__ import annotations

from typing import Any
from xml.sax.saxutils import escape

from flask import Response

_OPEN = ('<?xml version="1.0" encoding="utf-8"?>\r\n<ApiResponse xmlns:xsd="http://www.w3.org/2001/XMLSchema" '
         'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">')
_CLOSE = "</ApiResponse>"


def element(name: str, value: Any) -> str:
    """<name>value</name>; a dict nests, a list repeats its items (each item a (name, value) pair)."""
    if isinstance(value, dict):
        inner = "".join(element(k, v) for k, v in value.items())
    elif isinstance(value, list):
        inner = "".join(element(k, v) for k, v in value)
    elif isinstance(value, bool):
        inner = "true" if value else "false"
    elif value is None:
        return f'<{name} xsi:nil="true" />'
    else:
        inner = escape(str(value))
    return f"<{name}>{inner}</{name}>"


def data_response(data: Any) -> Response:
    body = (_OPEN + element("Data", data) + _CLOSE).encode()
    response = Response(body, content_type="text/xml; charset=utf-8")
    response.headers["Content-Length"] = str(len(body))
    return response
