"""Requests to switch a capability, and their approval: a member asks an owner
or admin; an organization's cost limit or an IT admin's rule makes even an
owner's switch-on wait for a second person."""
