"""python -m skillkit.worker: the long-lived test worker of run-tests and verify.

Importing torch and transformers costs seconds, so a worker pays it once and then runs
tests on request. Protocol: one JSON request per line on stdin,
{"id", "test_file", "skillset_file", "backends"}, answered by exactly one JSON line,
{"id", "result": <harness.run() body>} or {"id", "error": "<one line>", "class": "<failure
class>"}, in request order. Before it, a line {"id", "stage", "partial"} each time the run
enters a stage ("reference", "skillset", a backend's name), partial being the result so
far: should the worker die or hang there, run-tests blames that stage and keeps the rest.
Answers go to the process' original stdout; fd 1 itself is pointed at stderr
first, so whatever tests, transformers or native code print cannot corrupt the
protocol. The worker exits 0 at the end of its input.
"""
import importlib.util
import itertools
import json
import os
import sys

from . import failures
from .messages import one_line


def _protocol_stream():
    """Keep the real stdout for answers and send everything else written to fd 1 to stderr."""
    sys.stdout.flush()
    answers = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    return answers


def _write(answers, message):
    # Strict JSON (no NaN/Infinity) so that every reader can parse the line.
    answers.write(json.dumps(message, allow_nan=False) + "\n")
    answers.flush()


def _stage_reporter(answers, request_id):
    """A testrun stage listener that tells run-tests each stage on the answer channel."""
    def report(stage, partial):
        try:
            _write(answers, {"id": request_id, "stage": stage, "partial": partial})
        except (TypeError, ValueError):  # a non-finite number in the partial result: the stage alone
            _write(answers, {"id": request_id, "stage": stage})
    return report


def _handle(line, module_ids, answers):
    """The answer to one request line (stages reported on `answers` on the way)."""
    try:
        request = json.loads(line)
    except json.JSONDecodeError as exc:
        return {"id": None, "error": f"bad request: {one_line(exc)}"}
    if not isinstance(request, dict):
        return {"id": None, "error": "bad request: not a JSON object"}
    # Loaded by main() already, after the protocol stream was set up.
    from . import testrun

    request_id = request.get("id")
    test_file = request.get("test_file")
    if not isinstance(test_file, str) or not test_file:
        return {"id": request_id, "error": "bad request: no test_file"}
    try:
        # A unique module name per request: the same test may be asked for again after
        # it was regenerated, and must not come stale out of sys.modules.
        spec = importlib.util.spec_from_file_location(f"_skill_test_{next(module_ids)}", test_file)
        if spec is None:
            raise ImportError(f"cannot import '{test_file}'")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        with testrun.stages_reported_to(_stage_reporter(answers, request_id)):
            result = module.run(skillset_path=request.get("skillset_file"), backends=request.get("backends"))
        json.dumps(result, allow_nan=False)  # refused here, as this test's error, not at _write
    except Exception as exc:  # the test failed to run: answer, and serve the next one
        return {"id": request_id, "error": one_line(exc), "class": failures.classify(exc, failures.OTHER)}
    return {"id": request_id, "result": result}


def main():
    answers = _protocol_stream()
    # Load the heavy modules now, once, so that no request's time (and timeout) pays
    # for them: torch and transformers through the harness, and the pipelines the
    # references go through (seconds more on their own).
    from . import harness  # noqa: F401
    import transformers.pipelines  # noqa: F401
    module_ids = itertools.count()
    try:
        for line in sys.stdin:
            if not line.strip():
                continue
            _write(answers, _handle(line, module_ids, answers))
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
