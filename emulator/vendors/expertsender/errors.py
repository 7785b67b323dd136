"""ExpertSender errors: XML ApiResponse/ErrorMessage with Code equal to the HTTP status.

Content-Type text/xml and an explicit Content-Length: a public client misses errors without them
(ExpertSender API v2: Data format, Status codes).
"""

from __future__ import annotations

from xml.sax.saxutils import escape

from flask import Response

_TEMPLATE = ('<?xml version="1.0" encoding="utf-8"?>\r\n<ApiResponse xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
             'xmlns:xsd="http://www.w3.org/2001/XMLSchema"><ErrorMessage><Code>{code}</Code>'
             '<Message>{message}</Message></ErrorMessage></ApiResponse>')


def api_error(status: int, message: str) -> Response:
    body = _TEMPLATE.format(code=status, message=escape(message)).encode()
    response = Response(body, status=status, content_type="text/xml; charset=utf-8")
    response.headers["Content-Length"] = str(len(body))
    return response
