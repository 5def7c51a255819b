"""The Document Q&A evaluation set: documents written for it (contracts,
invoices, policies) and questions with the page and exact span that answer
them, or none."""
