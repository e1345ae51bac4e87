"""Benchmarks behind ``handmesh-bench``. Each module provides ``add_arguments(parser)`` and ``run(args) -> int``."""
