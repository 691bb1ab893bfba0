"""modelyard: a self-hosted platform that speaks SageMaker's API and runs the models for real.

This module stays empty on purpose: the in-container toolkit (``modelyard.toolkit``) is imported inside
model venvs that do not have modelyard's dependencies.
"""
