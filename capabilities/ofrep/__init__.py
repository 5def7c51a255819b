"""Capability flags over OFREP, OpenFeature's remote evaluation protocol.

Any OpenFeature SDK with an OFREP provider asks `/ofrep/v1/...` whether a
capability (the flag key) is on for an organization (the evaluation
context's `targetingKey`, its slug). `credentials` decides who may ask,
`evaluation` gives the answer from the toggle gate's snapshot, `views` speaks
the protocol. See docs/capability-services.md#flags-over-ofrep.
"""
