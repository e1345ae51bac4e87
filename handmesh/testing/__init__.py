"""Fixtures in the real file formats, for tests and benchmarks on machines without licensed data.

    mano_standin.py  a MANO-format stand-in model (MANO's keys, shapes and dtypes; a MANO-style pickle writer)

Nothing in the library's runtime imports this package: only tests and benchmarks (``handmesh.bench``) do.
"""
