"""data/webnn_ops.json, the WebNN execution provider's operators, and the check against it."""
import json

from skillkit import webnn_ops


def test_the_table_says_where_it_came_from_and_lists_the_providers_operators():
    table = json.loads(webnn_ops.TABLE.read_text(encoding="utf-8"))
    assert "onnxruntime" in table["source"] and table["commit"] in table["url"]
    assert {"ai.onnx:MatMul", "ai.onnx:Softmax", "ai.onnx:LayerNormalization",
            "com.microsoft:GroupQueryAttention"} <= webnn_ops.supported()


def test_unsupported_names_the_operators_the_table_lacks_by_domain_and_name():
    # IsNaN is in no WebNN table; MatMul is, but not in another domain.
    found = webnn_ops.unsupported(["ai.onnx:MatMul", "ai.onnx:IsNaN", "com.example:MatMul", "ai.onnx:IsNaN"])
    assert found == ["ai.onnx:IsNaN", "com.example:MatMul"]
