"""Live progress of a run on a terminal: one line per stage event, written to stderr as it happens."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape

from shopfloor.pipeline import events as ev


class ProgressPrinter:
    """An EventBus observer; stdout stays free for the result (and for --json)."""

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console(stderr=True, highlight=False)

    def __call__(self, event: ev.PipelineEvent) -> None:
        # Only the markup written here is markup: errors quote config like `[[targets]]`.
        line = self._line(event)
        if line:
            self.console.print(line)

    def _line(self, event: ev.PipelineEvent) -> str:
        match event:
            case ev.PipelineStarted():
                return f"[bold]▶ {event.name}[/] run {event.id} → {event.logs_root}"
            case ev.PipelineResumed():
                return f"[bold]▶ resuming {event.name}[/] at {event.next_node}"
            case ev.StageStarted():
                return f"  [dim]… {event.name} ({event.handler})[/]"
            case ev.StageCompleted():
                mark = "[green]✓[/]" if event.status == "success" else "[yellow]~[/]"
                return f"  {mark} {event.name} [dim]{event.status} {event.duration:.2f}s[/]"
            case ev.StageFailed():
                tail = " [dim](will retry)[/]" if event.will_retry else ""
                return f"  [red]✗[/] {escape(event.name)}: {escape(str(event.error))}{tail}"
            case ev.StageRetrying():
                return f"  [yellow]↻[/] {event.name} attempt {event.attempt} in {event.delay:.2f}s"
            case ev.StageRecovered():
                return f"  [cyan]↺[/] {event.name} recovered from status.json ({event.status})"
            case ev.ParallelStarted():
                return f"  [bold]⇉[/] {event.node}: {event.branch_count} branches"
            case ev.ParallelCompleted():
                return f"  [bold]⇇[/] joined: {event.success_count} ok, {event.failure_count} failed"
            case ev.InterviewStarted():
                return f"  [magenta]?[/] {event.stage}: {event.question}"
            case ev.InterviewCompleted():
                return f"  [magenta]→[/] {event.answer}"
            case ev.GoalGateUnsatisfied():
                target = event.retry_target or "(none)"
                return f"  [yellow]⚑[/] goal gate {event.node} is {event.status}; back to {target}"
            case ev.PipelineRestarted():
                return f"  [bold]⟲[/] loop restart at {event.target} in {event.new_logs_root}"
            case ev.PipelineStopped():
                return f"[yellow]■ stopped[/] before {event.next_node}: {event.reason}"
        return ""
