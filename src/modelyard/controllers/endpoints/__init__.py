"""Endpoints: the reconciler that runs each endpoint's instances, and its variant plans."""
