"""Model building blocks: kernels, task covariances, likelihood and the botorch model."""
