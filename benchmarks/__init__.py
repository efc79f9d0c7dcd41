"""Speed of reglib against the PyTorch built-ins it mirrors (run: ``python -m benchmarks``)."""
