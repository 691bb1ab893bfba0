"""Refuse at create time a container or job whose framework image names a version modelyard cannot
install (``runtime.frameworks``), instead of failing later or running another version."""

from __future__ import annotations

from modelyard.context import RequestContext
from modelyard.wire.errors import ValidationException


def refuse_unrunnable_image(ctx: RequestContext, uri: str | None, member: str) -> None:
    """A ValidationException naming ``member`` when image ``uri`` cannot be served as tagged."""
    if not uri:
        return
    problem = ctx.app.images.problem(uri)
    if problem:
        raise ValidationException(f"{member} {uri}: {problem}")
