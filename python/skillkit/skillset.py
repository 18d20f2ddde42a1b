"""Loading a skillset file the way the ipfs_accelerate_py worker does."""
import importlib.util
import itertools
import os
from pathlib import Path

import numpy as np
import torch
import transformers

_module_ids = itertools.count()

# The npm packages the transformersjs-node and webgpu backends run on, as the checkout's
# build installs them (make: npm ci in js/); a skillset finds them through its metadata.
NODE_MODULES = Path(__file__).resolve().parents[2] / "js" / "node_modules"


def skillset_file(plan, skillset_path=None):
    """The skillset under test: skillset_path, else $SKILLSET_FILE, else the plan's."""
    return Path(skillset_path or os.environ.get("SKILLSET_FILE") or plan["skillset_file"])


def load_skillset(path, ident):
    """Import the skillset file by path under a unique name and return its class.

    A unique module name per load keeps a regenerated file from being served stale
    out of sys.modules. The module is not registered there at all: a skillset is a
    plain file here, not part of a package.
    """
    spec = importlib.util.spec_from_file_location(f"_skillset_{ident}_{next(_module_ids)}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, f"hf_{ident}")


def instantiate(path, ident, precision="fp32"):
    """The skillset's class instantiated as the worker does: one instance per model,
    handed the modules the worker already has, where the npm packages are, and asked
    for `precision`.

    With strict_backends: a backend that cannot serve here raises BackendUnavailable
    instead of serving on the CPU, so a fallback is never counted as that backend's pass."""
    cls = load_skillset(path, ident)
    resources = {"torch": torch, "transformers": transformers, "numpy": np}
    metadata = {"strict_backends": True, "precision": precision,
                "transformersjs_dir": str(NODE_MODULES)}
    return cls(resources=resources, metadata=metadata)
