"""What the generated Python is, read as code: every file that `gen-skillset --all` and
`gen-tests --all` write passes the pinned ruff's `check` and `format --check` with its
default settings, and a package missing while a backend starts is that backend's
failure in every reference skillset.

That check runs `init_*` for real with a stand-in torch handed in `resources` (the
worker's contract), since only a stand-in can claim a CUDA, ROCm or MPS device on a
machine without one; it tests where an error is attributed, never a result. How
handlers treat an unknown option is checked on real models by the harness, in every
backend run (skillkit.testrun)."""
import json
import subprocess
import textwrap

import pytest

from reference_types import REFERENCE_TYPES, ident



@pytest.fixture(scope="module")
def generated_everything(tmp_path_factory, cli):
    """gen-skillset --all and gen-tests --all, into one directory."""
    work = tmp_path_factory.mktemp("everything")
    rc, out, err = cli.run("gen-skillset", "-q", "--all", "-o", work / "skillsets", cwd=work)
    assert rc == 0, err
    rc, out, err = cli.run("gen-tests", "-q", "--all", "-o", work / "tests", "--skillset-dir",
                           work / "skillsets", cwd=work)
    assert rc == 0, err
    # Each batch policy's code, as the loop writes it from a test's requirements.
    for model_type, task, policy in BATCH_POLICIES:
        rc, out, err = cli.run("gen-skillset", "-q", "--task", task, model_type, "-o", work / "registry", cwd=work)
        assert rc == 0, err
        requirements = json.loads(out)["requirements"]
        requirements.update(batch_policy=policy,
                            skillset_file=str(work / "skillsets" / f"hf_{ident(model_type)}_{task.replace('-', '_')}.py"))
        rc, out, err = cli.run("gen-skillset", "-q", "-r", "-", input=json.dumps(requirements) + "\n", cwd=work)
        assert rc == 0 and json.loads(out)["status"] == "written", err
    return work


BATCH_POLICIES = [("canine", "feature-extraction", "equal-length"), ("canine", "question-answering", "equal-length"),
                  ("canine", "token-classification", "single"), ("textnet", "image-classification", "single"),
                  ("videomae", "video-classification", "single"), ("rwkv", "text-generation", "single")]


def ruff(cli, *args, cwd):
    """The pinned ruff, with its defaults whatever configuration lies around the output."""
    return subprocess.run([cli.python, "-m", "ruff", *args, "--isolated", "--no-cache", "."],
                          cwd=cwd, capture_output=True, text=True, timeout=300)


def test_generated_code_covers_every_family_and_both_kinds(cli, generated_everything):
    skillsets = list((generated_everything / "skillsets").glob("hf_*.py"))
    tests = list((generated_everything / "tests").glob("test_hf_*.py"))
    assert len(skillsets) > 100 and len(tests) > 100
    assert {f"hf_{ident(t)}.py" for t in REFERENCE_TYPES} <= {p.name for p in skillsets}


def test_generated_code_passes_ruff_check(cli, generated_everything):
    done = ruff(cli, "check", "--output-format", "concise", cwd=generated_everything)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr


def test_generated_code_passes_ruff_format_check(cli, generated_everything):
    done = ruff(cli, "format", "--check", cwd=generated_everything)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr


# -- the reference skillsets -------------------------------------------------

# A stand-in torch: every attribute, call and item is the stand-in again, so it answers
# yes to every device check.
STAND_IN = textwrap.dedent("""\
    import importlib.util, json, sys, types

    class Anything:
        def __getattr__(self, name):
            return Anything()
        def __call__(self, *args, **kwargs):
            return Anything()

    def load(path, ident):
        spec = importlib.util.spec_from_file_location("hf_" + ident, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module, getattr(module, "hf_" + ident)

    def raised(call):
        try:
            call()
        except Exception as exc:
            return {"type": type(exc).__name__, "message": str(exc),
                    "backend": getattr(exc, "backend", None), "reason": getattr(exc, "reason", None)}
        return None
""")


@pytest.fixture(scope="module")
def reference_skillsets(tmp_path_factory, cli):
    work = tmp_path_factory.mktemp("reference")
    rc, out, err = cli.run("gen-skillset", "-q", "-o", work, *REFERENCE_TYPES)
    assert rc == 0, err
    return {m["model_type"]: m for m in cli.records(out)}


# A package missing while a backend starts is that backend's failure: the stand-in torch
# sees a device of every kind, and transformers cannot be imported.
MISSING_PACKAGE = STAND_IN + textwrap.dedent("""\
    sys.modules["transformers"] = None  # importing it now raises ImportError
    found = {}
    for path, ident in json.loads(sys.argv[1]):
        module, cls = load(path, ident)
        torch = Anything()
        torch.version = types.SimpleNamespace(hip=None)
        skillset = cls(resources={"torch": torch}, metadata={"strict_backends": True})
        for backend in ("cpu", "cuda", "apple"):
            init = getattr(skillset, "init_" + backend)
            found[ident + ":" + backend] = raised(lambda: init("/nonexistent/model", backend + ":0", backend))
        torch.version = types.SimpleNamespace(hip="6.0")
        found[ident + ":rocm"] = raised(lambda: skillset.init_rocm("/nonexistent/model", "rocm:0", "rocm"))
    print(json.dumps(found))
""")


@pytest.fixture(scope="module")
def missing_package_raised(reference_skillsets, cli):
    calls = [[m["skillset_file"], m["ident"]] for m in reference_skillsets.values()]
    done = subprocess.run([cli.python, "-c", MISSING_PACKAGE, json.dumps(calls)], capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.mark.parametrize("model_type", REFERENCE_TYPES)
@pytest.mark.parametrize("backend", ["cpu", "cuda", "rocm", "apple"])
def test_generated_package_missing_names_the_backend_being_initialised(missing_package_raised, model_type,
                                                                       backend):
    raised = missing_package_raised[f"{ident(model_type)}:{backend}"]
    assert raised is not None and raised["type"] == "BackendUnavailable", raised
    assert (raised["backend"], raised["reason"]) == (backend, "package-missing"), raised
    assert "transformers" in raised["message"] and raised["message"].startswith(f"{backend}: ")
