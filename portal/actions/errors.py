"""The refusal every action raises when a change cannot be made: a message for
a person and a code for the API."""

from __future__ import annotations


class ActionError(Exception):
    """A state change refused for a reason the user can act on."""

    def __init__(self, message: str, code: str = "invalid") -> None:
        super().__init__(message)
        self.message = message
        self.code = code
