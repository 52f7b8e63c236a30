"""The `shopfloor` command groups, one module per concern. Each exposes `register(app)`.

Command modules import their heavy dependencies inside the command functions,
so that `shopfloor --help` and the conformance commands start fast.
"""
