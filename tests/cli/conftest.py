"""Shared fixtures of the black-box CLI tests: where the tools are, a runner that returns
(exit code, stdout, stderr), a JSON Schema validator per record format, record helpers,
and one real bert loop (gen-tests | run-tests | analyze | gen-skillset, then verify of a
skillset that lacks init_webgpu) run once per session and shared by the modules that
need real output.

Every output goes under pytest's tmp_path; SKILLKIT_CACHE is left as the developer has
it, so the real bert run reuses the tiny-model cache."""
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from reference_types import BACKENDS, REFERENCE_TYPES

ROOT = Path(__file__).resolve().parents[2]
# SKILLSET_BIN runs the same tests against another build of the tools (`make asan`).
BIN = Path(os.environ.get("SKILLSET_BIN") or ROOT / "bin")
SCHEMAS = ROOT / "schemas"
PYTHON = ROOT / ".venv" / "bin" / "python"
TOOLS = ("gen-tests", "run-tests", "analyze", "gen-skillset", "verify", "report", "history")
TIMEOUT = 600


def run_tool(name, *args, input=None, env=None, cwd=None, timeout=TIMEOUT):
    """Runs bin/<name> with args; returns (exit code, stdout, stderr) as text.

    `env` entries are added to the inherited environment (a value of None removes one).
    The Hub is offline unless `env` says otherwise: a spec that is no model type is
    looked up as a Hub repo id, and no test may reach the real Hub."""
    environment = dict(os.environ, HF_HUB_OFFLINE="1")
    for key, value in (env or {}).items():
        if value is None:
            environment.pop(key, None)
        else:
            environment[key] = value
    done = subprocess.run([str(BIN / name), *map(str, args)], input=input, env=environment,
                          cwd=cwd, capture_output=True, text=True, encoding="utf-8",
                          errors="surrogateescape", timeout=timeout)
    return done.returncode, done.stdout, done.stderr


def records(stdout):
    """The JSON Lines of a tool's stdout, parsed (every line must parse)."""
    # Split on "\n" alone: a record may hold U+2028 or U+0085 raw, which splitlines() splits on.
    return [json.loads(line) for line in stdout.split("\n") if line.strip()]


def jsonl(*items):
    """JSON Lines text of the given records (strings pass through as raw lines)."""
    return "".join((item if isinstance(item, str) else json.dumps(item)) + "\n" for item in items)


def assert_one_error_line(tool, stderr):
    """The tool's error report is exactly one `<tool>: error: ...` line."""
    lines = stderr.split("\n")[:-1]
    assert len(lines) == 1 and stderr.endswith("\n"), f"want one error line, got {stderr!r}"
    assert lines[0].startswith(f"{tool}: error: "), lines[0]
    return lines[0]


def files_under(path):
    """Every file below path (relative names), for 'nothing was written' checks."""
    path = Path(path)
    return sorted(str(p.relative_to(path)) for p in path.rglob("*") if p.is_file()) if path.exists() else []


def edit(path):
    """Edits a generated file as a person would, a line added in the middle; returns its bytes."""
    lines = Path(path).read_text().splitlines(keepends=True)
    lines.insert(len(lines) // 2, "# a person's note\n")
    Path(path).write_text("".join(lines))
    return Path(path).read_bytes()


def bert_requirements(skillset_file, **overrides):
    """A hand-written requirements record of bert, as analyze writes it."""
    record = {
        "schema": "requirements", "version": 1, "model_type": "bert", "ident": "bert",
        "model_id": "bert", "family": "text-encoder", "task": "feature-extraction",
        "tasks": ["feature-extraction"], "model_class": "BertModel", "auto_class": "AutoModel",
        "processor_class": "AutoTokenizer", "signature": None, "generation": None,
        "tolerance": {"rtol": 1e-4, "atol": 1e-5},
        "versions": {"python": "3.11.7", "torch": "2.13.0+cpu", "transformers": "5.23.0"},
        "measured": True, "test_file": "/nonexistent/test_hf_bert.py",
        "skillset_file": str(skillset_file),
    }
    record.update(overrides)
    return record


def bert_result(**overrides):
    """A hand-written test-result record of bert whose reference passed."""
    record = {
        "schema": "test-result", "version": 1, "model_type": "bert", "ident": "bert",
        "model_id": "bert", "family": "text-encoder", "task": "feature-extraction",
        "test_file": "/nonexistent/test_hf_bert.py", "skillset_file": "/nonexistent/hf_bert.py",
        "reference": {
            "status": "pass",
            "candidate": {"model_class": "BertModel", "auto_class": "AutoModel",
                          "processor_class": "AutoTokenizer"},
            "signature": {"inputs": {"one": {"input": "str", "options": {}}},
                          "outputs": {"embeddings": {"dtype": "float", "shape": [None, 32]}}},
            "generation": None, "tolerance": {"rtol": 1e-4, "atol": 1e-5},
        },
        "backends": {"cpu": {"status": "pass", "max_abs_diff": 0.0},
                     "cuda": {"status": "skip", "reason": "no-device"},
                     "webnn": {"status": "unimplemented", "reason": "unimplemented"}},
        "versions": {"python": "3.11.7", "torch": "2.13.0+cpu", "transformers": "5.23.0"},
        "elapsed_s": 1.5,
    }
    record.update(overrides)
    return record


def alive(pid):
    """Whether process pid runs (a zombie does not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def without_init(text, backend):
    """A skillset's source with its `def init_<backend>` method cut out."""
    cut = re.sub(rf"\n    def init_{backend}\(.*?(?=\n    def |\n\S|\Z)", "\n", text, flags=re.S)
    assert cut != text and f"def init_{backend}(" not in cut
    return cut


@pytest.fixture(scope="session")
def bin_dir():
    return BIN


@pytest.fixture(scope="session", name="run_tool")
def run_tool_fixture():
    """run_tool(name, *args, input=None, env=None, cwd=None) -> (rc, stdout, stderr)."""
    return run_tool


def _schema_registry():
    from referencing import Registry, Resource

    resources = []
    for path in sorted(SCHEMAS.glob("*.schema.json")):
        contents = json.loads(path.read_text())
        resources.append((contents["$id"], Resource.from_contents(contents)))
    return Registry().with_resources(resources)


@pytest.fixture(scope="session")
def validators():
    """A Draft 2020-12 validator per schema name (`test-plan`, `requirements`, ...),
    each loading schemas/<name>.schema.json with a registry of all the schemas."""
    from jsonschema import Draft202012Validator

    registry = _schema_registry()
    found = {}
    for path in sorted(SCHEMAS.glob("*.schema.json")):
        name = path.name[: -len(".schema.json")]
        found[name] = Draft202012Validator(json.loads(path.read_text()), registry=registry)
    return found


@pytest.fixture(scope="session")
def validate(validators):
    """validate(record, name=None): asserts record is valid against its schema (its own
    `schema` field unless name is given), listing every error."""

    def check(record, name=None):
        name = name or record.get("schema")
        assert name in validators, f"no schema for {name!r}"
        errors = sorted(validators[name].iter_errors(record), key=lambda e: list(e.path))
        assert not errors, f"{name} record invalid: " + "; ".join(
            f"{'/'.join(map(str, e.path)) or '<root>'}: {e.message}" for e in errors)

    return check


@pytest.fixture(scope="session")
def bert_loop(tmp_path_factory):
    """One real loop for bert, run once: gen-tests -> run-tests (the real test, ~15 s) ->
    analyze -> gen-skillset. Holds every record and file it made."""
    work = tmp_path_factory.mktemp("bert-loop")
    tests, skillsets = work / "tests", work / "skillsets"
    rc, plans, err = run_tool("gen-tests", "-q", "-o", tests, "--skillset-dir", skillsets, "bert")
    assert rc == 0, err
    (work / "plans.jsonl").write_text(plans)
    # The registry's skillset first, so the real test runs every backend against it.
    rc, _, err = run_tool("gen-skillset", "-q", "-o", skillsets, "--test-dir", tests, "bert")
    assert rc == 0, err
    rc, results, err = run_tool("run-tests", "-q", "-j", "1", "--timeout", "300", work / "plans.jsonl")
    assert rc == 0, err
    (work / "results.jsonl").write_text(results)
    rc, requirements, err = run_tool("analyze", work / "results.jsonl")
    assert rc == 0, err
    (work / "requirements.jsonl").write_text(requirements)
    rc, manifests, err = run_tool("gen-skillset", "-q", input=requirements)
    assert rc == 0, err
    (work / "manifests.jsonl").write_text(manifests)
    return SimpleNamespace(
        work=work, tests=tests, skillsets=skillsets,
        plans=records(plans), results=records(results), requirements=records(requirements),
        requirements_text=requirements, manifests=records(manifests),
        skillset_file=skillsets / "hf_bert.py", test_file=tests / "test_hf_bert.py")


@pytest.fixture(scope="session")
def verify_missing_webgpu(bert_loop, tmp_path_factory):
    """verify -j 1 of bert's manifest pointed at a copy of its skillset without init_webgpu
    (this re-runs the real test). Returns (rc, records, stderr, skillset_file)."""
    work = tmp_path_factory.mktemp("verify-missing-webgpu")
    broken = work / "hf_bert.py"
    broken.write_text(without_init(bert_loop.skillset_file.read_text(), "webgpu"))
    manifest = dict(bert_loop.manifests[0], skillset_file=str(broken))
    rc, out, err = run_tool("verify", "-j", "1", "--timeout", "300", input=jsonl(manifest))
    return rc, records(out), err, broken


@pytest.fixture(scope="session")
def cli():
    """The helpers above, for test modules (conftest is not importable by name)."""
    return SimpleNamespace(
        run=run_tool, records=records, jsonl=jsonl, assert_one_error_line=assert_one_error_line,
        files_under=files_under, edit=edit, bert_requirements=bert_requirements, bert_result=bert_result,
        without_init=without_init, alive=alive, root=ROOT, bin=BIN,
        python=str(PYTHON if PYTHON.exists() else sys.executable),
        reference_types=REFERENCE_TYPES, backends=BACKENDS, tools=TOOLS)
