"""The fleet simulation in push mode (bench/fleet.py --push): devices hear the live events
socket instead of polling the sync status, and the flaky fleet still converges."""

from bench.fleet import Config, Fleet, spawned_server


def test_a_pushed_fleet_converges_on_what_its_events_tell_it():
    with spawned_server(token_seconds=2, push=True) as server:
        result = Fleet(
            server.http, Config(seed=11, users=2, devices=6, steps=200, push=True), server.events
        ).run()

    assert result["mode"] == "push"
    assert result["breaches"] == []
    assert result["server_errors"] == 0
    assert result["convergence_rounds"] >= 1
    assert result["converged_versions"] >= 2
    events = result["events"]
    assert events["heard_sync.version"] > 0
    assert events["heard_backup.created"] > 0
    assert events["pulls_on_event"] > 0, "an event should have made a device pull"
    assert events["adoptions"] > 0
    # Sockets closed for their expired token were reopened, and went on hearing events.
    assert events["socket_closed_4001"] > 0
    assert events["socket_opens"] > result["devices"]
    assert events["invariants_checked"] == 1 + 2 * 9
