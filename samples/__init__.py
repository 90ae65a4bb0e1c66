"""Seeded sample corpora, written as real exports: the realistic group chat (group.py, with planted facts:
facts.py) and the small chat of the fast tests (small.py); exports.py writes them (`clonekit sample`)."""
