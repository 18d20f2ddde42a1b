"""The summary scripts/survey.sh prints from its records (usage: survey_report.py OUT_DIR
[REGISTRY]): per family how many references and skillsets passed on each backend, the
seconds each backend took, REAL CPU parity over the registry's servable model types and
(type, task) pairs, per task how many pairs passed, and the failure class of every
servable type that does not pass. `survey_report.py --other-tasks [TYPE...]` prints the
pairs survey.sh tests beside the default tasks (TASKS=all): per task a line "TASK TYPE...",
the servable types (of TYPE..., else all) whose family's template serves that task and
whose default task it is not.

REAL CPU parity: a test whose reference passed and whose cpu backend passed. Its
denominators are the registry's (scripts/REGISTRY.md "Servable": 568 types, 1,821 pairs
in transformers 5.23), whatever the survey ran, so a sample never looks better than the
whole: a servable type it did not test counts as not passing, under a class that says
why (no-template: its family has no template; unsupported-task: the template does not
serve its task; not-surveyed: TYPES left it out).

The survey ends with one turn of the test-driven loop (docs/DESIGN.md, "The loop
learns"): `survey_report.py --loop-candidates OUT_DIR` prints the test results whose
reference passed and whose cpu backend did not, for analyze; the skillsets gen-skillset
rewrites from their requirements are verified again (loop-manifests.jsonl,
loop-verify.jsonl), and the report counts a test the loop turned as passing, saying how
many passed only because of it.
"""
import collections
import json
import sys
from pathlib import Path


def _records(path):
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def cpu_parity(row):
    return row["reference"]["status"] == "pass" and row["backends"].get("cpu", {}).get("status") == "pass"


def after_the_loop(rows, out_dir):
    """(rows, turned): the test results as the survey's turn of the loop left them, and
    the (type, task) pairs it turned. A test whose skillset the loop rewrote passes on
    cpu when verify found no cpu discrepancy in it; any other stays as run-tests
    recorded it."""
    rewritten = {(m["model_type"], m["task"]) for m in _records(out_dir / "loop-manifests.jsonl")}
    discrepant = {(d["model_type"], d["task"]) for d in _records(out_dir / "loop-verify.jsonl")
                  if d["schema"] == "discrepancy" and d.get("backend", "cpu") == "cpu"}
    after, turned = [], set()
    for row in rows:
        key = (row["model_type"], row["task"])
        if key in rewritten and key not in discrepant and not cpu_parity(row) and row["reference"]["status"] == "pass":
            turned.add(key)
            row = {**row, "backends": {**row["backends"], "cpu": {"status": "pass", "turned_by_loop": True}}}
        after.append(row)
    return after, turned


def failure_class(row):
    """Why a tested type does not pass REAL CPU parity: the reference's class when it did
    not pass, else cpu's (its class, or for a skip its reason)."""
    reference = row["reference"]
    if reference["status"] != "pass":
        return reference.get("class", "other")
    cpu = row["backends"].get("cpu")
    if cpu is None:
        return "cpu-not-run"
    if cpu["status"] in ("fail", "error"):
        return cpu.get("class", "other")
    return cpu.get("reason") or cpu["status"]


def not_passing(registry, classes, rows):
    """Per servable type that does not pass, by family and class: (family, class, type,
    the message of its default task's test: the reference's, else cpu's)."""
    message = {}
    for row in rows:
        if row["task"] == _default(registry, row["model_type"]):
            failed = row["reference"] if row["reference"]["status"] != "pass" else row["backends"].get("cpu", {})
            message[row["model_type"]] = " ".join(failed.get("message", "").split())
    return sorted((registry["models"][name]["family"], klass, name, message.get(name, ""))
                  for name, klass in classes.items() if klass != "pass")


def served_as(registry, name, task):
    """The task the family's template serves `task` of type `name` as: itself, else the
    served task of the same model class (gen-tests and gen-skillset do the same:
    lib/common/plan.cpp served_as), else itself, unserved."""
    entry = registry["models"][name]
    served = registry["families"].get(entry["family"], {}).get("handler_tasks", [])
    if task in served or task not in entry["tasks"]:
        return task
    same = [other for other in served if entry["tasks"].get(other) == entry["tasks"][task]]
    return same[0] if same else task


def _default(registry, name):
    """The task a type's test without --task runs: its default task, as served."""
    entry = registry["models"].get(name)
    return served_as(registry, name, entry["default_task"]) if entry else None


def type_classes(registry, manifests, rows):
    """{model_type: "pass" or its failure class} for every servable type of the registry."""
    servable = {name for name, entry in registry["models"].items() if entry["servable"]}
    classes = {name: "not-surveyed" for name in servable}
    untested = {"unsupported-family": "no-template", "unsupported-task": "unsupported-task"}
    for manifest in manifests:
        if manifest["model_type"] in servable and manifest["status"] in untested:
            classes[manifest["model_type"]] = untested[manifest["status"]]
    tests = collections.defaultdict(list)
    for row in rows:
        if row["model_type"] in servable:
            tests[row["model_type"]].append(row)
    for name, its in tests.items():
        # A type tested on several tasks is judged on its default task's test.
        default = _default(registry, name)
        row = next((row for row in its if row["task"] == default), its[0])
        classes[name] = "pass" if cpu_parity(row) else failure_class(row)
    return classes


def passing_pairs(registry, rows):
    """(passing, servable, as_another): the registry's servable (type, task) pairs, those
    a test of that type with that task (as served: served_as) passed, and how many of
    those passed as another task of the same model class."""
    pairs = {(name, task) for name, entry in registry["models"].items() if entry["servable"]
             for task in entry["tasks"]}
    tested = {(row["model_type"], row["task"]) for row in rows if cpu_parity(row)}
    passed = {(name, task) for name, task in pairs if (name, served_as(registry, name, task)) in tested}
    return len(passed), len(pairs), len(passed - tested)


def other_tasks(registry, types=None):
    """{task: [model types]}: the servable types (of `types`, else every one) whose
    family's template serves `task` and whose default task it is not."""
    families = registry["families"]
    pending = collections.defaultdict(list)
    for name in types or sorted(registry["models"]):
        entry = registry["models"][name]
        if not entry["servable"]:
            continue
        served = families.get(entry["family"], {}).get("handler_tasks", [])
        for task in entry["tasks"]:
            if task in served and task != _default(registry, name):
                pending[task].append(name)
    return dict(sorted(pending.items()))


def share(n, m):
    return f"{n} of {m} ({100 * n / m:.0f}%)" if m else f"{n} of 0"


def report(out_dir, registry_path):
    out_dir = Path(out_dir)
    registry = json.loads(Path(registry_path).read_text())
    registry_rows = _records(out_dir / "results.jsonl")
    rows, turned = after_the_loop(registry_rows, out_dir)
    manifests = _records(out_dir / "manifests.jsonl")
    lines = []

    backends = list(rows[0]["backends"]) if rows else []
    by_family = collections.defaultdict(collections.Counter)
    seconds = collections.Counter()
    for row in rows:
        for backend in backends:
            seconds[backend] += row["backends"].get(backend, {}).get("elapsed_s", 0)
        # A type tested on several tasks is counted in its family on its default task.
        if row["task"] != (_default(registry, row["model_type"]) or row["task"]):
            continue
        counts = by_family[row["family"]]
        counts["types"] += 1
        counts["reference"] += row["reference"]["status"] == "pass"
        for backend in backends:
            outcome = row["backends"].get(backend, {})
            counts[backend] += outcome.get("status") == "pass"
    columns = ["types", "reference", *backends]
    lines.append(f"{'family':<26}" + "".join(f" {name:>{max(len(name), 5)}}" for name in columns))
    total = sum(by_family.values(), collections.Counter())
    for family, c in [*sorted(by_family.items()), ("all", total)]:
        lines.append(f"{family:<26}" + "".join(f" {c[name]:>{max(len(name), 5)}}" for name in columns))
    lines.append("")
    for backend in backends:
        lines.append(f"{backend} passes {share(total[backend], total['types'])} model types tested "
                     f"in {seconds[backend]:.0f} s")

    classes = type_classes(registry, manifests, rows)
    family_of = {name: registry["models"][name]["family"] for name in classes}
    failing = collections.defaultdict(collections.Counter)
    for name, klass in classes.items():
        if klass != "pass":
            failing[klass][family_of[name]] += 1
    lines.append("")
    lines.append("failure classes of the servable model types that do not pass REAL CPU parity:")
    for klass, families in sorted(failing.items(), key=lambda item: (-sum(item[1].values()), item[0])):
        spread = ", ".join(f"{family} {n}" for family, n in sorted(families.items(), key=lambda f: (-f[1], f[0])))
        lines.append(f"{sum(families.values()):>5}  {klass:<34} {spread}")
    listed = not_passing(registry, classes, rows)
    (out_dir / "not-passing.tsv").write_text("family\tclass\tmodel_type\tmessage\n" + "".join(
        "\t".join(fields) + "\n" for fields in listed))
    lines.append(f"(each of the {len(listed)}, with its test's message: {out_dir / 'not-passing.tsv'})")

    by_task = collections.defaultdict(collections.Counter)
    for row in rows:
        by_task[row["task"]]["tested"] += 1
        by_task[row["task"]]["pass"] += cpu_parity(row)
    if len(by_task) > 1:
        lines.append("")
        lines.append("(type, task) pairs tested per task, REAL CPU parity:")
        lines.extend(f"{c['pass']:>5} of {c['tested']:<5} {task}" for task, c in sorted(by_task.items()))

    lines.append("")
    if rows and "cpu" not in backends:
        lines.append("REAL CPU parity: not measured (cpu is not among the backends)")
    else:
        alone = type_classes(registry, manifests, registry_rows)
        lines.append(f"the loop's turn rewrote {len(_records(out_dir / 'loop-manifests.jsonl'))} skillsets of tests "
                     f"whose reference passed and cpu did not, and turned {len(turned)} of those tests to pass")
        lines.append(f"written from the registry alone: {share(sum(k == 'pass' for k in alone.values()), len(alone))} "
                     f"model types, {share(*passing_pairs(registry, registry_rows)[:2])} (type, task) pairs")
        lines.append(f"REAL CPU parity: {share(sum(k == 'pass' for k in classes.values()), len(classes))} model types")
        passed, pairs, as_another = passing_pairs(registry, rows)
        lines.append(f"{as_another} of the passing pairs are tasks served as another of the same model "
                     "class (any-to-any as image-text-to-text, ...)")
        lines.append(f"REAL CPU parity: {share(passed, pairs)} (type, task) pairs")
    return "\n".join(lines)


if __name__ == "__main__":
    here = Path(__file__).resolve().parent
    if sys.argv[1:2] == ["--loop-candidates"]:
        for row in _records(Path(sys.argv[2]) / "results.jsonl"):
            if row["reference"]["status"] == "pass" and not cpu_parity(row):
                print(json.dumps(row))
    elif sys.argv[1:2] == ["--other-tasks"]:
        registry = json.loads((here.parent / "data" / "registry.json").read_text())
        for task, names in other_tasks(registry, sys.argv[2:]).items():
            print(task, *names)
    else:
        print(report(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else here.parent / "data" / "registry.json"))
