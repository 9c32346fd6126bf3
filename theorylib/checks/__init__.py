"""Claim checks, one module per chapter (``chNN_topic.py``); each registers its claims with
:func:`theorylib.claims.claim`. Only these modules and the chapters import both ``theory``
and ``sim``."""
