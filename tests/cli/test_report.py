"""report: test-result and benchmark records in, the compatibility matrix out as JSON,
Markdown and one HTML page. The records are the real bert loop's (conftest.py) and a
real verify run's, plus small hand-made ones for what a real run does not give (a
hostile message, benchmarks, a second model type). The page is opened in headless
Chromium (tests/cli/report_page.mjs)."""
import json
import os
import shutil
import subprocess

import pytest

HOSTILE = "<script>window.injected = 1</script><img src=x onerror=\"window.injected = 2\"> 'quoted' & \"double\""


def gpt2_result(cli, **backends):
    return cli.bert_result(model_type="gpt2", ident="gpt2", model_id="gpt2", family="text-decoder",
                           task="text-generation", test_file="/nonexistent/test_hf_gpt2.py",
                           skillset_file="/nonexistent/hf_gpt2.py", backends=backends)


def benchmark(backend, batch_size, median, overhead):
    timings = {"latency_ms_median": median, "latency_ms_p95": median * 1.2,
               "throughput_per_s": batch_size * 1000 / median, "peak_memory_bytes": 3 << 20}
    return {"schema": "benchmark", "version": 1, "model_type": "bert", "ident": "bert", "family": "text-encoder",
            "task": "feature-extraction", "backend": backend, "checkpoint": "tiny", "batch_size": batch_size,
            "repeats": 20, "skillset": timings, "direct": dict(timings, latency_ms_median=median / (1 + overhead / 100)),
            "overhead_pct": overhead}


@pytest.fixture(scope="module")
def records(bert_loop, cli):
    """The real bert result, a gpt2 result with a hostile message, and benchmarks."""
    hostile = gpt2_result(cli, cpu={"status": "fail", "message": HOSTILE, "class": "parity"},
                          onnx={"status": "pass", "max_abs_diff": 0.0})
    figures = [benchmark(backend, size, median, overhead)
               for backend, base, overhead in (("cpu", 2.0, 1.5), ("onnx", 1.5, 4.0))
               for size, median in ((1, base), (8, base * 4), (32, base * 12))]
    return [*bert_loop.results, hostile, *figures]


def test_report_prints_the_markdown_matrix_of_real_results(bert_loop, cli):
    [result] = bert_loop.results
    rc, out, err = cli.run("report", input=cli.jsonl(result))
    assert rc == 0, err
    assert out.startswith("# Compatibility matrix\n")
    statuses = [result["backends"][b]["status"] for b in cli.backends if b in result["backends"]]
    assert statuses[0] == "pass"  # cpu
    row = next(line for line in out.splitlines() if line.startswith("| text-encoder | bert |"))
    cells = [cell.strip() for cell in row.strip("|").split("|")]
    assert cells[:4] == ["text-encoder", "bert", "feature-extraction", "pass"]
    assert [cell.split(" (")[0] for cell in cells[4:]] == statuses
    # Each backend: passes of tested, as make survey counts them.
    assert "| cpu | 1 | 1 |" in out


def test_report_markdown_lists_what_did_not_pass_as_text(records, cli):
    rc, out, err = cli.run("report", input=cli.jsonl(*records))
    assert rc == 0, err
    assert "| text-decoder | gpt2 | text-generation | pass | fail (parity) |" in out
    assert "- gpt2, text-generation, cpu: fail (parity): &lt;script&gt;window.injected = 1&lt;/script&gt;" in out
    assert "<script>" not in out
    assert "| bert | tiny | onnx | 8 | 6.00 | 7.20 |" in out
    assert "| absent |" in out  # gpt2 has no result on most of bert's backends


def test_report_json_validates_against_its_schema(records, cli, tmp_path, validate):
    rc, _, err = cli.run("report", "--json", tmp_path / "report.json", input=cli.jsonl(*records))
    assert rc == 0, err
    doc = json.loads((tmp_path / "report.json").read_text())
    validate(doc)
    assert doc["summary"]["rows"] == 2 and doc["summary"]["reference_pass"] == 2
    assert len(doc["benchmarks"]) == 6
    assert doc["backends"] == [b for b in cli.backends if b in doc["backends"]]


def test_report_merging_two_files_equals_one_file_and_cat(records, cli, tmp_path):
    first, second = tmp_path / "machine-a.jsonl", tmp_path / "machine-b.jsonl"
    first.write_text(cli.jsonl(*records[::2]))
    second.write_text(cli.jsonl(*records[1::2]))
    outputs = []
    for name, args, stdin in (("files", [first, second], None),
                              ("cat", [], first.read_text() + second.read_text()),
                              ("one", ["-"], cli.jsonl(*records[::2], *records[1::2]))):
        rc, _, err = cli.run("report", "-o", tmp_path / name, *args, input=stdin)
        assert rc == 0, err
        outputs.append([(tmp_path / name / f).read_bytes() for f in ("report.json", "report.md", "report.html")])
    assert outputs[0] == outputs[1] == outputs[2]


def test_report_the_later_record_of_a_cell_wins(cli, tmp_path):
    early = gpt2_result(cli, cpu={"status": "fail", "class": "parity", "message": "early"}, onnx={"status": "pass"})
    later = gpt2_result(cli, cpu={"status": "pass"})
    rc, _, err = cli.run("report", "--json", tmp_path / "r.json", input=cli.jsonl(early, later))
    assert rc == 0, err
    [row] = json.loads((tmp_path / "r.json").read_text())["rows"]
    assert row["cells"]["cpu"]["status"] == "pass" and row["cells"]["onnx"]["status"] == "pass"
    rc, out, _ = cli.run("report", "--help")
    assert rc == 0 and "the later record wins" in out


def test_report_writes_only_the_files_named(records, cli, tmp_path):
    rc, out, err = cli.run("report", "-q", "--markdown", tmp_path / "m.md", "--html", tmp_path / "p.html",
                           input=cli.jsonl(*records))
    assert rc == 0 and out == "" and err == ""
    assert cli.files_under(tmp_path) == ["m.md", "p.html"]


@pytest.mark.parametrize("bad, why", [
    ("{not json", "malformed JSON record at '<stdin>:2'"),
    ('{"schema": "requirements", "version": 1}', "record of the wrong schema at '<stdin>:2'"),
    (json.dumps({"schema": "test-result", "version": 1, "model_type": "x"}), "record without"),
    (json.dumps(dict(benchmark("cpu", 1, 1.0, 0.5), batch_size=0)), "record with a malformed 'batch_size'"),
])
def test_report_bad_input_is_one_error_line_exit_2_and_nothing_written(cli, tmp_path, bad, why):
    rc, out, err = cli.run("report", "-o", tmp_path / "out", input=cli.jsonl(cli.bert_result(), bad))
    assert rc == 2 and out == ""
    assert why in cli.assert_one_error_line("report", err)
    assert cli.files_under(tmp_path) == []


def test_report_no_records_is_an_error(cli, tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    rc, _, err = cli.run("report", empty)
    assert rc == 2
    assert "no test-result or benchmark records" in cli.assert_one_error_line("report", err)


def test_verify_results_are_the_test_results_report_reads(bert_loop, cli, tmp_path, validate):
    results = tmp_path / "results.jsonl"
    rc, _, err = cli.run("verify", "-q", "-j", "1", "--timeout", "300", "--results", results,
                         input=cli.jsonl(*bert_loop.manifests))
    assert rc == 0, err
    [result] = cli.records(results.read_text())
    validate(result)
    assert result["backends"]["cpu"]["status"] == "pass"
    rc, out, err = cli.run("report", results)
    assert rc == 0, err
    assert "| text-encoder | bert | feature-extraction | pass | pass |" in out


# The page in a real browser.

def _open(cli, page):
    node, chromium = shutil.which("node"), shutil.which("chromium")
    modules = cli.root / "js" / "node_modules"
    if not node or not chromium or not (modules / "playwright-core").is_dir():
        pytest.skip("needs node, Debian's chromium and js/node_modules (make npm)")
    done = subprocess.run([node, cli.root / "tests" / "cli" / "report_page.mjs", page, chromium, modules],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def page(records, cli, tmp_path_factory):
    out = tmp_path_factory.mktemp("report-page")
    rc, _, err = cli.run("report", "-q", "--html", out / "report.html", input=cli.jsonl(*records))
    assert rc == 0, err
    return _open(cli, out / "report.html")


def test_report_page_shows_the_summary_and_logs_no_error(page):
    assert page["errors"] == [] and page["dialogs"] == []
    assert page["requests"] == []  # self-contained: nothing fetched at view time
    assert "2 model types tested" in page["summary"] and "the reference passes on 2" in page["summary"]
    assert page["rows"] == 2 and page["shown"] == "2 of 2 rows shown"


def test_report_page_filters_narrow_the_rows(page):
    assert page["filters"]["family"] == {"text-decoder": 1, "text-encoder": 1}
    assert page["filters"]["task"] == {"feature-extraction": 1, "text-generation": 1}
    assert page["filters"]["status"]["fail"] == 1
    assert page["filters"]["backend"]["cpu"] == 2 and page["filters"]["backend"]["cuda"] == 1  # gpt2 has none
    assert page["columns_with_backend_filter"] == ["model type", "task", "reference", "cpu"]


def test_report_page_shows_a_hostile_message_as_text_and_never_runs_it(page):
    assert page["injected"] is None
    assert any(HOSTILE in title for title in page["titles"])
    assert "fail (parity)" in page["texts"]
    assert HOSTILE in page["detail"]  # the first cell clicked: gpt2's cpu


def test_report_page_draws_the_benchmark_charts(page):
    assert page["charts"] == 3 and not page["charts_missing_note"]
    assert page["benchmark_rows"] == 1 + 6


def test_report_page_shows_a_cells_history(records, cli, tmp_path):
    # The history lib/common/history will hand report::build, put into the page's data
    # as build puts it (tests/unit/report_test.cpp checks build itself).
    rc, _, err = cli.run("report", "-q", "--html", tmp_path / "report.html", input=cli.jsonl(*records))
    assert rc == 0, err
    text = (tmp_path / "report.html").read_text()
    start = text.index(">", text.index('<script type="application/json"')) + 1
    end = text.index("</script>", start)
    doc = json.loads(text[start:end])
    gpt2 = next(row for row in doc["rows"] if row["model_type"] == "gpt2")
    gpt2["cells"]["cpu"]["history"] = [
        {"run": 1, "recorded_at": "2026-11-30T01:00:00Z", "status": "pass", "reason": None,
         "versions": {"transformers": "5.22.0"}},
        {"run": 2, "recorded_at": "2026-12-01T01:00:00Z", "status": "fail", "reason": HOSTILE, "versions": {}}]
    data = json.dumps(doc).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    (tmp_path / "report.html").write_text(text[:start] + data + text[end:])
    seen = _open(cli, tmp_path / "report.html")
    assert seen["errors"] == [] and seen["injected"] is None
    assert seen["history_items"] == ["run 1, 2026-11-30T01:00:00Z: pass [transformers 5.22.0]",
                                     f"run 2, 2026-12-01T01:00:00Z: fail ({HOSTILE})"]
    assert "history: run 1, 2026-11-30T01:00:00Z: pass [transformers 5.22.0]" in seen["detail"]


def test_report_db_gives_each_cell_its_recorded_history(cli, tmp_path):
    db = tmp_path / "history.sqlite"
    passed = gpt2_result(cli, cpu={"status": "pass"})
    failed = gpt2_result(cli, cpu={"status": "fail", "message": "off", "class": "parity"})
    for run in (passed, failed):
        rc, _, err = cli.run("history", "record", "-q", "--db", db, input=cli.jsonl(run))
        assert rc == 0, err
    rc, _, err = cli.run("report", "-q", "--db", db, "--json", tmp_path / "report.json", input=cli.jsonl(failed))
    assert rc == 0, err
    [row] = json.loads((tmp_path / "report.json").read_text())["rows"]
    assert [(h["run"], h["status"]) for h in row["cells"]["cpu"]["history"]] == [(1, "pass"), (2, "fail")]
    rc, _, err = cli.run("report", "-q", "--db", db, "--history-runs", "1", "--json", tmp_path / "last.json",
                         input=cli.jsonl(failed))
    assert rc == 0, err
    [row] = json.loads((tmp_path / "last.json").read_text())["rows"]
    assert [h["run"] for h in row["cells"]["cpu"]["history"]] == [2]


def test_report_db_that_does_not_exist_is_exit_2_and_nothing_written(cli, tmp_path):
    rc, _, err = cli.run("report", "--db", tmp_path / "none.sqlite", "-o", tmp_path / "out",
                         input=cli.jsonl(gpt2_result(cli, cpu={"status": "pass"})))
    assert rc == 2 and len(err.splitlines()) == 1, err
    assert not (tmp_path / "out").exists()


def test_report_page_without_chart_js_shows_the_tables_and_says_how_to_get_the_charts(records, cli, tmp_path):
    home = tmp_path / "home"  # the project without js/node_modules
    home.mkdir()
    for part in ("schemas", "templates", "data"):
        os.symlink(cli.root / part, home / part)
    rc, _, err = cli.run("report", "-q", "--html", tmp_path / "report.html", input=cli.jsonl(*records),
                         env={"SKILLSET_HOME": str(home)})
    assert rc == 0, err
    seen = _open(cli, tmp_path / "report.html")
    assert seen["errors"] == [] and seen["charts"] is None and seen["charts_missing_note"]
    assert seen["benchmark_rows"] == 1 + 6 and seen["rows"] == 2


def test_make_pipeline_ends_by_writing_the_report_of_what_verify_ran(cli, tmp_path):
    # --no-print-directory: under `make test` the inherited MAKEFLAGS would add make's
    # "Leaving directory" line after the recipe.
    dry = subprocess.run(["make", "--no-print-directory", "-n", "pipeline", "MODELS=bert", f"REPORT_DIR={tmp_path}"],
                         capture_output=True, text=True, cwd=cli.root, check=False)
    assert dry.returncode == 0, dry.stderr
    loop = dry.stdout[dry.stdout.index("bin/gen-tests bert"):]
    assert f"bin/verify --results {tmp_path}/results.jsonl" in loop
    assert f"bin/history record -q --db {tmp_path}/history.sqlite {tmp_path}/results.jsonl" in loop
    assert loop.rstrip().endswith(
        f"bin/report {tmp_path}/results.jsonl --db {tmp_path}/history.sqlite -o {tmp_path}; exit $status")
