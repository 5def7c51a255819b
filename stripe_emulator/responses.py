"""The response value shared by the API (server.py), the control API and the invoice pages (control.py)."""

import json
from typing import Any


class Response:
    def __init__(
        self, status: int, body: bytes, content_type: str = "application/json", **headers: str
    ) -> None:
        self.status, self.body, self.content_type, self.headers = status, body, content_type, headers


def json_response(status: int, obj: Any, **headers: str) -> Response:
    return Response(status, json.dumps(obj).encode(), **headers)
