"""Shortened soak (CI): 300 commands at 10/s with a 30 Hz camera into a real node (tiny-random).
The full run is `octopus-ros soak --commands 10000` (numbers in docs/safety.md).

Proves, for this run: every request_id got exactly one terminal outcome (pending followed by exactly one
of confirmed / rejected / expired), no outcome for an unknown id, every FunctionCall on the action topic
belongs to a call/confirmed outcome, and the node exits 0 on SIGINT. Memory growth is reported (printed),
and only grossly bounded here: 300 commands are too few to tell a slow leak from warm-up."""
from __future__ import annotations

import pytest

pytestmark = [pytest.mark.ros]
pytest.importorskip("rclpy")


def test_soak_300_commands_every_request_gets_one_outcome(tmp_path, ros_domain_id, capsys):
    from octopus_ros.safety.soak import run_soak

    report = run_soak(commands=300, rate_hz=10.0, camera_hz=30.0, image_size=(240, 320), seed=1,
                      log_path=tmp_path / "node.log")
    with capsys.disabled():
        print("\n" + "\n".join("soak: " + line for line in report.lines()))
    assert report.commands == 300
    assert not report.missing and not report.duplicates and not report.unknown, report.lines()
    assert not report.unconfirmed_actions, report.unconfirmed_actions
    assert sum(report.outcomes.values()) == 300 and report.ok
    assert report.node_exit_code == 0, (tmp_path / "node.log").read_text()[-3000:]
    assert report.frames_published >= 30 * 300 / 10 * 0.8
    assert report.growth_kib < 200 * 1024, report.lines()  # gross leak guard only (see the docstring)
