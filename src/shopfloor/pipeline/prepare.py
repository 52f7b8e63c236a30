"""parse → transform → validate (attractor-spec 9.1): the one way a pipeline becomes runnable.

`prepare_pipeline(path_or_source)` returns a Graph with no error diagnostics or
raises a UserError whose one line points at file:line:col. A `Preparer` holds
custom transforms and lint rules for callers (the engine, the server) that
register their own (9.3, 7.4).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from shopfloor.errors import UserError
from shopfloor.pipeline.diagnostics import Diagnostic, Severity, errors
from shopfloor.pipeline.graph import Graph
from shopfloor.pipeline.lint_rules import LintRule
from shopfloor.pipeline.parser import DotSyntaxError, parse_dot
from shopfloor.pipeline.transforms import TransformLike, apply_transforms, built_in_transforms
from shopfloor.pipeline.validation import ValidationError, validate

#: Largest pipeline file read; a bigger file is almost surely not a pipeline.
DEFAULT_MAX_PIPELINE_BYTES = 10 * 1024 * 1024


def read_pipeline(path_or_source: str | Path, *,
                  max_bytes: int = DEFAULT_MAX_PIPELINE_BYTES) -> tuple[str, str]:
    """(source text, filename). A Path, or a str without `{` or newlines, is read as a file."""
    if isinstance(path_or_source, str) and ("{" in path_or_source or "\n" in path_or_source):
        return path_or_source, "<string>"
    path = Path(path_or_source)
    if not path.exists():
        raise UserError("pipeline file not found", where=str(path), fix="check the path")
    if not path.is_file():
        raise UserError("not a file", where=str(path), fix="pass a .dot file")
    size = path.stat().st_size
    if size > max_bytes:
        raise UserError(f"pipeline file is {size} bytes, over the {max_bytes}-byte limit", where=str(path),
                        fix="split the pipeline, or raise max_bytes")
    try:
        return path.read_text(encoding="utf-8"), str(path)
    except UnicodeDecodeError as exc:
        raise UserError(f"not UTF-8 text (byte {exc.start})", where=str(path),
                        fix="save the file as UTF-8") from None
    except OSError as exc:
        raise UserError(f"cannot read: {exc.strerror}", where=str(path), fix="check permissions") from None


def parse_pipeline(path_or_source: str | Path) -> Graph:
    """Read and parse only, no transforms or checks: the graph as written (`shopfloor parse`, render)."""
    return parse_dot(*read_pipeline(path_or_source))


def syntax_diagnostic(exc: DotSyntaxError) -> Diagnostic:
    """A parse error as a diagnostic of rule `syntax`, for reports that list everything."""
    return Diagnostic("syntax", Severity.ERROR, exc.what, fix=exc.fix or "", loc=exc.loc)


@dataclass
class PreparedPipeline:
    graph: Graph
    diagnostics: list[Diagnostic]
    #: The DOT text the graph was parsed from (callers that keep a copy need not read the file again).
    source: str = ""

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity is not Severity.ERROR]


@dataclass
class Preparer:
    """Built-in transforms, then `transforms` in order; built-in lint rules, then `rules`."""

    transforms: list[TransformLike] = field(default_factory=list)
    rules: list[LintRule] = field(default_factory=list)
    handler_types: Iterable[str] = ()

    def register_transform(self, transform: TransformLike) -> None:
        self.transforms.append(transform)

    def register_rule(self, rule: LintRule) -> None:
        self.rules.append(rule)

    def check(self, path_or_source: str | Path) -> PreparedPipeline:
        """Parse and transform, and return every diagnostic without raising on errors."""
        source, filename = read_pipeline(path_or_source)
        graph = apply_transforms(parse_dot(source, filename), [*built_in_transforms(), *self.transforms])
        return PreparedPipeline(graph, validate(graph, self.rules, handler_types=self.handler_types), source)

    def diagnose(self, path_or_source: str | Path) -> list[Diagnostic]:
        """Every diagnostic, a syntax error included as one `syntax` diagnostic (for lint output).

        A missing or unreadable file is still raised: there is nothing to diagnose.
        """
        try:
            return self.check(path_or_source).diagnostics
        except DotSyntaxError as exc:
            return [syntax_diagnostic(exc)]

    def prepare(self, path_or_source: str | Path) -> PreparedPipeline:
        """Like `check`, but raises ValidationError (a UserError) when there are errors."""
        prepared = self.check(path_or_source)
        if errors(prepared.diagnostics):
            filename = prepared.graph.filename
            raise ValidationError(prepared.diagnostics, "" if filename == "<string>" else filename)
        return prepared


def prepare_pipeline(path_or_source: str | Path, *, transforms: Iterable[TransformLike] = (),
                     extra_rules: Iterable[LintRule] = (), handler_types: Iterable[str] = ()) -> Graph:
    """parse → built-in and custom transforms → validate; a runnable Graph or a one-line UserError."""
    preparer = Preparer(list(transforms), list(extra_rules), handler_types)
    return preparer.prepare(path_or_source).graph
