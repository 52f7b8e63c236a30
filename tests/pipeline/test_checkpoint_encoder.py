"""The incremental checkpoint encoder writes exactly what a full json.dumps would, whatever changed."""

from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path

from shopfloor.pipeline.checkpoint import Checkpoint, CheckpointEncoder


def _full_encoding(ckpt: Checkpoint) -> bytes:
    data = {f.name: getattr(ckpt, f.name) for f in fields(ckpt)}
    return (json.dumps(data, separators=(",", ":"), default=str) + "\n").encode()


def test_growing_node_maps_encode_like_a_full_dump() -> None:
    encoder, ckpt = CheckpointEncoder(), Checkpoint(run_id="r", context={"goal": "x"})
    for i in range(20):
        ckpt.completed_nodes.append(f"n{i}")
        ckpt.node_outcomes[f"n{i}"] = "success"
        ckpt.node_attempts[f"n{i}"] = 1
        assert encoder.encode(ckpt) == _full_encoding(ckpt)


def test_changes_inside_the_cached_prefix_are_not_missed() -> None:
    encoder, ckpt = CheckpointEncoder(), Checkpoint(run_id="r")
    ckpt.completed_nodes = ["a", "b", "c"]
    ckpt.node_outcomes = {"a": "success", "b": "fail"}
    ckpt.node_attempts = {"a": 1, "b": 1}
    encoder.encode(ckpt)
    edits = [
        lambda: ckpt.node_attempts.update(b=2),            # a revisit: a value changes in place
        lambda: ckpt.node_outcomes.update(b="success"),
        lambda: ckpt.node_attempts.update(a=True),         # equal to 1, yet different JSON
        lambda: ckpt.node_attempts.update(a=1.0),
        lambda: ckpt.node_outcomes.pop("a"),
        lambda: ckpt.node_outcomes.update(a="ü"),          # re-inserted at the end, non-ASCII
        lambda: setattr(ckpt, "completed_nodes", ["z"]),   # a fresh list (loop_restart)
        lambda: ckpt.completed_nodes.append({"nested": [1]}),
        lambda: ckpt.completed_nodes.append("after-nested"),
    ]
    for edit in edits:
        edit()
        assert encoder.encode(ckpt) == _full_encoding(ckpt)


def test_saved_checkpoint_loads_back(tmp_path: Path) -> None:
    encoder = CheckpointEncoder()
    ckpt = Checkpoint(run_id="r", completed_nodes=["start"], node_outcomes={"start": "success"},
                      node_attempts={"start": 1}, next_node="a")
    ckpt.save(tmp_path, encoder=encoder)
    ckpt.completed_nodes.append("a")
    ckpt.save(tmp_path, encoder=encoder)
    loaded = Checkpoint.load(tmp_path)
    assert loaded.completed_nodes == ["start", "a"]
    assert loaded.node_outcomes == {"start": "success"}
    assert loaded.timestamp == ckpt.timestamp
