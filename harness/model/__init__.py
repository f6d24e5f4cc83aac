"""An executable model of the W24's CA parameter, sockets and SSL context (the oracle), and
the stateful suite machinery that drives a device and its peers against it (issue 24).

`model.py` is the oracle: what the manuals allow after each command. `peers.py` the live peers,
`machine.py` the step generator, executor and shrinker, `replay.py` the one-command replay.
"""
