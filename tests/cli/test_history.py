"""bin/history, black box: `record` keeps test-result records as one run in a SQLite
file; `regressions` prints a regression record per cell (model type, task, precision,
backend or reference) that passed in the previous run and fails now, and exits 1 when
there is any, 0 when none, 2 on bad input.

The real case runs bert's real test twice: once as the session's bert loop ran it, once
against a copy of its skillset whose handler scales the embeddings."""
import signal
import sqlite3
import subprocess
import time

import pytest


def record(cli, db, *results):
    rc, out, err = cli.run("history", "record", "--db", db, input=cli.jsonl(*results))
    assert rc == 0 and out == "", err
    return err


def regressions(cli, db, *flags):
    rc, out, err = cli.run("history", "regressions", "--db", db, *flags)
    return rc, cli.records(out), err


def cells(found):
    return [(r["model_type"], r["task"], r["precision"], r["backend"]) for r in found]


def runs_in(db):
    with sqlite3.connect(db) as connection:
        return connection.execute("SELECT count(*) FROM runs").fetchone()[0]


def scaled(skillset_source):
    """A bert skillset's source whose handler returns every embedding times 1.5."""
    line = 'return {"embeddings": embeddings.float().cpu().tolist()}'
    assert skillset_source.count(line) == 1
    return skillset_source.replace(line, 'return {"embeddings": (embeddings * 1.5).float().cpu().tolist()}')


def test_history_skillset_broken_on_purpose_is_exactly_that_regression_and_exit_1(bert_loop, cli, tmp_path, validate):
    # Issue 9's "Done when": two real runs recorded, the second with the skillset broken.
    db = tmp_path / "history.sqlite"
    assert "recorded run 1" in record(cli, db, *bert_loop.results)
    broken = tmp_path / "hf_bert.py"
    broken.write_text(scaled(bert_loop.skillset_file.read_text()))
    plan = dict(bert_loop.plans[0], skillset_file=str(broken))
    rc, results, err = cli.run("run-tests", "-q", "-j", "1", "--timeout", "300", "--backends", "cpu",
                               input=cli.jsonl(plan))
    assert rc == 1, err
    assert cli.records(results)[0]["backends"]["cpu"]["status"] == "fail"
    assert "recorded run 2" in record(cli, db, *cli.records(results))

    rc, found, err = regressions(cli, db)
    assert rc == 1, err
    assert cells(found) == [("bert", bert_loop.plans[0]["task"], "fp32", "cpu")]
    validate(found[0])
    assert found[0]["status"] == "fail" and found[0]["run"] == 2
    assert found[0]["previous"]["status"] == "pass" and found[0]["previous"]["run"] == 1
    assert found[0]["versions"] == bert_loop.results[0]["versions"]
    assert err == "history: 1 regression in run 2 against run 1 (2 cells compared, 0 passes no longer run; " \
                  "same versions)\n"


def test_history_regression_of_hand_written_results_names_the_versions_that_changed(cli, tmp_path, validate):
    db = tmp_path / "history.sqlite"
    record(cli, db, cli.bert_result())
    newer = {"python": "3.11.7", "torch": "2.13.0+cpu", "transformers": "5.24.0"}
    record(cli, db, cli.bert_result(versions=newer, backends={"cpu": {"status": "error", "class": "skillset-error", "message": "boom"}}))
    rc, found, err = regressions(cli, db)
    assert rc == 1
    assert cells(found) == [("bert", "feature-extraction", "fp32", "cpu")]
    validate(found[0])
    assert found[0]["message"] == "boom" and found[0]["versions"] == newer
    assert "transformers 5.23.0 -> 5.24.0" in err


def test_history_failure_already_known_is_exit_0(cli, tmp_path):
    db = tmp_path / "history.sqlite"
    failing = cli.bert_result(backends={"cpu": {"status": "fail", "class": "parity"}})
    record(cli, db, failing)
    record(cli, db, failing)
    rc, found, err = regressions(cli, db)
    assert rc == 0 and found == []
    assert err.startswith("history: 0 regressions in run 2 against run 1")


def test_history_pass_now_skipped_is_no_regression_but_counted(cli, tmp_path):
    db = tmp_path / "history.sqlite"
    record(cli, db, cli.bert_result())
    record(cli, db, cli.bert_result(backends={"cpu": {"status": "skip", "reason": "package-missing"}}))
    rc, found, err = regressions(cli, db)
    assert rc == 0 and found == []
    assert "1 passes no longer run" in err


def test_history_reference_that_passed_and_now_fails_is_a_regression(cli, tmp_path, validate):
    db = tmp_path / "history.sqlite"
    record(cli, db, cli.bert_result())
    broken = cli.bert_result(backends={"cpu": {"status": "skip", "reason": "no-reference"}})
    broken["reference"] = {"status": "fail", "class": "reference-error", "message": "no candidate loaded"}
    record(cli, db, broken)
    rc, found, _ = regressions(cli, db)
    assert rc == 1 and cells(found) == [("bert", "feature-extraction", "fp32", "reference")]
    validate(found[0])


def test_history_first_run_has_nothing_to_compare_and_exits_0(cli, tmp_path):
    db = tmp_path / "history.sqlite"
    record(cli, db, cli.bert_result(backends={"cpu": {"status": "fail", "class": "parity"}}))
    rc, found, err = regressions(cli, db)
    assert rc == 0 and found == []
    assert err == "history: run 1 is the first: nothing to compare\n"


def test_history_regressions_of_the_runs_named(cli, tmp_path):
    db = tmp_path / "history.sqlite"
    record(cli, db, cli.bert_result())
    record(cli, db, cli.bert_result(backends={"cpu": {"status": "fail", "class": "parity"}}))
    record(cli, db, cli.bert_result(backends={"cpu": {"status": "fail", "class": "parity"}}))
    assert regressions(cli, db)[0] == 0  # run 3 against run 2: already failing
    rc, found, _ = regressions(cli, db, "--run", "3", "--baseline", "1")
    assert rc == 1 and found[0]["run"] == 3 and found[0]["previous"]["run"] == 1
    rc, _, err = regressions(cli, db, "--run", "7")
    assert rc == 2 and cli.assert_one_error_line("history", err) == f"history: error: no run 7 in '{db}'"


def test_history_model_type_with_quotes_and_sql_is_harmless(cli, tmp_path):
    db = tmp_path / "history.sqlite"
    hostile = "bert'); DROP TABLE runs; --\"x"
    record(cli, db, cli.bert_result(model_type=hostile))
    record(cli, db, cli.bert_result(model_type=hostile, backends={"cpu": {"status": "fail", "class": "parity"}}))
    rc, found, _ = regressions(cli, db)
    assert rc == 1 and found[0]["model_type"] == hostile
    assert runs_in(db) == 2


def test_history_malformed_record_is_exit_2_and_records_nothing(cli, tmp_path):
    db = tmp_path / "history.sqlite"
    record(cli, db, cli.bert_result())
    rc, out, err = cli.run("history", "record", "--db", db, input=cli.jsonl(cli.bert_result(), "{not json"))
    assert rc == 2 and out == ""
    assert cli.assert_one_error_line("history", err) == "history: error: malformed JSON record at '<stdin>:2'"
    bad = cli.bert_result(backends={"cpu": {"status": "great"}})
    rc, _, err = cli.run("history", "record", "--db", db, input=cli.jsonl(bad))
    assert rc == 2 and "backends/cpu/status" in cli.assert_one_error_line("history", err)
    assert runs_in(db) == 1


def test_history_database_of_unknown_version_is_exit_2(cli, tmp_path):
    db = tmp_path / "history.sqlite"
    record(cli, db, cli.bert_result())
    with sqlite3.connect(db) as connection:
        connection.execute("PRAGMA user_version = 2")
    for args, stdin in ((("regressions",), None), (("record",), cli.jsonl(cli.bert_result()))):
        rc, out, err = cli.run("history", *args, "--db", db, input=stdin)
        assert rc == 2 and out == ""
        assert cli.assert_one_error_line("history", err) == \
            f"history: error: history database of unknown version 2 (this build reads version 1) '{db}'"


@pytest.mark.parametrize("kind", ["parent-is-a-file", "not-sqlite"])
def test_history_unwritable_database_path_is_exit_2(cli, tmp_path, kind):
    (tmp_path / "file").write_text("some text, not a database; long enough for a header of one\n")
    db = tmp_path / "file" / "history.sqlite" if kind == "parent-is-a-file" else tmp_path / "file"
    rc, out, err = cli.run("history", "record", "--db", db, input=cli.jsonl(cli.bert_result()))
    assert rc == 2 and out == ""
    assert f"'{db}'" in cli.assert_one_error_line("history", err)


def test_history_regressions_of_a_missing_database_is_exit_2_and_creates_nothing(cli, tmp_path):
    db = tmp_path / "none.sqlite"
    rc, _, err = regressions(cli, db)
    assert rc == 2 and cli.assert_one_error_line("history", err) == f"history: error: no history database '{db}'"
    assert not db.exists()


@pytest.mark.parametrize("args", [("record",), ("regressions",), ("replay", "--db", "x"), (),
                                  ("regressions", "--db", "x", "--run", "0"), ("regressions", "--db", "x", "y.jsonl"),
                                  ("record", "--db", "x", "--baseline", "1")],
                         ids=["record-without-db", "regressions-without-db", "unknown-command", "no-command",
                              "run-0", "regressions-with-a-file", "record-with-a-run-flag"])
def test_history_usage_error_is_exit_2(cli, args, tmp_path):
    rc, out, err = cli.run("history", *args, input="", cwd=tmp_path)
    assert rc == 2 and out == ""
    cli.assert_one_error_line("history", err)
    assert list(tmp_path.iterdir()) == []


def test_history_empty_input_is_exit_2(cli, tmp_path):
    rc, _, err = cli.run("history", "record", "--db", tmp_path / "h.sqlite", input="")
    assert rc == 2
    assert cli.assert_one_error_line("history", err) == "history: error: no test-result records on input"


def test_history_record_killed_midway_leaves_the_database_as_it_was(cli, tmp_path):
    db = tmp_path / "history.sqlite"
    record(cli, db, cli.bert_result())
    results = tmp_path / "results.jsonl"
    results.write_text(cli.jsonl(*(cli.bert_result(model_type=f"m{i}") for i in range(500))))
    reader = sqlite3.connect(db, isolation_level=None)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM runs").fetchone()  # a read lock: record cannot commit
    writer = subprocess.Popen([str(cli.bin / "history"), "record", "--db", str(db), str(results)],
                              stderr=subprocess.DEVNULL)
    journal = tmp_path / "history.sqlite-journal"
    deadline = time.monotonic() + 60
    while not journal.exists() and writer.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert journal.exists() and writer.poll() is None, "record did not start writing"
    writer.send_signal(signal.SIGKILL)
    writer.wait()
    reader.execute("COMMIT")
    reader.close()
    assert runs_in(db) == 1
    with sqlite3.connect(db) as connection:
        assert connection.execute("SELECT count(*) FROM results").fetchone()[0] == 1
        assert connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    record(cli, db, cli.bert_result())
    assert runs_in(db) == 2
