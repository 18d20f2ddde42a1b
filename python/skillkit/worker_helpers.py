"""The helpers the ipfs_accelerate_py worker hands to init_openvino, emulated.

Each does the real thing with openvino / optimum-intel; where those are not installed
(as in this project's venv) it raises with reason package-missing, so a skillset that
relies on them is recorded as a skip, never as a pass.
"""
import importlib
import shutil
import subprocess


class PackageMissing(RuntimeError):
    reason = "package-missing"


# optimum-intel's model class per task, as the worker's get_optimum_openvino_model picks it.
OPTIMUM_CLASSES = {
    "feature-extraction": "OVModelForFeatureExtraction",
    "text-embedding": "OVModelForFeatureExtraction",
    "text-generation": "OVModelForCausalLM",
    "text2text-generation": "OVModelForSeq2SeqLM",
    "image-classification": "OVModelForImageClassification",
    "automatic-speech-recognition": "OVModelForSpeechSeq2Seq",
}


def _require(package):
    try:
        return importlib.import_module(package)
    except ImportError:
        raise PackageMissing(f"python package '{package}' is not installed") from None


def openvino(task):
    """The four helpers the worker passes to init_openvino, in its order and signatures."""
    def get_optimum_openvino_model(model_name, model_type=None, openvino_label=None):
        optimum_intel = _require("optimum.intel")
        class_name = OPTIMUM_CLASSES.get(model_type or task)
        if class_name is None:
            raise ValueError(f"no optimum-intel model class for task '{model_type or task}'")
        return getattr(optimum_intel, class_name).from_pretrained(model_name, export=True)

    def get_openvino_model(model_name, model_type=None, openvino_label=None):
        return _require("openvino").Core().read_model(model_name)

    def get_openvino_pipeline_type(model_name, model_type=None):
        return model_type or task

    def openvino_cli_convert(model_name, model_dst_path, task=task, weight_format="fp32", **_):
        cli = shutil.which("optimum-cli")
        if cli is None:
            raise PackageMissing("optimum-cli (python package 'optimum-intel') is not installed")
        subprocess.run([cli, "export", "openvino", "--model", model_name, "--task", task,
                        "--weight-format", weight_format, model_dst_path],
                       check=True, stdout=subprocess.DEVNULL)
        return model_dst_path

    return (get_optimum_openvino_model, get_openvino_model, get_openvino_pipeline_type,
            openvino_cli_convert)
