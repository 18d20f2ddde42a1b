"""The fake Hub is a faithful stand-in: huggingface_hub and transformers read it as the real one."""
import json

import pytest
from huggingface_hub import hf_hub_download
from huggingface_hub.errors import (
    GatedRepoError,
    RemoteEntryNotFoundError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)

from hub_fixtures import GOOD_TOKEN, REPOS, fake_hub  # noqa: F401 - a fixture

CONFIGS = sorted(p.parent.relative_to(REPOS).as_posix() for p in REPOS.glob("*/*/config.json"))
WELL_FORMED = [repo for repo in CONFIGS if repo != "fake-org/malformed"]


def test_there_are_a_dozen_architectures():
    assert len(WELL_FORMED) >= 12


@pytest.mark.parametrize("repo", CONFIGS)
def test_hf_hub_download_gets_every_config(fake_hub, tmp_path, repo):  # noqa: F811
    path = hf_hub_download(repo, "config.json", endpoint=fake_hub, cache_dir=tmp_path, token=GOOD_TOKEN)
    with open(path, "rb") as got:
        assert got.read() == (REPOS / repo / "config.json").read_bytes()


@pytest.mark.parametrize(
    "repo, revision, token, error",
    [
        ("fake-org/does-not-exist", "main", None, RepositoryNotFoundError),
        ("fake-org/private-model", "main", None, RepositoryNotFoundError),
        ("fake-org/private-model", "main", "hf_other_token", RepositoryNotFoundError),
        ("meta-llama/Llama-3.2-1B", "main", None, GatedRepoError),
        ("meta-llama/Llama-3.2-1B", "main", "hf_other_token", GatedRepoError),
        ("fake-org/no-config", "main", None, RemoteEntryNotFoundError),
        ("google-bert/bert-base-uncased", "v9", None, RevisionNotFoundError),
    ],
)
def test_huggingface_hub_reads_the_error_cases_as_the_real_hub_s(fake_hub, tmp_path, repo, revision, token,  # noqa: F811
                                                                 error):
    with pytest.raises(error):
        hf_hub_download(repo, "config.json", revision=revision, endpoint=fake_hub, cache_dir=tmp_path,
                        token=token or False)


@pytest.mark.parametrize("repo", WELL_FORMED)
def test_configs_load_with_transformers(repo):
    from transformers import CONFIG_MAPPING

    config = json.loads((REPOS / repo / "config.json").read_text())
    model_type = config.get("model_type")
    if model_type not in CONFIG_MAPPING:
        pytest.skip(f"{repo}: model type {model_type!r} is remote code or absent, by design")
    loaded = CONFIG_MAPPING[model_type].from_dict(config)
    assert loaded.model_type == model_type
