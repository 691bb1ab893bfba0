"""CPU priority of containers: below the server's, in every mode (with cgroups the quota and weight
of ``cgroups`` come on top; without, this is all there is).

Every process the runtime starts (containers, dependency builds, their user-mode network helper) is
made ``CONTAINER_NICE`` nicer than the server and put under ``SCHED_BATCH`` in the child, before exec;
bwrap, the program and its children inherit both. A sandboxed process cannot undo it: lowering a nice
value needs CAP_SYS_NICE or an RLIMIT_NICE, and it has neither.

This is a priority, not a share: a busy container on an otherwise idle host still gets whole cores;
only when the server wants the CPU too does the scheduler weigh a nice-10 task at about a tenth of a
nice-0 one (CFS weights 110 and 1024), so the server keeps answering while containers burn CPU.
"""

from __future__ import annotations

import os

CONTAINER_NICE = 10


def lower_priority() -> None:
    """Make the calling process ``CONTAINER_NICE`` nicer and SCHED_BATCH (meant for a child before exec)."""
    try:
        os.nice(CONTAINER_NICE)
        os.sched_setscheduler(0, os.SCHED_BATCH, os.sched_param(0))
    except OSError:
        pass
