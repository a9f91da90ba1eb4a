"""Regenerate the capability table in docs/backends.md from the conformance suite's results.

Runs ``pytest tests/conformance`` on every backend (or reads a JUnit XML file given with
``--junit``), then writes one row per conformance test and one column per backend between
the table markers of docs/backends.md. A cell is ✅ only when every variant of the test
passed on that backend.

    python docs/gen_capability_table.py            # runs the suite (a few minutes)
    python docs/gen_capability_table.py --junit results.xml
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "backends.md"
START, END = "<!-- capability-table:start -->", "<!-- capability-table:end -->"
BACKENDS = ["local", "dask", "ray", "prefect"]


def run_suite(junit: Path) -> None:
    cmd = [sys.executable, "-m", "pytest", "tests/conformance", "-q", "-p", "no:cacheprovider", f"--junitxml={junit}"]
    subprocess.run(cmd, cwd=ROOT, check=False)


def read_results(junit: Path) -> dict[str, dict[str, bool]]:
    """``{feature: {backend: passed}}`` from a JUnit XML file."""
    results: dict[str, dict[str, bool]] = {}
    for case in ET.parse(junit).iter("testcase"):
        match = re.fullmatch(r"test_(\w+)\[([^\]]+)\]", case.get("name", ""))
        if not match:
            continue
        feature, params = match.groups()
        backend = next((b for b in BACKENDS if b in params.split("-")), None)
        if backend is None:
            continue
        passed = not any(child.tag in ("failure", "error", "skipped") for child in case)
        row = results.setdefault(feature.replace("_", " "), {})
        row[backend] = row.get(backend, True) and passed
    return results


def render(results: dict[str, dict[str, bool]]) -> str:
    lines = ["| feature (conformance test) | " + " | ".join(BACKENDS) + " |", "|---|" + "---|" * len(BACKENDS)]
    for feature, row in sorted(results.items()):
        cells = ["✅" if row.get(b) else ("❌" if b in row else "not run") for b in BACKENDS]
        lines.append(f"| {feature} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--junit", type=Path, help="use this JUnit XML instead of running the suite")
    args = parser.parse_args()
    junit = args.junit
    if junit is None:
        junit = Path(tempfile.mkdtemp()) / "conformance.xml"
        run_suite(junit)
    table = render(read_results(junit))
    text = DOC.read_text()
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    DOC.write_text(f"{head}{START}\n{table}\n{END}{tail}")
    print(table)


if __name__ == "__main__":
    main()
