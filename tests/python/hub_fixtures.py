"""The fake Hub (tests/fake_hub/server.py) for pytest: a process on 127.0.0.1, a free port.

Import the fixtures into a test module (`from hub_fixtures import fake_hub, hub_env`).
"""
import contextlib
import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
REPOS = ROOT / "tests" / "fake_hub" / "repos"
SERVER = ROOT / "tests" / "fake_hub" / "server.py"
GOOD_TOKEN = "hf_fake_token"


@contextlib.contextmanager
def running_fake_hub(*args):
    """Starts the fake Hub and yields its base URL; stops it on leaving."""
    proc = subprocess.Popen([sys.executable, str(SERVER), *args], stdout=subprocess.PIPE, text=True)
    try:
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:"), "the fake hub did not start"
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def stats(url):
    """The fake Hub's {"requests", "max_in_flight"}."""
    with urllib.request.urlopen(url + "/_stats") as response:
        return json.load(response)


@pytest.fixture(scope="module")
def fake_hub():
    """One fake Hub per test module; repos that change after a first request
    (rate-limited*, flaky*) take a fresh name per test."""
    with running_fake_hub() as url:
        yield url


@pytest.fixture
def hub_env(tmp_path, fake_hub):
    """An environment that sees only the fake Hub, a private HF_HOME and no token."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGINGFACE_", "TRANSFORMERS_"))}
    env.update(HF_ENDPOINT=fake_hub, HF_HOME=str(tmp_path / "hf"), HF_HUB_DISABLE_TELEMETRY="1")
    return env
