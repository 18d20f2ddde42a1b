"""The class of a failure: the one place that reads an exception's type and message and
says what kind of failure it was (docs/DESIGN.md, "Failure classes").

Every non-passing reference and backend record (status fail or error) carries one in its
`class`, so that a survey of hundreds of model types counts kinds of failure, not
messages. The names are schemas/failure-class.schema.json's; run-tests adds `crash`,
`timeout` (the stage that was running when the worker died or ran out of time) and
`not-run` never: that one is a skip reason.
"""
import re

# The stage a failure happened in, when nothing more telling is known about it: the
# class it gets by default.
TINY_MODEL = "tiny-model"  # building or saving the tiny model (config, weights, teaching)
REFERENCE = "reference-error"  # the reference raised running the model it built
SKILLSET = "skillset-error"  # the skillset raised: importing, constructing, init_*, handler
OTHER = "other"  # anywhere else; the record keeps the message

PARITY = "parity"  # a handler's output differs from the reference beyond tolerance
CONTRACT = "contract"  # a handler's output breaks the skillset contract (not a dict, MOCK, ...)
NON_FINITE = "non-finite"  # the reference itself gave NaN or infinity
STALE_PLAN = "stale-plan"  # the plan was made for another transformers

# Import names whose PyPI package is named otherwise: the class names what to install.
_PACKAGE_OF_MODULE = {"google": "protobuf", "PIL": "pillow", "cv2": "opencv-python",
                      "sklearn": "scikit-learn", "skimage": "scikit-image", "yaml": "pyyaml"}

# transformers' requires_backends: "X requires the natten library but it was not found in
# your environment", "... requires the protobuf library ...", "... the SentencePiece library".
_REQUIRES_LIBRARY = re.compile(r"requires the (\S+) library")
# transformers' check_imports (remote code), and requires_backends with several missing:
# "This modeling file requires the following packages that were not found in your
# environment: timm, einops".
_REQUIRES_PACKAGES = re.compile(r"requires the following packages that were not found in your environment: ([\w.\-, ]+)")

# A processor the tiny model cannot be given: skillkit.tiny's own refusals (an image
# processor for the type, a size it cannot resize to) and transformers' when no
# processing class of the name exists or loads.
_NO_PROCESSOR = ("no image processor for", "no recipe for resizing", "Unrecognized processing class",
                 "Can't load tokenizer", "Can't load image processor", "Can't load feature extractor",
                 "Unrecognized image processor", "Unrecognized feature extractor",
                 "no processor class in transformers' processor table", "no processor makes",
                 "no feature extractor class in transformers' feature extractor table")
# The Auto class of the task does not map this config (transformers' own words).
_NO_AUTO_CLASS = ("for this kind of AutoModel", "Unrecognized configuration class",
                  "has no attribute 'AutoModel",
                  # the auto class maps the config to a class its module does not export
                  # (voxtral_realtime_text's text model): "Could not find X neither in ...".
                  "neither in <module")

# Exceptions from turning a torch model into a graph: OpenVINO's converter, torch's ONNX
# exporter and the torch.export / dynamo tracing under it.
_CONVERTER_MODULES = ("openvino", "torch.onnx", "torch.export", "torch._export", "torch._dynamo",
                      "onnxscript")
_CONVERSION_MESSAGES = ("OpConversionFailure", "FrontEnd API failed", "Couldn't have an op for",
                        "Couldn't get TorchScript module",
                        "Failed to export", "torch.export", "Could not guard on data-dependent")
# A converted graph that fails when its runtime compiles or runs it.
_RUNTIME_MODULES = ("onnxruntime",)
_RUNTIME_MESSAGES = ("Exception from src/inference", "Exception from src/plugins", "Exception from src/core",
                     "[ONNXRuntimeError]")

_DEPENDENCY_NAME = re.compile(r"^[a-z0-9][a-z0-9-]*$")


def missing_dependency(package):
    """The class of a missing package: `missing-dependency:<package>`, named as pip installs it."""
    # PyPI's normal form (PEP 503): lower case, every run of "-", "_", "." one "-".
    package = re.sub(r"[-_.]+", "-", _PACKAGE_OF_MODULE.get(package, package)).lower()
    return f"missing-dependency:{package}" if _DEPENDENCY_NAME.match(package) else OTHER


def _chain(exc):
    """exc and the exceptions it was raised from or during, outermost first."""
    seen = []
    while exc is not None and exc not in seen:
        seen.append(exc)
        exc = exc.__cause__ or exc.__context__
    return seen


def _module_of(exc):
    return type(exc).__module__ or ""


def _one(exc):
    """The class exc itself shows, or None."""
    message = str(exc)
    if isinstance(exc, ModuleNotFoundError) and exc.name and not exc.name.startswith("skillkit"):
        return missing_dependency(exc.name.split(".")[0])
    if isinstance(exc, ImportError):
        found = _REQUIRES_PACKAGES.search(message)
        if found:
            return missing_dependency(found.group(1).split(",")[0].strip())
        found = _REQUIRES_LIBRARY.search(message)
        if found:
            return missing_dependency(found.group(1))
    if "trust_remote_code" in message:
        return "remote-code"
    if any(words in message for words in _NO_AUTO_CLASS):
        return "no-auto-class"
    if any(words in message for words in _NO_PROCESSOR):
        return "no-processor"
    module = _module_of(exc)
    if module.startswith(_CONVERTER_MODULES) or any(words in message for words in _CONVERSION_MESSAGES):
        return "conversion"
    if module.startswith(_RUNTIME_MODULES) or any(words in message for words in _RUNTIME_MESSAGES):
        return "runtime"
    return None


def classify(exc, stage):
    """The failure class of exc, raised in `stage` (TINY_MODEL, REFERENCE, SKILLSET, OTHER):
    what the exception or one it was raised from shows, else the stage's own class."""
    for link in _chain(exc):
        found = _one(link)
        if found:
            return found
    return stage
