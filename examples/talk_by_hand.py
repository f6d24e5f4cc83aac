#!/bin/sh
# Runs with the checkout's .venv (it has pyserial), or the python in $PYTHON: the next line is
# a command for sh and a string expression for Python (so the imports come after it).
# ruff: noqa: E402
"exec" "${PYTHON:-${0%/*}/../.venv/bin/python}" "$0" "$@"  # fmt: skip

"""Talk to a W24 (or `./w24 sim --pty`) by hand with plain pyserial: load a CA, open a socket
to `openssl s_server -tls1 -www`, run AT+iSSL, send a GET, print the page, close.

usage: examples/talk_by_hand.py PORT CA.pem SERVER_PORT
"""

import sys

import serial

port = serial.Serial(sys.argv[1], 115200, timeout=15)
ca_pem = open(sys.argv[2]).read().strip()
server_port = int(sys.argv[3])


def at(wire: bytes) -> str:
    """Send one command; return its final reply line (I/OK, I/<n>, I/ERROR(nnn) ...)."""
    port.write(wire)
    while True:
        line = port.read_until(b"\n")
        if not line:
            raise TimeoutError(f"no reply to {wire[:40]!r}")
        if line.startswith(b"I/"):  # skips the module's echo of the command line
            return line.decode().strip()


def srcv(handle: str) -> bytes | None:
    """One AT+iSRCV: the bytes waiting (b"" if none yet), or None once the socket is down."""
    port.write(f"AT+iSRCV:{handle}\r".encode())
    port.read_until(b"I/")  # skip the echo
    head = b""
    while not head.endswith((b":", b"\n")):
        byte = port.read(1)
        if not byte:
            raise TimeoutError(f"no reply to AT+iSRCV:{handle}")
        head += byte
    if head.endswith(b":"):
        return port.read(int(head[:-1]))  # I/<n>: then exactly n raw bytes
    return b"" if head.strip() == b"0" else None  # I/0, or I/ERROR(203): peer closed


print(at(b"AT+i\r"))
print(at(b"AT+iCA=" + ca_pem.replace("\n", "\r").encode() + b"\r"))
handle = at(f"AT+iSTCP:127.0.0.1,{server_port}\r".encode())[2:]
print("socket", handle, at(f"AT+iSSL:{handle}\r".encode()))
get = b"GET / HTTP/1.0\r\n\r\n"
print(at(f"AT+iSSND%:{handle},{len(get)}:".encode() + get))
page = b""
while (chunk := srcv(handle)) is not None:
    page += chunk
print(page.decode(errors="replace"))
print(at(f"AT+iSCLS:{handle}\r".encode()), port.read_until(b"\n").decode().strip())
