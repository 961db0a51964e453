"""Generation servers behind Triton Inference Server."""
