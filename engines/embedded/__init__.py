"""The embedded engine: a real Triton Inference Server (the binary the nvidia-pytriton wheel
ships) with a Python-backend model per dialect, running a causal LM with PyTorch."""
