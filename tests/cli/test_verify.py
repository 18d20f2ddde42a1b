"""bin/verify, black box: skillset-manifest records in; static checks of each skillset
against the contract plus a fresh run of its test; a discrepancy record per difference
and a verify-summary record last. Bad input is exit 2 before any test runs; a
discrepancy is exit 1.

The real case (a bert skillset without init_webgpu) re-runs bert's test once per
session (fixture verify_missing_webgpu in conftest.py), shared with test_schemas.py."""
import pytest


def unsupported(model_type, status, family="generation-assistant"):
    return {"schema": "skillset-manifest", "version": 1, "model_type": model_type, "ident": model_type,
            "model_id": model_type, "family": family, "status": status}


@pytest.mark.parametrize("text", ["", "\n\n"], ids=["empty", "blank-lines"])
def test_verify_empty_input_is_exit_2(cli, text):
    rc, out, err = cli.run("verify", input=text)
    assert rc == 2 and out == ""
    cli.assert_one_error_line("verify", err)


def test_verify_record_of_another_schema_is_exit_2(cli, tmp_path):
    requirements = cli.bert_requirements(tmp_path / "hf_bert.py")
    record = unsupported("muse_glimmer_assistant", "unsupported-family")
    rc, out, err = cli.run("verify", input=cli.jsonl(record, requirements))
    assert rc == 2 and out == ""
    assert "'<stdin>:2'" in cli.assert_one_error_line("verify", err)


def test_verify_malformed_line_is_exit_2_naming_it(cli, tmp_path):
    path = tmp_path / "manifests.jsonl"
    path.write_text(cli.jsonl(unsupported("muse_glimmer_assistant", "unsupported-family"), "not json"))
    rc, out, err = cli.run("verify", path)
    assert rc == 2 and out == ""
    assert f"'{path}:2'" in cli.assert_one_error_line("verify", err)


def test_verify_record_without_a_required_field_is_exit_2(cli):
    record = unsupported("muse_glimmer_assistant", "unsupported-family")
    del record["status"]
    rc, out, err = cli.run("verify", input=cli.jsonl(record))
    assert rc == 2 and out == ""
    assert "status" in cli.assert_one_error_line("verify", err)


def test_verify_written_manifest_without_files_is_exit_2(cli):
    record = dict(unsupported("bert", "written", family="text-encoder"))
    rc, out, err = cli.run("verify", input=cli.jsonl(record))
    assert rc == 2 and out == ""
    assert "without 'skillset_file' at '<stdin>:1'" in cli.assert_one_error_line("verify", err)


def test_verify_missing_file_is_exit_2(cli, tmp_path):
    rc, out, err = cli.run("verify", tmp_path / "none.jsonl")
    assert rc == 2 and out == ""
    assert "none.jsonl" in cli.assert_one_error_line("verify", err)


@pytest.mark.parametrize("flag", [("-j", "0"), ("--timeout", "0"), ("-j", "two")], ids=["jobs-0", "timeout-0",
                                                                                         "jobs-not-a-number"])
def test_verify_bad_flag_value_is_exit_2(cli, flag):
    rc, out, err = cli.run("verify", *flag, input=cli.jsonl(unsupported("muse_glimmer_assistant", "unsupported-family")))
    assert rc == 2 and out == ""
    cli.assert_one_error_line("verify", err)


def test_verify_field_of_the_wrong_type_is_exit_2_not_a_crash(cli):
    record = dict(unsupported("muse_glimmer_assistant", "unsupported-family"), status=3)
    rc, out, err = cli.run("verify", input=cli.jsonl(record))
    assert rc == 2 and out == "", (rc, err)
    cli.assert_one_error_line("verify", err)


def test_verify_unsupported_manifests_only_are_counted_and_exit_0(cli, validate):
    # Nothing to verify is not a failure: gen-skillset already reported these (exit 1 for
    # a named type, 0 under --all); verify counts them and runs no test.
    manifests = [unsupported("muse_glimmer_assistant", "unsupported-family"),
                 unsupported("clip_text_model", "not-servable", family="text-encoder"),
                 unsupported("dinov2", "unsupported-task", family="vision")]
    rc, out, err = cli.run("verify", "-j", "1", input=cli.jsonl(*manifests), timeout=60)
    assert rc == 0, err
    [summary] = cli.records(out)
    validate(summary, "verify-summary")
    assert (summary["skillsets"], summary["passed"], summary["failed"]) == (0, 0, 0)
    assert (summary["unsupported"], summary["discrepancies"]) == (3, 0)
    assert summary["backend_statuses"] == {} and summary["unimplemented_backends"] == {}


def test_verify_missing_init_webgpu_is_a_missing_init_discrepancy_and_exit_1(verify_missing_webgpu):
    rc, found, err, broken = verify_missing_webgpu
    assert rc == 1, err
    missing = [r for r in found if r["schema"] == "discrepancy" and r["kind"] == "missing-init"]
    assert len(missing) == 1, found
    assert missing[0]["backend"] == "webgpu"
    assert (missing[0]["model_type"], missing[0]["ident"]) == ("bert", "bert")
    assert missing[0]["skillset_file"] == str(broken)


def test_verify_missing_init_webgpu_touches_no_other_backend(verify_missing_webgpu):
    _, found, _, _ = verify_missing_webgpu
    discrepancies = [r for r in found if r["schema"] == "discrepancy"]
    assert discrepancies and {d.get("backend") for d in discrepancies} == {"webgpu"}
    summary = found[-1]
    assert summary["backend_statuses"].get("pass", 0) >= 1  # cpu still passes


def test_verify_summary_is_the_last_record_and_tallies_the_run(verify_missing_webgpu):
    _, found, _, _ = verify_missing_webgpu
    assert [r["schema"] for r in found].count("verify-summary") == 1
    summary = found[-1]
    assert summary["schema"] == "verify-summary"
    assert (summary["skillsets"], summary["passed"], summary["failed"], summary["unsupported"]) == (1, 0, 1, 0)
    assert summary["discrepancies"] == len(found) - 1
    assert "webgpu" not in summary["unimplemented_backends"]
    # bert's openvino, onnx and transformersjs-node run for real (tests/cli/test_pipeline.py
    # checks they pass); its webnn finds no WebNN device here and qualcomm no QNN runtime:
    # skips, not unimplemented
    assert summary["unimplemented_backends"] == {}


def test_verify_progress_goes_to_stderr(verify_missing_webgpu):
    _, _, err, _ = verify_missing_webgpu
    assert "[1/1] bert" in err
