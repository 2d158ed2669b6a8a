"""Versioned tables: one table per dataset, one immutable version per upload."""
