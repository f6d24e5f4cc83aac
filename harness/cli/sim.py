"""`w24 sim`: the simulated W24 on a pty or a TCP port. The first line printed is its address."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from pathlib import Path

from w24_harness.profiles.files import ProfileFileError, load_profile_file
from w24_harness.profiles.table import PROFILES, DeviceProfile, get_profile
from w24_harness.sim.engines import DEFAULT_ENGINE, EngineUnavailable, profile_for, resolve
from w24_harness.sim.faults import CHECK_FAULTS, Faults
from w24_harness.sim.server import (
    SPEC_ENV,
    Simulator,
    SimulatorConfig,
    decode_spec,
    decode_variants,
)
from w24_harness.sim.variants import Variants

INTERNAL_ERROR_EXIT = 3  # `w24 sim` exit status after a simulator internal error
# Faults that act inside the simulator's own TLS client (tls_engine, tls_client, verify), so only
# on the default engine; the rest act in the AT front end and work with every engine.
ENGINE_FAULTS = frozenset(
    {
        "empty_record_eof",
        "hello_offers_compression",
        "hello_request_drops_data",
        "ignore_close_notify",
        "leaf_search",
        "lenient_pkcs1",
        "padding_unchecked",
        "record_limit_off_by_one",
        "trust_by_name",
        *CHECK_FAULTS,
    }
)


def add_sim_arguments(parser: argparse.ArgumentParser) -> None:
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--pty", action="store_true", help="serve on a new pty; prints its path")
    where.add_argument("--tcp", metavar="HOST:PORT", help="serve one host at a time on TCP")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--profile", default="w24", choices=sorted(PROFILES))
    which.add_argument(
        "--profile-file",
        type=Path,
        help="run the profile in this TOML file (see `w24 profile show`)",
    )
    which.add_argument(
        "--spec-env",
        action="store_true",
        help=f"take the whole profile and faults from ${SPEC_ENV} (what the pytest plugin uses)",
    )
    parser.add_argument("--baud", type=int, default=0, help="emulated line rate; 0 = unthrottled")
    parser.add_argument("--state", type=Path, help="JSON file keeping nonvolatile parameters")
    parser.add_argument("--log", type=Path, help="append the serial transcript to this file")
    parser.add_argument(
        "--status", type=Path, help="keep the count of simulator internal errors in this JSON file"
    )
    parser.add_argument("--no-echo", action="store_true", help="start with command echo off")
    parser.add_argument(
        "--overrun",
        action="store_true",
        help="model the module's UART receive FIFO: bytes a host bursts faster than the "
        "firmware drains them are lost (needs --baud; follows a baud change by the host)",
    )
    parser.add_argument(
        "--engine",
        default=DEFAULT_ENGINE,
        help="the TLS stack behind the AT front end: tlslite (default), openssl, "
        "wolfssl[-VERSION], mbedtls[-VERSION], tlslite-VERSION (built by "
        "python -m w24_harness.sim.engines.build); the profile is limited to what it has",
    )
    parser.add_argument(
        "--variant",
        action="append",
        default=[],
        metavar="NAME[=VALUE]",
        help="behave as another correct firmware where the manuals are silent (repeatable; "
        f"w24_harness.sim.variants): {', '.join(Variants.names())}",
    )
    parser.add_argument(
        "--fault",
        action="append",
        default=[],
        choices=Faults.names(),
        help="self-test switch that breaks the firmware on purpose (repeatable)",
    )


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    add_sim_arguments(sub.add_parser("sim", help="run the W24 simulator on a pty or TCP port"))


def run(args: argparse.Namespace) -> int:
    return run_sim(args)


def run_sim(args: argparse.Namespace) -> int:
    if args.baud < 0:
        print("w24 sim: --baud must be >= 0", file=sys.stderr)
        return 2
    if args.overrun and not args.baud:
        print("w24 sim: --overrun needs a line rate (--baud 115200)", file=sys.stderr)
        return 2
    try:
        profile, faults = _profile_and_faults(args)
        variants = _variants(args)
        engine = resolve(args.engine)
        profile = profile_for(profile, engine)
        inside = sorted(set(faults.active()) & ENGINE_FAULTS)
        if inside and engine != DEFAULT_ENGINE:
            # They break the simulator's own TLS client; a real stack has no such switch.
            raise ValueError(f"fault(s) {', '.join(inside)} need --engine {DEFAULT_ENGINE}")
        config = SimulatorConfig(
            profile=profile,
            baud=args.baud,
            state=args.state,
            faults=faults,
            variants=variants,
            echo=False if args.no_echo else None,
            log=args.log,
            status=args.status,
            overrun=args.overrun,
            engine=engine,
        )
        sim = Simulator(config)
    except (ValueError, OSError, EngineUnavailable) as exc:
        print(f"w24 sim: {exc}", file=sys.stderr)
        return 2
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    try:
        if args.pty:
            url = sim.start_pty()
        else:
            host, _, port = args.tcp.rpartition(":")
            if not host or not port.isdigit() or int(port) > 65535:
                print(
                    f"w24 sim: --tcp wants HOST:PORT (port 0-65535), got {args.tcp!r}",
                    file=sys.stderr,
                )
                sim.stop()
                return 2
            url = sim.start_tcp(host, int(port))
    except OSError as exc:
        print(f"w24 sim: cannot serve: {exc}", file=sys.stderr)
        sim.stop()
        return 2
    print(url, flush=True)
    fault_names = ", ".join(config.faults.active()) or "none"
    print(
        f"W24 simulator, profile {config.profile.name}, engine {config.engine}, "
        f"baud {args.baud or 'unthrottled'}, faults: {fault_names}, "
        f"variant: {config.variants.label()}. Ctrl-C to stop.",
        file=sys.stderr,
        flush=True,
    )
    while not done.wait(0.5):
        pass
    sim.stop()
    errors = sim.device.internal_errors
    if errors:
        # The self-check: a simulator that had a bug of its own does not exit cleanly.
        print(
            f"w24 sim: {errors} simulator internal error(s); tracebacks in the log",
            file=sys.stderr,
            flush=True,
        )
        return INTERNAL_ERROR_EXIT
    return 0


def _profile_and_faults(args: argparse.Namespace) -> tuple[DeviceProfile, Faults]:
    if args.spec_env:
        text = os.environ.get(SPEC_ENV)
        if not text:
            raise ValueError(f"--spec-env: ${SPEC_ENV} is not set")
        profile, faults = decode_spec(text)
        return profile, Faults.from_names([*faults.active(), *args.fault])
    if args.profile_file is not None:
        try:
            return load_profile_file(args.profile_file), Faults.from_names(args.fault)
        except ProfileFileError as exc:
            raise ValueError(str(exc)) from None
    return get_profile(args.profile), Faults.from_names(args.fault)


def _variants(args: argparse.Namespace) -> Variants:
    """The spec's variants (--spec-env) with the --variant items on top."""
    items: list[str] = []
    if args.spec_env:
        items += decode_variants(os.environ.get(SPEC_ENV, "{}")).active()
    return Variants.parse([*items, *args.variant])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="w24 sim", description=__doc__)
    add_sim_arguments(parser)
    return run_sim(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
