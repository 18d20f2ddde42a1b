"""schemas/: every schema is a valid draft 2020-12 schema, and the real output of every
tool validates against its own. The records come from real runs: one bert loop
(gen-tests | run-tests | analyze | gen-skillset) and one verify of a broken bert
skillset, both run once per session in conftest.py, plus cheap registry-only runs."""
import json
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"
NAMES = sorted(p.name[: -len(".schema.json")] for p in SCHEMAS.glob("*.schema.json"))
RECORDS = ("test-plan", "test-result", "requirements", "skillset-manifest", "discrepancy", "verify-summary",
           "regression")
# Parts the record schemas refer to ($ref), not documents of their own.
SHARED = ("backend", "batch-policy", "failure-class", "identity", "precision")


def test_schemas_every_record_format_has_a_schema():
    assert set(RECORDS) <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_schemas_schema_file_is_a_valid_2020_12_schema(name):
    schema = json.loads((SCHEMAS / f"{name}.schema.json").read_text())
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"


@pytest.mark.parametrize("name", NAMES)
def test_schemas_schema_is_named_after_its_file(name):
    schema = json.loads((SCHEMAS / f"{name}.schema.json").read_text())
    assert schema["$id"] == f"{name}.schema.json" and schema["title"] == name


@pytest.mark.parametrize("name", sorted(set(NAMES) - set(SHARED)))
def test_schemas_schema_pins_its_name_and_version_1(name):
    schema = json.loads((SCHEMAS / f"{name}.schema.json").read_text())
    assert schema["properties"]["schema"] == {"const": name}
    assert schema["properties"]["version"] == {"const": 1}
    assert {"schema", "version"} <= set(schema["required"])


def test_schemas_the_backend_list_is_written_once_and_referred_to():
    backends = json.loads((SCHEMAS / "backend.schema.json").read_text())["enum"]
    for path in SCHEMAS.glob("*.schema.json"):
        if path.name != "backend.schema.json":
            assert f'"{backends[-1]}"' not in path.read_text(), path.name


def test_schemas_a_reference_to_another_file_resolves(validators, cli):
    assert validators["test-result"].is_valid(cli.bert_result())
    assert not validators["test-result"].is_valid(cli.bert_result(backends={"tpu": {"status": "pass"}}))
    assert not validators["test-result"].is_valid(cli.bert_result(ident=["bert"]))


def test_schemas_every_failing_outcome_carries_a_known_failure_class(validators, cli):
    valid = validators["test-result"].is_valid
    failing = {"status": "error", "message": "x"}
    assert not valid(cli.bert_result(reference={**failing}))
    assert not valid(cli.bert_result(backends={"cpu": {**failing}}))
    assert not valid(cli.bert_result(backends={"cpu": {**failing, "class": "bad luck"}}))
    assert not valid(cli.bert_result(backends={"cpu": {**failing, "class": "missing-dependency:"}}))
    for klass in ("crash", "missing-dependency:sentencepiece"):
        assert valid(cli.bert_result(backends={"cpu": {**failing, "class": klass}}))
    assert valid(cli.bert_result(reference={**failing, "class": "tiny-model"}))


@pytest.mark.parametrize("name", ("test-plan", "test-result", "requirements", "skillset-manifest", "discrepancy",
                                  "regression"))
def test_schemas_record_of_one_model_type_refers_to_the_identity_fields(name):
    schema = json.loads((SCHEMAS / f"{name}.schema.json").read_text())
    assert {"$ref": "identity.schema.json"} in schema["allOf"]


@pytest.mark.parametrize("name", RECORDS)
def test_schemas_schema_rejects_another_schemas_record(validators, name):
    assert not validators[name].is_valid({"schema": "something-else", "version": 1})
    assert not validators[name].is_valid({"schema": name, "version": 2})


def test_schemas_registry_validates(validate, cli):
    validate(json.loads((cli.root / "data" / "registry.json").read_text()), "registry")


def test_schemas_gen_tests_plan_of_a_real_run_validates(bert_loop, validate):
    [plan] = bert_loop.plans
    validate(plan, "test-plan")


def test_schemas_gen_tests_plans_of_every_supported_family_validate(cli, tmp_path, validate):
    rc, out, err = cli.run("gen-tests", "-q", "-o", tmp_path / "t", "--skillset-dir", tmp_path / "s",
                           *cli.reference_types)
    assert rc == 0, err
    plans = cli.records(out)
    assert len(plans) == len(cli.reference_types)
    for plan in plans:
        validate(plan, "test-plan")


def test_schemas_run_tests_result_of_a_real_run_validates(bert_loop, validate):
    [result] = bert_loop.results
    validate(result, "test-result")
    assert result["reference"]["status"] == "pass"


def test_schemas_analyze_requirements_of_a_real_result_validate(bert_loop, validate):
    [requirements] = bert_loop.requirements
    validate(requirements, "requirements")
    assert requirements["model_type"] == "bert"


def test_schemas_gen_skillset_manifest_of_a_real_run_validates(bert_loop, validate):
    [manifest] = bert_loop.manifests
    validate(manifest, "skillset-manifest")
    assert manifest["status"] in ("written", "unchanged")


def test_schemas_gen_skillset_manifests_of_all_validate_unsupported_ones_too(cli, tmp_path, validate):
    rc, out, err = cli.run("gen-skillset", "-q", "--all", "-o", tmp_path)
    assert rc == 0, err
    manifests = cli.records(out)
    assert {"written", "unsupported-family"} <= {m["status"] for m in manifests}
    for manifest in manifests:
        validate(manifest, "skillset-manifest")


def test_schemas_gen_skillset_not_servable_manifest_validates(cli, tmp_path, validate):
    rc, out, _ = cli.run("gen-skillset", "-o", tmp_path, "clip_text_model")
    [manifest] = cli.records(out)
    assert rc == 1 and manifest["status"] == "not-servable"
    validate(manifest, "skillset-manifest")


def test_schemas_verify_discrepancies_of_a_real_run_validate(verify_missing_webgpu, validate):
    _, found, err, _ = verify_missing_webgpu
    discrepancies = [r for r in found if r["schema"] == "discrepancy"]
    assert discrepancies, err
    for record in discrepancies:
        validate(record, "discrepancy")


def test_schemas_verify_summary_of_a_real_run_validates(verify_missing_webgpu, validate):
    _, found, _, _ = verify_missing_webgpu
    assert found[-1]["schema"] == "verify-summary"
    validate(found[-1], "verify-summary")


def test_schemas_verify_summary_of_unsupported_manifests_validates(cli, validate):
    manifest = {"schema": "skillset-manifest", "version": 1, "model_type": "muse_glimmer_assistant",
                "ident": "muse_glimmer_assistant", "family": "generation-assistant", "status": "unsupported-family"}
    rc, out, err = cli.run("verify", input=cli.jsonl(manifest), timeout=60)
    assert rc == 0, err
    [summary] = cli.records(out)
    validate(summary, "verify-summary")
