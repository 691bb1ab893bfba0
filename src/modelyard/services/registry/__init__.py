"""The model registry: model package groups and (versioned or unversioned) model packages."""

from modelyard.services.registry import groups, packages, package_updates  # noqa: F401
