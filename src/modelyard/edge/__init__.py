"""The HTTP edge: one ordered pipeline every AWS service's requests go through.

    ASGI request -> server.ModelyardApp (lifespan, /_modelyard/health)
      -> edge.pipeline.Pipeline
           1. route      ServiceTable.find: the service whose WireProtocol claims the request,
                         then protocol.operation(request) -> OperationCall
           2. body       read with that service's limit (RequestEntityTooLargeException)
           3. auth       Authenticator.verify(...) -> Principal (every service, runtime included)
           4. context    account and region -> RequestContext
           5. decode     call.decode: validate against botocore's input shape
           6. dispatch   the service's async handler (sync control-plane handlers: edge.threaded)
           7. encode     call.encode, or protocol.encode_error for any ServiceError; the catch-all
                         answers the service's internal error (never a stack trace)

Adding a service (s3 over rest-xml, cloudwatch, application-autoscaling over JSON 1.1) is one more
``edge.services.Service`` in the table the composition root (``modelyard.app``) builds.
"""
