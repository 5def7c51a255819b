"""Reading the IT admin health page (`/manage/health/`) as Ivan sees it: one
section by its heading, one item of a section by its label."""

from __future__ import annotations

from html import unescape


def health_section(client, heading: str) -> str:
    """The section headed `heading`, entities decoded, whitespace collapsed."""
    response = client.get("/manage/health/")
    assert response.status_code == 200
    page = " ".join(unescape(response.content.decode()).split())
    start = page.index(f"<h2>{heading}</h2>")
    return page[start : page.index("</section>", start)]


def item(section: str, label: str) -> str:
    """One health item (label, badge and note) of a section."""
    start = section.index(f'<div class="label">{label}</div>')
    end = section.find('<div class="stat">', start)
    return section[start : end if end != -1 else len(section)]
