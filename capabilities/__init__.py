"""The capability framework: registry, feature toggles, enforcement and the job
runner. Ask whether a capability is on with `capabilities.is_enabled(org, key)`."""

from capabilities.gate import enabled_in_database, enabled_keys, is_enabled, organizations_with_any_on

__all__ = ["enabled_in_database", "enabled_keys", "is_enabled", "organizations_with_any_on"]
