"""Reading a rendered page in view tests the way a person reads it."""

from __future__ import annotations

from html import unescape


def text(response) -> str:
    """The response's HTML, entities decoded and runs of whitespace collapsed."""
    return " ".join(unescape(response.content.decode()).split())
