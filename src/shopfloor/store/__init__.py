"""Where shopfloor keeps durable state: the state directory and SQLite ledgers."""

from shopfloor.store.sqlite import connect, state_dir, transaction

__all__ = ["connect", "state_dir", "transaction"]
