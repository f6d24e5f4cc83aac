"""Device profiles as TOML files: load, write, show and compare them.

A profile file holds DeviceProfile fields at the top level. It may start `from = "w24"` (any
built-in profile name) and then override only the fields it names; without `from` it must give
every field that has no default. A tri-state field may say `"unknown"`. A `[provenance]` table
(written by `w24 characterize`: identity, date, harness version, the scenarios that decided each
field) is kept as information and never changes behaviour.

Every loader error is one ProfileFileError naming the file and the field.
"""

from __future__ import annotations

import tomllib
import types
import typing
from dataclasses import MISSING, fields
from enum import Enum
from pathlib import Path
from typing import Any

import tomli_w

from w24_harness.profiles.table import PROFILES, UNKNOWN, DeviceProfile, get_profile

UNKNOWN_TEXT = "unknown"  # how a file spells UNKNOWN (TOML has no null)
BASE_KEY = "from"
PROVENANCE_KEY = "provenance"
# Fields that name a profile rather than say what the firmware does: `w24 profile diff` leaves
# them out unless asked.
IDENTITY_FIELDS = ("name", "description")


class ProfileFileError(ValueError):
    """A profile file that cannot be used: one message, naming the file and the field."""


def _hints() -> dict[str, Any]:
    return typing.get_type_hints(DeviceProfile)


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def _convert(value: Any, tp: Any, where: str) -> Any:
    """`value` read from TOML as the field type `tp`; ProfileFileError if it is not one."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        return _convert_optional(value, tp, where)
    if origin is tuple:
        return _convert_tuple(value, typing.get_args(tp), where)
    if origin is dict:
        if not isinstance(value, dict):
            raise ProfileFileError(f"{where}: expected a table, got {value!r}")
        item = typing.get_args(tp)[1]
        return {str(k): _convert(v, item, f"{where}.{k}") for k, v in value.items()}
    if isinstance(tp, type) and issubclass(tp, Enum):
        try:
            return tp(value)
        except ValueError:
            known = ", ".join(repr(m.value) for m in tp)  # type: ignore[attr-defined]
            raise ProfileFileError(f"{where}: {value!r} is not one of {known}") from None
    return _convert_scalar(value, tp, where)


def _convert_optional(value: Any, tp: Any, where: str) -> Any:
    # Only `X | None` occurs: the tri-state fields, whose None is spelled "unknown".
    (inner,) = [a for a in typing.get_args(tp) if a is not type(None)]
    if value == UNKNOWN_TEXT:
        return UNKNOWN
    try:
        return _convert(value, inner, where)
    except ProfileFileError as exc:
        raise ProfileFileError(f'{exc} (or "{UNKNOWN_TEXT}")') from None


def _convert_tuple(value: Any, args: tuple[Any, ...], where: str) -> tuple[Any, ...]:
    if not isinstance(value, list):
        raise ProfileFileError(f"{where}: expected an array, got {value!r}")
    if len(args) == 2 and args[1] is Ellipsis:
        args = (args[0],) * len(value)
    elif len(value) != len(args):
        raise ProfileFileError(f"{where}: expected {len(args)} items, got {value!r}")
    return tuple(
        _convert(v, a, f"{where}[{i}]") for i, (v, a) in enumerate(zip(value, args, strict=True))
    )


# TOML scalar types a field type accepts (a bool is no int here, though Python says it is).
_SCALARS: dict[type, tuple[type, ...]] = {
    bool: (bool,),
    int: (int,),
    float: (int, float),
    str: (str,),
}


def _convert_scalar(value: Any, tp: Any, where: str) -> Any:
    accepted = _SCALARS.get(tp, ())
    if isinstance(value, accepted) and not (isinstance(value, bool) and tp is not bool):
        return float(value) if tp is float else value  # type: ignore[arg-type]  # an int or float here
    raise ProfileFileError(f"{where}: expected {_type_name(tp)}, got {value!r}")


def profile_from_mapping(data: dict[str, Any], source: str, default_name: str) -> DeviceProfile:
    """A DeviceProfile from a TOML table (`source` names it in errors)."""
    data = dict(data)
    base_name = data.pop(BASE_KEY, None)
    provenance = data.pop(PROVENANCE_KEY, None)
    if provenance is not None and not isinstance(provenance, dict):
        raise ProfileFileError(f"{source}: field {PROVENANCE_KEY!r}: expected a table")
    hints = _hints()
    unknown = sorted(k for k in data if k not in hints)
    if unknown:
        known = ", ".join(f.name for f in fields(DeviceProfile))
        raise ProfileFileError(
            f"{source}: unknown field {unknown[0]!r}"
            + (f" (and {len(unknown) - 1} more)" if len(unknown) > 1 else "")
            + f"; a profile has: {BASE_KEY}, {known}"
        )
    values = {k: _convert(v, hints[k], f"{source}: field {k!r}") for k, v in data.items()}
    if base_name is not None and (not isinstance(base_name, str) or base_name not in PROFILES):
        known = ", ".join(sorted(PROFILES))
        raise ProfileFileError(
            f"{source}: field {BASE_KEY!r}: unknown base profile {base_name!r}; "
            f"known profiles: {known}"
        )
    if base_name is not None:
        values.setdefault("name", default_name)
        return get_profile(base_name).with_changes(**values)
    values.setdefault("name", default_name)
    missing = [
        f.name
        for f in fields(DeviceProfile)
        if f.name not in values and f.default is MISSING and f.default_factory is MISSING
    ]
    if missing:
        raise ProfileFileError(
            f"{source}: field {missing[0]!r} is missing (a profile without "
            f'{BASE_KEY} = "<profile>" must give {", ".join(missing)})'
        )
    return DeviceProfile(**values)


def load_profile_file(path: Path) -> DeviceProfile:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ProfileFileError(f"{path}: cannot read the profile file: {exc.strerror}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ProfileFileError(f"{path}: not valid TOML: {exc}") from None
    return profile_from_mapping(data, str(path), path.stem)


def provenance_of(path: Path) -> dict[str, Any]:
    """The [provenance] table of a profile file ({} when it has none)."""
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    table = data.get(PROVENANCE_KEY, {})
    return table if isinstance(table, dict) else {}


def resolve_profile(name_or_file: str) -> DeviceProfile:
    """A built-in profile by name, else a profile file by path."""
    if name_or_file in PROFILES:
        return PROFILES[name_or_file]
    path = Path(name_or_file)
    if not path.exists():
        known = ", ".join(sorted(PROFILES))
        raise ProfileFileError(
            f"{name_or_file}: neither a built-in profile ({known}) nor a profile file"
        )
    return load_profile_file(path)


def _plain(value: Any) -> Any:
    if value is UNKNOWN:
        return UNKNOWN_TEXT
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def profile_to_mapping(profile: DeviceProfile) -> dict[str, Any]:
    """Every field, as TOML values (UNKNOWN as "unknown"); loading it gives the same profile."""
    return {f.name: _plain(getattr(profile, f.name)) for f in fields(DeviceProfile)}


def dumps_profile(profile: DeviceProfile, provenance: dict[str, Any] | None = None) -> str:
    data = profile_to_mapping(profile)
    if provenance:
        data[PROVENANCE_KEY] = provenance
    return tomli_w.dumps(data)


def write_profile_file(
    path: Path, profile: DeviceProfile, provenance: dict[str, Any] | None = None
) -> Path:
    path.write_text(dumps_profile(profile, provenance), encoding="utf-8")
    return path


def diff_profiles(
    a: DeviceProfile, b: DeviceProfile, *, identity: bool = False
) -> list[tuple[str, Any, Any]]:
    """(field, value in a, value in b) for every field that differs; the name and description
    only with identity=True."""
    out = []
    for f in fields(DeviceProfile):
        if not identity and f.name in IDENTITY_FIELDS:
            continue
        left, right = getattr(a, f.name), getattr(b, f.name)
        if _plain(left) != _plain(right):
            out.append((f.name, _plain(left), _plain(right)))
    return out
