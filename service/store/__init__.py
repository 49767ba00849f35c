"""The store: peewee models and queries. The only place SQL lives; owns transactions."""

from .database import Store, open_store

__all__ = ["Store", "open_store"]
