"""``modelyard watch``'s frame from a snapshot: variants, a deployment's steps, scaling, the sparkline
(the live data it reads is tested end to end in test_deploy_flow.py)."""

from __future__ import annotations

from rich.console import Console

from modelyard.cli.watch_command import _deployment, render, sparkline


def _text(view: dict) -> str:  # type: ignore[type-arg]
    console = Console(width=200, record=True, color_system=None)
    console.print(render(view))
    return console.export_text()


def test_sparkline_scales_to_the_largest_value() -> None:
    assert sparkline([0, 0, 0]) == "▁▁▁"
    assert sparkline([0, 5, 10]) == "▁▅█"
    assert sparkline([]) == ""


def test_a_frame_shows_variants_a_deployment_and_scaling() -> None:
    pending = {"EndpointConfigName": "churn-v2", "StartTime": None, "ProductionVariants": [
        {"VariantName": "AllTraffic", "CurrentInstanceCount": 1, "DesiredInstanceCount": 2,
         "VariantStatus": [{"Status": "Baking", "StatusMessage": "step 2 of 2: 100 % of calls on the new fleet"}]}]}
    minute = {"calls": [0.0, 120.0, 60.0], "errors_4xx": [0.0, 1.0, 0.0], "errors_5xx": [0.0, 2.0, 0.0],
              "model_errors": [0.0, 2.0, 0.0], "p50_ms": [0.0, 410.0, 0.0], "p99_ms": [0.0, 1900.0, 0.0]}
    view = {"endpoint": "churn", "status": "Updating", "config": "churn-v1", "failure_reason": None, "minutes": 3,
            "variants": [{"name": "AllTraffic", "shadow": False, "current_instances": 1, "desired_instances": 1,
                          "weight": 1.0, "per_minute": minute},
                         {"name": "Shadow", "shadow": True, "current_instances": 1, "desired_instances": 1,
                          "weight": 0.5, "per_minute": {}}],
            "deployment": _deployment(pending),
            "scaling": [{"variant": "AllTraffic", "status": "Successful",
                         "description": "Setting desired instance count to 2."}]}
    text = _text(view)
    assert "endpoint churn" in text and "Updating" in text and "config churn-v1" in text
    row = next(line.strip() for line in text.splitlines() if line.strip().startswith("AllTraffic"))
    assert row.split()[:8] == ["AllTraffic", "1/1", "1.0", "120", "3", "0.41", "1.90", "▁█▅"]
    assert "Shadow (shadow)" in text
    assert "deployment to churn-v2" in text
    assert "AllTraffic 1/2  Baking: step 2 of 2: 100 % of calls on the new fleet" in text
    assert "scaling: AllTraffic  Successful  Setting desired instance count to 2." in text
