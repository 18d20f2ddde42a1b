"""bin/gen-skillset takes Hub repo ids as specs: config.json comes from the fake Hub or the
cache huggingface_hub shares, and every failure is one line and exit 2 (issue 3)."""
import json
import os
import subprocess
import time

import pytest

from hub_fixtures import GOOD_TOKEN, ROOT, fake_hub, hub_env, running_fake_hub, stats  # noqa: F401

GEN_SKILLSET = ROOT / "bin" / "gen-skillset"

pytestmark = pytest.mark.skipif(
    not (GEN_SKILLSET.exists() and (ROOT / "data" / "registry.json").exists()),
    reason="needs bin/gen-skillset and data/registry.json (make)",
)


@pytest.fixture(scope="module", autouse=True)
def wired(tmp_path_factory):
    """Skips the module while gen-skillset still reads every spec as a model type; once it
    takes directories (and repo ids) these tests run, and a regression fails them."""
    model_dir = tmp_path_factory.mktemp("probe")
    (model_dir / "config.json").write_text('{"model_type": "bert"}')
    run = gen_skillset(dict(os.environ, HF_HUB_OFFLINE="1"), model_dir / "out", str(model_dir))
    if f"unknown model type '{model_dir}'" in run.stderr:
        pytest.skip("gen-skillset does not take repo ids or directories as specs yet")


def gen_skillset(env, out_dir, *specs):
    return subprocess.run([str(GEN_SKILLSET), "-o", str(out_dir), *specs], env=env, capture_output=True,
                          text=True, timeout=120)


def records(stdout):
    return [json.loads(line) for line in stdout.splitlines()]


def test_a_repo_id_is_fetched_from_the_hub(hub_env, tmp_path):  # noqa: F811
    run = gen_skillset(hub_env, tmp_path / "out", "google-bert/bert-base-uncased")
    assert run.returncode == 0, run.stderr
    assert (tmp_path / "out" / "hf_bert.py").exists()
    [record] = records(run.stdout)
    assert record["model_type"] == "bert"
    assert record["model_id"] == "google-bert/bert-base-uncased"
    assert record["config_source"] == "hub"


def test_offline_a_warm_cache_works_with_the_hub_stopped(tmp_path):
    with running_fake_hub() as url:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGINGFACE_", "TRANSFORMERS_"))}
        env.update(HF_ENDPOINT=url, HF_HOME=str(tmp_path / "hf"), HF_HUB_DISABLE_TELEMETRY="1")
        assert gen_skillset(env, tmp_path / "first", "openai-community/gpt2").returncode == 0
    env["HF_HUB_OFFLINE"] = "1"
    run = gen_skillset(env, tmp_path / "second", "openai-community/gpt2")
    assert run.returncode == 0, run.stderr
    assert (tmp_path / "second" / "hf_gpt2.py").exists()
    assert records(run.stdout)[0]["config_source"] == "cache"


def test_transformers_reads_offline_what_gen_skillset_cached(hub_env, tmp_path):  # noqa: F811
    assert gen_skillset(hub_env, tmp_path / "out", "google-bert/bert-base-uncased").returncode == 0
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained("google-bert/bert-base-uncased", cache_dir=tmp_path / "hf" / "hub",
                                        local_files_only=True)
    assert config.model_type == "bert"


# GPT2LMHeadModel: gpt-sw3 lists it too, but its config class names gpt2.
@pytest.mark.parametrize("architecture, model_type", [("RobertaForMaskedLM", "roberta"),
                                                      ("GPT2LMHeadModel", "gpt2")])
def test_a_local_directory_is_a_spec(hub_env, tmp_path, architecture, model_type):  # noqa: F811
    model_dir = tmp_path / "my-model"
    model_dir.mkdir()
    (model_dir / "config.json").write_text(json.dumps({"architectures": [architecture]}))
    run = gen_skillset(hub_env, tmp_path / "out", str(model_dir))
    assert run.returncode == 0, run.stderr
    [record] = records(run.stdout)
    assert record["model_type"] == model_type
    assert record["config_source"] == "local"


def test_a_429_is_waited_out(hub_env, tmp_path):  # noqa: F811
    start = time.monotonic()
    run = gen_skillset(hub_env, tmp_path / "out", "fake-org/rate-limited-cli")
    assert run.returncode == 0, run.stderr
    assert time.monotonic() - start >= 1.0


def test_many_ids_resolve_concurrently(hub_env, tmp_path, fake_hub):  # noqa: F811
    specs = [f"bulk/model-{i}" for i in range(30)]
    run = gen_skillset(hub_env, tmp_path / "out", *specs)
    assert run.returncode == 0, run.stderr
    assert [r["model_id"] for r in records(run.stdout)] == specs
    assert stats(fake_hub)["max_in_flight"] > 1


@pytest.mark.parametrize(
    "spec, extra_env, message",
    [
        ("fake-org/does-not-exist", {}, "repository not found 'fake-org/does-not-exist'"),
        ("fake-org/no-config", {}, "no config.json in 'fake-org/no-config@main'"),
        ("google-bert/bert-base-uncased@v9", {}, "revision not found 'google-bert/bert-base-uncased@v9'"),
        ("meta-llama/Llama-3.2-1B", {}, "gated repository 'meta-llama/Llama-3.2-1B'"),
        ("google-bert/bert-base-uncased", {"HF_TOKEN": "hf_secret_value"}, "HF_TOKEN rejected by the hub"),
        ("google-bert/bert-base-uncased", {"HF_HUB_OFFLINE": "1"}, "not in the cache and HF_HUB_OFFLINE is set"),
        ("fake-org/malformed", {}, "malformed config.json 'fake-org/malformed@main' at line 5, column 14"),
        ("THUDM/chatglm-6b", {}, "pass --trust-remote-code"),
        ("org/../../etc", {}, "invalid repo id 'org/../../etc'"),
        ("org/name@../../x", {}, "invalid revision '../../x'"),
    ],
)
def test_every_error_case_is_one_line_and_exit_2(hub_env, tmp_path, spec, extra_env, message):  # noqa: F811
    run = gen_skillset({**hub_env, **extra_env}, tmp_path / "out", spec)
    assert run.returncode == 2
    assert run.stdout == ""
    assert run.stderr.startswith("gen-skillset: error: ")
    assert message in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1
    assert "hf_secret_value" not in run.stderr
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_the_token_opens_a_gated_repo(hub_env, tmp_path):  # noqa: F811
    run = gen_skillset({**hub_env, "HF_TOKEN": GOOD_TOKEN}, tmp_path / "out", "meta-llama/Llama-3.2-1B")
    assert run.returncode == 0, run.stderr
    assert records(run.stdout)[0]["model_type"] == "llama"


def test_a_bare_repo_id_is_fetched_from_the_hub_then_read_offline(hub_env, tmp_path):  # noqa: F811
    run = gen_skillset(hub_env, tmp_path / "out", "gpt2-medium")
    assert run.returncode == 0, run.stderr
    [record] = records(run.stdout)
    assert (record["model_type"], record["model_id"], record["config_source"]) == ("gpt2", "gpt2-medium", "hub")
    run = gen_skillset({**hub_env, "HF_HUB_OFFLINE": "1"}, tmp_path / "again", "gpt2-medium")
    assert run.returncode == 0, run.stderr
    assert records(run.stdout)[0]["config_source"] == "cache"


@pytest.mark.parametrize("extra_env, reason", [
    ({}, "repository not found 'berta'"),
    ({"HF_HUB_OFFLINE": "1"}, "not in the cache and HF_HUB_OFFLINE is set 'berta@main'"),
])
def test_a_bare_spec_neither_type_nor_repo_keeps_the_suggestion(hub_env, tmp_path, extra_env, reason):  # noqa: F811
    run = gen_skillset({**hub_env, **extra_env}, tmp_path / "out", "berta")
    assert run.returncode == 2 and run.stdout == ""
    assert run.stderr.startswith(
        "gen-skillset: error: unknown model type 'berta' (did you mean 'bert'?); as a Hub repo id: " + reason)
    assert len(run.stderr.splitlines()) == 1


def test_a_malformed_reply_is_not_cached(hub_env, tmp_path):  # noqa: F811
    assert "malformed config.json" in gen_skillset(hub_env, tmp_path / "out", "fake-org/malformed").stderr
    run = gen_skillset({**hub_env, "HF_HUB_OFFLINE": "1"}, tmp_path / "out", "fake-org/malformed")
    assert run.returncode == 2
    assert "not in the cache and HF_HUB_OFFLINE is set" in run.stderr


@pytest.mark.parametrize("name", [b"\xf4\x90\x80\x80", b"a\xff", b"\xed\xa0\x80"],
                         ids=["above-U+10FFFF", "invalid-byte", "surrogate"])
@pytest.mark.parametrize("tool", ["gen-skillset", "gen-tests"])
def test_a_spec_path_that_is_not_utf8_is_refused(hub_env, tmp_path, name, tool):  # noqa: F811
    model_dir = os.path.join(os.fsencode(tmp_path), name)
    os.mkdir(model_dir)
    with open(os.path.join(model_dir, b"config.json"), "w") as f:
        f.write('{"model_type": "bert"}')
    out = tmp_path / "out"
    run = subprocess.run([str(ROOT / "bin" / tool), "-o", str(out), model_dir], env=hub_env,
                         capture_output=True, timeout=120)
    assert run.returncode == 2 and run.stdout == b""
    err = run.stderr.decode("ascii")  # the name escaped: nothing but ASCII
    assert err.startswith(f"{tool}: error: spec is not valid UTF-8 '") and err.count("\n") == 1
    assert not out.exists() or not any(out.iterdir())
