"""Bad input and a hostile environment, black box: JSON nested without end, a stdout
that cannot be written, a stop signal. Each ends in a clear exit code, with one error line
where there is something to say, and leaves nothing half-done behind: no file written
from input it then refused, no worker running, no `*.tmp.<pid>` file."""
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

DEEP = 20000  # levels: enough to overflow any recursion over the value


def nested(levels=DEEP):
    return "[" * levels + "]" * levels


def deep_record(record, key):
    """`record` as a JSON line whose `key` holds an array nested DEEP levels."""
    text = json.dumps({**record, key: 0})
    return text.replace(f'"{key}": 0', f'"{key}": {nested()}') + "\n"


def deep_config_dir(tmp_path):
    """A local model directory whose config.json nests DEEP levels."""
    model = tmp_path / "deep-model"
    model.mkdir()
    (model / "config.json").write_text('{"model_type": "bert", "extra": ' + nested() + "}")
    return model


def assert_refused_deep(cli, tool, rc, out, err):
    assert rc == 2, (rc, err[-300:])
    assert out == ""
    assert "nested deeper than 64 levels" in cli.assert_one_error_line(tool, err)


# --- JSON nested without end ------------------------------------------------------------

def test_analyze_refuses_a_record_nested_too_deep(cli):
    rc, out, err = cli.run("analyze", input=deep_record(cli.bert_result(), "versions"))
    assert_refused_deep(cli, "analyze", rc, out, err)


def test_gen_skillset_refuses_requirements_nested_too_deep_and_writes_nothing(cli, tmp_path):
    record = cli.bert_requirements(tmp_path / "out" / "hf_bert.py")
    rc, out, err = cli.run("gen-skillset", input=deep_record(record, "generation"))
    assert_refused_deep(cli, "gen-skillset", rc, out, err)
    assert cli.files_under(tmp_path / "out") == []


def test_verify_refuses_a_manifest_nested_too_deep(cli, tmp_path):
    manifest = {"schema": "skillset-manifest", "version": 1, "model_type": "bert", "ident": "bert",
                "family": "text-encoder", "status": "written", "test_file": str(tmp_path / "t.py"),
                "skillset_file": str(tmp_path / "hf_bert.py")}
    rc, out, err = cli.run("verify", input=deep_record(manifest, "requirements"))
    assert_refused_deep(cli, "verify", rc, out, err)


def test_run_tests_refuses_a_plan_nested_too_deep(cli, bert_loop):
    rc, out, err = cli.run("run-tests", input=deep_record(bert_loop.plans[0], "generation"))
    assert_refused_deep(cli, "run-tests", rc, out, err)


@pytest.mark.parametrize("tool", ["gen-tests", "gen-skillset"])
def test_a_config_json_nested_too_deep_is_refused_before_anything_is_written(cli, tmp_path, tool):
    out_dir = tmp_path / "out"
    rc, out, err = cli.run(tool, "-o", out_dir, deep_config_dir(tmp_path))
    assert rc == 2, (rc, err[-300:])
    assert out == ""
    assert "nested deeper than 64 levels" in cli.assert_one_error_line(tool, err)
    assert cli.files_under(out_dir) == []


# --- what analyze passes on -----------------------------------------------------------

@pytest.mark.parametrize("ident, problem", [(None, "without 'ident'"), (["bert"], "with a malformed 'ident'")],
                         ids=["missing", "a-list"])
def test_analyze_refuses_a_result_whose_ident_is_missing_or_not_a_name(cli, ident, problem):
    record = cli.bert_result(ident=ident)
    if ident is None:
        del record["ident"]
    rc, out, err = cli.run("analyze", input=cli.jsonl(record))
    assert rc == 2 and out == ""
    assert f"record {problem} at '<stdin>:1'" in cli.assert_one_error_line("analyze", err)


# --- a stdout that cannot be written --------------------------------------------------

def run_into_dev_full(cli, tool, *args, input=""):
    with open("/dev/full", "w") as full:
        done = subprocess.run([str(cli.bin / tool), *map(str, args)], input=input, stdout=full,
                              capture_output=False, stderr=subprocess.PIPE, text=True, timeout=300)
    return done.returncode, done.stderr


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
@pytest.mark.parametrize("tool", ["analyze", "gen-tests", "gen-skillset", "verify", "report"])
def test_a_stdout_write_error_is_exit_2_with_the_reason(cli, tmp_path, tool):
    args, input = {
        "analyze": ((), cli.jsonl(cli.bert_result())),
        "report": ((), cli.jsonl(cli.bert_result())),
        "gen-tests": (("-q", "-o", tmp_path, "bert"), ""),
        "gen-skillset": (("-q", "-o", tmp_path, "bert"), ""),
        # Only the verify-summary: no skillset to check.
        "verify": (("-q",), cli.jsonl({"schema": "skillset-manifest", "version": 1,
                                       "model_type": "muse_glimmer_assistant",
                                       "ident": "muse_glimmer_assistant", "family": "generation-assistant",
                                       "status": "unsupported-family"})),
    }[tool]
    rc, err = run_into_dev_full(cli, tool, *args, input=input)
    assert rc == 2
    assert cli.assert_one_error_line(tool, err) == f"{tool}: error: cannot write to stdout: No space left on device"


@pytest.mark.parametrize("tool", ["gen-tests", "gen-skillset"])
def test_a_closed_pipe_still_ends_a_writer_quietly(cli, tmp_path, tool):
    proc = subprocess.Popen([str(cli.bin / tool), "-q", "-o", tmp_path, "bert", "gpt2"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    proc.stdout.close()
    assert proc.wait(timeout=120) == 0
    assert proc.stderr.read() == ""


# --- stop signals ---------------------------------------------------------------------

def children(pid):
    """The pids of pid's children (Linux)."""
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(c) for c in (task / "children").read_text().split()]
    return found


@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)], ids=["SIGINT", "SIGTERM"])
def test_verify_stopped_by_a_signal_exits_128_plus_it_and_leaves_no_worker(cli, tmp_path, sig, code):
    # A test that never finishes: the worker hangs importing it.
    test_file = tmp_path / "test_hf_bert.py"
    test_file.write_text("import time\ntime.sleep(120)\n")
    skillset = tmp_path / "hf_bert.py"
    skillset.write_text("class hf_bert:\n    pass\n")
    manifest = {"schema": "skillset-manifest", "version": 1, "model_type": "bert", "ident": "bert",
                "family": "text-encoder", "status": "written", "test_file": str(test_file),
                "skillset_file": str(skillset), "requirements": {}}
    proc = subprocess.Popen([str(cli.bin / "verify"), "-q", "-j", "1"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    proc.stdin.write(cli.jsonl(manifest))
    proc.stdin.close()
    deadline = time.monotonic() + 60
    while not children(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    workers = children(proc.pid)
    assert workers
    time.sleep(0.5)
    proc.send_signal(sig)
    assert proc.wait(timeout=30) == code
    assert proc.stdout.read() == ""
    assert "error" not in proc.stderr.read()
    deadline = time.monotonic() + 10
    while any(cli.alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(cli.alive(pid) for pid in workers)


@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)], ids=["SIGINT", "SIGTERM"])
@pytest.mark.parametrize("tool, written", [("gen-tests", "test_hf_bert.py"), ("gen-skillset", "hf_bert.py")])
def test_a_writer_killed_mid_write_leaves_no_temporary_file(cli, tmp_path, tool, written, sig, code):
    # The temporary file the tool is about to write is a FIFO made in advance (the tool's
    # pid names it), so the write blocks there until the signal comes: mid-write, always.
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    proc = subprocess.Popen([str(cli.bin / tool), "-q", "-o", out_dir, "bert"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    os.mkfifo(out_dir / f"{written}.tmp.{proc.pid}")
    time.sleep(1)
    assert proc.poll() is None, proc.stderr.read()
    proc.send_signal(sig)
    rc = proc.wait(timeout=30)
    assert list(out_dir.iterdir()) == []  # the FIFO is no regular file: files_under() would miss it
    assert rc == code


# --- the schemas themselves -----------------------------------------------------------

@pytest.mark.parametrize("tool", ["gen-tests", "run-tests", "analyze", "gen-skillset", "verify", "report"])
def test_a_tool_without_its_schemas_stops_with_one_error_line(cli, tmp_path, tool):
    rc, out, err = cli.run(tool, "bert", env={"SKILLSET_HOME": str(tmp_path)})
    assert rc == 2 and out == ""
    assert cli.assert_one_error_line(tool, err).startswith(
        f"{tool}: error: cannot read the schemas in '{tmp_path}/schemas'")
