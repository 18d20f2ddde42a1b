"""Generated skillsets are drop-in for the ipfs_accelerate_py worker, held to a stand-in
of it (skillkit.ipfs_worker_standin) that calls them as its worker.py does.

The worker exec()s every hf_*.py of its folder into one namespace of its own, then, on a
host without CUDA, serves each model through init_openvino(model, model_type,
"openvino:0", "openvino:0", <four helpers>) without catching anything, and calls the
handler with one input or a list. So: every reference type is served, each input a
path or a text as a worker's client sends it, and its results match the reference; on
a host without the openvino package each is served by torch on the CPU and every result
says so; and skillsets of different
families exec()'d into one namespace, in either order, still serve, leaving nothing
there but their classes."""
import json
import subprocess
import textwrap
from pathlib import Path

import pytest

from reference_types import OPENVINO_TYPES, WORKER_TYPES

_FAMILIES = json.loads((Path(__file__).resolve().parents[2] / "data" / "families.json").read_text(
    encoding="utf-8"))["families"]
# The reference type whose one input is a list (a series of numbers), not a text or a path.
SERIES_TYPE = _FAMILIES["time-series"]["reference_type"]
# The reference type whose one input is a video: its frames as an array, sent as they are.
VIDEO_TYPE = _FAMILIES["video"]["reference_type"]

# Different families in one namespace: text-decoder and speech-seq2seq each had a helper
# _until_end of their own, which the other's replaced.
SHARED = ("bert", "gpt2", "whisper", "vit")

WORKER = textwrap.dedent("""\
    import json, os, sys, tempfile
    from pathlib import Path

    from skillkit import families, media, reference
    from skillkit import ipfs_worker_standin as worker

    folder, plans, shared = Path(sys.argv[1]), sys.argv[2], json.loads(sys.argv[3])
    scratch = tempfile.mkdtemp()

    def sent(item, name):
        # As a worker's client sends it: a text, or the path of an image or audio file;
        # an image and its prompt as a dict of them. A video goes as its frames (no file
        # format of its own here).
        if isinstance(item, list):
            return [sent(one, f"{name}-{index}") for index, one in enumerate(item)]
        if isinstance(item, dict):
            return {key: sent(value, f"{name}-{key}") for key, value in item.items()}
        if isinstance(item, (str, int, float)):
            return item  # a text, or a time series' value: JSON as it is
        if hasattr(item, "save"):
            path = os.path.join(scratch, name + ".png")
            item.save(path)
            return path
        return media.wav_file(item, name + ".wav")

    LABELS = ("backend", "fallback_from", "fallback_reason", "fallback_message", "device",
              "implementation_type")

    def checked(results, family, expected, plan):
        found = []
        for result, want in zip(results, expected):
            comparison = family.compare(want, result, plan)
            found.append({"ok": comparison.ok, "message": comparison.message,
                          **{key: result.get(key) for key in LABELS}})
        return found

    served, models = {}, {}
    for line in Path(plans).read_text().splitlines():
        plan = json.loads(line)
        family = families.load(plan["family"])
        one, batch = family.cases(plan)[:2]  # one input, then a list of two
        assert one.options == batch.options and isinstance(batch.input, list)
        record, model_dir, expected = reference.compute(family, plan, [one, batch])
        assert record["status"] == "pass", record
        send = (lambda item, name: item) if plan["family"] == "video" else sent
        inputs = [send(one.input, plan["ident"]), send(batch.input, plan["ident"] + "-batch")]
        models[plan["model_type"]] = (str(model_dir), inputs, one.options, family, expected, plan)
        results = worker.run(folder, str(model_dir), inputs, one.options)
        served[plan["model_type"]] = {"inputs": [type(item).__name__ for item in inputs],
                                      "results": checked(results, family, expected, plan)}

    together = {}
    for order in (shared, shared[::-1]):
        before = worker.worker_namespace()
        namespace = worker.exec_skillsets([folder / f"hf_{name}.py" for name in order], dict(before))
        outcome = {"gained": sorted(set(namespace) - set(before) - {"__builtins__"}),
                   "changed": [name for name in worker.WORKER_NAMES if namespace[name] is not before[name]]}
        for name in order:
            model_dir, inputs, options, family, expected, plan = models[name]
            results = worker.serve_on_cpu_host(namespace["hf_" + name], model_dir, inputs, options)
            outcome[name] = checked(results, family, expected, plan)
        together[",".join(order)] = outcome

    sys.modules["openvino"] = None  # as if not installed: its import raises ImportError
    model_dir, inputs, options, family, expected, plan = models["bert"]
    without_openvino = checked(worker.run(folder, model_dir, inputs, options), family, expected, plan)
    strict = worker.load_class(folder / "hf_bert.py")(metadata={"strict_backends": True})
    try:
        strict.init_openvino(model_dir, "bert", "openvino:0", "openvino:0")
        raised = None
    except strict.BackendUnavailable as exc:
        raised = {"reason": exc.reason, "message": str(exc)}
    print(json.dumps({"served": served, "together": together,
                      "without_openvino": without_openvino, "strict_raised": raised}))
""")


@pytest.fixture(scope="module")
def worker_run(tmp_path_factory, cli):
    """The stand-in worker over a folder holding the skillset of every reference type."""
    work = tmp_path_factory.mktemp("ipfs-worker")
    folder = work / "skillset"
    rc, _, err = cli.run("gen-skillset", "-q", "-o", folder, *WORKER_TYPES)
    assert rc == 0, err
    rc, plans, err = cli.run("gen-tests", "-q", "-o", work / "tests", "--skillset-dir", folder,
                             *WORKER_TYPES)
    assert rc == 0, err
    (work / "plans.jsonl").write_text(plans)
    done = subprocess.run([cli.python, "-c", WORKER, folder, work / "plans.jsonl", json.dumps(SHARED)],
                          cwd=work, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads(done.stdout)


@pytest.mark.parametrize("model_type", WORKER_TYPES)
def test_the_worker_serves_each_reference_type_through_init_openvino(worker_run, model_type):
    served = worker_run["served"][model_type]
    # One input (a text or a file's path; an image and its prompt as a dict; a time
    # series, itself a list of numbers), then a list of two.
    expected = {SERIES_TYPE: [["list", "list"]], VIDEO_TYPE: [["ndarray", "list"]]}.get(
        model_type, [["str", "list"], ["dict", "list"]])
    assert served["inputs"] in expected
    for result in served["results"]:
        assert result["ok"], result["message"]
        assert result["implementation_type"] == "REAL"


@pytest.mark.parametrize("model_type", OPENVINO_TYPES)
def test_a_family_with_an_openvino_path_is_served_by_openvino(worker_run, model_type):
    for result in worker_run["served"][model_type]["results"]:
        assert (result["backend"], result["device"]) == ("openvino", "openvino:0"), result
        assert result["fallback_from"] is None and result["fallback_reason"] is None, result


def test_without_the_openvino_package_the_worker_is_served_on_the_cpu_and_says_so(worker_run):
    for result in worker_run["without_openvino"]:
        assert result["ok"], result["message"]
        assert (result["backend"], result["fallback_from"], result["fallback_reason"]) == \
            ("cpu", "openvino", "package-missing"), result
        assert "'openvino'" in result["fallback_message"], result


def test_with_strict_backends_init_openvino_raises_instead_of_falling_back(worker_run):
    raised = worker_run["strict_raised"]
    assert raised is not None and raised["reason"] == "package-missing", raised


@pytest.mark.parametrize("order", [",".join(SHARED), ",".join(SHARED[::-1])])
def test_skillsets_of_different_families_share_one_namespace_in_either_order(worker_run, order):
    together = worker_run["together"][order]
    assert together["gained"] == sorted(f"hf_{name}" for name in SHARED)
    assert together["changed"] == []
    for name in SHARED:
        for result in together[name]:
            assert result["ok"], (name, result["message"])
