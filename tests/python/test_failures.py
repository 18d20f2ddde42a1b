"""skillkit.failures: the class of real exceptions, as transformers, the converters and
the runtimes raise them, and the stage's own class for the rest."""
import json
from pathlib import Path

import pytest
import transformers

from skillkit import failures

SCHEMA = Path(__file__).resolve().parents[2] / "schemas" / "failure-class.schema.json"


def raised(action):
    with pytest.raises(Exception) as caught:
        action()
    return caught.value


def import_missing():
    import no_such_package_xyz  # noqa: F401


def test_a_missing_module_names_the_package_to_install():
    assert failures.classify(raised(import_missing), failures.TINY_MODEL) == "missing-dependency:no-such-package-xyz"


def test_a_missing_import_name_is_the_package_pip_installs():
    assert failures.missing_dependency("google") == "missing-dependency:protobuf"
    assert failures.missing_dependency("PIL") == "missing-dependency:pillow"


def test_transformers_requires_backends_names_the_library():
    # natten (neighbourhood attention, dinat's) builds from source: never in this venv.
    exc = raised(lambda: transformers.utils.import_utils.requires_backends("DinatModel", ["natten"]))
    assert isinstance(exc, ImportError) and "requires the natten library" in str(exc)
    assert failures.classify(exc, failures.TINY_MODEL) == "missing-dependency:natten"


def test_an_exception_raised_from_a_missing_module_is_a_missing_dependency():
    def wrapped():
        try:
            import_missing()
        except ImportError as exc:
            raise RuntimeError("building the processor failed") from exc
    assert failures.classify(raised(wrapped), failures.TINY_MODEL) == "missing-dependency:no-such-package-xyz"


def test_skillkits_own_modules_are_no_dependency():
    exc = raised(lambda: __import__("skillkit.families.no_such_family"))
    assert failures.classify(exc, failures.OTHER) == "other"


def test_a_config_the_auto_class_does_not_map_is_no_auto_class():
    exc = raised(lambda: transformers.AutoModelForImageClassification.from_config(transformers.BertConfig()))
    assert failures.classify(exc, failures.TINY_MODEL) == "no-auto-class"


def test_an_auto_class_mapping_a_class_its_module_does_not_export_is_no_auto_class():
    with pytest.raises(ValueError) as raised:  # transformers maps it, but does not export it
        transformers.AutoModel.from_config(transformers.AutoConfig.for_model("voxtral_realtime_text"))
    assert failures.classify(raised.value, failures.TINY_MODEL) == "no-auto-class"


def test_custom_code_is_remote_code(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps(
        {"model_type": "no-such-type-here", "auto_map": {"AutoConfig": "configuration_x.XConfig"}}))
    exc = raised(lambda: transformers.AutoConfig.from_pretrained(str(tmp_path)))
    assert failures.classify(exc, failures.TINY_MODEL) == "remote-code", exc


def test_a_type_without_an_image_processor_is_no_processor():
    from skillkit import tiny
    exc = raised(lambda: tiny.image_processor("no-such-vision-type", 32))
    assert failures.classify(exc, failures.TINY_MODEL) == "no-processor"


def test_openvinos_conversion_failure_is_conversion():
    openvino = pytest.importorskip("openvino")
    exc = openvino._pyopenvino.OpConversionFailure("FrontEnd API failed with OpConversionFailure: aten::cat")
    assert failures.classify(exc, failures.SKILLSET) == "conversion"


def test_a_graph_its_runtime_cannot_load_is_runtime():
    onnxruntime = pytest.importorskip("onnxruntime")
    exc = raised(lambda: onnxruntime.InferenceSession(b"not a model"))
    assert failures.classify(exc, failures.SKILLSET) == "runtime"


def test_anything_else_is_the_stages_class():
    assert failures.classify(ValueError("mat1 and mat2 shapes cannot be multiplied"), failures.REFERENCE) == \
        "reference-error"
    assert failures.classify(KeyError("x"), failures.TINY_MODEL) == "tiny-model"


def test_every_class_skillkit_and_run_tests_give_is_in_the_schema():
    enum = json.loads(SCHEMA.read_text())["anyOf"][0]["enum"]
    given = {failures.TINY_MODEL, failures.REFERENCE, failures.SKILLSET, failures.OTHER, failures.PARITY,
             failures.CONTRACT, failures.NON_FINITE, failures.STALE_PLAN, "no-processor", "no-auto-class",
             "remote-code", "conversion", "runtime",
             "crash", "timeout"}  # run-tests' (lib/common/runner.cpp)
    assert given <= set(enum)
    assert set(enum) - given == set()
