"""Pagination of the API's lists that refuses what it can't read: a limit,
offset or page size that is not a whole number in range answers 400 naming the
parameter, where DRF's own classes would quietly use their defaults. The
schema states the same ranges."""

from __future__ import annotations

from typing import Any

from rest_framework import exceptions, pagination
from rest_framework.request import Request

MAX_PAGE_SIZE = 1000


def query_integer(request: Request, name: str, *, minimum: int, maximum: int | None = None) -> int | None:
    """The whole number in query parameter `name` (None when it is absent), or
    400: digits only (an optional sign), no spaces, within the range."""
    raw = request.query_params.get(name)
    if raw is None:
        return None
    value: int | None = None
    if raw.isascii() and "_" not in raw and raw == raw.strip():
        try:
            value = int(raw)
        except ValueError:
            value = None
    if value is None:
        raise exceptions.ValidationError({name: [f"Give a whole number, not {raw[:40]!r}."]})
    if value < minimum or (maximum is not None and value > maximum):
        upper = f" and {maximum}" if maximum is not None else ""
        raise exceptions.ValidationError(
            {name: [f"Give a number between {minimum}{upper}." if upper else f"Give {minimum} or more."]}
        )
    return value


def _ranged(parameters: list[dict[str, Any]], ranges: dict[str, dict[str, int]]) -> list[dict[str, Any]]:
    for parameter in parameters:
        parameter["schema"] = {**parameter["schema"], **ranges.get(parameter["name"], {})}
    return parameters


class LimitOffsetPagination(pagination.LimitOffsetPagination):
    """The API's default: `limit` 1 to 1000 (default 50), `offset` 0 or more."""

    max_limit = MAX_PAGE_SIZE

    def get_limit(self, request: Request) -> int | None:
        limit = query_integer(request, self.limit_query_param, minimum=1, maximum=self.max_limit)
        return self.default_limit if limit is None else limit

    def get_offset(self, request: Request) -> int:
        return query_integer(request, self.offset_query_param, minimum=0) or 0

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        return _ranged(
            super().get_schema_operation_parameters(view),
            {
                self.limit_query_param: {"minimum": 1, "maximum": MAX_PAGE_SIZE},
                self.offset_query_param: {"minimum": 0},
            },
        )


class _BoundedPageSize:
    """`page_size` 1 to 1000, a 400 otherwise (for both paginations below)."""

    page_size: int | None
    page_size_query_param: str | None
    max_page_size: int | None

    def get_page_size(self, request: Request) -> int | None:
        name = self.page_size_query_param or "page_size"
        size = query_integer(request, name, minimum=1, maximum=self.max_page_size or MAX_PAGE_SIZE)
        return self.page_size if size is None else size


class PageNumberPagination(_BoundedPageSize, pagination.PageNumberPagination):
    """`page` 1 or more (past the last page: 404), `page_size` 1 to 1000."""

    page_size_query_param = "page_size"
    max_page_size = MAX_PAGE_SIZE

    def get_page_number(self, request: Request, paginator: Any) -> Any:
        query_integer(request, self.page_query_param, minimum=1)
        return super().get_page_number(request, paginator)

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        return _ranged(
            super().get_schema_operation_parameters(view),
            {
                self.page_query_param: {"minimum": 1},
                self.page_size_query_param: {"minimum": 1, "maximum": MAX_PAGE_SIZE},
            },
        )


class CursorPagination(_BoundedPageSize, pagination.CursorPagination):
    """`cursor` from a `next` or `previous` link (an unknown one: 404),
    `page_size` 1 to 1000."""

    page_size_query_param = "page_size"
    max_page_size = MAX_PAGE_SIZE

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        return _ranged(
            super().get_schema_operation_parameters(view),
            {self.page_size_query_param: {"minimum": 1, "maximum": MAX_PAGE_SIZE}},
        )
