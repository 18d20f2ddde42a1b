"""Injection safety, black box: hostile strings in records and specs never become code.

Strings (model_type, model_id) reach generated Python only as literals written by
lib/common/pyliteral; names that appear bare in code (ident, model_class, auto_class,
processor_class) or name a template (family) or sit in prose (task) must be plain
words, or the tool stops with exit 2 before writing anything.

gen-skillset is fed hostile requirements records directly. gen-tests resolves a model
type through the registry, so a hostile model type cannot come in through a spec (exit
2); what can is a local model directory, whose path becomes the plan's model_id and,
with -o, the test_file: those get the same compile/import checks, with a stand-in
skillkit so that importing the test runs no torch. gen-skillset takes the same directory
specs; their model_id reaches only its manifest."""
import ast
import json
import subprocess
import textwrap
from pathlib import Path

import pytest

PAYLOAD = 'import os\nos.system("touch PWNED")\n'
HOSTILE = {
    "triple-double-quotes": f'bert"""\n{PAYLOAD}"""',
    "triple-single-quotes": "bert'''\nimport os\nos.system('touch PWNED')\n'''",
    "backslashes": f'bert\\"""\\\n{PAYLOAD}"""\\',
    "line-separators": 'bert\u2028import os\u2028os.system("touch PWNED")\u2029\x85\x0b\x0c\r\x1c#',
    "nul": f'bert\x00"""\n{PAYLOAD}"""',
    "mustache": "bert{{ident}}{{{model_type_quoted}}}{{> _head}}{{=<% %>=}}<%ident%>",
    "escape-lookalikes": 'bert\\N{BULLET}\\x41\\u0041\\\U0001F600 \u00e9"',
    "f-string-braces": 'bert{__import__("os").system("touch PWNED")}',
}
# What a file system allows in a directory name (no NUL, no '/').
HOSTILE_PATHS = {name: value.replace("/", "|") for name, value in HOSTILE.items() if "\x00" not in value}

STUB_HARNESS = "def run(*args, **kwargs):\n    return {}\n\ncheck_reference = check_backend = main = run\n"

IMPORT = textwrap.dedent("""\
    import importlib.util, json, os, sys
    path, name = sys.argv[1], sys.argv[2]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    print(json.dumps({"doc": module.__doc__,
                      "PLAN": getattr(module, "PLAN", None),
                      "pwned": os.path.exists("PWNED")}))
""")


def import_by_path(cli, path, name, cwd, env=None):
    """Imports path in a fresh interpreter run in cwd; returns what it saw, or the error."""
    done = subprocess.run([cli.python, "-c", IMPORT, str(path), name], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def assert_plain_lines(text):
    """No character that Python or an editor could take as a line break or NUL, and ASCII only
    (DESIGN: every non-printable-ASCII character escaped)."""
    assert text.isascii(), [c for c in text if not c.isascii()][:5]
    assert text.splitlines() == text.split("\n")[: len(text.splitlines())]
    assert all(c == "\n" or " " <= c <= "~" for c in text), [c for c in text if c != "\n" and not " " <= c <= "~"][:5]


# -- gen-skillset, hostile strings in requirements --------------------------------------

CASES = [(name, field) for name in HOSTILE for field in ("model_type", "model_id")]


@pytest.fixture(scope="module")
def hostile_skillsets(tmp_path_factory, cli):
    """For each (hostile string, field): the gen-skillset run of a bert requirements record
    carrying it (model_type: both model_type and model_id; model_id: that alone), and what
    importing the skillset in a fresh interpreter saw."""
    found = {}
    for index, (name, field) in enumerate(CASES):
        work = tmp_path_factory.mktemp(f"hostile-{index}")
        hostile = HOSTILE[name]
        record = cli.bert_requirements(work / "hf_bert.py", model_id=hostile)
        if field == "model_type":
            record["model_type"] = hostile
        rc, out, err = cli.run("gen-skillset", "-q", input=cli.jsonl(record))
        imported = import_by_path(cli, work / "hf_bert.py", "hf_bert", work) if rc == 0 else None
        found[(name, field)] = dict(work=work, hostile=hostile, record=record, rc=rc, out=out, err=err,
                                    imported=imported)
    return found


@pytest.mark.parametrize("name,field", CASES)
def test_injection_hostile_string_gives_a_skillset_that_compiles(hostile_skillsets, name, field):
    case = hostile_skillsets[(name, field)]
    assert case["rc"] == 0, case["err"]
    path = case["work"] / "hf_bert.py"
    compile(path.read_text(), str(path), "exec")


@pytest.mark.parametrize("name,field", CASES)
def test_injection_importing_the_skillset_runs_no_injected_code(hostile_skillsets, name, field):
    case = hostile_skillsets[(name, field)]
    assert case["imported"] is not None, case["err"]
    assert case["imported"]["pwned"] is False
    assert not (case["work"] / "PWNED").exists()


@pytest.mark.parametrize("name,field", CASES)
def test_injection_skillset_keeps_the_hostile_model_type_exactly(hostile_skillsets, name, field):
    # The docstring names the model type as a string literal, which Python reads back.
    case = hostile_skillsets[(name, field)]
    assert case["imported"] is not None, case["err"]
    summary = f'Skillset for Hugging Face model type "{case["record"]["model_type"]}".\n'
    assert case["imported"]["doc"].startswith(summary)


@pytest.mark.parametrize("name,field", CASES)
def test_injection_skillset_text_is_printable_ascii_lines(hostile_skillsets, name, field):
    case = hostile_skillsets[(name, field)]
    assert_plain_lines((case["work"] / "hf_bert.py").read_text())


@pytest.mark.parametrize("name,field", CASES)
def test_injection_manifest_carries_the_hostile_strings_exactly(cli, hostile_skillsets, name, field):
    case = hostile_skillsets[(name, field)]
    [manifest] = cli.records(case["out"])
    assert manifest["model_id"] == case["hostile"]
    assert manifest["model_type"] == case["record"]["model_type"]
    assert manifest["requirements"] == case["record"]
    assert "\n" not in case["out"].rstrip("\n")  # one record, one line


def ruff_over(cli, paths, cwd):
    """The pinned ruff's check and format --check with its defaults, over `paths` at once."""
    for args in (["check", "--output-format", "concise"], ["format", "--check"]):
        done = subprocess.run([cli.python, "-m", "ruff", *args, "--isolated", "--no-cache", *map(str, paths)],
                              cwd=cwd, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stdout[-4000:] + done.stderr


def test_injection_skillsets_of_hostile_strings_pass_ruff(cli, hostile_skillsets, tmp_path):
    # A literal's quotes are ruff's choice (single ones when they need fewer escapes), so
    # ruff format leaves every hostile string as it was written.
    ruff_over(cli, [case["work"] / "hf_bert.py" for case in hostile_skillsets.values()], tmp_path)


def test_injection_hostile_transformers_version_does_not_reach_the_code(cli, tmp_path):
    record = cli.bert_requirements(tmp_path / "hf_bert.py",
                                   versions={"transformers": f'5"""\n{PAYLOAD}"""'})
    rc, out, err = cli.run("gen-skillset", "-q", input=cli.jsonl(record))
    assert rc == 0, err
    text = (tmp_path / "hf_bert.py").read_text()
    compile(text, "hf_bert.py", "exec")
    assert "PWNED" not in text
    assert import_by_path(cli, tmp_path / "hf_bert.py", "hf_bert", tmp_path)["pwned"] is False


NOT_IDENTIFIERS = ["AutoModel; import os", "AutoModel\nimport os", "AutoModel.__class__", "1AutoModel", ""]


@pytest.mark.parametrize("field", ["ident", "model_class", "auto_class", "processor_class"])
@pytest.mark.parametrize("value", NOT_IDENTIFIERS, ids=["semicolon", "newline", "dot", "digit-first", "empty"])
def test_injection_non_identifier_class_field_is_exit_2_and_writes_nothing(cli, tmp_path, field, value):
    record = cli.bert_requirements(tmp_path / "out" / "hf_bert.py", **{field: value})
    rc, out, err = cli.run("gen-skillset", input=cli.jsonl(record))
    assert rc == 2 and out == ""
    assert err.startswith("gen-skillset: error: ")
    assert cli.files_under(tmp_path) == []


def test_injection_ident_with_a_path_is_exit_2_and_writes_nothing(cli, tmp_path):
    record = cli.bert_requirements(tmp_path / "a" / "b" / "hf_bert.py", ident="../../evil")
    rc, out, err = cli.run("gen-skillset", "-o", tmp_path / "a" / "b", input=cli.jsonl(record))
    assert rc == 2 and out == ""
    assert err.startswith("gen-skillset: error: ")
    assert cli.files_under(tmp_path) == []


@pytest.mark.parametrize("family", ["../../etc", "../skillset/text-encoder", "/etc/passwd", ".", "..",
                                    "text-encoder\n", "_head", "_backends", "_inputs_text"])
def test_injection_family_that_is_not_a_template_is_exit_2_and_writes_nothing(cli, tmp_path, family):
    # `_name` templates are partials, included by families; they are no family of their own.
    record = cli.bert_requirements(tmp_path / "hf_bert.py", family=family)
    rc, out, err = cli.run("gen-skillset", input=cli.jsonl(record))
    assert rc == 2 and out == "", (rc, out[:200])
    assert err.startswith("gen-skillset: error: ")
    assert cli.files_under(tmp_path) == []


@pytest.mark.parametrize("task", [f'feature-extraction"""\n{PAYLOAD}', "feature extraction", ""])
def test_injection_task_that_is_not_a_word_is_exit_2_and_writes_nothing(cli, tmp_path, task):
    record = cli.bert_requirements(tmp_path / "hf_bert.py", task=task)
    rc, out, err = cli.run("gen-skillset", input=cli.jsonl(record))
    assert rc == 2 and out == ""
    assert err.startswith("gen-skillset: error: ")
    assert cli.files_under(tmp_path) == []


@pytest.mark.parametrize("overrides", [
    {"model_class": "BertModel\nimport os"},
    {"task": f"feature-extraction\n{PAYLOAD}"},
    {"model_type": f"bert\n{PAYLOAD}", "auto_class": "AutoModel; import os"},
], ids=["bad-class", "bad-task", "hostile-model-type-and-bad-class"])
def test_injection_error_naming_a_hostile_value_is_still_one_line(cli, tmp_path, overrides):
    record = cli.bert_requirements(tmp_path / "hf_bert.py", **overrides)
    rc, out, err = cli.run("gen-skillset", input=cli.jsonl(record))
    assert rc == 2 and out == ""
    cli.assert_one_error_line("gen-skillset", err)


# -- gen-tests ----------------------------------------------------------------------------

def test_injection_gen_tests_refuses_a_hostile_model_type_spec(cli, tmp_path):
    rc, out, err = cli.run("gen-tests", "-o", tmp_path / "t", "--skillset-dir", tmp_path / "s",
                           HOSTILE["triple-double-quotes"], cwd=tmp_path)
    assert rc == 2 and out == ""
    assert err.startswith("gen-tests: error: unknown model type ")
    assert cli.files_under(tmp_path) == []


def test_injection_gen_tests_error_naming_a_hostile_spec_is_one_line(cli, tmp_path):
    rc, _, err = cli.run("gen-tests", "-o", tmp_path / "t", HOSTILE["triple-double-quotes"], cwd=tmp_path)
    assert rc == 2
    cli.assert_one_error_line("gen-tests", err)


def test_injection_gen_tests_refuses_a_hostile_model_type_in_config_json(cli, tmp_path):
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text(json.dumps({"model_type": HOSTILE["triple-double-quotes"]}))
    rc, out, err = cli.run("gen-tests", "-o", tmp_path / "t", "--skillset-dir", tmp_path / "s", model,
                           cwd=tmp_path)
    assert rc == 2 and out == ""
    assert err.startswith("gen-tests: error: ")
    assert cli.files_under(tmp_path) == ["model/config.json"]


def test_injection_gen_tests_error_naming_a_hostile_config_model_type_is_one_line(cli, tmp_path):
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text(json.dumps({"model_type": HOSTILE["triple-double-quotes"]}))
    rc, _, err = cli.run("gen-tests", "-o", tmp_path / "t", model, cwd=tmp_path)
    assert rc == 2
    cli.assert_one_error_line("gen-tests", err)


@pytest.fixture(scope="module")
def hostile_tests(tmp_path_factory, cli):
    """For each hostile directory name: a local bert model directory of that name given to
    gen-tests, with -o and --skillset-dir under a directory of that name too; then the test
    file imported (stand-in skillkit) in a fresh interpreter."""
    stub = tmp_path_factory.mktemp("stub-skillkit")
    (stub / "skillkit").mkdir()
    (stub / "skillkit" / "__init__.py").write_text("")
    (stub / "skillkit" / "harness.py").write_text(STUB_HARNESS)
    env = dict(__import__("os").environ, PYTHONPATH=str(stub))
    found = {}
    for index, (name, hostile) in enumerate(HOSTILE_PATHS.items()):
        work = tmp_path_factory.mktemp(f"hostile-test-{index}")
        model = work / hostile
        model.mkdir()
        (model / "config.json").write_text(json.dumps({"model_type": "bert"}))
        out_dir = work / ("out" + hostile)
        rc, out, err = cli.run("gen-tests", "-q", "-o", out_dir / "tests", "--skillset-dir", out_dir / "s",
                               str(model), cwd=work)
        plans = cli.records(out) if rc == 0 else []
        imported = None
        if plans:
            imported = import_by_path(cli, plans[0]["test_file"], "test_hf_bert", work, env=env)
        found[name] = dict(work=work, model=model, out_dir=out_dir, rc=rc, err=err, plans=plans,
                           imported=imported)
    return found


@pytest.mark.parametrize("name", list(HOSTILE_PATHS))
def test_injection_gen_tests_hostile_directory_gives_a_test_that_compiles(hostile_tests, name):
    case = hostile_tests[name]
    assert case["rc"] == 0, case["err"]
    [plan] = case["plans"]
    assert plan["test_file"] == str(case["out_dir"] / "tests" / "test_hf_bert.py")
    text = Path(plan["test_file"]).read_text()
    compile(text, plan["test_file"], "exec")
    assert_plain_lines(text)


@pytest.mark.parametrize("name", list(HOSTILE_PATHS))
def test_injection_gen_tests_hostile_directory_adds_no_statement(hostile_tests, name):
    # The module's top level is exactly the template's: no injected statement.
    [plan] = hostile_tests[name]["plans"]
    tree = ast.parse(Path(plan["test_file"]).read_text())
    shape = [type(node).__name__ for node in tree.body]
    assert shape == ["Expr", "Import", "Import", "ImportFrom", "Assign", "FunctionDef", "FunctionDef",
                     "FunctionDef", "If"], shape


@pytest.mark.parametrize("name", list(HOSTILE_PATHS))
def test_injection_gen_tests_hostile_directory_is_kept_exactly_in_the_plan(hostile_tests, name):
    case = hostile_tests[name]
    assert case["imported"] is not None, case["err"]
    plan = case["imported"]["PLAN"]
    assert plan["model_id"] == str(case["model"]) == case["plans"][0]["model_id"]
    assert plan["test_file"] == case["plans"][0]["test_file"]
    assert plan["skillset_file"] == str(case["out_dir"] / "s" / "hf_bert.py")


@pytest.mark.parametrize("name", list(HOSTILE_PATHS))
def test_injection_gen_tests_importing_the_test_runs_no_injected_code(hostile_tests, name):
    case = hostile_tests[name]
    assert case["imported"] is not None, case["err"]
    assert case["imported"]["pwned"] is False
    assert not (case["work"] / "PWNED").exists()


def test_injection_tests_of_hostile_directories_pass_ruff(cli, hostile_tests, tmp_path):
    ruff_over(cli, [case["plans"][0]["test_file"] for case in hostile_tests.values()], tmp_path)


@pytest.mark.parametrize("name", list(HOSTILE_PATHS))
def test_injection_gen_skillset_hostile_directory_spec_gives_a_safe_skillset(cli, tmp_path, name):
    model = tmp_path / HOSTILE_PATHS[name]
    model.mkdir()
    (model / "config.json").write_text(json.dumps({"model_type": "bert"}))
    rc, out, err = cli.run("gen-skillset", "-q", "-o", tmp_path / "s", str(model), cwd=tmp_path)
    assert rc == 0, err
    [manifest] = cli.records(out)
    assert manifest["model_id"] == str(model) and manifest["config_source"] == "local"
    text = (tmp_path / "s" / "hf_bert.py").read_text()
    compile(text, "hf_bert.py", "exec")
    assert_plain_lines(text)
    imported = import_by_path(cli, tmp_path / "s" / "hf_bert.py", "hf_bert", tmp_path)
    assert imported["pwned"] is False
    assert imported["doc"].startswith('Skillset for Hugging Face model type "bert".\n')
