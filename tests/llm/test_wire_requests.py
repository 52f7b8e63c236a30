"""What each adapter puts on the wire (DoD 8.2 / 8.3 / 8.6): native endpoints, auth, roles, content,
tools, tool choice, options, beta headers and cache breakpoints — read back from the scripted server."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from shopfloor.llm import Client, Message, Request
from shopfloor.llm.types import (
    AudioData,
    ContentKind,
    ContentPart,
    Role,
    ThinkingData,
    ToolCallData,
    ToolChoice,
    ToolDefinition,
)
from tests.support.llm_server import RecordedRequest, Reply, ScriptedLLMServer

PNG = b"\x89PNG\r\n\x1a\nfake"
WEATHER = ToolDefinition(
    name="get_weather",
    description="Weather for a city",
    parameters={"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)


def _send(
    client: Client, server: ScriptedLLMServer, provider: str, model: str, **fields: Any
) -> RecordedRequest:
    server.push(Reply(text="ok"))
    fields.setdefault("messages", [Message.user("hi")])
    client.complete(Request(model=model, provider=provider, **fields))
    return server.last


def _history() -> list[Message]:
    """All five roles, a tool round trip and a thinking block."""
    return [
        Message.system("Be terse."),
        Message.developer("Use metric units."),
        Message.user("Weather in Paris?"),
        Message.assistant(
            [
                ContentPart(
                    kind=ContentKind.THINKING, thinking=ThinkingData(text="Need the tool.", signature="sig-1")
                ),
                ContentPart(
                    kind=ContentKind.TOOL_CALL,
                    tool_call=ToolCallData(id="call_7", name="get_weather", arguments={"city": "Paris"}),
                ),
            ]
        ),
        Message.tool_result("call_7", "18C and sunny"),
    ]


def test_native_endpoints_and_authentication(client: Client, llm_server: ScriptedLLMServer) -> None:
    sent = _send(client, llm_server, "openai", "gpt-5.2")
    assert sent.path == "/v1/responses" and sent.headers["authorization"] == "Bearer sk-test-openai"
    sent = _send(client, llm_server, "anthropic", "claude-opus-4-6")
    assert sent.path == "/v1/messages" and sent.headers["x-api-key"] == "sk-ant-test"
    assert sent.headers["anthropic-version"] == "2023-06-01"
    sent = _send(client, llm_server, "gemini", "gemini-3-flash-preview")
    assert sent.path == "/v1beta/models/gemini-3-flash-preview:generateContent"
    assert sent.query["key"] == "test-gemini"
    assert sent.headers["x-goog-api-key"] == "test-gemini"
    sent = _send(client, llm_server, "ollama", "llama3.2")
    assert sent.path == "/v1/chat/completions"


def test_openai_roles_and_tool_round_trip(client: Client, llm_server: ScriptedLLMServer) -> None:
    body = _send(client, llm_server, "openai", "gpt-5.2", messages=_history(), tools=[WEATHER]).body
    assert body["instructions"] == "Be terse."
    items = body["input"]
    assert items[0] == {
        "type": "message",
        "role": "developer",
        "content": [{"type": "input_text", "text": "Use metric units."}],
    }
    assert items[1]["role"] == "user" and items[1]["content"][0]["type"] == "input_text"
    assert items[2] == {
        "type": "function_call",
        "call_id": "call_7",
        "name": "get_weather",
        "arguments": json.dumps({"city": "Paris"}),
    }
    assert items[3] == {"type": "function_call_output", "call_id": "call_7", "output": "18C and sunny"}
    assert body["tools"] == [
        {
            "type": "function",
            "name": "get_weather",
            "description": "Weather for a city",
            "parameters": WEATHER.parameters,
        }
    ]


def test_anthropic_roles_alternation_and_thinking_round_trip(
    client: Client, llm_server: ScriptedLLMServer
) -> None:
    history = [*_history(), Message.user("And tomorrow?")]
    body = _send(client, llm_server, "anthropic", "claude-opus-4-6", messages=history, tools=[WEATHER]).body
    assert [b["text"] for b in body["system"]] == ["Be terse.", "Use metric units."]
    assert [m["role"] for m in body["messages"]] == ["user", "assistant", "user"]
    thinking, tool_use = body["messages"][1]["content"]
    assert thinking == {"type": "thinking", "thinking": "Need the tool.", "signature": "sig-1"}
    assert tool_use == {"type": "tool_use", "id": "call_7", "name": "get_weather", "input": {"city": "Paris"}}
    # the tool result and the next user text merge into one user turn (strict alternation)
    result, text = body["messages"][2]["content"]
    assert result["type"] == "tool_result" and result["tool_use_id"] == "call_7"
    assert result["content"] == "18C and sunny" and result["is_error"] is False
    assert text["text"] == "And tomorrow?"
    assert body["max_tokens"] == 4096
    assert body["tools"][0]["input_schema"] == WEATHER.parameters


def test_anthropic_redacted_thinking_passes_through_verbatim(
    client: Client, llm_server: ScriptedLLMServer
) -> None:
    history = [
        Message.user("q"),
        Message.assistant(
            [
                ContentPart(
                    kind=ContentKind.REDACTED_THINKING, thinking=ThinkingData(text="opaque==", redacted=True)
                ),
                ContentPart.of_text("a"),
            ]
        ),
        Message.user("q2"),
    ]
    body = _send(client, llm_server, "anthropic", "claude-opus-4-6", messages=history).body
    assert body["messages"][1]["content"][0] == {"type": "redacted_thinking", "data": "opaque=="}


def test_gemini_roles_and_function_names_for_results(client: Client, llm_server: ScriptedLLMServer) -> None:
    body = _send(
        client, llm_server, "gemini", "gemini-3-flash-preview", messages=_history(), tools=[WEATHER]
    ).body
    assert body["systemInstruction"] == {"parts": [{"text": "Be terse.\n\nUse metric units."}]}
    roles = [c["role"] for c in body["contents"]]
    assert roles == ["user", "model", "user"]
    model_parts = body["contents"][1]["parts"]
    assert model_parts[0] == {"text": "Need the tool.", "thought": True, "thoughtSignature": "sig-1"}
    assert model_parts[1] == {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}}
    assert body["contents"][2]["parts"] == [
        {"functionResponse": {"name": "get_weather", "response": {"result": "18C and sunny"}}}
    ]
    assert body["tools"] == [
        {
            "functionDeclarations": [
                {"name": "get_weather", "description": "Weather for a city", "parameters": WEATHER.parameters}
            ]
        }
    ]


def test_compat_roles(client: Client, llm_server: ScriptedLLMServer) -> None:
    body = _send(client, llm_server, "ollama", "llama3.2", messages=_history(), tools=[WEATHER]).body
    roles = [m["role"] for m in body["messages"]]
    assert roles == ["system", "system", "user", "assistant", "tool"]
    assert body["messages"][3]["tool_calls"][0]["function"] == {
        "name": "get_weather",
        "arguments": json.dumps({"city": "Paris"}),
    }
    assert body["messages"][4] == {"role": "tool", "tool_call_id": "call_7", "content": "18C and sunny"}
    assert body["tools"][0]["function"]["name"] == "get_weather"


def _images(tmp_path: Path) -> tuple[Message, Path]:
    path = tmp_path / "shot.png"
    path.write_bytes(PNG)
    return Message.user(
        [
            ContentPart.of_text("Compare"),
            ContentPart.of_image(url="https://example.com/a.jpg"),
            ContentPart.of_image(data=PNG, media_type="image/png", detail="high"),
            ContentPart.of_image(url=str(path)),
        ]
    ), path


def test_images_by_url_bytes_and_file_path(
    client: Client, llm_server: ScriptedLLMServer, tmp_path: Path
) -> None:
    message, _ = _images(tmp_path)
    b64 = base64.b64encode(PNG).decode()
    body = _send(client, llm_server, "openai", "gpt-5.2", messages=[message]).body
    parts = body["input"][0]["content"]
    assert parts[1] == {"type": "input_image", "image_url": "https://example.com/a.jpg"}
    assert parts[2] == {"type": "input_image", "image_url": f"data:image/png;base64,{b64}", "detail": "high"}
    assert parts[3]["image_url"] == f"data:image/png;base64,{b64}"

    body = _send(client, llm_server, "anthropic", "claude-opus-4-6", messages=[message]).body
    parts = body["messages"][0]["content"]
    assert parts[1]["source"] == {"type": "url", "url": "https://example.com/a.jpg"}
    assert parts[2]["source"] == {"type": "base64", "media_type": "image/png", "data": b64}
    assert parts[3]["source"]["data"] == b64

    body = _send(client, llm_server, "gemini", "gemini-3-flash-preview", messages=[message]).body
    parts = body["contents"][0]["parts"]
    assert parts[1] == {"fileData": {"mimeType": "image/png", "fileUri": "https://example.com/a.jpg"}}
    assert parts[2] == {"inlineData": {"mimeType": "image/png", "data": b64}}
    assert parts[3] == {"inlineData": {"mimeType": "image/png", "data": b64}}

    body = _send(client, llm_server, "ollama", "llava", messages=[message]).body
    parts = body["messages"][0]["content"]
    assert parts[0] == {"type": "text", "text": "Compare"}
    assert parts[2]["image_url"] == {"url": f"data:image/png;base64,{b64}", "detail": "high"}


def test_audio_is_sent_to_gemini_and_rejected_where_unsupported(
    client: Client, llm_server: ScriptedLLMServer
) -> None:
    from shopfloor.llm.errors import InvalidRequestError

    audio = Message.user(
        [ContentPart(kind=ContentKind.AUDIO, audio=AudioData(data=b"RIFF", media_type="audio/wav"))]
    )
    body = _send(client, llm_server, "gemini", "gemini-3-flash-preview", messages=[audio]).body
    assert body["contents"][0]["parts"][0]["inlineData"]["mimeType"] == "audio/wav"
    for provider, model in (("openai", "gpt-5.2"), ("anthropic", "claude-opus-4-6")):
        with pytest.raises(InvalidRequestError, match="audio"):
            client.complete(Request(model=model, provider=provider, messages=[audio]))


@pytest.mark.parametrize(
    ("mode", "openai", "anthropic", "gemini"),
    [
        ("auto", "auto", {"type": "auto"}, {"mode": "AUTO"}),
        ("none", "none", None, {"mode": "NONE"}),
        ("required", "required", {"type": "any"}, {"mode": "ANY"}),
        (
            "named",
            {"type": "function", "name": "get_weather"},
            {"type": "tool", "name": "get_weather"},
            {"mode": "ANY", "allowedFunctionNames": ["get_weather"]},
        ),
    ],
)
def test_tool_choice_translation(
    client: Client, llm_server: ScriptedLLMServer, mode: str, openai: Any, anthropic: Any, gemini: Any
) -> None:
    choice = ToolChoice(mode=mode, tool_name="get_weather" if mode == "named" else None)
    body = _send(client, llm_server, "openai", "gpt-5.2", tools=[WEATHER], tool_choice=choice).body
    assert body["tool_choice"] == openai
    body = _send(client, llm_server, "anthropic", "claude-opus-4-6", tools=[WEATHER], tool_choice=choice).body
    if anthropic is None:  # Anthropic cannot say "none": the tools are left out
        assert "tools" not in body and "tool_choice" not in body
    else:
        assert body["tool_choice"] == anthropic
    body = _send(
        client, llm_server, "gemini", "gemini-3-flash-preview", tools=[WEATHER], tool_choice=choice
    ).body
    assert body["toolConfig"] == {"functionCallingConfig": gemini}
    body = _send(client, llm_server, "ollama", "llama3.2", tools=[WEATHER], tool_choice=choice).body
    assert body["tool_choice"] == (
        {"type": "function", "function": {"name": "get_weather"}} if mode == "named" else mode
    )


def test_generation_parameters(client: Client, llm_server: ScriptedLLMServer) -> None:
    params = {"temperature": 0.2, "top_p": 0.9, "max_tokens": 77, "stop_sequences": ["END"]}
    body = _send(client, llm_server, "openai", "gpt-5.2", **params, reasoning_effort="high").body
    assert (body["temperature"], body["top_p"], body["max_output_tokens"]) == (0.2, 0.9, 77)
    assert body["reasoning"] == {"effort": "high"}
    body = _send(client, llm_server, "anthropic", "claude-opus-4-6", **params).body
    assert (body["temperature"], body["top_p"], body["max_tokens"], body["stop_sequences"]) == (
        0.2,
        0.9,
        77,
        ["END"],
    )
    body = _send(
        client, llm_server, "gemini", "gemini-3-flash-preview", **params, reasoning_effort="low"
    ).body
    assert body["generationConfig"] == {
        "temperature": 0.2,
        "topP": 0.9,
        "maxOutputTokens": 77,
        "stopSequences": ["END"],
        "thinkingConfig": {"thinkingLevel": "low"},
    }
    body = _send(client, llm_server, "ollama", "llama3.2", **params).body
    assert (body["max_tokens"], body["stop"]) == (77, ["END"])


def test_provider_options_pass_through(client: Client, llm_server: ScriptedLLMServer) -> None:
    options = {
        "openai": {"tools": [{"type": "web_search_preview"}], "store": False},
        "anthropic": {
            "thinking": {"type": "enabled", "budget_tokens": 2000},
            "top_k": 5,
            "beta_headers": ["interleaved-thinking-2025-05-14"],
        },
        "gemini": {
            "safetySettings": [{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_NONE"}],
            "cachedContent": "cachedContents/abc",
        },
        "ollama": {"options": {"num_ctx": 8192}},
    }
    body = _send(client, llm_server, "openai", "gpt-5.2", tools=[WEATHER], provider_options=options).body
    assert body["store"] is False and body["tools"][-1] == {"type": "web_search_preview"}
    sent = _send(client, llm_server, "anthropic", "claude-opus-4-6", provider_options=options)
    assert sent.body["thinking"] == {"type": "enabled", "budget_tokens": 2000} and sent.body["top_k"] == 5
    assert "beta_headers" not in sent.body
    assert sent.headers["anthropic-beta"].split(",") == [
        "interleaved-thinking-2025-05-14",
        "prompt-caching-2024-07-31",
    ]
    body = _send(client, llm_server, "gemini", "gemini-3-flash-preview", provider_options=options).body
    assert (
        body["cachedContent"] == "cachedContents/abc"
        and body["safetySettings"][0]["threshold"] == "BLOCK_NONE"
    )
    body = _send(client, llm_server, "ollama", "llama3.2", provider_options=options).body
    assert body["options"] == {"num_ctx": 8192}


def _breakpoints(body: dict[str, Any]) -> list[str]:
    where = [f"system[{i}]" for i, b in enumerate(body.get("system", [])) if "cache_control" in b]
    where += [f"tools[{i}]" for i, t in enumerate(body.get("tools", [])) if "cache_control" in t]
    for m, message in enumerate(body["messages"]):
        where += [f"messages[{m}][{i}]" for i, b in enumerate(message["content"]) if "cache_control" in b]
    return where


def test_anthropic_automatic_cache_breakpoints(client: Client, llm_server: ScriptedLLMServer) -> None:
    history = [
        Message.system("You are an agent."),
        Message.user("turn 1"),
        Message.assistant("a1"),
        Message.user("turn 2"),
        Message.assistant("a2"),
        Message.user("turn 3"),
    ]
    sent = _send(client, llm_server, "anthropic", "claude-opus-4-6", messages=history, tools=[WEATHER])
    assert _breakpoints(sent.body) == ["system[0]", "tools[0]", "messages[2][0]", "messages[4][0]"]
    assert all(b == {"type": "ephemeral"} for b in [sent.body["system"][0]["cache_control"]])
    assert "prompt-caching-2024-07-31" in sent.headers["anthropic-beta"]


def test_anthropic_automatic_caching_can_be_disabled(client: Client, llm_server: ScriptedLLMServer) -> None:
    sent = _send(
        client,
        llm_server,
        "anthropic",
        "claude-opus-4-6",
        messages=[Message.system("s"), Message.user("u")],
        provider_options={"anthropic": {"auto_cache": False}},
    )
    assert _breakpoints(sent.body) == [] and "anthropic-beta" not in sent.headers
    assert "auto_cache" not in sent.body


def test_openai_and_gemini_need_no_cache_configuration(client: Client, llm_server: ScriptedLLMServer) -> None:
    for provider, model in (("openai", "gpt-5.2"), ("gemini", "gemini-3-flash-preview")):
        sent = _send(client, llm_server, provider, model, messages=[Message.system("s"), Message.user("u")])
        assert "cache_control" not in json.dumps(sent.body)


def test_structured_output_mechanism_per_provider(client: Client, llm_server: ScriptedLLMServer) -> None:
    from shopfloor.llm.types import ResponseFormat

    schema = {
        "type": "object",
        "properties": {"name": {"type": "string"}},
        "required": ["name"],
        "additionalProperties": False,
    }
    fmt = ResponseFormat(type="json_schema", json_schema=schema, strict=True, name="person")
    body = _send(client, llm_server, "openai", "gpt-5.2", response_format=fmt).body
    assert body["text"] == {
        "format": {"type": "json_schema", "name": "person", "schema": schema, "strict": True}
    }
    body = _send(client, llm_server, "gemini", "gemini-3-flash-preview", response_format=fmt).body
    assert body["generationConfig"]["responseMimeType"] == "application/json"
    assert body["generationConfig"]["responseSchema"] == {
        "type": "object",
        "properties": {"name": {"type": "string"}},
        "required": ["name"],
    }
    body = _send(client, llm_server, "anthropic", "claude-opus-4-6", response_format=fmt).body
    assert body["tool_choice"] == {"type": "tool", "name": "structured_output"}
    assert body["tools"][-1]["input_schema"] == schema
    body = _send(client, llm_server, "ollama", "llama3.2", response_format=fmt).body
    assert body["response_format"]["json_schema"]["schema"] == schema


def test_tool_results_with_structured_content_and_errors(
    client: Client, llm_server: ScriptedLLMServer
) -> None:
    history = [
        Message.user("q"),
        Message.assistant(
            [
                ContentPart(
                    kind=ContentKind.TOOL_CALL,
                    tool_call=ToolCallData(id="c1", name="get_weather", arguments={}),
                )
            ]
        ),
        Message.tool_result("c1", {"temp": 18}),
        Message(role=Role.TOOL, content=Message.tool_result("c1", "boom", is_error=True).content),
    ]
    body = _send(client, llm_server, "gemini", "gemini-3-flash-preview", messages=history).body
    assert body["contents"][2]["parts"] == [
        {"functionResponse": {"name": "get_weather", "response": {"temp": 18}}},
        {"functionResponse": {"name": "get_weather", "response": {"error": "boom"}}},
    ]
    body = _send(client, llm_server, "anthropic", "claude-opus-4-6", messages=history).body
    results = body["messages"][2]["content"]
    assert results[0]["content"] == '{"temp": 18}' and results[1]["is_error"] is True


def test_reasoning_from_another_provider_is_not_replayed(
    client: Client, llm_server: ScriptedLLMServer
) -> None:
    """Signatures only hold with the provider that made them (spec 3.5): switching providers drops them."""
    llm_server.push(
        Reply(text="A", reasoning="anthropic thoughts", signature="sig-a"),
        Reply(text="G", reasoning="gemini thoughts"),
    )
    from_anthropic = client.complete(Request(model="claude-opus-4-6", messages=[Message.user("q")])).message
    from_gemini = client.complete(
        Request(model="gemini-3-flash-preview", messages=[Message.user("q")])
    ).message
    history = [Message.user("q"), from_anthropic, Message.user("q2"), from_gemini, Message.user("q3")]
    gemini_body = _send(client, llm_server, "gemini", "gemini-3-flash-preview", messages=history).body
    thoughts = [p["text"] for c in gemini_body["contents"] for p in c["parts"] if p.get("thought")]
    assert thoughts == ["gemini thoughts"]
    anthropic_body = _send(client, llm_server, "anthropic", "claude-opus-4-6", messages=history).body
    thinking = [b for m in anthropic_body["messages"] for b in m["content"] if b["type"] == "thinking"]
    assert thinking == [{"type": "thinking", "thinking": "anthropic thoughts", "signature": "sig-a"}]
    openai_body = _send(client, llm_server, "openai", "gpt-5.2", messages=history).body
    assert "thoughts" not in json.dumps(openai_body)


def test_documents_per_provider(client: Client, llm_server: ScriptedLLMServer) -> None:
    from shopfloor.llm.errors import InvalidRequestError
    from shopfloor.llm.types import DocumentData

    pdf = b"%PDF-1.7 tiny"
    b64 = base64.b64encode(pdf).decode()
    doc = Message.user(
        [
            ContentPart.of_text("Summarise"),
            ContentPart(
                kind=ContentKind.DOCUMENT,
                document=DocumentData(data=pdf, media_type="application/pdf", file_name="a.pdf"),
            ),
        ]
    )
    body = _send(client, llm_server, "openai", "gpt-5.2", messages=[doc]).body
    assert body["input"][0]["content"][1] == {
        "type": "input_file",
        "filename": "a.pdf",
        "file_data": f"data:application/pdf;base64,{b64}",
    }
    body = _send(client, llm_server, "anthropic", "claude-opus-4-6", messages=[doc]).body
    assert body["messages"][0]["content"][1]["source"] == {
        "type": "base64",
        "media_type": "application/pdf",
        "data": b64,
    }
    body = _send(client, llm_server, "gemini", "gemini-3-flash-preview", messages=[doc]).body
    assert body["contents"][0]["parts"][1] == {"inlineData": {"mimeType": "application/pdf", "data": b64}}
    with pytest.raises(InvalidRequestError, match="document"):
        client.complete(Request(model="llama3.2", provider="ollama", messages=[doc]))
