"""The report of scripts/loop.sh (make loop): per model type, whether its skillset
passed when written from the registry alone and after the loop, and what the tests
changed in its requirements; then how many types pass only because of the loop.

A type passes when its reference passes and no backend fails, errs or finds no
skillset (as verify counts it). After the loop, a type the last verify checked passes
when verify found no discrepancy for it; any other is judged by the last test results.
Prints the table and the summary lines on stdout."""
import argparse
import json

FAILED = {"fail", "error", "no-skillset"}
CHOICES = ("model_class", "auto_class", "processor_class")


def read(path):
    with open(path, encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]


def passed(result):
    if result is None or result["reference"]["status"] != "pass":
        return False
    return not any(outcome["status"] in FAILED for outcome in result["backends"].values())


def learned(plan, requirements):
    """What the tests' requirements say that the registry alone did not."""
    if requirements is None:
        return ""
    changes = []
    default = (plan.get("batch_policies") or [None])[0]
    if requirements.get("batch_policy", default) != default:
        changes.append(f"batch policy {requirements['batch_policy']}")
    first = plan["candidates"][0]
    changes += [f"{key} {requirements[key]}" for key in CHOICES if requirements[key] != first[key]]
    return ", ".join(changes)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plans", required=True)
    parser.add_argument("--baseline", required=True, help="the test results of the registry-alone skillsets")
    parser.add_argument("--requirements", required=True, help="the last round's requirements")
    parser.add_argument("--results", required=True, help="the last round's test results")
    parser.add_argument("--verified", help="the last round's verify records, when verify ran last")
    args = parser.parse_args()

    plans = {plan["model_type"]: plan for plan in read(args.plans)}
    baseline = {r["model_type"]: r for r in read(args.baseline)}
    results = {r["model_type"]: r for r in read(args.results)}
    requirements = {r["model_type"]: r for r in read(args.requirements)}
    verified, discrepant = set(), set()
    if args.verified:
        verified = set(requirements)
        discrepant = {r["model_type"] for r in read(args.verified) if r["schema"] == "discrepancy"}

    rows = []
    for model_type in sorted(plans):
        before = passed(baseline.get(model_type))
        after = model_type not in discrepant if model_type in verified else passed(results.get(model_type))
        rows.append((model_type, before, after, learned(plans[model_type], requirements.get(model_type))))

    width = max([len("model type"), *(len(row[0]) for row in rows)])
    print(f"{'model type':<{width}}  registry alone  after the loop  what the tests changed")
    for model_type, before, after, change in rows:
        print(f"{model_type:<{width}}  {'pass' if before else 'fail':<14}  {'pass' if after else 'fail':<14}  "
              f"{change or '-'}")
    turned = [row[0] for row in rows if row[2] and not row[1]]
    lost = [row[0] for row in rows if row[1] and not row[2]]
    print()
    print(f"loop: {len(rows)} model types: {sum(row[1] for row in rows)} pass written from the registry alone, "
          f"{sum(row[2] for row in rows)} after the loop")
    print(f"loop: {len(turned)} pass only because of the loop" + (f": {' '.join(turned)}" if turned else ""))
    if lost:
        print(f"loop: {len(lost)} passed before the loop and fail after it: {' '.join(lost)}")


if __name__ == "__main__":
    main()
