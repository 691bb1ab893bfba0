"""Application Auto Scaling: the autoscaler that runs scaling policies on endpoint variants."""
