"""The doctest unit tests of lib/common, one pytest item per doctest case.

The binary runs once (its junit report is parsed); each case then passes or fails
here on its own, so CI's pytest summary counts them.
"""
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BINARY = ROOT / "build" / "unit-tests"


def _case_names():
    listing = subprocess.run([BINARY, "--list-test-cases", "--no-version"], capture_output=True, text=True, check=True)
    # The listing frames the names with lines of '=' and a summary line.
    return [line for line in listing.stdout.splitlines()
            if line and not line.startswith(("=", "[doctest]"))]


@pytest.fixture(scope="session")
def report():
    run = subprocess.run([BINARY, "-r=junit"], capture_output=True, text=True, cwd=ROOT)
    cases = {}
    for case in ET.fromstring(run.stdout).iter("testcase"):
        problems = [child.get("message", "") + " " + (child.text or "")
                    for child in case if child.tag in ("failure", "error")]
        cases[case.get("name")] = problems
    return cases


@pytest.mark.parametrize("name", _case_names())
def test_doctest_case(report, name):
    assert name in report, f"doctest case {name!r} did not run"
    assert not report[name], "\n".join(report[name])
