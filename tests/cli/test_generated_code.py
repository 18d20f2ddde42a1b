"""What the generated Python is, read as code: every file that `gen-skillset --all` and
`gen-tests --all` write passes the pinned ruff's `check` and `format --check` with its
default settings, and the handlers of the six reference skillsets behave alike where
DESIGN says they do (an unknown option, a package missing while a backend starts).

The handlers run for real, from `init_*` through the handler, with stand-ins for the
modules the worker may hand a skillset in `resources` (its contract): no tiny model is
needed to see how an option or a missing package is treated."""
import json
import subprocess
import textwrap

import pytest

SIX = ("bert", "gpt2", "t5", "vit", "whisper", "clip")


@pytest.fixture(scope="module")
def generated_everything(tmp_path_factory, cli):
    """gen-skillset --all and gen-tests --all, into one directory."""
    work = tmp_path_factory.mktemp("everything")
    rc, out, err = cli.run("gen-skillset", "-q", "--all", "-o", work / "skillsets", cwd=work)
    assert rc == 0, err
    rc, out, err = cli.run("gen-tests", "-q", "--all", "-o", work / "tests", "--skillset-dir",
                           work / "skillsets", cwd=work)
    assert rc == 0, err
    return work


def ruff(cli, *args, cwd):
    """The pinned ruff, with its defaults whatever configuration lies around the output."""
    return subprocess.run([cli.python, "-m", "ruff", *args, "--isolated", "--no-cache", "."],
                          cwd=cwd, capture_output=True, text=True, timeout=300)


def test_generated_code_covers_every_family_and_both_kinds(cli, generated_everything):
    skillsets = list((generated_everything / "skillsets").glob("hf_*.py"))
    tests = list((generated_everything / "tests").glob("test_hf_*.py"))
    assert len(skillsets) > 100 and len(tests) > 100
    assert {f"hf_{t}.py" for t in SIX} <= {p.name for p in skillsets}


def test_generated_code_passes_ruff_check(cli, generated_everything):
    done = ruff(cli, "check", "--output-format", "concise", cwd=generated_everything)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr


def test_generated_code_passes_ruff_format_check(cli, generated_everything):
    done = ruff(cli, "format", "--check", cwd=generated_everything)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr


# -- handlers of the six reference types -------------------------------------------------

# Stand-ins for transformers and torch: every attribute, call and item is the stand-in
# again, so a skillset runs through its handler to wherever it first looks at an option.
STAND_IN = textwrap.dedent("""\
    import importlib.util, json, sys, types

    class Anything:
        def __getattr__(self, name):
            return Anything()
        def __call__(self, *args, **kwargs):
            return Anything()
        def __getitem__(self, key):
            return Anything()
        def __iter__(self):
            return iter(())
        def __enter__(self):
            return self
        def __exit__(self, *exc):
            return False

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

UNKNOWN_OPTION = STAND_IN + textwrap.dedent("""\
    INPUTS = {"text": "a prompt", "image": "/nonexistent/image.png", "audio": "/nonexistent/clip.wav"}
    found = {}
    for path, ident, kind, options in json.loads(sys.argv[1]):
        module, cls = load(path, ident)
        torch = types.SimpleNamespace(inference_mode=Anything())
        skillset = cls(resources={"torch": torch, "transformers": Anything()})
        handler = skillset.init_cpu("/nonexistent/model", "cpu", "cpu")[2]
        found[ident + repr(options)] = raised(lambda: handler(INPUTS[kind], **options))
    print(json.dumps(found))
""")

# The input kind each reference type's handler takes, and the options it needs anyway.
HANDLERS = {
    "bert": ("text", {}), "gpt2": ("text", {}), "t5": ("text", {}), "vit": ("image", {}),
    "whisper": ("audio", {}), "clip": ("image", {"candidate_labels": ["a cat"]}),
}
# clip serves three tasks through its `task` option; each refuses an unknown option.
CLIP_TASKS = ("zero-shot-image-classification", "image-embedding", "text-embedding")


@pytest.fixture(scope="module")
def six_skillsets(tmp_path_factory, cli):
    work = tmp_path_factory.mktemp("six")
    rc, out, err = cli.run("gen-skillset", "-q", "-o", work, *SIX)
    assert rc == 0, err
    return {m["model_type"]: m for m in cli.records(out)}


@pytest.fixture(scope="module")
def unknown_option_raised(six_skillsets, cli):
    calls = []
    for model_type, (kind, options) in HANDLERS.items():
        manifest = six_skillsets[model_type]
        calls.append([manifest["skillset_file"], manifest["ident"], kind, dict(options, no_such_option=1)])
    for task in CLIP_TASKS[1:]:
        kind = "text" if task == "text-embedding" else "image"
        calls.append([six_skillsets["clip"]["skillset_file"], "clip", kind,
                      {"task": task, "no_such_option": 1}])
    done = subprocess.run([cli.python, "-c", UNKNOWN_OPTION, json.dumps(calls)], capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return {key: value for key, value in json.loads(done.stdout).items()}


@pytest.mark.parametrize("model_type", SIX)
def test_generated_handler_refuses_an_unknown_option_with_type_error_naming_it(unknown_option_raised,
                                                                              model_type):
    kind, options = HANDLERS[model_type]
    raised = unknown_option_raised[model_type + repr(dict(options, no_such_option=1))]
    assert raised is not None, "the handler took an option it does not know"
    assert raised["type"] == "TypeError" and "no_such_option" in raised["message"], raised


@pytest.mark.parametrize("task", CLIP_TASKS[1:])
def test_generated_clip_handler_refuses_an_unknown_option_for_every_task(unknown_option_raised, task):
    raised = unknown_option_raised["clip" + repr({"task": task, "no_such_option": 1})]
    assert raised is not None, "the handler took an option it does not know"
    assert raised["type"] == "TypeError" and "no_such_option" in raised["message"], raised


# A package missing while a backend starts is that backend's failure: the stand-in torch
# sees a device of every kind, and transformers cannot be imported.
MISSING_PACKAGE = STAND_IN + textwrap.dedent("""\
    sys.modules["transformers"] = None  # importing it now raises ImportError
    found = {}
    for path, ident in json.loads(sys.argv[1]):
        module, cls = load(path, ident)
        torch = Anything()
        torch.version = types.SimpleNamespace(hip=None)
        skillset = cls(resources={"torch": torch})
        for backend in ("cpu", "cuda", "apple"):
            init = getattr(skillset, "init_" + backend)
            found[ident + ":" + backend] = raised(lambda: init("/nonexistent/model", backend + ":0", backend))
        torch.version = types.SimpleNamespace(hip="6.0")
        found[ident + ":rocm"] = raised(lambda: skillset.init_rocm("/nonexistent/model", "rocm:0", "rocm"))
    print(json.dumps(found))
""")


@pytest.fixture(scope="module")
def missing_package_raised(six_skillsets, cli):
    calls = [[m["skillset_file"], m["ident"]] for m in six_skillsets.values()]
    done = subprocess.run([cli.python, "-c", MISSING_PACKAGE, json.dumps(calls)], capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.mark.parametrize("model_type", SIX)
@pytest.mark.parametrize("backend", ["cpu", "cuda", "rocm", "apple"])
def test_generated_package_missing_names_the_backend_being_initialised(missing_package_raised, model_type,
                                                                       backend):
    raised = missing_package_raised[f"{model_type}:{backend}"]
    assert raised is not None and raised["type"] == "BackendUnavailable", raised
    assert (raised["backend"], raised["reason"]) == (backend, "package-missing"), raised
    assert "transformers" in raised["message"] and raised["message"].startswith(f"{backend}: ")
