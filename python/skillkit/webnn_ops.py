"""The ONNX operators onnxruntime-web's WebNN execution provider runs: data/webnn_ops.json,
carried over from onnxruntime's own table of them (its "source" and "url" say which).

Only the operator's name and domain are checked; the table's opset ranges all end open
("13+") and its constraints ("'shape' input should be a constant") are left to the run
on WebNN itself."""
import json
from pathlib import Path

TABLE = Path(__file__).resolve().parents[2] / "data" / "webnn_ops.json"


def supported():
    """Every operator of the table, as "domain:name"."""
    operators = json.loads(TABLE.read_text(encoding="utf-8"))["operators"]
    return {f"{entry['domain']}:{name}" for name, entry in operators.items()}


def unsupported(operators):
    """The operators ("domain:name") of a graph that the table lacks, sorted."""
    known = supported()
    return sorted(set(operators) - known)
