"""The entry points every generated test_hf_<ident>.py calls (templates/tests/test.py.mustache).

run(plan) is the test-result body (skillkit.testrun: the reference, then each backend);
check_reference/check_backend turn it into pytest outcomes (skillkit.pytest_checks), and
main() is the standalone command line of a generated test (skillkit.cli).
"""
from .cli import main
from .pytest_checks import check_backend, check_reference
from .testrun import run

__all__ = ["check_backend", "check_reference", "main", "run"]
