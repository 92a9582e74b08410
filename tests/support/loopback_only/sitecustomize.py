"""Loaded at start-up by every Python process the tests start (this folder is put first on
their ``PYTHONPATH``): refuses, and records, any connection to an address off loopback.

The tests talk only to servers they start on 127.0.0.1. Anything else -- a cloud API, the
metadata server google-auth probes for credentials (169.254.169.254), a package index -- is
refused with an error *and* written to the file named by ``KFP_MLOPS_NET_LOG``, which
tests/conftest.py reads when the session ends: a refused connection that a library swallowed
(google-auth treats a refused metadata probe as "not on Google Cloud") still fails the run.
"""
import ipaddress
import os
import socket
import traceback

_LOG = os.environ.get("KFP_MLOPS_NET_LOG", "")


def _allowed(host) -> bool:
    try:
        address = ipaddress.ip_address(str(host).split("%", 1)[0])
    except ValueError:  # a host name: connect() resolves it, so resolve it the same way
        try:
            infos = socket.getaddrinfo(host, None)
        except OSError:
            return True  # cannot resolve: the connection fails on its own
        return all(ipaddress.ip_address(i[4][0].split("%", 1)[0]).is_loopback for i in infos)
    return address.is_loopback


def _guard(sock, address) -> None:
    if sock.family not in (socket.AF_INET, socket.AF_INET6) or not isinstance(address, tuple):
        return
    if _allowed(address[0]):
        return
    where = "".join(traceback.format_stack(limit=12)[:-2])
    if _LOG:
        with open(_LOG, "a", encoding="utf-8") as f:
            f.write(f"pid {os.getpid()} tried to connect to {address!r}\n{where}\n")
    raise ConnectionRefusedError(f"tests may only connect to loopback, not {address!r}")


_connect = socket.socket.connect
_connect_ex = socket.socket.connect_ex


def connect(self, address):
    _guard(self, address)
    return _connect(self, address)


def connect_ex(self, address):
    _guard(self, address)
    return _connect_ex(self, address)


def install() -> None:
    socket.socket.connect = connect
    socket.socket.connect_ex = connect_ex


if _LOG:
    install()
