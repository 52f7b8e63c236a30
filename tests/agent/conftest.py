"""Session fixtures for the agent tests (tests/support/agent.py)."""

from tests.support.agent import agent, anthropic_agent, shared_llm_server  # noqa: F401
