"""Small helpers shared across the package.

atomic.py   atomic file writes (a temporary file in the same folder, then os.replace), stale temporaries
closing.py  Closing: ``with obj:`` for any class with a ``close()``
"""
