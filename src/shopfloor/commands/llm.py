"""`shopfloor llm ask`: one prompt through the configured provider, to check a setup.

    shopfloor llm ask "PROMPT" [--model M] [--provider P] [--system S] [--max-tokens N] [--json]
    shopfloor llm models [--provider P] [--json]

Providers come from the environment (see docs/llm.md). With none configured the
command says which variables to set, in one line, and exits 2.
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING

import typer

from shopfloor.errors import UserError

if TYPE_CHECKING:
    from shopfloor.llm.client import Client

llm_app = typer.Typer(help="Talk to the configured LLM providers.", no_args_is_help=True)

# Output tokens `llm ask` allows unless --max-tokens says otherwise.
DEFAULT_ASK_MAX_TOKENS = 1024
EXIT_PROVIDER_ERROR = 1


def _client(provider: str | None) -> Client:
    from shopfloor.llm.client import PROVIDER_ENV_HELP, Client
    from shopfloor.llm.errors import ConfigurationError

    try:
        client = Client.from_env()
    except ConfigurationError as exc:
        raise UserError(exc.message, where="environment", fix=PROVIDER_ENV_HELP) from None
    if not client.providers:
        raise UserError("no LLM provider configured", where="environment", fix=PROVIDER_ENV_HELP)
    if provider is not None and provider not in client.providers:
        raise UserError(
            f"provider {provider!r} is not configured (configured: {', '.join(client.providers)})",
            where="--provider",
            fix=PROVIDER_ENV_HELP,
        )
    return client


@llm_app.command("ask")
def ask_command(
    prompt: str = typer.Argument(..., help="What to ask."),
    model: str | None = typer.Option(
        None, "--model", "-m", help="Model id (default: the provider's newest)."
    ),
    provider: str | None = typer.Option(
        None, "--provider", "-p", help="openai, anthropic, gemini, ollama, …"
    ),
    system: str | None = typer.Option(None, "--system", help="A system prompt."),
    max_tokens: int = typer.Option(DEFAULT_ASK_MAX_TOKENS, "--max-tokens", help="Output token limit."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object instead of streaming text."),
) -> None:
    """Send one prompt and print the answer (streamed), its usage and its cost."""
    from shopfloor.llm.errors import ConfigurationError, SDKError, UnknownModelError
    from shopfloor.llm.generation import generate
    from shopfloor.llm.streaming import stream
    from shopfloor.llm.types import StreamEventType

    client = _client(provider)
    try:
        if as_json:
            result = generate(
                model, prompt, system=system, provider=provider, max_tokens=max_tokens, client=client
            )
            response = result.response
            typer.echo(
                json.dumps(
                    {
                        "text": response.text,
                        "model": response.model,
                        "provider": response.provider,
                        "finish_reason": response.finish_reason.reason,
                        "usage": response.usage.model_dump(exclude={"raw"}),
                        "cost_usd": response.cost_usd,
                    }
                )
            )
            return
        streamed = stream(
            model, prompt, system=system, provider=provider, max_tokens=max_tokens, client=client
        )
        for event in streamed:
            if event.type == StreamEventType.TEXT_DELTA and event.delta:
                sys.stdout.write(event.delta)
                sys.stdout.flush()
        response = streamed.response()
        sys.stdout.write("\n")
        usage = response.usage
        typer.echo(
            f"[{response.provider} {response.model}: {usage.input_tokens} in / {usage.output_tokens} out "
            f"tokens, ${response.cost_usd:.6f}]",
            err=True,
        )
    except (ConfigurationError, UnknownModelError) as exc:
        raise UserError(
            exc.message, where="--model/--provider", fix="pick a model from `shopfloor llm models`"
        ) from None
    except SDKError as exc:
        raise UserError(
            str(exc),
            where="LLM call",
            fix="check the key, base URL and model of that provider",
            exit_code=EXIT_PROVIDER_ERROR,
        ) from None
    finally:
        client.close()


@llm_app.command("models")
def models_command(
    provider: str | None = typer.Option(None, "--provider", "-p", help="Only this provider's models."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON array."),
) -> None:
    """List the model catalog: ids, context windows and USD prices per million tokens."""
    from shopfloor.llm.catalog import list_models

    models = list_models(provider)
    if as_json:
        typer.echo(json.dumps([m.model_dump() for m in models]))
        return
    for m in models:
        price = (
            f"${m.input_cost_per_million:g}/${m.output_cost_per_million:g}"
            if m.input_cost_per_million is not None and m.output_cost_per_million is not None
            else "price unknown"
        )
        typer.echo(f"{m.provider:<10} {m.id:<26} {m.context_window:>8} ctx  {price} per 1M in/out")


def register(app: typer.Typer) -> None:
    app.add_typer(llm_app, name="llm")
