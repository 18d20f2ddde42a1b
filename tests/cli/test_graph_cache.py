"""The key a converted graph (OpenVINO, ONNX, transformers.js) is cached under covers the
skillset's own code: a regenerated skillset that traces differently must not reuse the
graphs an older one saved for the same checkpoint."""
import json
import subprocess

SOURCE = """\
import importlib.util, json, sys, types
sources = []
for path in sys.argv[2:]:
    spec = importlib.util.spec_from_file_location("hf_bert", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    model = types.SimpleNamespace(config=types.SimpleNamespace(_commit_hash="abc"))
    version = types.SimpleNamespace(__version__="1.0")
    sources.append(repr(module.hf_bert()._graph_source(sys.argv[1], model, version)))
print(json.dumps(sources))
"""


def test_a_regenerated_skillset_keys_its_graphs_apart_from_an_older_ones(cli, tmp_path):
    rc, _, err = cli.run("gen-skillset", "-q", "-o", tmp_path, "bert")
    assert rc == 0, err
    current = tmp_path / "hf_bert.py"
    lines = current.read_text().splitlines(keepends=True)
    # Another generation of the same skillset: gen-skillset's digest line differs.
    older = tmp_path / "older" / "hf_bert.py"
    older.parent.mkdir()
    older.write_text("# @generated sha256:" + "0" * 64 + "\n" + "".join(lines[1:]))
    done = subprocess.run([cli.python, "-c", SOURCE, "org/model", str(current), str(current), str(older)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    same, again, other = json.loads(done.stdout)
    assert same == again
    assert same != other
    assert lines[0].strip() in same
