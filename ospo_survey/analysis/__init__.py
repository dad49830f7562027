"""Analysis: what each page shows, as tidy frames and small records (no HTML)."""
