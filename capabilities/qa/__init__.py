"""Document Q&A: ask the organization's documents a question and get the
sentences that answer it, each with its citation."""
