"""Precisions for real: gen-tests --precision asks every backend for fp16, bf16 or int8,
the tolerance widens to data/families.json's for it, and the torch path on the CPU runs
the model in that precision against the fp32 reference (bert for text; vit for pixel
inputs, which the skillset casts to the model's dtype)."""
import json
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TOLERANCES = json.loads((ROOT / "data" / "families.json").read_text(encoding="utf-8"))["precisions"]


def _loop(cli, work, model_type, precision, backends="cpu"):
    rc, plans, err = cli.run("gen-tests", model_type, "--precision", precision, "--backends", backends,
                             "-o", "tests", "--skillset-dir", "skillsets", cwd=work)
    assert rc == 0, err
    rc, _, err = cli.run("gen-skillset", model_type, "-o", "skillsets", cwd=work)
    assert rc == 0, err
    rc, results, err = cli.run("run-tests", input=plans, cwd=work)
    return rc, cli.records(plans)[0], cli.records(results)[0], err


@pytest.mark.parametrize("model_type, precision", [("bert", "fp16"), ("bert", "bf16"), ("bert", "int8"),
                                                   ("vit", "fp16"), ("vit", "bf16")])
def test_a_reduced_precision_passes_cpu_parity_within_its_own_tolerance(cli, tmp_path, model_type, precision):
    rc, plan, result, err = _loop(cli, tmp_path, model_type, precision)
    assert rc == 0, err
    assert plan["precision"] == result["precision"] == precision
    wanted = TOLERANCES[precision]
    assert all(plan["tolerance"][key] >= wanted[key] for key in ("rtol", "atol")), plan["tolerance"]
    cpu = result["backends"]["cpu"]
    assert cpu["status"] == "pass", cpu
    # Really computed in that precision: an fp32 run would match the reference exactly.
    assert cpu["max_abs_diff"] > 1e-6


def test_int8_on_a_gpu_backend_is_a_skip_unsupported_by_runtime_never_a_pass(cli, tmp_path):
    rc, _, result, err = _loop(cli, tmp_path, "bert", "int8", backends="cpu,cuda")
    assert rc == 0, err
    # Here cuda has no device; where it has one, torch's int8 path still runs on the CPU only.
    assert result["backends"]["cuda"]["status"] == "skip"
    assert result["backends"]["cuda"]["reason"] in ("no-device", "unsupported-by-runtime")


def test_gen_tests_refuses_an_unknown_precision_with_one_line_and_exit_2(cli, tmp_path):
    rc, out, err = cli.run("gen-tests", "bert", "--precision", "fp8", "-o", tmp_path)
    assert rc == 2 and out == ""
    cli.assert_one_error_line("gen-tests", err)
    assert "unknown precision 'fp8'" in err
    assert list(tmp_path.iterdir()) == []


def test_a_skillset_refuses_an_unknown_precision_when_constructed(cli, tmp_path):
    rc, _, err = cli.run("gen-skillset", "bert", "-o", tmp_path)
    assert rc == 0, err
    done = subprocess.run([cli.python, "-c", (
        "import importlib.util, sys\n"
        "spec = importlib.util.spec_from_file_location('hf_bert', sys.argv[1])\n"
        "module = importlib.util.module_from_spec(spec)\n"
        "spec.loader.exec_module(module)\n"
        "try:\n"
        "    module.hf_bert(metadata={'precision': 'fp8'})\n"
        "except ValueError as exc:\n"
        "    print(exc)\n"
        "    sys.exit(3)\n"), tmp_path / "hf_bert.py"], capture_output=True, text=True)
    assert done.returncode == 3, done.stderr
    assert "unknown precision 'fp8'" in done.stdout
