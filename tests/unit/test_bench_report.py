"""`make bench` ends by printing every results file with bench/report.py: a file it cannot print
(a branch's paired figures carry no header of their own) made the whole report fail."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_report_prints_a_section_for_every_results_file() -> None:
    files = sorted((ROOT / "bench" / "results").glob("*.json"))
    assert files, "no results files to print"
    done = subprocess.run([sys.executable, "bench/report.py"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    sections = [line for line in done.stdout.splitlines() if line.startswith("### ")]
    assert len(sections) == len(files)
