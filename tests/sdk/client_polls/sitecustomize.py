"""Loaded by the SDK scripts the tests run (``SdkStack.run`` puts this directory on PYTHONPATH).

The sagemaker SDK sleeps between the Describe* calls of its waits: 30 s for an endpoint, 5–10 s for
jobs, before the first look too. That is client-side pacing, chosen for AWS, where a deployment takes
minutes; against a local server it was most of the SDK tests' run time. Here every ``poll`` default of
the SDK's session module drops to one second. The user scripts stay unchanged and every call they make
reaches the server as before; only the client's sleep between them is shorter.
"""

from __future__ import annotations

import inspect
from typing import Any

POLL_SECONDS = 1


def _shorter_polls(function: Any) -> None:
    parameters = inspect.signature(function).parameters
    if "poll" not in parameters or parameters["poll"].default is inspect.Parameter.empty:
        return
    if function.__kwdefaults__ and "poll" in function.__kwdefaults__:
        function.__kwdefaults__["poll"] = POLL_SECONDS
        return
    positional = [p.name for p in parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is not p.empty]
    defaults = list(function.__defaults__)
    defaults[positional.index("poll")] = POLL_SECONDS
    function.__defaults__ = tuple(defaults)


def _install() -> None:
    try:
        from sagemaker import session
    except ImportError:
        return
    for value in vars(session).values():
        if inspect.isfunction(value):
            _shorter_polls(value)
    for value in vars(session.Session).values():
        if inspect.isfunction(value):
            _shorter_polls(value)


_install()
