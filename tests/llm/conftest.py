"""Fixtures for the LLM client tests: the scripted provider server and clients pointed at it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from shopfloor.llm.adapters.openai_compat import OpenAICompatibleAdapter
from shopfloor.llm.client import Client
from tests.support import llm_server as scripted
from tests.support.llm_server import ScriptedLLMServer

# The scripted provider server's fixtures, for every test in this package.
llm_server = scripted.llm_server
llm_env = scripted.llm_env

# (provider, model) for each native adapter; every parity test runs once per entry.
NATIVE = [("openai", "gpt-5.2"), ("anthropic", "claude-opus-4-6"), ("gemini", "gemini-3-flash-preview")]
# The OpenAI-compatible Chat Completions adapter, under the name an Ollama base URL gets.
COMPAT = ("ollama", "llama3.2")
ALL = [*NATIVE, COMPAT]


@pytest.fixture
def client(llm_server: ScriptedLLMServer) -> Iterator[Client]:
    """A client with all three native adapters and an Ollama-style compat adapter, all on the server."""
    c = Client.from_env(llm_server.env())
    c.register(OpenAICompatibleAdapter(llm_server.compat_base_url, name="ollama"))
    yield c
    c.close()


@pytest.fixture(params=NATIVE, ids=[p for p, _ in NATIVE])
def native(request: pytest.FixtureRequest) -> tuple[str, str]:
    return request.param


@pytest.fixture(params=ALL, ids=[p for p, _ in ALL])
def any_provider(request: pytest.FixtureRequest) -> tuple[str, str]:
    return request.param
