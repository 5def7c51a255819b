"""Document Q&A: ask questions about the organization's documents and get
answers with citations."""
