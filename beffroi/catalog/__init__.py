"""The catalogue: organisations, people, datasets and their metadata, audit events."""
