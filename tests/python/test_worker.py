"""python -m skillkit.worker as run-tests drives it: JSON lines in, one JSON line out each."""
import json
import os
import subprocess
import sys
import textwrap


def _generated_test(path, plan):
    # The shape gen-tests writes, plus prints that must not reach the protocol stream.
    path.write_text(textwrap.dedent(f"""\
        import sys
        from skillkit import harness
        print("noise at import")
        PLAN = {plan!r}
        def run(skillset_path=None, backends=None):
            print("noise in run")
            return harness.run(PLAN, skillset_path=skillset_path, backends=backends)
        if __name__ == "__main__":
            sys.exit(harness.main(PLAN, sys.argv[1:]))
    """))
    return str(path)


def test_worker_answers_each_request_on_its_own_line(tmp_path, skillset, bert_plan):
    test_file = _generated_test(tmp_path / "test_hf_bert.py", bert_plan)
    requests = [
        {"id": 1, "test_file": test_file, "skillset_file": None, "backends": ["cpu", "webnn"]},
        "not json",
        {"id": "b", "test_file": str(tmp_path / "missing.py"), "skillset_file": None, "backends": None},
        {"id": 3, "test_file": test_file, "skillset_file": skillset("wrong_pooling"), "backends": ["cpu"]},
    ]
    stdin = "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in requests) + "\n"
    done = subprocess.run([sys.executable, "-m", "skillkit.worker"], input=stdin, capture_output=True,
                          text=True, timeout=600, env=dict(os.environ))
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    answers = [line for line in lines if "stage" not in line]
    assert [answer["id"] for answer in answers] == [1, None, "b", 3]
    # Each stage announced before it runs, with the result so far, ahead of the answer.
    stages = [line for line in lines if "stage" in line and line["id"] == 1]
    assert [line["stage"] for line in stages] == ["reference", "skillset", "cpu", "webnn"]
    assert stages[0]["partial"] == {"reference": None, "backends": {}}
    assert stages[-1]["partial"]["reference"]["status"] == "pass"
    assert stages[-1]["partial"]["backends"]["cpu"]["status"] == "pass"
    assert lines.index(stages[-1]) < lines.index(answers[0])

    assert answers[0]["result"]["backends"]["cpu"]["status"] == "pass"
    assert answers[0]["result"]["backends"]["webnn"]["status"] == "unimplemented"
    assert answers[1]["error"].startswith("bad request")
    assert "missing.py" in answers[2]["error"] and "\n" not in answers[2]["error"]
    assert answers[2]["class"] == "other"
    assert answers[3]["result"]["backends"]["cpu"]["status"] == "fail"
    assert "noise at import" in done.stderr and "noise in run" in done.stderr
