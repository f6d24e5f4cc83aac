"""The CA parameter (AT+iCA): load, read back, clear, size and format limits, persistence."""

import pytest

from w24_harness.at.codes import CAFitError, DeviceError, ResultCode
from w24_harness.at.commands import ca_text_length
from w24_harness.runner.scenario import ca_loaded
from w24_harness.vocab import Family, LineDirection

# What AT+iCA2? on a module without CA2 may answer (scenario ca-slot-absent's allowed set).
ABSENT_SLOT_CODES = {ResultCode.SYNTAX_ERROR, ResultCode.ILLEGAL_COMMAND}


@pytest.mark.scenarios(lambda s, p: s.family == Family.CA)
def test_ca_scenario(scenario, scenario_runner, check_scenario):
    check_scenario(scenario, scenario_runner.run(scenario))


def test_ca_help_says_string(w24):
    result = w24.execute("CA=?")
    assert result.text == ("String",)


def test_clear_leaves_ca_empty(w24, pki, loaded_ca):
    loaded_ca(pki.get("valid").ca_pem)
    assert not w24.get_ca().empty
    w24.clear_ca()
    assert w24.get_ca().empty


def test_read_back_shows_name_validity_and_pem(w24, pki, loaded_ca):
    ca = pki.get("valid")
    loaded_ca(ca.ca_pem)
    info = w24.get_ca()
    assert info.pem.strip() == ca.ca_pem.decode().strip()
    assert len(info.lines) > 3, "AT+iCA? should print a name and validity before the PEM"


def test_driver_refuses_oversized_ca_before_sending(w24, pki, w24_profile):
    pem = pki.get("ca_too_long").ca_pem
    mark = w24.transcript.mark()
    with pytest.raises(CAFitError) as err:
        w24.set_ca(pem)
    message = str(err.value)
    assert str(w24_profile.ca_max_chars) in message
    assert str(ca_text_length(pem.decode())) in message
    assert not [e for e in w24.transcript.since(mark) if e.direction == LineDirection.TX], (
        "nothing sent"
    )


def test_ca_survives_reset(w24, pki, loaded_ca):
    pem = pki.get("valid").ca_pem.decode()
    loaded_ca(pem)
    w24.reset()
    w24.ping()
    assert w24.get_ca().pem.strip() == pem.strip()


def test_refused_ca_keeps_previous(w24, pki):
    good = pki.get("valid").ca_pem
    with ca_loaded(w24, good):
        with pytest.raises(DeviceError):
            w24.set_ca(pki.get("ca_garbage").ca_pem, check=False)
        assert w24.get_ca().pem.strip() == good.decode().strip()


def test_extra_ca_slots_match_profile(w24, pki, w24_profile):
    ca = pki.get("valid").ca_pem
    for slot in ("CA2", "CA3", "CA4"):
        if slot in w24_profile.ca_slots:
            with ca_loaded(w24, ca, slot):
                assert w24.get_ca(slot).pem.strip() == ca.decode().strip()
        else:
            # The code is not documented (scenario ca-slot-absent characterizes it); the slot
            # must be refused, and every absent slot the same way.
            with pytest.raises(DeviceError) as err:
                w24.get_ca(slot)
            assert err.value.code in ABSENT_SLOT_CODES, f"{slot}: {err.value.code}"
            if w24_profile.absent_ca_slot_code is not None:
                assert err.value.code == w24_profile.absent_ca_slot_code


def test_every_loaded_ca_slot_is_trusted(w24, pki, loaded_ca, tls_server, w24_profile, w24_options):
    """iChip firmware checks all of CA..CA4: a server signed by the CA in the last slot is
    accepted while the first slot holds an unrelated CA."""
    if len(w24_profile.ca_slots) < 2:
        pytest.skip(f"the {w24_profile.name} profile has one CA slot")
    loaded_ca(pki.get("wrong_ca").ca_pem, w24_profile.ca_slots[0])
    loaded_ca(pki.get("valid").ca_pem, w24_profile.ca_slots[-1])
    server = tls_server(cert=pki.get("valid").server)
    with w24.ssl_session(w24_options.host, server.port) as handle:
        w24.send(handle, b"ping")
    assert server.wait_closed().bytes_in == 4
