"""The container abstraction: image → environment → sandboxed process. Knows nothing of SageMaker resources.

::

    ImageRegistry.resolve(uri) ─► ImageSpec ─► EnvironmentBuilder.ensure ─► Environment (uv venv)
                                                                              │ python, PATH
    ContainerSpec(argv, env, opt_ml, binds, …) ─► ProcessBackend.start ─► ContainerProcess
"""

from __future__ import annotations

from modelyard.runtime.containers import ContainerProcess
from modelyard.runtime.environments import Environment, EnvironmentBuilder, toolkit_pythonpath
from modelyard.runtime.errors import (
    ContainerStartError,
    EnvironmentBuildError,
    ImageRegistrationError,
    RuntimeLayerError,
    SandboxUnavailableError,
    UnknownImageError,
)
from modelyard.runtime.images import ImageRegistry, ImageSpec, resolve_framework_image
from modelyard.runtime.process import ContainerSpec, ProcessBackend

__all__ = [
    "ContainerProcess",
    "ContainerSpec",
    "ContainerStartError",
    "Environment",
    "EnvironmentBuildError",
    "EnvironmentBuilder",
    "ImageRegistrationError",
    "ImageRegistry",
    "ImageSpec",
    "ProcessBackend",
    "RuntimeLayerError",
    "SandboxUnavailableError",
    "UnknownImageError",
    "resolve_framework_image",
    "toolkit_pythonpath",
]
