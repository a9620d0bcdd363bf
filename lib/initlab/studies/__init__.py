"""What one run of each study computes: settings in, tables and tensors out, no plotting."""
