"""--w24-inventory: parsing and checks (w24_harness.fixtures.inventory), and real runs against two
`w24 sim --tcp` simulators standing in for two attached modules: with `-n 2` each worker talks
to its own device, without xdist entry 0 is used, and too few devices is a clear usage error."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from w24_harness.fixtures.inventory import (
    InventoryDevice,
    InventoryError,
    apply_device,
    check_capacity,
    device_for,
    load_inventory,
    parse_inventory,
    planned_workers,
    worker_index,
)
from w24_harness.fixtures.session import Options
from w24_harness.profiles.table import get_profile
from w24_harness.sim.server import SimulatorProcess

ROOT = Path(__file__).resolve().parents[1]

GOOD = """
[[device]]
port = "/dev/ttyUSB0"
baud = 115200
profile = "w24"
host = "192.168.1.20"
name = "bench A"

[[device]]
port = "socket://127.0.0.1:7001"
"""


def _inventory(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "devices.toml"
    path.write_text(text)
    return path


def test_load_inventory(tmp_path: Path) -> None:
    devices = load_inventory(_inventory(tmp_path, GOOD))
    assert devices == [
        InventoryDevice("/dev/ttyUSB0", 115200, "w24", "192.168.1.20", None, "bench A"),
        InventoryDevice("socket://127.0.0.1:7001"),
    ]
    assert devices[1].label(1) == "device 1 (socket://127.0.0.1:7001)"


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "no [[device]] entries"),
        ("[[device]]\nbaud = 9600\n", "'port' is required"),
        ("[[device]]\nport = 5\n", "port must be a str"),
        ("[[device]]\nport = 'x'\nbaud = '9600'\n", "baud must be a int"),
        ("[[device]]\nport = 'x'\nbaud = true\n", "baud must be a int"),
        ("[[device]]\nport = 'x'\nbaud = 0\n", "baud must be positive"),
        ("[[device]]\nport = 'x'\nprofile = 'w25'\n", "unknown profile 'w25'"),
        ("[[device]]\nport = 'x'\nspeed = 1\n", "unknown keys ['speed']"),
        ("[device]\nport = 'x'\n", "no [[device]] entries"),
        ("devices = 1\n[[device]]\nport = 'x'\n", "unknown top-level keys"),
    ],
)
def test_malformed_inventories_are_refused(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(InventoryError) as err:
        load_inventory(_inventory(tmp_path, text))
    assert message in str(err.value)


def test_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(InventoryError, match="cannot read"):
        load_inventory(tmp_path / "missing.toml")
    with pytest.raises(InventoryError, match="not valid TOML"):
        load_inventory(_inventory(tmp_path, "[[device]\nport = 'x'"))


def test_workers_map_to_entries() -> None:
    devices = parse_inventory({"device": [{"port": "a"}, {"port": "b"}]})
    assert worker_index("main") == 0 and worker_index("gw1") == 1
    assert device_for(devices, "main").port == "a"
    assert device_for(devices, "gw1", workers=2).port == "b"
    with pytest.raises(InventoryError, match="worker gw2 of 3 has no device"):
        device_for(devices, "gw2", workers=3)
    with pytest.raises(InventoryError):
        worker_index("controller")


def test_capacity_and_profile_checks() -> None:
    devices = parse_inventory({"device": [{"port": "a"}, {"port": "b", "profile": "ichip"}]})
    check_capacity(devices[:1], 1, "w24")
    with pytest.raises(InventoryError, match="2 pytest-xdist workers but the inventory lists 1"):
        check_capacity(devices[:1], 2, "w24")
    with pytest.raises(InventoryError, match="must share a profile"):
        check_capacity(devices, 2, "w24")
    check_capacity(devices, 2, "ichip")  # entry 0 takes the default profile: both ichip


def test_planned_workers() -> None:
    assert planned_workers({"workercount": 3}, "load", None) == 3
    assert planned_workers(None, "load", ["popen", "popen"]) == 2
    assert planned_workers(None, "no", []) == 1


def test_apply_device_keeps_what_the_entry_leaves_out(tmp_path: Path) -> None:
    options = Options(None, 9600, get_profile("w24"), "10.0.0.1", "0.0.0.0", tmp_path)
    applied = apply_device(options, InventoryDevice("loop://", profile="ichip"), 0)
    assert (applied.port, applied.baud, applied.profile.name) == ("loop://", 9600, "ichip")
    assert (applied.host, applied.bind, applied.device_name) == (
        "10.0.0.1",
        "0.0.0.0",
        "device 0 (loop://)",
    )
    assert not applied.simulated


# -- real runs against two TCP simulators ---------------------------------------------------

DEVICE_TESTS = "\n".join(
    f"""
def test_device_{i}(w24, w24_session, w24_record):
    w24.ping()
    w24_record(id="ping-{i}", description="ping", expected="accept", actual="accept",
               passed=True, detail=w24_session.url)
"""
    for i in range(8)
)


@pytest.fixture(scope="module")
def two_devices() -> Iterator[list[str]]:
    sims = [SimulatorProcess(["--tcp", "127.0.0.1:0"]) for _ in range(2)]
    try:
        yield [sim.url for sim in sims]
    finally:
        for sim in sims:
            sim.stop()


def _devices_toml(tmp_path: Path, urls: list[str]) -> Path:
    entries = "".join(f'[[device]]\nport = "{u}"\nname = "dev{i}"\n\n' for i, u in enumerate(urls))
    return _inventory(tmp_path, entries)


def _pytest(pytester: pytest.Pytester, tmp_path: Path, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess(
        f"--rootdir={ROOT}",
        "-p",
        "no:cacheprovider",
        "--w24-report-dir",
        str(tmp_path / "reports"),
        *args,
        timeout=100,
    )


@pytest.mark.timeout(120)
def test_each_xdist_worker_takes_its_own_device(pytester, tmp_path: Path, two_devices) -> None:
    pytester.makepyfile(test_devices=DEVICE_TESTS)
    inventory = _devices_toml(tmp_path, two_devices)
    result = _pytest(pytester, tmp_path, "-n", "2", "--w24-inventory", str(inventory))
    result.assert_outcomes(passed=8)
    data = json.loads((tmp_path / "reports" / "results.json").read_text())
    ports = {run["worker"]: run["port"] for run in data["runs"]}
    assert ports == {"gw0": f"{two_devices[0]} [dev0]", "gw1": f"{two_devices[1]} [dev1]"}
    used = {(r["worker"], r["detail"]) for r in data["results"]}
    assert used == {("gw0", two_devices[0]), ("gw1", two_devices[1])}
    assert len(data["results"]) == 8
    assert 'tests="8"' in (tmp_path / "reports" / "junit.xml").read_text()


@pytest.mark.timeout(120)
def test_without_xdist_entry_zero_is_used(pytester, tmp_path: Path, two_devices) -> None:
    pytester.makepyfile(test_devices=DEVICE_TESTS)
    inventory = _devices_toml(tmp_path, two_devices)
    result = _pytest(pytester, tmp_path, "-k", "test_device_0", "--w24-inventory", str(inventory))
    result.assert_outcomes(passed=1)
    data = json.loads((tmp_path / "reports" / "results.json").read_text())
    assert [r["detail"] for r in data["results"]] == [two_devices[0]]


@pytest.mark.timeout(120)
def test_more_workers_than_devices_is_a_usage_error(pytester, tmp_path: Path, two_devices):
    pytester.makepyfile(test_devices=DEVICE_TESTS)
    inventory = _devices_toml(tmp_path, two_devices[:1])
    result = _pytest(pytester, tmp_path, "-n", "2", "--w24-inventory", str(inventory))
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "2 pytest-xdist workers but the inventory lists 1 device" in result.stderr.str()
