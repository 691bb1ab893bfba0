"""Data capture: sampled invocations written as SageMaker's JSONL files, beside the invoke path.

    InvokeEndpoint ──► CaptureSink.offer (sample, bounded queue; full -> drop and count)
                            │ (another thread)
                       CaptureWriter: drain -> encode lines -> staging file per variant
                            -> rotate (age, size, hour) -> ObjectStore upload to
                            <destination>/<endpoint>/<variant>/yyyy/mm/dd/hh/<mm-ss-mmm>-<uuid>.jsonl
"""
