"""The package version: one place, read by the provenance footers and the CLI."""

VERSION = "0.1.0"
