"""The handler contract, end to end through a real toolkit process on a unix socket."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest

FOUR = """
import json

def model_fn(model_dir):
    return {"dir": model_dir, "scale": 2}

def input_fn(body, content_type):
    return {"type": type(body).__name__, "ct": content_type,
            "value": json.loads(body) if content_type == "application/json" else len(body)}

def predict_fn(data, model):
    value = data["value"]
    return dict(data, value=value * model["scale"] if isinstance(value, int) else value, dir=model["dir"])

def output_fn(prediction, accept):
    return json.dumps(dict(prediction, accept=accept)), "application/x-result"
"""


def test_four_function_style(serve):
    toolkit = serve({"inference.py": FOUR})
    client = toolkit.client()
    header, body = client.invoke("21", accept="application/json")
    assert header == {"status": 200, "content_type": "application/x-result", "custom_attributes": None}
    result = json.loads(body)
    assert result == {"type": "str", "ct": "application/json", "value": 42, "accept": "application/json",
                      "dir": result["dir"]}
    assert result["dir"].endswith("/model")
    header, body = client.invoke(b"\x00\x01\x02", content_type="application/octet-stream")
    assert header["status"] == 200
    assert json.loads(body) == {"type": "bytes", "ct": "application/octet-stream", "value": 6,
                                "accept": "application/json", "dir": result["dir"]}


def test_missing_or_any_accept_becomes_default_accept(serve):
    toolkit = serve({"inference.py": FOUR}, env={"SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT": "text/csv"})
    client = toolkit.client()
    assert json.loads(client.invoke("1", accept=None)[1])["accept"] == "text/csv"
    assert json.loads(client.invoke("1", accept="*/*")[1])["accept"] == "text/csv"
    assert json.loads(client.invoke("1", accept="application/x-npy")[1])["accept"] == "application/x-npy"


TRANSFORM = """
def model_fn(model_dir):
    return "M"

def transform_fn(model, body, content_type, accept):
    if accept == "x/str":
        return model + ":" + body
    if accept == "x/tuple":
        return (b"tuple-body", "application/x-custom")
    if accept == "x/bytearray":
        return bytearray(b"ba")
    if accept == "x/dict":
        return {"k": [1, 2]}
    return (model + ":" + str(type(body).__name__)).encode()
"""


@pytest.mark.parametrize(("accept", "content_type", "expected_ct", "expected_body"), [
    ("x/str", "text/csv", "x/str", b"M:1,2"),
    ("x/tuple", "text/csv", "application/x-custom", b"tuple-body"),
    ("x/bytes", "application/octet-stream", "x/bytes", b"M:bytes"),
    ("x/bytes", "text/csv", "x/bytes", b"M:str"),
    ("x/bytearray", "text/csv", "x/bytearray", b"ba"),
    ("x/dict", "text/csv", "x/dict", b'{"k": [1, 2]}'),
])
def test_transform_fn_style_and_return_types(serve, accept, content_type, expected_ct, expected_body):
    toolkit = serve({"inference.py": TRANSFORM})
    header, body = toolkit.client().invoke("1,2", content_type=content_type, accept=accept)
    assert (header["status"], header["content_type"], body) == (200, expected_ct, expected_body)


OUTPUTS = """
def model_fn(model_dir):
    return None

def predict_fn(data, model):
    return data

def output_fn(prediction, accept):
    if accept == "x/bytes":
        return b"raw\\xff"
    if accept == "x/str":
        return "h\\u00e9llo"
    return ("tupled", "text/x-tuple")
"""


@pytest.mark.parametrize(("accept", "content_type", "body"), [
    ("x/bytes", "x/bytes", b"raw\xff"),
    ("x/str", "x/str", "h\u00e9llo".encode()),
    ("x/tuple", "text/x-tuple", b"tupled"),
])
def test_output_fn_returns_bytes_str_or_tuple(serve, accept, content_type, body):
    toolkit = serve({"inference.py": OUTPUTS})
    header, got = toolkit.client().invoke("[1]", accept=accept)
    assert (header["status"], header["content_type"], got) == (200, content_type, body)


CONTEXTS = """
import json

def model_fn(model_dir, context):
    props = context.system_properties
    return {"model_dir": props["model_dir"], "gpu_id": props["gpu_id"]}

def input_fn(body, content_type, context):
    return {"input_ctx": context.request_processor[0].get_request_properties().get("Content-Type")}

def predict_fn(data, model, *args):
    context = args[0]
    return dict(data, nargs=len(args), model=model,
                ca=context.get_request_header(0, "x-amzn-sagemaker-custom-attributes"),
                ca2=context.request_processor[0].get_request_properties().get(
                    "X-Amzn-SageMaker-Custom-Attributes"),
                inference_id=context.get_request_id(0),
                target=context.get_request_header(0, "X-Amzn-SageMaker-Target-Model"))

def output_fn(prediction, accept, *, context=None):
    context.set_response_header(0, "X-Amzn-SageMaker-Custom-Attributes", "seen=" + str(prediction["ca"]))
    return json.dumps(dict(prediction, accept_header=context.get_request_header(0, "accept")))
"""


def test_context_variants_and_custom_attributes(serve):
    toolkit = serve({"inference.py": CONTEXTS})
    header, body = toolkit.client().invoke("{}", accept="application/json", custom_attributes="trace=abc",
                                           inference_id="inf-1", target_model="m.tar.gz")
    assert header == {"status": 200, "content_type": "application/json",
                      "custom_attributes": "seen=trace=abc"}
    result = json.loads(body)
    assert result["input_ctx"] == "application/json"
    assert result["nargs"] == 1
    assert result["model"]["gpu_id"] is None and result["model"]["model_dir"].endswith("/model")
    assert result["ca"] == result["ca2"] == "trace=abc"
    assert result["inference_id"] == "inf-1"
    assert result["target"] == "m.tar.gz"
    assert result["accept_header"] == "application/json"


def test_transform_fn_with_context(serve):
    source = """
    def model_fn(model_dir):
        return 1

    def transform_fn(model, body, content_type, accept, context):
        return context.custom_attributes or "none"
    """
    client = serve({"inference.py": source}).client()
    assert client.invoke("x", custom_attributes="a=1")[1] == b"a=1"
    assert client.invoke("x")[1] == b"none"


DEFAULTS = """
import numpy as np

class Model:
    def predict(self, data):
        return np.asarray(data, dtype=float) * 2

def model_fn(model_dir):
    return Model()
"""


def _npy(array):
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def test_defaults_json_csv_npy(serve):
    client = serve({"inference.py": DEFAULTS}).client()
    header, body = client.invoke("[[1, 2], [3, 4]]")
    assert (header["status"], header["content_type"]) == (200, "application/json")
    assert json.loads(body) == [[2.0, 4.0], [6.0, 8.0]]
    header, body = client.invoke("1,2\n3,4\n", content_type="text/csv", accept="text/csv")
    assert (header["status"], header["content_type"]) == (200, "text/csv")
    assert body.decode().split() == ["2.0,4.0", "6.0,8.0"]
    header, body = client.invoke(_npy(np.arange(3.0)), content_type="application/x-npy",
                                 accept="application/x-npy")
    assert (header["status"], header["content_type"]) == (200, "application/x-npy")
    np.testing.assert_array_equal(np.load(io.BytesIO(body)), [0.0, 2.0, 4.0])
    header, body = client.invoke("[1]", accept="text/html, application/json;q=0.5")
    assert (header["status"], header["content_type"], json.loads(body)) == (200, "application/json", [2.0])


def test_defaults_refuse_unknown_types_and_pickled_npy(serve):
    client = serve({"inference.py": DEFAULTS}).client()
    header, body = client.invoke("<x/>", content_type="application/xml")
    assert header["status"] == 500
    assert b"Content type application/xml is not supported" in body
    header, body = client.invoke("[1]", accept="image/png")
    assert header["status"] == 500 and b"Content type image/png is not supported" in body
    header, body = client.invoke(_npy(np.array([{"a": 1}], dtype=object)), content_type="application/x-npy")
    assert header["status"] == 500 and b"pickle" in body.lower()


def test_default_predict_fn_calls_a_callable_model_and_fails_clearly_otherwise(serve):
    callable_model = "def model_fn(model_dir):\n    return lambda data: data.tolist()[::-1]\n"
    client = serve({"inference.py": callable_model}).client()
    assert json.loads(client.invoke("[1, 2, 3]")[1]) == [3, 2, 1]
    client = serve({"inference.py": "def model_fn(model_dir):\n    return 42\n"}).client()
    header, body = client.invoke("[1]")
    assert header["status"] == 500 and b"Please provide a predict_fn implementation" in body


def test_sibling_modules_import(serve):
    toolkit = serve({
        "inference.py": """
            from recommender import Recommender
            from helpers.scale import factor

            def model_fn(model_dir):
                return Recommender(factor())

            def predict_fn(data, model):
                return model.recommend(data)
        """,
        "recommender.py": """
            class Recommender:
                def __init__(self, k):
                    self.k = k

                def recommend(self, data):
                    return [self.k * x for x in data.tolist()]
        """,
        "helpers/__init__.py": "",
        "helpers/scale.py": "def factor():\n    return 10\n",
    })
    assert json.loads(toolkit.client().invoke("[1, 2]")[1]) == [10, 20]


def test_custom_program_and_submit_directory(serve, tmp_path):
    code = tmp_path / "elsewhere"
    code.mkdir()
    (code / "serve_me.py").write_text("def model_fn(d):\n    return 1\n\ndef transform_fn(m, b, c, a):\n"
                                      "    return b'custom'\n")
    toolkit = serve({"unused.py": ""}, env={"SAGEMAKER_PROGRAM": "serve_me.py",
                                            "SAGEMAKER_SUBMIT_DIRECTORY": str(code)})
    assert toolkit.client().invoke("x")[1] == b"custom"


def test_handler_exception_is_500_with_message_and_traceback_on_stderr(serve):
    source = """
    def model_fn(model_dir):
        return None

    def predict_fn(data, model):
        raise KeyError("feature 'age' missing")
    """
    toolkit = serve({"inference.py": source})
    client = toolkit.client()
    header, body = client.invoke("[1]")
    assert header["status"] == 500
    assert body == b"\"feature 'age' missing\""
    assert b"Traceback" not in body
    assert client.request("ping")[0]["status"] == 200
    stderr = toolkit.stderr()
    assert "Traceback (most recent call last)" in stderr and "in predict_fn" in stderr


def test_exceptions_with_status_code(serve):
    source = """
    from sagemaker_inference import errors

    class BadInput(Exception):
        status_code = 400

    class Weird(Exception):
        def __init__(self, code):
            super().__init__("weird")
            self.status_code = code

    def model_fn(model_dir):
        return None

    def transform_fn(model, body, content_type, accept):
        if body == "415":
            raise errors.GenericInferenceToolkitError(415, "only text/csv please")
        if body == "400":
            raise BadInput("column count is 3, expected 4")
        if body == "200":
            raise Weird(200)
        if body == "str":
            raise Weird("404")
        return "ok"
    """
    client = serve({"inference.py": source}).client()
    assert client.invoke("415")[0]["status"] == 415
    assert client.invoke("415")[1] == b"only text/csv please"
    assert client.invoke("400") == ({"status": 400, "content_type": "text/plain; charset=utf-8",
                                     "custom_attributes": None}, b"column count is 3, expected 4")
    assert client.invoke("200")[0]["status"] == 500
    assert client.invoke("str")[0]["status"] == 500
    assert client.invoke("fine")[1] == b"ok"


def _load_failure(serve, files, env=None):
    toolkit = serve(files, env=env, ready=False)
    code = toolkit.wait_exit()
    lines = toolkit.stderr().strip().splitlines()
    return code, lines, toolkit


def test_both_styles_is_a_load_error(serve):
    source = "def model_fn(d):\n    return 1\n\ndef transform_fn(m, b, c, a):\n    return b\n\n" \
             "def input_fn(b, c):\n    return b\n"
    code, lines, toolkit = _load_failure(serve, {"inference.py": source})
    assert code == 2
    assert lines[-1].startswith("modelyard-toolkit: handler load failed: HandlerContractError: ")
    assert "transform_fn together with input_fn" in lines[-1]
    assert not __import__("os").path.exists(toolkit.socket_path)


def test_missing_model_fn_is_a_load_error(serve):
    code, lines, _ = _load_failure(serve, {"inference.py": "def predict_fn(d, m):\n    return d\n"})
    assert code == 2
    assert lines[-1].startswith("modelyard-toolkit: handler load failed:")
    assert "defines no model_fn" in lines[-1]


def test_missing_program_is_a_load_error(serve):
    code, lines, _ = _load_failure(serve, {"other.py": "x = 1\n"})
    assert code == 2
    assert "inference.py not found" in lines[-1]


def test_import_error_in_program_is_a_load_error(serve):
    code, lines, _ = _load_failure(serve, {"inference.py": "import not_installed_pkg_xyz\n"})
    assert code == 2
    assert lines[-1] == ("modelyard-toolkit: handler load failed: ModuleNotFoundError: "
                         "No module named 'not_installed_pkg_xyz'")


def test_hook_with_unusable_signature_is_a_load_error(serve):
    source = "def model_fn(d):\n    return 1\n\ndef predict_fn(data):\n    return data\n"
    code, lines, _ = _load_failure(serve, {"inference.py": source})
    assert code == 2
    assert "predict_fn must accept (data, model[, context])" in lines[-1]


def test_model_fn_raising_exits_2_with_the_reason_line(serve):
    source = """
    def load_weights(path):
        raise FileNotFoundError("no such file: " + path + "/model.joblib\\nsecond line")

    def model_fn(model_dir):
        return load_weights(model_dir)
    """
    code, lines, toolkit = _load_failure(serve, {"inference.py": source})
    assert code == 2
    assert lines[-1].startswith("modelyard-toolkit: model_fn failed: FileNotFoundError: no such file: ")
    assert lines[-1].endswith("/model/model.joblib second line")
    assert "Traceback (most recent call last)" in toolkit.stderr()
    assert "in load_weights" in toolkit.stderr()
