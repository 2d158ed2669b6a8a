"""Ingestion: read messy real files as Arrow record batches, type them, profile them."""
