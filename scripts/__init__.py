"""The repository's scripts; `scripts.bench` is run as `python -m scripts.bench`."""
