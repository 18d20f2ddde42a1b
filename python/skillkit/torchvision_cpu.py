"""Lets torchvision's Python half import beside the CPU build of torch.

PyPI's torchvision wheels are built against PyPI's CUDA torch: beside the CPU build of
torch their compiled ops (`torchvision._C`: nms, roi_align, deform_conv2d, ...) cannot
load. torchvision means to run without them (`torchvision.extension._has_ops()` is then
False and each op raises "Couldn't load custom C++ ops" when called), but its
`_meta_registrations` registers fake kernels for `torchvision::nms` and `::qnms`
unconditionally, and that fails when the ops were never defined, so `import torchvision`
fails and with it every fast image processor and video processor of transformers.

This hook defines the schemas of those two ops, and only when the compiled ops did not
load, just before `_meta_registrations` runs. Nothing gains a kernel: the transforms that
transformers' processors use are plain torch and run for real, and calling one of
torchvision's compiled ops still raises torchvision's own error.

The venv's `skillkit-torchvision-cpu.pth` (written by the Makefile) installs it in every
interpreter; it costs one entry on `sys.meta_path` until torchvision is imported.
"""

import importlib.abc
import sys

_TARGET = "torchvision._meta_registrations"
# The schemas torchvision's C++ half would define (torchvision/csrc/ops/nms.cpp).
_SCHEMAS = (
    "nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
    "qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
)
_library = None  # kept alive: a torch.library.Library drops its definitions when freed


class _BeforeMetaRegistrations(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path, target=None):
        if fullname != _TARGET:
            return None
        sys.meta_path.remove(self)
        import torchvision.extension

        if not torchvision.extension._has_ops():
            _define_schemas()
        return None  # the normal finders import the module itself


def _define_schemas():
    global _library
    import torch

    _library = torch.library.Library("torchvision", "DEF")
    for schema in _SCHEMAS:
        _library.define(schema)


def install():
    if not any(isinstance(f, _BeforeMetaRegistrations) for f in sys.meta_path):
        sys.meta_path.insert(0, _BeforeMetaRegistrations())


install()
