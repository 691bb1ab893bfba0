"""Entry point: ``python -m modelyard.toolkit serve`` (settings from the environment).

``train`` runs the built-in algorithm of the image's framework (``MODELYARD_FRAMEWORK``), for a training
job given no script. ``worker <fd>`` is internal: a pool worker started by the serving process.
"""

from __future__ import annotations

import os
import sys

from modelyard.toolkit.environment import SettingsError, ToolkitSettings


def main(argv: list[str] | None = None) -> int:
    """Run the command in ``argv``; returns the exit code."""
    args = sys.argv[1:] if argv is None else argv
    if args == ["train"]:
        return train()
    if not (args == ["serve"] or (len(args) == 2 and args[0] == "worker" and args[1].isdigit())):
        print("usage: python -m modelyard.toolkit serve|train", file=sys.stderr)
        return 64
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(line_buffering=True)
    try:
        settings = ToolkitSettings.from_environ()
    except SettingsError as exc:
        print(f"modelyard-toolkit: invalid settings: {exc}", file=sys.stderr)
        return 64
    if args[0] == "worker":
        from modelyard.toolkit.worker import run

        return run(int(args[1]), settings)
    from modelyard.toolkit.startup import serve

    return serve(settings)


def train() -> int:
    """Train with the built-in algorithm of ``MODELYARD_FRAMEWORK``; 64 when it has none."""
    framework = os.environ.get("MODELYARD_FRAMEWORK")
    if framework != "xgboost":
        print(f"modelyard-toolkit: the {framework or 'generic'} image has no built-in training algorithm: give a "
              "training script (sagemaker_program)", file=sys.stderr)
        return 64
    from modelyard.toolkit.xgboost_training import main as xgboost_main

    return xgboost_main()


if __name__ == "__main__":
    sys.exit(main())
