"""`{{ value|as_json }}`: a stored JSON value shown as people read JSON
(indented, `true`/`null`), never as a Python repr (`True`, `None`)."""

import json
from typing import Any

from django import template

register = template.Library()


@register.filter
def as_json(value: Any) -> str:
    # default=str: a value JSON can't write (a date in a hand-made payload) is
    # shown as text rather than breaking the page.
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False, default=str)
