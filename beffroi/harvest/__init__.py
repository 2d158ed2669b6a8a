"""Harvesting in: datasets from remote DCAT catalogues and CKAN APIs, remote file feeds."""
