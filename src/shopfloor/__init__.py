"""shopfloor: a software factory for AI coding agents.

The architecture map is DESIGN.md in the shared folder; each subpackage owns one
layer of it (pipeline, llm, agent, sandbox, govern, twins, validate, release,
workers, observe, server).
"""

__version__ = "0.1.0"
