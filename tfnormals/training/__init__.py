"""Training: the run configuration, the training loop over records, callbacks and run folders."""
