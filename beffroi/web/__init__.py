"""Web layer (thin): JSON API, HTML pages, error rendering. Calls services only."""
