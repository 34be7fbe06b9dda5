"""The benchmark's quick variant runs and reports every figure, so `make bench` cannot rot.

Nothing here checks a timing: the machine running the tests is not the one the
figures are about. docs/performance.md keeps the real numbers.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from bench.report import ROW_LABELS

REPO = Path(__file__).resolve().parents[1]


def test_the_quick_benchmark_completes_and_reports_every_figure(tmp_path):
    output = tmp_path / "performance.md"
    result = subprocess.run(
        [sys.executable, "-m", "bench.run", "--quick", "--output", str(output)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=180,
    )

    assert result.returncode == 0, f"stdout:\n{result.stdout}\nstderr:\n{result.stderr[-5000:]}"
    missing = [label for label in ROW_LABELS if f"| {label} |" not in result.stdout]
    assert not missing, f"rows missing from the table: {missing}\n{result.stdout}"
    assert all(f"| {label} |" in output.read_text() for label in ROW_LABELS)
