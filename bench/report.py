"""Prints every results file of bench/results/ as the Markdown table the README carries."""
from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import RESULTS  # noqa: E402


MAX_LIST = 12


def flatten(prefix: str, value, out: list) -> None:  # noqa: ANN001
    # A long list (a series over time, a profile) or a list of records (each run's details) is
    # for the results file, not for the table.
    if isinstance(value, list) and (len(value) > MAX_LIST or any(isinstance(v, dict) for v in value)):
        out.append((prefix, f"({len(value)} entries: see the results file)"))
    elif isinstance(value, dict):
        for k, v in value.items():
            flatten(f"{prefix}.{k}" if prefix else k, v, out)
    else:
        out.append((prefix, value))


def main() -> None:
    for path in sorted(RESULTS.glob("*.json")):
        doc = json.loads(path.read_text())
        # A paired file (a branch's figures against the code before) may carry no header of its own.
        machine = doc.get("machine") if isinstance(doc.get("machine"), dict) else {}
        print(f"\n### {doc.get('benchmark', path.stem)} ({doc.get('when', 'when: see the file')}, "
              f"{machine.get('cpus', '?')} cpus)\n")
        print("| measure | value |\n|---|---|")
        rows: list = []
        for key, value in doc.items():
            if key not in ("benchmark", "when", "machine"):
                flatten(key, value, rows)
        for k, v in rows:
            print(f"| {k} | {v} |")


if __name__ == "__main__":
    main()
