"""gen-tests --weights: a Hub repo id's test runs its real checkpoint, downloaded from the
fake Hub (tests/fake_hub/server.py, serving all-MiniLM-L6-v2) into huggingface_hub's
cache, resumed after a dropped connection, checked against the Hub's SHA-256 (issue 9)."""
import hashlib
import json
import os
import pty
import socket
import subprocess
from pathlib import Path

import pytest
from hub_fixtures import GOOD_TOKEN, ROOT, running_fake_hub, stats

BIN = ROOT / "bin"
# What the Hub lists for all-MiniLM-L6-v2's model.safetensors (lfs.oid).
WEIGHTS_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
WEIGHTS_SIZE = 90868376
CHECKPOINT_FILES = ["config.json", "model.safetensors", "special_tokens_map.json", "tokenizer.json",
                    "tokenizer_config.json", "vocab.txt"]
DROPPED = "fake-org/minilm-drop-e2e"

pytestmark = pytest.mark.skipif(
    not ((BIN / "gen-tests").exists() and (ROOT / "data" / "registry.json").exists()),
    reason="needs bin/ and data/registry.json (make)",
)


@pytest.fixture(scope="module")
def hub():
    """A fake Hub of this module's own, so its counts are this module's."""
    with running_fake_hub() as url:
        yield url


def environment(hub, home, **extra):
    """The fake Hub, a private HF_HOME, no token: nothing reaches the real Hub."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGINGFACE_", "TRANSFORMERS_"))}
    env.update(HF_ENDPOINT=hub, HF_HOME=str(home), HF_HUB_DISABLE_TELEMETRY="1", PYTHONPATH=str(ROOT / "python"))
    env.update(extra)
    return env


def tool(name, *args, env, input=None, **kwargs):
    return subprocess.run([str(BIN / name), *map(str, args)], env=env, input=input, capture_output=True, text=True,
                          timeout=900, check=False, **kwargs)


def gen_tests(env, out, *args):
    return tool("gen-tests", "-o", out / "tests", "--skillset-dir", out / "skillsets", "--backends", "cpu", *args,
                env=env)


def snapshot_of(home, repo_id):
    folder = Path(home) / "hub" / ("models--" + repo_id.replace("/", "--"))
    return folder / "snapshots" / (folder / "refs" / "main").read_text()


def closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def loop(hub, tmp_path_factory):
    """gen-tests --weights on a repo whose first weights request is cut off halfway, then
    the whole loop (run-tests, analyze, gen-skillset, verify) on cpu."""
    work = tmp_path_factory.mktemp("weights")
    env = environment(hub, work / "hf")
    stages = {}
    generated = gen_tests(env, work, DROPPED, "--weights")
    assert generated.returncode == 0, generated.stderr
    stages["gen-tests"] = generated.stdout
    seen = stats(hub)
    for name in ("run-tests", "analyze", "gen-skillset", "verify"):
        done = tool(name, "-q", env=env, input=stages[list(stages)[-1]])
        assert done.returncode == 0, f"{name}: {done.stderr}"
        stages[name] = done.stdout
    records = {name: [json.loads(line) for line in text.splitlines()] for name, text in stages.items()}
    return work, env, generated.stderr, seen, records


def test_a_dropped_connection_resumes_with_a_range_request_from_where_it_stopped(loop):
    work, _, _, seen, _ = loop
    assert seen["drops"] == 1
    assert seen["ranges"] == [{"path": "/_lfs/fake-org%2Fminilm-drop-e2e/model.safetensors",
                               "range": f"bytes={WEIGHTS_SIZE // 2}-"}]
    weights = snapshot_of(work / "hf", DROPPED) / "model.safetensors"
    assert hashlib.sha256(weights.read_bytes()).hexdigest() == WEIGHTS_SHA256
    assert seen["max_in_flight"] > 1  # the files came concurrently


def test_the_plan_names_the_cache_snapshot_as_its_checkpoint(loop):
    work, _, _, _, records = loop
    [plan] = records["gen-tests"]
    snapshot = snapshot_of(work / "hf", DROPPED)
    assert plan["checkpoint"] == str(snapshot)
    assert (plan["model_id"], plan["config_source"], plan["model_type"]) == (DROPPED, "hub", "bert")
    assert sorted(p.name for p in snapshot.iterdir()) == CHECKPOINT_FILES
    assert all((snapshot / name).is_symlink() for name in CHECKPOINT_FILES)
    assert not list((snapshot.parent.parent / "blobs").glob("*.incomplete"))


def test_the_real_weights_pass_end_to_end(loop):
    _, _, _, _, records = loop
    [result] = records["run-tests"]
    assert result["reference"]["status"] == "pass"
    # 384 wide: the real model's hidden size, where a tiny random model is a few dozen.
    assert result["reference"]["signature"]["outputs"]["embeddings"]["shape"][-1] == 384
    summary = records["verify"][-1]
    assert summary["passed"] == summary["skillsets"] == 1
    assert summary["backend_statuses"]["pass"] == 1


def test_stderr_not_a_terminal_gets_a_line_per_file(loop):
    _, _, stderr, _, _ = loop
    assert f"gen-tests: downloaded '{DROPPED}@main/model.safetensors' (86.7 MiB, 5/5)" in stderr.splitlines()
    assert "\r" not in stderr
    assert "gen-tests: 5 of 5 file(s), " in stderr


def test_a_complete_snapshot_in_the_cache_is_used_without_the_network(loop, tmp_path):
    _, env, _, _, records = loop
    again = gen_tests({**env, "HF_ENDPOINT": f"http://127.0.0.1:{closed_port()}"}, tmp_path, DROPPED, "--weights")
    assert again.returncode == 0, again.stderr
    [plan] = [json.loads(line) for line in again.stdout.splitlines()]
    assert plan["checkpoint"] == records["gen-tests"][0]["checkpoint"]
    assert plan["config_source"] == "cache"
    assert "downloaded" not in again.stderr


def test_quiet_downloads_in_silence(hub, tmp_path):
    run = gen_tests(environment(hub, tmp_path / "hf"), tmp_path, "sentence-transformers/all-MiniLM-L6-v2",
                    "--weights", "-q")
    assert run.returncode == 0, run.stderr
    assert run.stderr == ""
    assert (snapshot_of(tmp_path / "hf", "sentence-transformers/all-MiniLM-L6-v2") / "model.safetensors").exists()


def test_a_terminal_gets_a_progress_bar_with_rate_and_eta(hub, tmp_path):
    leader, follower = pty.openpty()
    with open(follower, "wb", closefd=True) as terminal:
        run = subprocess.run([str(BIN / "gen-tests"), "-o", str(tmp_path / "t"), "--skillset-dir", str(tmp_path / "s"),
                              "--weights", "fake-org/minilm-sharded"],
                             env=environment(hub, tmp_path / "hf"), stdout=subprocess.PIPE, stderr=terminal,
                             timeout=900, check=False)
    shown = b""
    while True:
        try:
            chunk = os.read(leader, 1 << 16)
        except OSError:  # the terminal is closed once everything is read
            break
        if not chunk:
            break
        shown += chunk
    os.close(leader)
    assert run.returncode == 0
    text = shown.decode()
    assert "\r\x1b[K" in text  # redrawn in place
    # What stays on the line after each carriage return: the bar, once the lines above it are out.
    last_lines = [part.split("\n")[-1] for part in text.replace("\r\n", "\n").split("\r")]
    bars = [line for line in last_lines if "ETA" in line]
    assert bars and all(line.replace("\x1b[K", "").startswith("gen-tests: [") and "/s  ETA " in line
                        and " files" in line for line in bars)
    assert "downloaded 'fake-org/minilm-sharded@main/model-00002-of-00002.safetensors'" in text


@pytest.mark.parametrize("spec, message", [
    ("meta-llama/Llama-3.2-1B", ("gen-tests: error: gated repository 'meta-llama/Llama-3.2-1B' "
                                 "(accept its terms on the Hub, then set HF_TOKEN)")),
    ("fake-org/does-not-exist", ("gen-tests: error: repository not found 'fake-org/does-not-exist' "
                                 "(set HF_TOKEN if it is private or gated)")),
    ("sentence-transformers/all-MiniLM-L6-v2@v9",
     "gen-tests: error: revision not found 'sentence-transformers/all-MiniLM-L6-v2@v9'"),
    ("google-bert/bert-base-uncased", ("gen-tests: error: no safetensors weights (model.safetensors or "
                                       "model.safetensors.index.json) in 'google-bert/bert-base-uncased@main'")),
])
def test_a_checkpoint_that_cannot_be_had_is_one_error_line_and_exit_2(hub, tmp_path, spec, message):
    run = gen_tests(environment(hub, tmp_path / "hf"), tmp_path, spec, "--weights")
    assert run.returncode == 2
    assert run.stdout == ""
    assert run.stderr == message + "\n"
    assert not (tmp_path / "tests").exists()


def test_a_gated_checkpoint_whose_config_is_cached_is_still_gated(hub, tmp_path):
    env = environment(hub, tmp_path / "hf")
    with_token = gen_tests({**env, "HF_TOKEN": GOOD_TOKEN}, tmp_path / "with-token", "meta-llama/Llama-3.2-1B")
    assert with_token.returncode == 0, with_token.stderr
    run = gen_tests(env, tmp_path, "meta-llama/Llama-3.2-1B", "--weights")
    assert run.returncode == 2
    assert run.stderr == ("gen-tests: error: gated repository 'meta-llama/Llama-3.2-1B' "
                          "(accept its terms on the Hub, then set HF_TOKEN)\n")


def test_offline_weights_not_in_the_cache_are_an_error(hub, tmp_path):
    env = environment(hub, tmp_path / "hf")
    assert gen_tests(env, tmp_path / "config-only", "sentence-transformers/all-MiniLM-L6-v2").returncode == 0
    run = gen_tests({**env, "HF_HUB_OFFLINE": "1"}, tmp_path, "sentence-transformers/all-MiniLM-L6-v2", "--weights")
    assert run.returncode == 2
    assert run.stderr == ("gen-tests: error: weights not in the cache and HF_HUB_OFFLINE is set "
                          "'sentence-transformers/all-MiniLM-L6-v2@main'\n")


def test_a_corrupted_download_is_an_error_and_leaves_nothing_of_it(hub, tmp_path):
    repo = "fake-org/minilm-corrupt-cli"
    run = gen_tests(environment(hub, tmp_path / "hf"), tmp_path, repo, "--weights")
    assert run.returncode == 2
    assert run.stdout == ""
    assert run.stderr.splitlines()[-1].startswith(
        f"gen-tests: error: SHA-256 mismatch, download deleted '{repo}@main/model.safetensors' "
        f"(hub: {WEIGHTS_SHA256}, received: ")
    assert not (tmp_path / "tests").exists()
    snapshot = snapshot_of(tmp_path / "hf", repo)
    # config.json is there from resolving the spec; nothing the download fetched is linked.
    assert [p.name for p in snapshot.iterdir()] == ["config.json"]
    blobs = [p.name for p in (snapshot.parent.parent / "blobs").iterdir()]
    assert WEIGHTS_SHA256 not in blobs and not [name for name in blobs if name.endswith(".incomplete")]
