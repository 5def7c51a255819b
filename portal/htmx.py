"""How a view answers htmx: the named partial of its page (`page#partial`) for
a swap, the whole page for everything else."""

from __future__ import annotations

from django.http import HttpRequest
from django_htmx.middleware import HtmxDetails


def wants_partial(request: HttpRequest) -> bool:
    """An htmx request swaps a fragment in; htmx restoring a page of its history
    (a cache miss after Back) needs the whole page, like the browser's cache
    (hence `Vary: HX-Request` where the same URL answers both)."""
    htmx: HtmxDetails | None = getattr(request, "htmx", None)
    return htmx is not None and bool(htmx) and not htmx.history_restore_request


def page_or_partial(request: HttpRequest, page: str, partial: str) -> str:
    """The template to render: the page's `partial` when htmx swaps it in, the
    whole `page` otherwise."""
    return f"{page}#{partial}" if wants_partial(request) else page
