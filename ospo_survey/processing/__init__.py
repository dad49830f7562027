"""Processing: writes data/processed (tables, weights, manifest) from the ingest layer."""
