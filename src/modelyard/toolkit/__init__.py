"""The in-container inference server and SageMaker handler contract.

Runs inside the model's own venv with only the standard library (numpy when installed):
``PYTHONPATH=<parent of modelyard> python -m modelyard.toolkit serve``. Modules: ``framing``
(the unix-socket wire format), ``handler`` (hook resolution and invocation), ``startup``
(start-up), ``frame_server``/``http_server`` (transports), ``pool`` (one worker process per vCPU unless
``SAGEMAKER_MODEL_SERVER_WORKERS`` says otherwise).
"""
