"""numba fast paths. Each kernel has a plain numpy twin in tests/naive.py and they agree."""
