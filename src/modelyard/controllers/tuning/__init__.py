"""Hyperparameter tuning jobs: the tuner that launches, watches and stops their training jobs."""
