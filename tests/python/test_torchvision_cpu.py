"""skillkit.torchvision_cpu: PyPI's torchvision (a CUDA build) imports beside CPU torch in
every interpreter of the venv, its transforms run, and its compiled ops still refuse."""
import subprocess
import sys

import pytest

PROBE = """
import torch, torchvision
from torchvision.transforms.v2 import functional as F
assert torch.__version__.endswith("+cpu"), torch.__version__
image = torch.arange(3 * 4 * 4, dtype=torch.float32).reshape(3, 4, 4)
print(F.resize(image, [2, 2], interpolation=F.InterpolationMode.NEAREST).tolist() == image[:, ::2, ::2].tolist())
print(torchvision.extension._has_ops())
try:
    torchvision.ops.nms(torch.tensor([[0.0, 0.0, 1.0, 1.0]]), torch.tensor([1.0]), 0.5)
except RuntimeError as error:
    print(str(error).split(".")[0])
"""


def test_torchvision_imports_in_a_fresh_interpreter_and_its_compiled_ops_still_refuse():
    pytest.importorskip("torchvision")
    lines = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True,
                           check=True).stdout.splitlines()
    # Nearest-neighbour halving keeps every other pixel, from the first: the transform ran.
    assert lines == ["True", "False", "Couldn't load custom C++ ops"]
