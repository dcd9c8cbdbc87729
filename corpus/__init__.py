"""Articles in: one Article model and readers for the file types a newsroom drops into a corpus."""
