"""Prefect flows and the ``btk`` command line around the ``btk_core`` engine.

Nothing here holds trading logic: every flow is a thin recipe over the public
``btk_core`` API (SPEC §18). Prefect is imported by the flow modules only, so
``btk --help`` stays fast.
"""
