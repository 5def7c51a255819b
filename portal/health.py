"""Sections the layers above the tenancy app add to the IT admin health page
(billing's push backlog, for one). The portal shows them without importing
those apps: each registers a function returning a `HealthSection`, made of
items (one figure each) and, for figures per thing, a table."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.utils.timesince import timesince


@dataclass(frozen=True)
class HealthItem:
    label: str
    value: str
    status: str = "ok"  # ok, warn or bad: the badge colour
    note: str = ""


@dataclass(frozen=True)
class HealthCell:
    value: str
    status: str = ""  # "" for plain text, else ok, warn or bad: a badge
    note: str = ""


@dataclass(frozen=True)
class HealthTable:
    """One row per thing (a capability), one column per figure: what an IT
    admin scans for the one row that is not like the others."""

    columns: list[str]
    rows: list[list[HealthCell]]
    caption: str = ""


@dataclass(frozen=True)
class HealthSection:
    title: str
    description: str
    items: list[HealthItem] = field(default_factory=list)
    table: HealthTable | None = None


_sections: list[Callable[[], HealthSection]] = []


def register(section: Callable[[], HealthSection]) -> None:
    if section not in _sections:
        _sections.append(section)


def sections() -> list[HealthSection]:
    return [section() for section in _sections]


def ago(moment: datetime, now: datetime) -> str:
    """ "3 minutes ago", or "Under a minute ago" (never "0 minutes ago")."""
    return f"{timesince(moment, now)} ago" if now - moment >= timedelta(minutes=1) else "Under a minute ago"
