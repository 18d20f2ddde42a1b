"""transformersjs-node and webgpu for real: a generated skillset's model exported to ONNX,
laid out as transformers.js expects and run by it in Node and in headless Chromium with
WebGPU (Debian's chromium on its software adapter), compared with PyTorch. webgpu runs
on two types here, bert (conftest.py's bert_loop) and gpt2 (transformers.js's own
generate() in the browser), since a browser costs seconds per type; t5 and whisper,
transformers.js's encoder-decoder generate(), run in Node."""
import json
import os
import subprocess
import textwrap

import pytest

NODE_MODULES_MISSING = "the npm packages are not installed (make npm)"


@pytest.fixture(scope="module")
def node_modules(cli):
    path = cli.root / "js" / "node_modules" / "@huggingface" / "transformers"
    if not path.is_dir():
        pytest.skip(NODE_MODULES_MISSING)
    return path.parents[1]


@pytest.mark.parametrize("backend", ["transformersjs-node", "webgpu"])
def test_bert_passes_parity_in_node_and_in_the_browser_with_webgpu(bert_loop, node_modules, backend):
    [result] = bert_loop.results
    outcome = result["backends"][backend]
    assert outcome["status"] == "pass", outcome
    assert outcome["max_abs_diff"] <= result["reference"]["tolerance"]["atol"]


def _run_with_registry_skillset(cli, tmp_path, model_type, backends):
    """The test-result of model_type's test on `backends`, against the registry's skillset."""
    rc, plans, err = cli.run("gen-tests", "-q", "-o", tmp_path / "tests", "--skillset-dir", tmp_path / "skillsets",
                             "--backends", backends, model_type)
    assert rc == 0, err
    rc, _, err = cli.run("gen-skillset", "-q", "-o", tmp_path / "skillsets", model_type)
    assert rc == 0, err
    rc, out, err = cli.run("run-tests", "-q", "-j", "1", "--timeout", "300", input=plans)
    assert rc == 0, err
    [result] = cli.records(out)
    return result


def test_gpt2_generates_on_webgpu_as_on_torch(cli, tmp_path, node_modules):
    webgpu = _run_with_registry_skillset(cli, tmp_path, "gpt2", "webgpu")["backends"]["webgpu"]
    assert webgpu["status"] == "pass", webgpu


@pytest.mark.parametrize("model_type", ["t5", "whisper"])
def test_encoder_decoders_generate_on_transformersjs_node_as_on_torch(cli, tmp_path, node_modules, model_type):
    # transformers.js's own generate() over the encoder and the decoder step the skillset
    # exports (whisper's with torch's decoder prompt): the harness compares its greedy
    # tokens with torch's, token for token.
    result = _run_with_registry_skillset(cli, tmp_path, model_type, "cpu,transformersjs-node")
    assert result["backends"]["cpu"]["status"] == "pass", result["backends"]["cpu"]
    node = result["backends"]["transformersjs-node"]
    assert node["status"] == "pass", node


def test_a_model_type_transformersjs_has_no_class_for_is_a_skip_unsupported_by_runtime(cli, tmp_path,
                                                                                        node_modules):
    # megatron-bert serves on cpu, but transformers.js has no MegatronBertModel.
    result = _run_with_registry_skillset(cli, tmp_path, "megatron-bert", "cpu,transformersjs-node")
    assert result["backends"]["cpu"]["status"] == "pass"
    node = result["backends"]["transformersjs-node"]
    assert (node["status"], node["reason"]) == ("skip", "unsupported-by-runtime"), node
    assert "MegatronBertModel" in node["message"]


LAY_OUT = textwrap.dedent("""\
    import importlib.util, json, os, sys
    from skillkit import families, tiny_cache
    path, node_modules, cache = sys.argv[1:]
    spec = importlib.util.spec_from_file_location("hf_bert", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    candidate = {"model_class": "BertModel", "auto_class": "AutoModel", "processor_class": "AutoTokenizer"}
    plan = {"model_type": "bert", "ident": "bert", "family": "text-encoder", "seed": 0}
    model_dir = tiny_cache.tiny_model_dir(families.load("text-encoder"), plan, candidate)
    metadata = {"transformersjs_dir": node_modules, "transformersjs_cache_dir": cache,
                "strict_backends": True}
    skillset = module.hf_bert(metadata=metadata)
    handler = skillset.init_transformersjs_node(str(model_dir), "cpu", "cpu")[2]
    output = handler(["a first text", "a second, longer text"])
    # Beside the exported graphs, the directory laid out for transformers.js.
    [laid_out] = [entry for entry in os.listdir(cache) if os.path.isdir(os.path.join(cache, entry))]
    files = sorted(os.path.relpath(os.path.join(d, f), os.path.join(cache, laid_out))
                   for d, _, names in os.walk(os.path.join(cache, laid_out)) for f in names)
    print(json.dumps({"files": files, "device": output["device"], "rows": len(output["embeddings"])}))
""")


def test_the_skillset_lays_the_model_out_as_transformersjs_expects_with_its_js(cli, tmp_path, node_modules):
    rc, _, err = cli.run("gen-skillset", "-q", "-o", tmp_path, "bert")
    assert rc == 0, err
    done = subprocess.run([cli.python, "-c", LAY_OUT, str(tmp_path / "hf_bert.py"), str(node_modules),
                           str(tmp_path / "cache")], capture_output=True, text=True, timeout=300,
                          env=dict(os.environ, PYTHONPATH=str(cli.root / "python"), HF_HUB_OFFLINE="1"))
    assert done.returncode == 0, done.stderr[-2000:]
    found = json.loads(done.stdout.splitlines()[-1])
    # The weights inside onnx/model.onnx: the browser cannot read an external data file.
    assert found["files"] == ["config.json", "host.mjs", "index.html", "onnx/model.onnx", "tokenizer.json",
                              "tokenizer_config.json", "transformersjs.mjs"]
    assert found["device"] == "cpu" and found["rows"] == 2
