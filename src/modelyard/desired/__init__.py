"""Private state of a resource, kept in the store's ``desired`` column beside its described document.

One small dataclass per resource family, with explicit ``to_json``/``from_json``: services write it,
controllers read it, and it never reaches the wire.

    endpoints.EndpointDesired    the config to run and the weight/count overrides
    transform.TransformDesired   the model's containers, snapshotted at CreateTransformJob
    models.ModelDesired          a model's containers with package references resolved
    registry.PackageGroupState   the highest version a package group ever issued
"""
