"""examples/pipeline/pipeline.py (training -> endpoint -> batch transform) with only `modelyard env` set."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.sdk.conftest import BUCKET, SdkStack, check


@pytest.mark.slow
def test_pipeline_example(sdk_stack: SdkStack, tmp_path: Path, examples: Path) -> None:
    script = (examples / "pipeline" / "pipeline.py").read_text().replace(
        'default="modelyard"', f'default="{BUCKET}"')
    (tmp_path / "code").symlink_to(examples / "pipeline" / "code")
    output = check(sdk_stack.run(script, tmp_path, timeout=600))
    lines = output.splitlines()
    assert any(line.startswith("1. training job") and line.endswith("Completed") for line in lines), output
    assert any("train_accuracy=" in line for line in lines)
    assert any(line.startswith("2. endpoint") and "InService" in line for line in lines)
    assert '"predictions": [1, 0]' in output
    assert any(line.startswith("3. transform job") and line.endswith("Completed") for line in lines)
    assert "input.csv.out: ['1', '0', '0', '1']" in output
