"""The event stream: readers tolerate torn lines, empty files and unknown kinds."""

import json

from sslbench.core.events import EventTail, EventWriter, read_events, truncate_after


def test_torn_last_line_yields_every_whole_line(tmp_path):
    p = tmp_path / "events.jsonl"
    lines = [json.dumps({"kind": "batch", "step": i, "loss": {"supervised": 1.0 / (i + 1)}}) for i in range(5)]
    p.write_text("\n".join(lines) + "\n" + '{"kind": "batch", "st')
    evs = read_events(p)
    assert [e["step"] for e in evs] == [0, 1, 2, 3, 4]


def test_empty_and_missing_files(tmp_path):
    (tmp_path / "e.jsonl").write_text("")
    assert read_events(tmp_path / "e.jsonl") == []
    assert read_events(tmp_path / "missing.jsonl") == []
    assert EventTail(tmp_path / "missing.jsonl").poll() == []


def test_unknown_kinds_and_garbage_are_passed_or_skipped(tmp_path):
    p = tmp_path / "events.jsonl"
    p.write_text('{"kind": "from_the_future", "x": 1}\nnot json\n[1, 2]\n{"no_kind": 1}\n{"kind": "eval", "step": 3}\n'
                 '{"kind": "eval", "step": 4, "top1": 0.5}\n')
    kinds = [(e["kind"], e.get("step")) for e in read_events(p)]
    # readers pass kinds they do not know (to skip); non-events and malformed known kinds (no top1) are dropped
    assert [k for k, _ in kinds] == ["from_the_future", "eval"] and kinds[1][1] == 4


def test_tail_returns_a_line_only_once_it_is_complete(tmp_path):
    p = tmp_path / "events.jsonl"
    tail = EventTail(p)
    with open(p, "w") as f:
        f.write('{"kind": "batch", "step": 1, "loss": {}}\n{"kind": "batch", "st')
        f.flush()
        assert [e["step"] for e in tail.poll()] == [1]
        f.write('ep": 2, "loss": {}}\n')
        f.flush()
        assert [e["step"] for e in tail.poll()] == [2]
        assert tail.poll() == []


def test_writer_appends_with_time_and_truncate_drops_later_steps(tmp_path):
    p = tmp_path / "events.jsonl"
    seen = []
    w = EventWriter(p, listener=seen.append)
    for s in range(1, 6):
        w.write("batch", step=s, loss={})
    w.close()
    assert len(seen) == 5 and all("t" in e for e in seen)
    truncate_after(p, 3)
    assert [e["step"] for e in read_events(p)] == [1, 2, 3]
