"""Ingest: tabular sources into deterministic train / eval / test Parquet splits."""
