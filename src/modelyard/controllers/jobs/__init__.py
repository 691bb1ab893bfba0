"""Training and processing jobs: the job reconciler, its two runners and their staging."""
