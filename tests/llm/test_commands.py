"""`shopfloor llm ask|models` and `shopfloor conformance …` for the LLM layer, as real subprocesses
(CONFORMANCE.md): JSON on stdout, errors as non-zero exits with an error object, stdin never awaited."""

from __future__ import annotations

import json
import os
import subprocess
from typing import Any

import pytest

from tests.support.llm_server import Fail, Reply, ScriptedLLMServer, ToolUse

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}


def _run(
    cmd: list[str], *args: str, env: dict[str, str] | None = None, stdin: Any = None, timeout: float = 30
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*cmd, *args],
        input=None if stdin is None else (stdin if isinstance(stdin, str) else json.dumps(stdin)),
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=timeout,
        stdin=subprocess.DEVNULL if stdin is None else None,
    )


def test_ask_without_a_provider_says_which_variables_to_set(shopfloor_cmd: list[str]) -> None:
    proc = _run(shopfloor_cmd, "llm", "ask", "hello")
    assert proc.returncode == 2 and proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "no LLM provider configured" in lines[0]
    assert "OPENAI_API_KEY" in lines[0] and "SHOPFLOOR_OPENAI_COMPAT_BASE_URL" in lines[0]


def test_ask_streams_the_answer(shopfloor_cmd: list[str], llm_server: ScriptedLLMServer) -> None:
    llm_server.push(Reply(text="Configured correctly.", chunk_size=4))
    proc = _run(shopfloor_cmd, "llm", "ask", "ping", "--model", "claude-opus-4-6", env=llm_server.env())
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "Configured correctly."
    assert "anthropic claude-opus-4-6" in proc.stderr and "$" in proc.stderr
    assert llm_server.last.stream and llm_server.last.body["max_tokens"] == 1024


def test_ask_json_against_an_openai_compatible_server(
    shopfloor_cmd: list[str], llm_server: ScriptedLLMServer
) -> None:
    llm_server.push(Reply(text="local answer", input_tokens=5, output_tokens=2))
    env = {
        "SHOPFLOOR_OPENAI_COMPAT_BASE_URL": llm_server.compat_base_url,
        "SHOPFLOOR_OPENAI_COMPAT_MODEL": "qwen3",
        "SHOPFLOOR_LLM_DEFAULT_INPUT_COST_PER_MILLION": "0",
        "SHOPFLOOR_LLM_DEFAULT_OUTPUT_COST_PER_MILLION": "0",
    }
    proc = _run(shopfloor_cmd, "llm", "ask", "hi", "--json", env=env)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["text"] == "local answer" and out["provider"] == "openai_compat" and out["cost_usd"] == 0
    assert llm_server.last.path == "/v1/chat/completions" and llm_server.last.body["model"] == "qwen3"


def test_ask_reports_provider_errors_in_one_line(
    shopfloor_cmd: list[str], llm_server: ScriptedLLMServer
) -> None:
    llm_server.push(Fail(401, "invalid x-api-key"))
    proc = _run(shopfloor_cmd, "llm", "ask", "hi", "--provider", "anthropic", env=llm_server.env())
    assert proc.returncode == 1 and len(proc.stderr.strip().splitlines()) == 1
    assert "401" in proc.stderr and "Traceback" not in proc.stderr


def test_ask_unknown_model_is_a_usage_error(shopfloor_cmd: list[str], llm_server: ScriptedLLMServer) -> None:
    proc = _run(
        shopfloor_cmd, "llm", "ask", "hi", "--model", "gpt-99", "--provider", "openai", env=llm_server.env()
    )
    assert proc.returncode == 2 and "unknown model 'gpt-99'" in proc.stderr and llm_server.requests == []


def test_models_lists_the_catalog(shopfloor_cmd: list[str]) -> None:
    proc = _run(shopfloor_cmd, "llm", "models", "--provider", "gemini", "--json")
    assert proc.returncode == 0 and {m["provider"] for m in json.loads(proc.stdout)} == {"gemini"}


@pytest.fixture
def conformance(shopfloor_cmd: list[str]) -> list[str]:
    return [*shopfloor_cmd, "conformance"]


def test_client_from_env(conformance: list[str], llm_server: ScriptedLLMServer) -> None:
    proc = _run(conformance, "client-from-env", env=llm_server.env())
    assert proc.returncode == 0 and json.loads(proc.stdout)["providers"] == ["anthropic", "gemini", "openai"]
    empty = _run(conformance, "client-from-env", env={"OPENAI_API_KEY": ""})
    assert empty.returncode != 0 and "error" in json.loads(empty.stdout)


def test_list_models_is_an_array(conformance: list[str]) -> None:
    models = json.loads(_run(conformance, "list-models").stdout)
    assert isinstance(models, list) and {"id", "provider", "context_window"} <= set(models[0])


def test_complete_with_a_chat_style_history(conformance: list[str], llm_server: ScriptedLLMServer) -> None:
    llm_server.push(Reply(text="It was sunny.", input_tokens=30, output_tokens=4))
    request = {
        "model": "gemini-3-flash-preview",
        "max_tokens": 200,
        "messages": [
            {"role": "system", "content": "Be brief."},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Look:"},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0K"}},
                ],
            },
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city":"Rome"}'},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
        ],
    }
    proc = _run(conformance, "complete", stdin=request, env=llm_server.env())
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = json.loads(proc.stdout)
    assert out["text"] == "It was sunny." and out["finish_reason"] == "stop" and out["id"]
    assert out["usage"]["input_tokens"] == 30 and out["content"][0]["kind"] == "text"
    body = llm_server.last.body
    assert body["systemInstruction"]["parts"][0]["text"] == "Be brief."
    assert body["contents"][0]["parts"][1]["inlineData"] == {"mimeType": "image/png", "data": "iVBORw0K"}
    assert body["contents"][1]["parts"][0]["functionCall"] == {
        "name": "get_weather",
        "args": {"city": "Rome"},
    }
    assert body["contents"][2]["parts"][0]["functionResponse"]["name"] == "get_weather"


def test_stream_prints_one_object_per_event(conformance: list[str], llm_server: ScriptedLLMServer) -> None:
    llm_server.push(Reply(text="streamed words", chunk_size=4))
    proc = _run(
        conformance,
        "stream",
        stdin={"model": "gpt-5.2", "messages": [{"role": "user", "content": "hi"}]},
        env=llm_server.env(),
    )
    events = [json.loads(line) for line in proc.stdout.splitlines()]
    assert proc.returncode == 0
    assert "".join(e.get("delta", "") for e in events if e["type"] == "text_delta") == "streamed words"
    assert (
        events[-1]["type"] == "finish"
        and events[-1]["done"] is True
        and events[-1]["text"] == "streamed words"
    )


def test_tool_call_prints_the_calls(conformance: list[str], llm_server: ScriptedLLMServer) -> None:
    llm_server.push(Reply(tool_calls=[ToolUse("get_weather", {"city": "Oslo"})]))
    proc = _run(
        conformance,
        "tool-call",
        env=llm_server.env(),
        stdin={
            "model": "claude-opus-4-6",
            "messages": [{"role": "user", "content": "Weather in Oslo?"}],
            "tools": [WEATHER_TOOL],
        },
    )
    out = json.loads(proc.stdout)
    assert proc.returncode == 0 and out["finish_reason"] == "tool_calls"
    assert out["tool_calls"][0]["name"] == "get_weather" and out["tool_calls"][0]["arguments"] == {
        "city": "Oslo"
    }
    assert llm_server.last.body["tools"][0]["name"] == "get_weather"


def test_generate_object(conformance: list[str], llm_server: ScriptedLLMServer) -> None:
    llm_server.push(Reply(text='{"name": "Alice", "age": 30}'), Reply(text="not json"))
    request = {
        "model": "gpt-5.2",
        "messages": [{"role": "user", "content": "Alice is 30"}],
        "response_schema": {
            "type": "object",
            "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
        },
    }
    proc = _run(conformance, "generate-object", stdin=request, env=llm_server.env())
    assert proc.returncode == 0 and json.loads(proc.stdout) == {"name": "Alice", "age": 30}
    bad = _run(conformance, "generate-object", stdin=request, env=llm_server.env())
    assert bad.returncode != 0 and json.loads(bad.stdout)["error"]["type"] == "NoObjectGeneratedError"


@pytest.mark.parametrize(
    ("reply", "kind"),
    [
        (Fail(401), "AuthenticationError"),
        (Fail(429, retry_after=3), "RateLimitError"),
    ],
)
def test_errors_are_objects_with_a_non_zero_exit(
    conformance: list[str], llm_server: ScriptedLLMServer, reply: Fail, kind: str
) -> None:
    llm_server.push(reply)
    proc = _run(
        conformance,
        "complete",
        env=llm_server.env(),
        stdin={"model": "gpt-5.2", "messages": [{"role": "user", "content": "x"}]},
    )
    assert proc.returncode != 0 and json.loads(proc.stdout)["error"]["type"] == kind


def test_unknown_model_fails_without_a_request(conformance: list[str], llm_server: ScriptedLLMServer) -> None:
    proc = _run(
        conformance,
        "complete",
        env=llm_server.env(),
        stdin={
            "model": "nonexistent-model-xyz",
            "provider": "openai",
            "messages": [{"role": "user", "content": "x"}],
        },
    )
    assert proc.returncode != 0 and json.loads(proc.stdout)["error"]["type"] == "UnknownModelError"
    assert llm_server.requests == []


def test_bad_stdin_is_an_error_object(conformance: list[str], llm_server: ScriptedLLMServer) -> None:
    proc = _run(conformance, "complete", stdin="{not json", env=llm_server.env())
    assert proc.returncode != 0 and json.loads(proc.stdout)["error"]["type"] == "invalid_input"
