"""bin/run-tests, black box: bad input is exit 2 before anything runs; results come out
as test-result records in completion order, with progress on stderr only; timeouts,
crashes, Ctrl-C and a closed stdout are handled.

Most cases run a scripted stand-in for skillkit.worker (SKILLSET_HOME points run-tests
at a python/ dir holding it), which answers in a second instead of importing torch; it
speaks the real worker's protocol. The last case runs a real generated test."""
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(os.environ.get("SKILLSET_BIN") or ROOT / "bin")  # make asan: another build
RUN_TESTS = BIN / "run-tests"
GEN_TESTS = BIN / "gen-tests"

pytestmark = pytest.mark.skipif(not RUN_TESTS.exists(), reason="needs bin/run-tests (make)")

# What it does depends on the test file's name: pass, fail, slow (passes after 0.5 s),
# hang, crash. It prints noise the way tests do, and notes its pid for the Ctrl-C case.
FAKE_WORKER = textwrap.dedent("""\
    import json, os, sys, time
    answers = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    with open(os.environ["FAKE_WORKER_PIDS"], "a") as f:
        f.write(f"{os.getpid()}\\n")
    for line in sys.stdin:
        request = json.loads(line)
        kind = os.path.basename(request["test_file"]).split(".")[0]
        print("noise from the test", kind)
        if kind == "slow":
            time.sleep(0.5)
        elif kind == "hang":
            time.sleep(60)
        elif kind == "crash":
            print("dying now", file=sys.stderr, flush=True)
            os._exit(3)
        status = "fail" if kind == "fail" else "pass"
        result = {
            "reference": {"status": "pass", "tolerance": {"rtol": 1e-4, "atol": 1e-5},
                          "candidate": {"model_class": "BertModel", "auto_class": "AutoModel",
                                        "processor_class": "AutoTokenizer"}},
            "backends": {name: {"status": status} for name in request["backends"]},
            "versions": {"python": "3", "torch": "2", "transformers": "5"},
            "elapsed_s": 0.25,
        }
        answers.write(json.dumps({"id": request["id"], "result": result}) + "\\n")
        answers.flush()
""")


def plan(tmp_path, kind, model_type=None):
    model_type = model_type or kind
    return {
        "schema": "test-plan", "version": 1, "model_type": model_type, "ident": model_type,
        "model_id": model_type, "family": "text-encoder", "task": "feature-extraction",
        "tasks": ["feature-extraction"],
        "candidates": [{"model_class": "BertModel", "auto_class": "AutoModel", "processor_class": "AutoTokenizer"}],
        "backends": ["cpu", "cuda"], "tolerance": {"rtol": 1e-4, "atol": 1e-5},
        "test_file": str(tmp_path / f"{kind}.py"), "skillset_file": str(tmp_path / f"hf_{model_type}.py"),
    }


def lines(*records):
    return "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records)


@pytest.fixture
def fake(tmp_path):
    """The environment that makes run-tests use the fake worker; .pids lists the workers started."""
    package = tmp_path / "home" / "python" / "skillkit"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "worker.py").write_text(FAKE_WORKER)
    # The fake project home still reads the record formats from the real schemas/.
    (tmp_path / "home" / "schemas").symlink_to(ROOT / "schemas")
    env = dict(os.environ)
    env["SKILLSET_HOME"] = str(tmp_path / "home")
    env["SKILLSET_PYTHON"] = "/usr/bin/python3" if os.access("/usr/bin/python3", os.X_OK) else sys.executable
    env["FAKE_WORKER_PIDS"] = str(tmp_path / "pids")
    env.pop("PYTHONPATH", None)

    class Fake:
        pass

    fake = Fake()
    fake.env = env
    fake.pids = lambda: [int(p) for p in (tmp_path / "pids").read_text().split()] if (tmp_path / "pids").exists() else []
    return fake


def run_tests(*args, input="", env=None, timeout=120):
    return subprocess.run([str(RUN_TESTS), *args], input=input, capture_output=True, text=True,
                          env=env, timeout=timeout)


def results(stdout):
    return [json.loads(line) for line in stdout.splitlines()]


def test_malformed_line_is_exit_2_naming_it_before_anything_runs(tmp_path, fake):
    plans = tmp_path / "plans.jsonl"
    plans.write_text(lines(plan(tmp_path, "pass"), "{not json"))
    run = run_tests(str(plans), env=fake.env)
    assert run.returncode == 2
    assert run.stdout == ""
    assert run.stderr == f"run-tests: error: malformed JSON record at '{plans}:2'\n"
    assert fake.pids() == []


def test_malformed_stdin_names_stdin_and_the_line(tmp_path, fake):
    run = run_tests(input=lines(plan(tmp_path, "pass")) + "\n[1, 2\n", env=fake.env)
    assert run.returncode == 2
    assert run.stdout == ""
    assert run.stderr == "run-tests: error: malformed JSON record at '<stdin>:3'\n"


def test_record_of_another_schema_is_exit_2(tmp_path, fake):
    record = dict(plan(tmp_path, "pass"), schema="test-result")
    run = run_tests("-", input=lines(record), env=fake.env)
    assert run.returncode == 2
    assert run.stdout == ""
    assert "wrong schema" in run.stderr and "<stdin>:1" in run.stderr
    assert fake.pids() == []


def test_plan_without_a_required_field_is_exit_2(tmp_path, fake):
    record = plan(tmp_path, "pass")
    del record["test_file"]
    run = run_tests(input=lines(record), env=fake.env)
    assert run.returncode == 2
    assert run.stderr == "run-tests: error: record without 'test_file' at '<stdin>:1'\n"


def test_plan_with_a_relative_test_file_is_exit_2(tmp_path, fake):
    record = dict(plan(tmp_path, "pass"), test_file="test_hf_pass.py")
    run = run_tests(input=lines(record), env=fake.env)
    assert run.returncode == 2
    assert run.stderr == "run-tests: error: record with a malformed 'test_file' at '<stdin>:1'\n"


def test_unknown_backend_is_exit_2(tmp_path, fake):
    run = run_tests("--backends", "cpu,tpu", input=lines(plan(tmp_path, "pass")), env=fake.env)
    assert run.returncode == 2
    assert run.stderr == "run-tests: error: unknown backend 'tpu'\n"


def test_no_plans_is_exit_2(fake):
    run = run_tests(input="", env=fake.env)
    assert run.returncode == 2
    assert run.stderr == "run-tests: error: no test plans on input\n"


def test_jobs_must_be_positive(tmp_path, fake):
    run = run_tests("-j", "0", input=lines(plan(tmp_path, "pass")), env=fake.env)
    assert run.returncode == 2
    assert run.stderr == "run-tests: error: --jobs must be at least 1\n"


def test_missing_operand_file_is_exit_2(tmp_path, fake):
    run = run_tests(str(tmp_path / "nope.jsonl"), env=fake.env)
    assert run.returncode == 2
    assert "nope.jsonl" in run.stderr


def test_results_come_in_completion_order_with_progress_on_stderr(tmp_path, fake, validate):
    run = run_tests("-j", "2", input=lines(plan(tmp_path, "slow"), plan(tmp_path, "pass")), env=fake.env)
    assert run.returncode == 0, run.stderr
    records = results(run.stdout)
    for record in records:
        validate(record, "test-result")
    assert [r["model_type"] for r in records] == ["pass", "slow"]
    first = records[0]
    assert first["schema"] == "test-result" and first["version"] == 1
    assert first["test_file"] == str(tmp_path / "pass.py")
    assert first["skillset_file"] == str(tmp_path / "hf_pass.py")
    assert first["family"] == "text-encoder" and first["task"] == "feature-extraction"
    assert first["backends"] == {"cpu": {"status": "pass"}, "cuda": {"status": "pass"}}
    assert first["versions"]["torch"] == "2"
    progress = run.stderr.splitlines()
    assert progress[0].startswith("run-tests: [1/2] pass: reference pass, cpu pass, cuda pass (0.2")
    assert " ETA " in progress[0]
    assert progress[1].startswith("run-tests: [2/2] slow: reference pass")
    assert "noise" not in run.stdout + run.stderr  # the tests' prints go nowhere by default
    assert len(fake.pids()) == 2


def test_workers_are_reused_across_tests(tmp_path, fake):
    plans = [plan(tmp_path, "pass", f"m{i}") for i in range(4)]
    run = run_tests("-j", "1", "-q", input=lines(*plans), env=fake.env)
    assert run.returncode == 0
    assert run.stderr == ""
    assert sorted(r["model_type"] for r in results(run.stdout)) == ["m0", "m1", "m2", "m3"]
    assert len(fake.pids()) == 1


def test_verbose_passes_the_tests_output_to_stderr_never_stdout(tmp_path, fake):
    run = run_tests("-v", input=lines(plan(tmp_path, "pass")), env=fake.env)
    assert run.returncode == 0
    assert "noise from the test pass" in run.stderr
    assert "noise" not in run.stdout


def test_backends_flag_replaces_the_plans_backends(tmp_path, fake):
    run = run_tests("--backends", "openvino,webgpu", input=lines(plan(tmp_path, "pass")), env=fake.env)
    assert run.returncode == 0
    assert sorted(results(run.stdout)[0]["backends"]) == ["openvino", "webgpu"]


def test_a_failing_backend_is_exit_1(tmp_path, fake):
    run = run_tests(input=lines(plan(tmp_path, "fail"), plan(tmp_path, "pass")), env=fake.env)
    assert run.returncode == 1
    assert len(results(run.stdout)) == 2


def test_a_test_past_the_timeout_before_any_stage_is_a_reference_error_and_the_run_goes_on(tmp_path, fake, validate):
    run = run_tests("-j", "1", "--timeout", "1", input=lines(plan(tmp_path, "hang"), plan(tmp_path, "pass")),
                    env=fake.env)
    assert run.returncode == 1
    records = results(run.stdout)
    for record in records:
        validate(record, "test-result")
    hung, passed = records
    assert hung["model_type"] == "hang"
    assert hung["reference"] == {"status": "error", "class": "timeout", "message": "timeout after 1 s"}
    not_run = {"status": "skip", "reason": "not-run", "message": "not run: the test ended before its first stage (timeout)"}
    assert hung["backends"] == {"cpu": not_run, "cuda": not_run}
    assert 1 <= hung["elapsed_s"] < 10
    assert passed["reference"]["status"] == "pass"
    assert "[1/2] hang: reference error, cpu skip, cuda skip: timeout after 1 s" in run.stderr
    assert len(fake.pids()) == 2  # the hung worker was replaced


def test_a_worker_that_dies_mid_test_is_a_reference_error(tmp_path, fake, validate):
    run = run_tests(input=lines(plan(tmp_path, "crash")), env=fake.env)
    assert run.returncode == 1
    [record] = results(run.stdout)
    validate(record, "test-result")
    assert record["reference"]["status"] == "error"
    assert record["reference"]["class"] == "crash"
    assert record["reference"]["message"] == "worker crashed: exited with status 3: dying now"


@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)], ids=["SIGINT", "SIGTERM"])
def test_a_stop_signal_exits_128_plus_it_and_kills_the_workers(tmp_path, fake, cli, sig, code):
    proc = subprocess.Popen([str(RUN_TESTS), "-j", "2"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=fake.env)
    proc.stdin.write(lines(plan(tmp_path, "hang", "a"), plan(tmp_path, "hang", "b")))
    proc.stdin.close()
    deadline = time.monotonic() + 30
    while len(fake.pids()) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    workers = fake.pids()
    assert len(workers) == 2
    proc.send_signal(sig)
    assert proc.wait(timeout=30) == code
    assert proc.stdout.read() == ""
    assert "error" not in proc.stderr.read()
    assert not any(cli.alive(pid) for pid in workers)


def test_a_closed_stdout_ends_the_run_quietly(tmp_path, fake, cli):
    proc = subprocess.Popen([str(RUN_TESTS), "-j", "1"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=fake.env)
    proc.stdout.close()  # before the first result: like `run-tests | head -0`
    proc.stdin.write(lines(*[plan(tmp_path, "slow", f"m{i}") for i in range(4)]))
    proc.stdin.close()
    err = proc.stderr.read()
    assert proc.wait(timeout=60) == 0
    assert "error" not in err
    assert "[2/4]" not in err  # it stopped at the first result it could not write
    assert not any(cli.alive(pid) for pid in fake.pids())


@pytest.mark.skipif(not GEN_TESTS.exists(), reason="needs bin/gen-tests (make)")
def test_a_real_generated_test_runs(tmp_path, validate):
    plan_run = subprocess.run([str(GEN_TESTS), "bert", "-o", str(tmp_path / "tests"),
                               "--skillset-dir", str(tmp_path / "skillsets")],
                              capture_output=True, text=True, timeout=120)
    assert plan_run.returncode == 0, plan_run.stderr
    run = run_tests("--backends", "cpu", input=plan_run.stdout, timeout=600)
    # No skillset was written: the reference must pass, the backend is "no-skillset".
    assert run.returncode == 0, run.stderr
    [record] = results(run.stdout)
    validate(record, "test-result")
    assert record["model_type"] == "bert"
    assert record["reference"]["status"] == "pass", record["reference"]
    assert record["backends"] == {"cpu": {"status": "no-skillset",
                                          "message": f"no skillset at {tmp_path / 'skillsets' / 'hf_bert.py'}"}}
    assert set(record["versions"]) >= {"python", "torch", "transformers"}


# A real bert skillset, one of whose backends is sabotaged: rocm (no device here, so
# otherwise a skip) either kills its process in init or serves a handler that never ends.
SABOTAGED_ROCM = {
    "segv-in-init": """
        def init_rocm(self, model_name, device, label):
            os.kill(os.getpid(), signal.SIGSEGV)
    """,
    "sleep-in-handler": """
        def init_rocm(self, model_name, device, label):
            endpoint, processor, handler, queue, batch_size = self.init_cpu(model_name, "cpu", "cpu")

            def sleeping(input, **options):
                time.sleep(600)

            return endpoint, processor, sleeping, queue, batch_size
    """,
}


def test_a_crash_or_a_timeout_in_a_backend_blames_that_backend_and_keeps_the_rest(tmp_path, validate):
    written = subprocess.run([str(BIN / "gen-skillset"), "-q", "bert", "-o", str(tmp_path / "skillsets"),
                              "--test-dir", str(tmp_path / "tests")], capture_output=True, text=True, timeout=120)
    assert written.returncode == 0, written.stderr
    real = tmp_path / "skillsets" / "hf_bert.py"
    planned = subprocess.run([str(GEN_TESTS), "bert", "-o", str(tmp_path / "tests"), "--skillset-dir",
                              str(tmp_path / "skillsets")], capture_output=True, text=True, timeout=120)
    assert planned.returncode == 0, planned.stderr
    plans = []
    for kind, method in SABOTAGED_ROCM.items():
        sabotaged = tmp_path / kind / "hf_bert.py"
        sabotaged.parent.mkdir()
        sabotaged.write_text(real.read_text() + "\n\nimport os, signal, time\n_Real = hf_bert\n\n\n"
                             "class hf_bert(_Real):" + textwrap.indent(textwrap.dedent(method), "    "))
        plans.append({**json.loads(planned.stdout), "model_type": kind, "skillset_file": str(sabotaged)})
    # Room for the worker's start, the reference and cpu on a busy machine; not for 600 s.
    run = run_tests("-j", "2", "--timeout", "60", "--backends", "cpu,rocm,apple", input=lines(*plans),
                    timeout=300)
    assert run.returncode == 1, run.stderr
    records = {record["model_type"]: record for record in results(run.stdout)}
    for kind, klass in (("segv-in-init", "crash"), ("sleep-in-handler", "timeout")):
        record = records[kind]
        validate(record, "test-result")
        assert record["reference"]["status"] == "pass", record["reference"]
        assert record["reference"]["candidate"]["model_class"] == "BertModel"
        backends = record["backends"]
        assert backends["cpu"]["status"] == "pass", backends["cpu"]
        assert (backends["rocm"]["status"], backends["rocm"]["class"]) == ("error", klass)
        assert backends["apple"] == {"status": "skip", "reason": "not-run",
                                     "message": f"not run: the test ended in 'rocm' ({klass})"}
    assert records["segv-in-init"]["backends"]["rocm"]["message"].startswith(
        "worker crashed: killed by signal 11")
    assert records["sleep-in-handler"]["backends"]["rocm"]["message"] == "timeout after 60 s"
