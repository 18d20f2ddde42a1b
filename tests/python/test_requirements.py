"""python/requirements.txt and constraints.txt: one list of what the venv installs, each
package pinned the same in both, and nothing in them that brings a torch build of its own."""
import re
from pathlib import Path

PYTHON = Path(__file__).resolve().parents[2] / "python"


def pins(name):
    found = {}
    for line in (PYTHON / name).read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            package, version = line.split("==")
            found[re.sub(r"[-_.]+", "-", package).lower()] = version
    return found


def test_every_requirement_is_pinned_the_same_in_the_constraints():
    required, constrained = pins("requirements.txt"), pins("constraints.txt")
    assert {package: constrained.get(package) for package in required} == required


def test_the_optional_packages_are_declared_and_torch_stays_the_cpu_build():
    required = pins("requirements.txt")
    assert {"sentencepiece", "protobuf", "scipy"} <= set(required)
    assert required["torch"] == "2.13.0"
    # torchaudio has no build for this torch on PyPI: the Makefile installs its Python
    # half apart (requirements.txt says why), never through the pins.
    assert "torchaudio" not in pins("constraints.txt")


def test_torchaudio_runs_its_python_half_beside_the_cpu_torch():
    import torch
    import torchaudio
    import torchaudio.compliance.kaldi
    from torchaudio._extension import _IS_TORCHAUDIO_EXT_AVAILABLE

    assert torch.__version__.startswith("2.13.0") and not _IS_TORCHAUDIO_EXT_AVAILABLE
    clip = torch.sin(torch.arange(16000) / 8.0).unsqueeze(0)
    features = torchaudio.compliance.kaldi.fbank(clip, num_mel_bins=80, sample_frequency=16000)
    assert features.shape == (98, 80) and torch.isfinite(features).all()
