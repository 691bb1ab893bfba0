"""Asynchronous inference: InvokeEndpointAsync queues a request durably; the drainer answers it into S3.

    InvokeEndpointAsync (submit.py) ─► async_invocations row (store/) ─► 202 InferenceId, OutputLocation
    AsyncDrainer (drain.py): claim ─► input (InputLocation or the inline body) to a file ─► router ─►
        instance (body and answer streamed through files) ─► <S3OutputPath>/<id>.out
        or <S3FailurePath>/<id>-error.out ─► delete the row ─► SNS notification (notifications.py)
"""
