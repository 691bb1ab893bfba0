"""Multi-model endpoints: instances that load TargetModels on demand (``host.ModelHost``)."""
