"""Rendering: page prose, charts and tables made from analysis results."""
