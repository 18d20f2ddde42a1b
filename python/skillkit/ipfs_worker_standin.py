"""A stand-in for the ipfs_accelerate_py worker, test support only.

Not skillkit.worker, which is this project's own worker for run-tests: this module
calls generated skillsets the way ipfs_accelerate_py/worker/worker.py does, so the
tests can hold them to that worker without shipping it. What it copies from worker.py:

- at import, worker.py exec()s the source of every hf_*.py of its skillset folder into
  its own module namespace, one file after another, the last time without catching
  anything: all skillsets and the worker's own names share that one namespace;
- per model it imports hf_<model_type>.py by path as a module of its own and makes
  the instance of its class with (resources, metadata), positionally;
- on a host without CUDA the one path it serves is
  init_openvino(model, model_type, "openvino:0", "openvino:0", <four helpers>), where
  model_type is the model's config.json model_type, and it catches nothing there;
- it calls the handler synchronously with one input or a list of them.

worker.py passes no options to a handler; `options` here exist because some tasks
cannot be served without one (zero-shot image classification needs its labels).
"""
import importlib.util
from pathlib import Path

import numpy
import torch
import transformers

from . import worker_helpers

# What worker.py's module namespace is called, and a sample of the names it holds
# before the skillsets are exec()'d into it: none of them may change.
WORKER_MODULE = "ipfs_accelerate_py.worker.worker"
WORKER_NAMES = ("worker_py", "should_abort", "TaskAbortion", "dispatch_result", "os",
                "sys", "json", "asyncio", "torch", "transformers", "np")

OPENVINO_DEVICE = "openvino:0"


def worker_namespace():
    """A fresh namespace like worker.py's before it reads its skillsets.

    Its __doc__ (None: worker.py has no docstring) becomes the last skillset's."""
    namespace = {"__name__": WORKER_MODULE, "__package__": WORKER_MODULE.rpartition(".")[0],
                 "__doc__": None}
    for name in WORKER_NAMES:
        namespace[name] = object()  # a marker: the worker's own, not a skillset's
    return namespace


def exec_skillsets(paths, namespace=None):
    """The namespace after exec() of each file's source into it, in order, uncaught."""
    namespace = worker_namespace() if namespace is None else namespace
    for path in paths:
        source = Path(path).read_text(encoding="utf-8")
        exec(compile(source, str(path), "exec"), namespace)
    return namespace


def model_type(model):
    """The model's type as worker.py reads it: config.json's, through AutoConfig."""
    return type(transformers.AutoConfig.from_pretrained(model, trust_remote_code=True)).model_type


def load_class(path):
    """The class hf_<name> of the skillset file `path`, imported by path as worker.py does."""
    name = Path(path).stem
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, name)


def serve_on_cpu_host(skillset_class, model, inputs, options=None):
    """worker.py's init_openvino call for `model` on a host without CUDA, then one
    handler call per input; the handler's results. Nothing is caught."""
    resources = {"torch": torch, "transformers": transformers, "np": numpy}
    metadata = {"models": [model]}
    instance = skillset_class(resources, metadata)
    kind = model_type(model)
    _, _, handler, _, _ = instance.init_openvino(
        model, kind, OPENVINO_DEVICE, OPENVINO_DEVICE, *worker_helpers.openvino(kind))
    return [handler(item, **(options or {})) for item in inputs]


def run(skillset_dir, model, inputs, options=None):
    """worker.py from its import to the handler's results for `model`: every skillset
    of `skillset_dir` exec()'d into one namespace, then the model's own served."""
    exec_skillsets(sorted(Path(skillset_dir).glob("hf_*.py")))
    skillset_class = load_class(Path(skillset_dir) / f"hf_{model_type(model)}.py")
    return serve_on_cpu_host(skillset_class, model, inputs, options)
