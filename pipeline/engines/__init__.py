"""Execution engines for ``briefs process`` beyond the local process pool."""
