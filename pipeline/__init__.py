"""Stance annotation for foreign-policy briefs.

Stages (each a plain function, no stage imports a later one):
ingest -> segment -> extract -> classify -> aggregate -> export; ``run`` and ``cli`` wire them.
"""

__version__ = "0.1.0"
