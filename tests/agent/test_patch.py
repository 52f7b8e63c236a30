"""The v4a patch format (spec Appendix A): parsing and hunk matching."""

from __future__ import annotations

import pytest

from shopfloor.agent.patch import (
    AddFile,
    DeleteFile,
    PatchApplyError,
    PatchParseError,
    UpdateFile,
    apply_hunks,
    parse_patch,
)


def test_parses_add_delete_update_and_move() -> None:
    ops = parse_patch(
        "*** Begin Patch\n"
        "*** Add File: src/helpers.py\n+def greet(name):\n+    return f'Hello, {name}!'\n"
        "*** Delete File: src/old.py\n"
        "*** Update File: old_name.py\n*** Move to: new_name.py\n"
        "@@ import os\n import sys\n-import old\n+import new\n"
        "*** End Patch\n"
    )
    assert (
        isinstance(ops[0], AddFile) and ops[0].content == "def greet(name):\n    return f'Hello, {name}!'\n"
    )
    assert isinstance(ops[1], DeleteFile) and ops[1].path == "src/old.py"
    update = ops[2]
    assert isinstance(update, UpdateFile) and update.move_to == "new_name.py"
    assert update.hunks[0].context_hint == "import os"
    assert update.hunks[0].old == ["import sys", "import old"]
    assert update.hunks[0].new == ["import sys", "import new"]


@pytest.mark.parametrize(
    "text, message",
    [
        ("*** Update File: a.py\n*** End Patch", "first line"),
        ("*** Begin Patch\n*** Add File: a.py\n+x\n", "last line"),
        ("*** Begin Patch\n*** Frobnicate: a.py\n*** End Patch", "expected"),
        ("*** Begin Patch\n*** Add File: a.py\nno plus\n*** End Patch", "start with '\\+'"),
        ("*** Begin Patch\n*** End Patch", "no file operations"),
    ],
)
def test_malformed_patches_are_rejected_with_the_reason(text: str, message: str) -> None:
    with pytest.raises(PatchParseError, match=message):
        parse_patch(text)


def test_update_uses_the_context_hint_and_keeps_the_trailing_newline() -> None:
    original = "def main():\n    print('Hello')\n    return 0\n\ndef other():\n    return 0\n"
    [update] = parse_patch(
        "*** Begin Patch\n*** Update File: m.py\n@@ def main():\n     print('Hello')\n-    return 0\n"
        "+    print('World')\n+    return 1\n*** End Patch"
    )
    assert isinstance(update, UpdateFile)
    assert apply_hunks(original, update.hunks, "m.py") == (
        "def main():\n    print('Hello')\n    print('World')\n    return 1\n\ndef other():\n    return 0\n"
    )


def test_multi_hunk_update_where_the_hint_line_itself_changes() -> None:
    original = "DEFAULT_TIMEOUT = 30\n\ndef load_config():\n    config = {}\n    config['debug'] = False\n"
    [update] = parse_patch(
        "*** Begin Patch\n*** Update File: c.py\n@@ DEFAULT_TIMEOUT = 30\n-DEFAULT_TIMEOUT = 30\n"
        "+DEFAULT_TIMEOUT = 60\n@@ def load_config():\n     config = {}\n-    config['debug'] = False\n"
        "+    config['debug'] = True\n*** End Patch"
    )
    assert isinstance(update, UpdateFile)
    result = apply_hunks(original, update.hunks, "c.py")
    assert "DEFAULT_TIMEOUT = 60\n" in result and "config['debug'] = True" in result
    assert "30" not in result


def test_fuzzy_matching_tolerates_whitespace_and_unicode_punctuation() -> None:
    original = "msg = \u201chello\u201d   \nx = 1\n"
    [update] = parse_patch(
        '*** Begin Patch\n*** Update File: f.py\n@@\n-msg = "hello"\n+msg = "bye"\n x = 1\n*** End Patch'
    )
    assert isinstance(update, UpdateFile)
    assert apply_hunks(original, update.hunks, "f.py") == 'msg = "bye"\nx = 1\n'


def test_a_hunk_that_does_not_match_names_the_file_and_lines() -> None:
    [update] = parse_patch("*** Begin Patch\n*** Update File: f.py\n@@\n-absent line\n+new\n*** End Patch")
    assert isinstance(update, UpdateFile)
    with pytest.raises(PatchApplyError, match=r"(?s)f.py: hunk 1 does not match.*absent line"):
        apply_hunks("something else\n", update.hunks, "f.py")


def test_end_of_file_marker_anchors_the_hunk_at_the_end() -> None:
    original = "x = 1\ny = 2\nx = 1\n"
    [update] = parse_patch(
        "*** Begin Patch\n*** Update File: f.py\n@@\n-x = 1\n+x = 3\n*** End of File\n*** End Patch"
    )
    assert isinstance(update, UpdateFile)
    assert apply_hunks(original, update.hunks, "f.py") == "x = 1\ny = 2\nx = 3\n"
