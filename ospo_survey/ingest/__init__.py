"""Ingest: fetch, read, decode, harmonise, screen and load the survey files."""
