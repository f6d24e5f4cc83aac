"""The CA cache (harness/device/cacache.py): a write only where the module holds another CA,
the module's own CA back at the session's end, and a scenario never run with a CA other than
the one it asked for, in any order. Against an in-process simulator; what the module holds is
read from the simulator's own parameter store, not from the cache under test."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from w24_harness.at.commands import encode_ca
from w24_harness.device.cacache import WritePurpose, normalize
from w24_harness.device.w24 import W24
from w24_harness.fixtures.session import DeviceSession, Options
from w24_harness.pki.sets import CertSets
from w24_harness.profiles.table import get_profile
from w24_harness.runner.scenario import ScenarioRunner, ca_loaded
from w24_harness.scenarios import SCENARIOS, Scenario
from w24_harness.servers import TLSServer
from w24_harness.sim.server import Simulator
from w24_harness.vocab import Action, LineDirection


def _session(sim: Simulator, tmp_path: Path) -> DeviceSession:
    options = Options(
        port=sim.url,
        baud=None,
        profile=get_profile("w24"),
        host="127.0.0.1",
        bind="127.0.0.1",
        report_dir=tmp_path,
    )
    session = DeviceSession(options, "main")
    session.connect()
    return session


def _held(sim: Simulator, slot: str = "CA") -> str:
    """What the simulated module's parameter flash holds: its own store, not the cache."""
    return normalize(sim.device.nvram.get(slot))


def _reads(device: W24, mark: int) -> int:
    sent = [e for e in device.transcript.since(mark) if e.direction == LineDirection.TX]
    return sum(e.data.startswith(b"AT+iCA?") for e in sent)


@pytest.fixture
def session(sim_start, sim_ca_pem, tmp_path):
    sim = sim_start()
    own = W24.open(sim.url)  # the module's own CA, set before the run
    own.set_ca(sim_ca_pem)
    own.close_port()
    s = _session(sim, tmp_path)
    yield sim, s
    s.close()


def test_a_held_ca_is_not_written_again(session, sim_ca_pem, sim_other_ca_pem):
    sim, s = session
    device, cache = s.device, s.ca_cache
    assert device is not None
    assert cache.original == {"CA": normalize(sim_ca_pem.decode())}
    assert cache.ensure(device, sim_ca_pem) is False  # held since before the run
    assert cache.ensure(device, sim_other_ca_pem) is True
    assert cache.ensure(device, sim_other_ca_pem) is False
    assert _held(sim) == normalize(sim_other_ca_pem.decode())
    assert [w.purpose for w in cache.writes] == [WritePurpose.NEEDED]


def test_session_end_restores_the_module_own_ca_once(session, sim_ca_pem, sim_other_ca_pem):
    sim, s = session
    assert s.device is not None
    with ca_loaded(s.device, sim_other_ca_pem):
        pass
    assert _held(sim) == normalize(sim_other_ca_pem.decode()), "kept loaded after the block"
    s.restore_ca()
    assert _held(sim) == normalize(sim_ca_pem.decode())
    s.restore_ca()  # nothing left to restore: no second write
    assert [w.purpose for w in s.ca_cache.writes] == [WritePurpose.NEEDED, WritePurpose.RESTORE]


def test_out_of_band_change_is_read_again_at_reconnect_only(session, sim_ca_pem, sim_other_ca_pem):
    sim, s = session
    device, cache = s.device, s.ca_cache
    assert device is not None
    # Within a connection the driver sees every command: a held CA costs no read at all.
    mark = device.transcript.mark()
    assert cache.ensure(device, sim_ca_pem) is False
    assert _reads(device, mark) == 0
    # Another program loads a CA while the port is closed (as `w24 ca load` in the field
    # suite does): the reconnect forgets, and the next need reads the slot and writes.
    device.close_port()
    other = W24.open(sim.url)
    other.set_ca(sim_other_ca_pem)
    other.close_port()
    device = s.connect()
    mark = device.transcript.mark()
    assert cache.ensure(device, sim_ca_pem) is True
    assert _reads(device, mark) == 2  # the re-verify, and the read-back after the write
    assert _held(sim) == normalize(sim_ca_pem.decode())


@pytest.mark.parametrize("how", ["raw command", "refused write", "reset"])
def test_commands_around_set_ca_make_the_cache_read_again(
    how, session, sim_ca_pem, sim_other_ca_pem
):
    sim, s = session
    device, cache = s.device, s.ca_cache
    assert device is not None
    if how == "raw command":
        device.execute("CA=", wire=encode_ca(sim_other_ca_pem.decode()))
    elif how == "refused write":
        with pytest.raises(Exception):  # noqa: B017 - any refusal: the value is not a cert
            device.set_ca("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----")
    else:
        device.reset()
    assert "CA" not in cache.known
    mark = device.transcript.mark()
    wrote = cache.ensure(device, sim_ca_pem)
    assert _reads(device, mark) >= 1
    assert wrote is (how == "raw command")
    assert _held(sim) == normalize(sim_ca_pem.decode())


class _Watching(ScenarioRunner):
    """Notes, as each scenario's device work starts, what the module's flash holds."""

    sim: Simulator
    seen: list[tuple[Scenario, str]]

    def _drive(self, scenario: Scenario, server: TLSServer):
        self.seen.append((scenario, _held(self.sim)))
        return super()._drive(scenario, server)


def _mixed_scenarios() -> list[Scenario]:
    """One scenario per certificate set (16 distinct CAs), the CA-parameter rows that write on
    purpose, and a few more on the common CA; nothing slow or waiting."""
    by_set: dict[str, Scenario] = {}
    for s in SCENARIOS:
        if not (s.slow or s.waits) and s.action in (Action.HANDSHAKE, Action.LOAD_CA):
            by_set.setdefault(s.certs if s.action == Action.HANDSHAKE else s.id, s)
    common = [s for s in SCENARIOS if s.certs == "valid" and s.action == Action.HANDSHAKE]
    return list(by_set.values()) + common[:6]


@pytest.mark.parametrize("seed", [1])
def test_every_scenario_runs_with_the_ca_it_asked_for_in_any_order(
    seed, sim_start, sim_ca_pem, tmp_path
):
    sim = sim_start()
    own = W24.open(sim.url)
    own.set_ca(sim_ca_pem)
    own.close_port()
    session = _session(sim, tmp_path)
    try:
        assert session.device is not None
        sets = CertSets(session.options.profile)
        runner = _Watching(session.device, sets)
        runner.sim, runner.seen = sim, []
        scenarios = _mixed_scenarios()
        random.Random(seed).shuffle(scenarios)
        for scenario in scenarios:
            runner.run(scenario)
        assert len(runner.seen) > 30
        for scenario, held in runner.seen:
            wanted = normalize((sets.get(scenario.certs).ca_pem or b"").decode())
            assert held == wanted, f"{scenario.id} ran with another CA than {scenario.certs}'s"
        session.restore_ca()
        assert _held(sim) == normalize(sim_ca_pem.decode())
    finally:
        session.close()
