"""The Attractor pipeline layer: parse → transform → validate → execute.

Nothing here knows about models, agents or sandboxes. Codergen work is handed to
a `CodergenBackend`, and other layers plug in handlers by `type`.
"""
