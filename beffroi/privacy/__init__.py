"""Personal data (RGPD): detection of likely personal columns, flags confirmed by the
référent, pseudonymisation (keyed hash), and statistical secrecy (minimum cell size).

Deciding who may see a flagged column is the access layer's job
(:mod:`beffroi.access.narrowing`); this package only says which columns are personal.
"""
