"""The fleet simulation (bench/fleet.py) against a live server of this checkout: many
devices on a flaky network converge, and nothing is lost."""

from bench.fleet import Config, Fleet, spawned_server

TIMINGS = ("chaos_seconds", "convergence_seconds", "total_seconds")


def test_a_flaky_fleet_converges_with_every_invariant_held():
    with spawned_server(token_seconds=2) as server:
        result = Fleet(server.http, Config(seed=11, users=3, devices=8, steps=300)).run()

    assert result["breaches"] == []
    assert result["server_errors"] == 0
    assert result["convergence_rounds"] >= 1
    network = result["network"]
    assert min(network["dropped_requests"], network["dropped_responses"], network["duplicated"]) > 0
    assert network["delivered_late"] > 0
    assert result["events"]["refreshes"] > 0, "access tokens should have expired mid-run"
    assert result["events"]["invariants_checked"] == 1 + 3 * 9


def test_a_seed_reproduces_the_run_when_tokens_outlive_it():
    runs = []
    for _ in range(2):
        with spawned_server(token_seconds=3600) as server:
            result = Fleet(server.http, Config(seed=5, users=2, devices=4, steps=120)).run()
        runs.append({key: value for key, value in result.items() if key not in TIMINGS})

    assert runs[0] == runs[1]
    assert runs[0]["breaches"] == []
