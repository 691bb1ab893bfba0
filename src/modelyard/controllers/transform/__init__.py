"""Batch transform: the reconciler that feeds a job's inputs through the model's instances."""
