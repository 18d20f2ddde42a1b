"""bin/analyze, black box: test-result records in, one canonical requirements record per
model type whose reference passed out. A reference that did not pass is a note on
stderr and exit 1; bad input is exit 2 with nothing on stdout."""
import json

import pytest


def failing(cli, model_type="gpt2", status="fail"):
    return cli.bert_result(model_type=model_type, ident=model_type,
                           reference={"status": status, "class": "parity", "message": "outputs differ"})


@pytest.mark.parametrize("text", ["", "\n \n"], ids=["empty", "blank-lines"])
def test_analyze_empty_input_is_exit_2(cli, text):
    rc, out, err = cli.run("analyze", input=text)
    assert rc == 2 and out == ""
    cli.assert_one_error_line("analyze", err)


def test_analyze_passing_result_gives_its_requirements(cli, validate):
    result = cli.bert_result()
    rc, out, err = cli.run("analyze", input=cli.jsonl(result))
    assert rc == 0 and err == ""
    [requirements] = cli.records(out)
    validate(requirements, "requirements")
    assert requirements["schema"] == "requirements" and requirements["version"] == 1
    for key in ("model_type", "ident", "model_id", "family", "task", "test_file", "skillset_file", "versions"):
        assert requirements[key] == result[key], key
    for key, value in result["reference"]["candidate"].items():
        assert requirements[key] == value, key
    for key in ("signature", "generation", "tolerance"):
        assert requirements[key] == result["reference"][key], key


def test_analyze_requirements_carry_no_timings(cli):
    rc, out, _ = cli.run("analyze", input=cli.jsonl(cli.bert_result(elapsed_s=1.5)))
    rc2, out2, _ = cli.run("analyze", input=cli.jsonl(cli.bert_result(elapsed_s=99.25)))
    assert rc == rc2 == 0 and out == out2
    assert "elapsed" not in out


def test_analyze_output_is_canonical_json_with_sorted_keys(cli):
    _, out, _ = cli.run("analyze", input=cli.jsonl(cli.bert_result()))

    def sorted_pairs(pairs):
        keys = [k for k, _ in pairs]
        assert keys == sorted(keys), keys
        return dict(pairs)

    for line in out.splitlines():
        json.loads(line, object_pairs_hook=sorted_pairs)


def test_analyze_two_runs_are_byte_identical(cli, tmp_path):
    path = tmp_path / "results.jsonl"
    path.write_text(cli.jsonl(cli.bert_result(), cli.bert_result(model_type="t5", ident="t5"), failing(cli)))
    first = cli.run("analyze", path)
    second = cli.run("analyze", path)
    assert first == second and first[1] != ""


def test_analyze_failing_reference_is_exit_1_with_a_note_and_no_requirements(cli):
    rc, out, err = cli.run("analyze", input=cli.jsonl(cli.bert_result(), failing(cli)))
    assert rc == 1
    assert [r["model_type"] for r in cli.records(out)] == ["bert"]
    assert "gpt2" in err and "error:" not in err


def test_analyze_refuses_a_failing_reference_without_its_failure_class(cli):
    record = cli.bert_result(reference={"status": "error", "message": "boom"})
    rc, out, err = cli.run("analyze", input=cli.jsonl(record))
    assert rc == 2 and out == ""
    assert "class" in cli.assert_one_error_line("analyze", err)


@pytest.mark.parametrize("status", ["fail", "error"])
def test_analyze_only_failing_references_are_exit_1_with_empty_stdout(cli, status):
    rc, out, err = cli.run("analyze", input=cli.jsonl(failing(cli, status=status)))
    assert rc == 1 and out == ""
    assert "gpt2" in err


def test_analyze_quiet_silences_the_note_but_not_the_exit_code(cli):
    rc, out, err = cli.run("analyze", "-q", input=cli.jsonl(failing(cli)))
    assert rc == 1 and out == "" and err == ""


def test_analyze_last_result_of_a_model_type_wins(cli):
    fail_then_pass = cli.run("analyze", input=cli.jsonl(failing(cli, "bert"), cli.bert_result()))
    pass_then_fail = cli.run("analyze", input=cli.jsonl(cli.bert_result(), failing(cli, "bert")))
    assert fail_then_pass[0] == 0 and len(cli.records(fail_then_pass[1])) == 1
    assert pass_then_fail[0] == 1 and pass_then_fail[1] == ""


def test_analyze_output_is_ordered_by_model_type(cli):
    rc, out, _ = cli.run("analyze", input=cli.jsonl(cli.bert_result(model_type="vit", ident="vit"),
                                                    cli.bert_result()))
    assert rc == 0
    assert [r["model_type"] for r in cli.records(out)] == ["bert", "vit"]


def test_analyze_reads_file_operands_and_dash_for_stdin(cli, tmp_path):
    path = tmp_path / "results.jsonl"
    path.write_text(cli.jsonl(cli.bert_result()))
    rc, out, err = cli.run("analyze", path, "-", input=cli.jsonl(cli.bert_result(model_type="t5", ident="t5")))
    assert rc == 0, err
    assert [r["model_type"] for r in cli.records(out)] == ["bert", "t5"]


def test_analyze_malformed_line_is_exit_2_naming_it(cli, tmp_path):
    path = tmp_path / "results.jsonl"
    path.write_text(cli.jsonl(cli.bert_result(), "{\"schema\": "))
    rc, out, err = cli.run("analyze", path)
    assert rc == 2 and out == ""
    assert f"'{path}:2'" in cli.assert_one_error_line("analyze", err)


def test_analyze_record_of_another_schema_is_exit_2(cli, tmp_path):
    plan = {"schema": "test-plan", "version": 1, "model_type": "bert"}
    rc, out, err = cli.run("analyze", input=cli.jsonl(cli.bert_result(), plan))
    assert rc == 2 and out == ""
    assert "'<stdin>:2'" in cli.assert_one_error_line("analyze", err)


def test_analyze_record_without_reference_is_exit_2(cli):
    result = cli.bert_result()
    del result["reference"]
    rc, out, err = cli.run("analyze", input=cli.jsonl(result))
    assert rc == 2 and out == ""
    assert "reference" in cli.assert_one_error_line("analyze", err)


def test_analyze_missing_file_is_exit_2(cli, tmp_path):
    rc, out, err = cli.run("analyze", tmp_path / "none.jsonl")
    assert rc == 2 and out == ""
    assert "none.jsonl" in cli.assert_one_error_line("analyze", err)


@pytest.mark.parametrize("field,value", [("model_type", 5), ("reference", "pass")])
def test_analyze_field_of_the_wrong_type_is_exit_2_not_a_crash(cli, field, value):
    rc, out, err = cli.run("analyze", input=cli.jsonl(dict(cli.bert_result(), **{field: value})))
    assert rc == 2 and out == "", (rc, err)
    cli.assert_one_error_line("analyze", err)


def test_analyze_passing_reference_without_a_candidate_gives_no_invalid_requirements(cli, validate):
    # A pass that names no candidate cannot become requirements (model_class '' is not
    # an identifier); it must be bad input (2) or a finding (1), never a record.
    result = cli.bert_result(reference={"status": "pass"})
    rc, out, err = cli.run("analyze", input=cli.jsonl(result))
    for record in cli.records(out):
        validate(record, "requirements")
    assert rc in (1, 2) and out == "", (rc, out)


def test_analyze_reference_where_no_candidate_worked_is_a_finding_not_bad_input(cli):
    # skillkit writes candidate null when no candidate built (reference.record): a whole
    # results file of make loop or a survey holds such records beside passing ones.
    result = cli.bert_result(model_type="beit", ident="beit", reference={
        "status": "error", "candidate": None, "signature": None, "generation": None,
        "tolerance": {"rtol": 1e-4, "atol": 1e-4}, "message": "no candidate worked: ..."})
    rc, out, err = cli.run("analyze", input=cli.jsonl(result, cli.bert_result()))
    assert rc == 1, err
    assert [r["model_type"] for r in cli.records(out)] == ["bert"]
    assert "beit: reference error" in err
