"""Controllers: reconcile loops that turn desired state in the store into running containers."""
