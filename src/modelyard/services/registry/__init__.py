"""The model registry: model package groups and (versioned or unversioned) model packages."""

from modelyard.services.registry import groups, package_updates, packages  # noqa: F401
