"""Stripe's form encoding: ``a[b][0][c]=v`` bodies and query strings into nested dicts and lists."""

import re
from typing import Any
from urllib.parse import parse_qsl

_BRACKETS = re.compile(r"\[([^\]]*)\]")


def parse_form(text: str) -> dict[str, Any]:
    """Decode a form body or query string with Stripe's bracket notation.

    ``items[0][price]=p`` -> ``{"items": [{"price": "p"}]}``; ``lookup_keys[]=a&lookup_keys[]=b`` ->
    ``{"lookup_keys": ["a", "b"]}``; ``metadata[k]=v`` -> ``{"metadata": {"k": "v"}}``. A dict whose keys
    are all integers becomes a list ordered by index. Values stay strings (as on the wire).
    """
    root: dict[str, Any] = {}
    for key, value in parse_qsl(text, keep_blank_values=True):
        head = key.split("[", 1)[0]
        parts = [head, *_BRACKETS.findall(key[len(head) :])]
        node = root
        for index, part in enumerate(parts):
            last = index == len(parts) - 1
            if part == "":  # "a[]": append
                part = str(len(node))
            if last:
                node[part] = value
            else:
                child = node.get(part)
                if not isinstance(child, dict):
                    child = {}
                    node[part] = child
                node = child
    return _listify(root)


def _listify(value: Any) -> Any:
    if not isinstance(value, dict):
        return value
    converted = {key: _listify(child) for key, child in value.items()}
    if converted and all(key.isdigit() for key in converted):
        return [converted[key] for key in sorted(converted, key=int)]
    return converted


def canonical(params: dict[str, Any]) -> str:
    """A stable text form of decoded parameters, to compare idempotent requests."""
    import json

    return json.dumps(params, sort_keys=True, separators=(",", ":"))
