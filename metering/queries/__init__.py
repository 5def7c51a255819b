"""Read models of metering's pages and API, and of the ledger for other rooms:
an organization's usage (`usage`), finance's view across organizations
(`finance`) and the ledger's backlog (`backlog`), all read from the rollups
chosen by `sources`."""
