"""run-tests --junit and verify --junit, black box: the JUnit XML they write parses, holds
one test case per model type and backend plus one for the reference (verify: and one for
the static checks), and its totals and outcomes are those of the records on stdout.

Real runs, kept cheap: bert, vit and clip with backends cpu and cuda (a skip: no device
here), bert's skillset alone written (vit's backends are no-skillset) and clip's test
file removed (the worker answers an error: its reference is an error)."""
import os
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

OUTCOMES = ("failure", "error", "skipped")


def outcome(status):
    """What a record's status is in JUnit."""
    return {"pass": "pass", "fail": "failure", "skip": "skipped", "unimplemented": "skipped",
            "no-skillset": "skipped"}.get(status, "error")


def expected_cases(result):
    """(classname, name) -> outcome of the cases a test-result record makes."""
    classname = f"{result['family']}.{result['model_type']}"
    task = result["task"]
    cases = {(classname, f"reference[{task}]"): outcome(result["reference"]["status"])}
    for backend, part in result["backends"].items():
        cases[(classname, f"{backend}[{task}]")] = outcome(part["status"])
    return cases


def read_report(path):
    """(root, suite, [(classname, name, outcome, element or None, time)]) of a JUnit file."""
    root = ET.parse(path).getroot()
    assert root.tag == "testsuites"
    suites = root.findall("testsuite")
    assert len(suites) == 1
    cases = []
    for case in suites[0].findall("testcase"):
        children = [child for child in case if child.tag in OUTCOMES]
        assert len(children) <= 1
        cases.append((case.get("classname"), case.get("name"), children[0].tag if children else "pass",
                      children[0] if children else None, float(case.get("time"))))
    return root, suites[0], cases


def by_name(cases):
    """{(classname, name): (outcome, element)}, names unique."""
    found = {(c, n): (o, e) for c, n, o, e, _ in cases}
    assert len(found) == len(cases), "two cases of one name"
    return found


def check_totals(root, suite, cases):
    """The totals on the suite and the root are those of its cases."""
    for element in (root, suite):
        assert int(element.get("tests")) == len(cases)
        for name, tag in (("failures", "failure"), ("errors", "error"), ("skipped", "skipped")):
            assert int(element.get(name)) == sum(1 for case in cases if case[2] == tag)
        assert float(element.get("time")) == pytest.approx(sum(case[4] for case in cases), abs=0.01)


@pytest.fixture(scope="module")
def loop(tmp_path_factory, cli):
    """Plans of bert, vit and clip (cpu, cuda), bert's skillset, clip's test file gone."""
    work = tmp_path_factory.mktemp("junit")
    tests, skillsets = work / "tests", work / "skillsets"
    rc, plans, err = cli.run("gen-tests", "-q", "-o", tests, "--skillset-dir", skillsets,
                             "--backends", "cpu,cuda", "bert", "vit", "clip")
    assert rc == 0, err
    (work / "plans.jsonl").write_text(plans)
    rc, manifests, err = cli.run("gen-skillset", "-q", "-o", skillsets, "--test-dir", tests, "bert")
    assert rc == 0, err
    (tests / "test_hf_clip.py").unlink()
    return work, cli.records(manifests)


@pytest.fixture(scope="module")
def run_tests_junit(loop, cli):
    work, _ = loop
    report = work / "run-tests.xml"
    rc, out, err = cli.run("run-tests", "-q", "-j", "1", "--timeout", "300", "--junit", report, work / "plans.jsonl")
    return rc, cli.records(out), err, report


def test_run_tests_junit_has_a_case_per_model_type_and_backend_as_the_records_say(run_tests_junit):
    rc, results, err, report = run_tests_junit
    assert rc == 1, err  # clip's reference is an error
    assert sorted(r["model_type"] for r in results) == ["bert", "clip", "vit"]
    root, suite, cases = read_report(report)
    assert suite.get("name") == "run-tests"
    want = {}
    for result in results:
        want.update(expected_cases(result))
    assert {key: o for key, (o, _) in by_name(cases).items()} == want
    check_totals(root, suite, cases)
    # Each kind of outcome the real run gave is there.
    assert {case[2] for case in cases} == {"pass", "skipped", "error"}


def test_run_tests_junit_says_why_a_case_was_skipped_or_erred(run_tests_junit):
    _, results, _, report = run_tests_junit
    cases = by_name(read_report(report)[2])
    by_type = {r["model_type"]: r for r in results}
    cuda = cases[("text-encoder.bert", "cuda[feature-extraction]")]
    assert cuda[0] == "skipped"
    assert cuda[1].get("message").startswith(f"skip ({by_type['bert']['backends']['cuda']['reason']})")
    assert cases[("vision.vit", "cpu[image-classification]")][1].get("message").startswith("no-skillset")
    clip = [case for key, case in cases.items() if key[0].endswith(".clip") and key[1].startswith("reference[")]
    assert len(clip) == 1 and clip[0][0] == "error"
    message = by_type["clip"]["reference"]["message"]
    assert clip[0][1].get("message") == message.split("\n")[0]
    assert message in clip[0][1].text


def test_run_tests_junit_times_add_up_to_each_test(run_tests_junit):
    _, results, _, report = run_tests_junit
    _, suite, _ = read_report(report)
    assert float(suite.get("time")) == pytest.approx(sum(r["elapsed_s"] for r in results), abs=0.01)


def test_verify_junit_has_the_static_checks_the_fresh_run_and_the_unsupported(loop, cli, tmp_path):
    work, manifests = loop
    bert = manifests[0]
    broken = tmp_path / "hf_bert.py"
    broken.write_text(cli.without_init(Path(bert["skillset_file"]).read_text(), "cpu"))
    rc, unsupported, err = cli.run("gen-skillset", "-q", "-o", tmp_path, "--test-dir", tmp_path, "muse_glimmer_assistant")
    assert rc == 1, err  # a model type that cannot be generated yet
    unsupported = cli.records(unsupported)
    assert unsupported[0]["status"] not in ("written", "unchanged")
    report = tmp_path / "verify.xml"
    rc, out, err = cli.run("verify", "-j", "1", "--timeout", "300", "--junit", report,
                           input=cli.jsonl(bert, dict(bert, skillset_file=str(broken)), *unsupported))
    assert rc == 1, err
    found = cli.records(out)
    summary = found[-1]
    assert summary["schema"] == "verify-summary" and summary["passed"] == 1 and summary["failed"] == 1

    root, suite, cases = read_report(report)
    assert suite.get("name") == "verify"
    check_totals(root, suite, cases)
    # bert twice (contract, reference, cpu, cuda), muse_glimmer_assistant once.
    assert len(cases) == 2 * 4 + 1
    # The broken copy: its contract fails, and every backend it runs errs (the discrepancy
    # records say which); the whole one skips cuda, and muse_glimmer_assistant is skipped.
    kinds = [d["kind"] for d in found if d["schema"] == "discrepancy"]
    assert "missing-init" in kinds and kinds.count("backend-error") >= 1
    assert int(suite.get("failures")) == 1 + kinds.count("backend-fail")
    assert int(suite.get("errors")) == kinds.count("backend-error")
    assert int(suite.get("skipped")) == 2
    skipped = [case for case in cases if case[0].endswith(".muse_glimmer_assistant")]
    assert len(skipped) == 1 and skipped[0][1] == "skillset" and skipped[0][2] == "skipped"
    assert skipped[0][3].get("message") == unsupported[0]["status"]
    contract = ET.parse(report).getroot().find(".//testcase[@name='contract[feature-extraction]']/failure")
    assert contract.get("message").startswith("missing-init (cpu)")


def test_junit_to_a_place_that_cannot_be_written_is_exit_2_before_any_test_runs(loop, cli, tmp_path):
    work, manifests = loop
    blocker = tmp_path / "file"
    blocker.write_text("")
    for tool, records in (("run-tests", work / "plans.jsonl"), ("verify", None)):
        rc, out, err = cli.run(tool, "--junit", blocker / "report.xml", *([records] if records else []),
                               input=None if records else cli.jsonl(*manifests), timeout=60)
        assert rc == 2
        assert out == ""
        line = cli.assert_one_error_line(tool, err)
        assert f"'{blocker}'" in line
    assert cli.files_under(tmp_path) == ["file"]


def test_junit_that_cannot_be_renamed_into_place_is_exit_2_after_the_results(loop, cli, tmp_path):
    work, _ = loop
    plans = [p for p in cli.records((work / "plans.jsonl").read_text()) if p["model_type"] == "clip"]
    (tmp_path / "report.xml").mkdir()  # a directory where the file goes: only the rename fails
    rc, out, err = cli.run("run-tests", "-q", "--junit", tmp_path / "report.xml", input=cli.jsonl(*plans))
    assert rc == 2
    assert [r["model_type"] for r in cli.records(out)] == ["clip"]
    line = cli.assert_one_error_line("run-tests", err)
    assert f"cannot write '{tmp_path / 'report.xml'}'" in line
    assert os.listdir(tmp_path) == ["report.xml"]
