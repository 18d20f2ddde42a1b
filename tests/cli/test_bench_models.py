"""make bench-models (python -m skillkit.bench): a short real run on tiny bert measures the
skillset and the direct transformers call side by side and writes benchmark records;
bad options are one error line and exit 2. Speed is measured there, never asserted here."""
import os
import subprocess

import pytest


def bench(cli, *args):
    """python -m skillkit.bench of this checkout with args: (exit code, stdout, stderr)."""
    environment = dict(os.environ, PYTHONPATH=str(cli.root / "python"), HF_HUB_OFFLINE="1",
                       SKILLSET_BIN=str(cli.bin))
    done = subprocess.run([cli.python, "-m", "skillkit.bench", *map(str, args)], capture_output=True,
                          text=True, env=environment, timeout=600)
    return done.returncode, done.stdout, done.stderr


@pytest.fixture(scope="module")
def bert_run(cli, tmp_path_factory):
    """Tiny bert on cpu, and on apple, which no machine here has, at batch sizes 1 and 2."""
    out = tmp_path_factory.mktemp("bench") / "bert.jsonl"
    rc, stdout, stderr = bench(cli, "bert", "--backends", "cpu,apple", "--batch-sizes", "1,2",
                               "--repeats", "3", "--warmup", "1", "-o", out)
    assert rc == 0, stderr
    return cli.records(out.read_text()), stdout, stderr


def test_bench_models_writes_one_record_per_batch_size_that_validates(bert_run, validate):
    records, _, _ = bert_run
    assert [(r["model_type"], r["backend"], r["batch_size"]) for r in records] == [("bert", "cpu", 1), ("bert", "cpu", 2)]
    for record in records:
        validate(record, "benchmark")
        assert record["checkpoint"] == "tiny" and record["repeats"] == 3 and record["torch_threads"] == 1


def test_bench_models_measures_the_skillset_and_the_direct_call(bert_run):
    records, _, _ = bert_run
    for record in records:
        for side in ("skillset", "direct"):
            figures = record[side]
            assert 0 < figures["latency_ms_median"] <= figures["latency_ms_p95"]
            assert figures["throughput_per_s"] == pytest.approx(
                record["batch_size"] * 1000 / figures["latency_ms_median"])
            assert figures["peak_memory_bytes"] >= 0


def test_bench_models_overhead_is_the_skillsets_median_over_the_direct_one(bert_run):
    records, _, _ = bert_run
    for record in records:
        ratio = record["skillset"]["latency_ms_median"] / record["direct"]["latency_ms_median"]
        assert record["overhead_pct"] == pytest.approx(100 * (ratio - 1))


def test_bench_models_skips_a_backend_that_cannot_serve_here_and_records_nothing_for_it(bert_run):
    records, _, stderr = bert_run
    assert all(record["backend"] != "apple" for record in records)
    assert "bert tiny apple: skipped (no-device)" in stderr


def test_bench_models_prints_the_table_on_stderr_and_only_records_go_to_the_output(bert_run):
    _, stdout, stderr = bert_run
    assert stdout == ""
    rows = [line.split() for line in stderr.splitlines() if line.startswith("bert tiny ")]
    assert [row[2:4] for row in rows] == [["cpu", "1"], ["cpu", "2"]]


@pytest.mark.parametrize("args", [
    ["--repeats", "0"],
    ["--warmup", "0"],
    ["--batch-sizes", "1,x"],
    ["--backends", "cpu,tpu"],
    ["--no-such-option"],
    ["-o", "/nonexistent/dir/out.jsonl"],
    ["no_such_model_type_at_all"],
], ids=["repeats", "warmup", "batch-sizes", "backends", "option", "output", "spec"])
def test_bench_models_bad_option_is_one_error_line_and_exit_2(cli, args):
    rc, stdout, stderr = bench(cli, *(args if args[0].startswith("no_such") else ["bert", *args]))
    assert rc == 2 and stdout == ""
    cli.assert_one_error_line("bench-models", stderr)
