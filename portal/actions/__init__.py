"""State changes of the tenancy app, one module per topic. Each action takes the
acting user, runs in its own transaction, writes its audit entry (`portal.audit`)
and defers side effects (email) until the transaction has committed."""
