#!/usr/bin/env python3
# make-corpus.py [DIR | SERVER_DIR PROTO_DIR] - write the seed corpus of the
# NBD fuzz targets into DIR/fuzz_nbd_server and DIR/fuzz_nbd_proto (default
# DIR: corpus/ next to this script, the committed corpus), or into the two
# directories given: well-formed client sessions for fuzz_nbd_server (a
# mode byte, then the stream: see fuzz_nbd_server.c) so that the fuzzer
# starts past the magics, and request headers with export sizes for
# fuzz_nbd_proto.
import os, struct, sys

OPTS, REQ = 0x49484156454F5054, 0x25609513
INLINE, WORKER, READONLY, TLS = 0, 1, 2, 4

def opt(o, data=b""):
    return struct.pack(">QII", OPTS, o, len(data)) + data

def info(name=b"fuzz", infos=(3,)):
    return struct.pack(">I", len(name)) + name + struct.pack(">H", len(infos)) + b"".join(struct.pack(">H", i) for i in infos)

def req(typ, off, ln, flags=0, handle=1):
    return struct.pack(">IHHQQI", REQ, flags, typ, handle, off, ln)

flags = struct.pack(">I", 3)
go = opt(7, info())
rw = (req(1, 0, 512) + b"\xab" * 512 + req(0, 0, 512, handle=2) + req(3, 0, 0) + req(4, 4096, 4096)
      + req(6, 8192, 100, flags=2) + req(1, 100, 10, flags=1) + b"0123456789" + req(2, 0, 0))
sessions = {
    "go-rw": flags + go + rw,
    "structured-go-rw": flags + opt(8) + go + rw,
    "list-info-abort": flags + opt(3) + opt(6, info(b"")) + opt(2),
    "export-name": flags + opt(1, b"fuzz") + req(0, 1000, 100) + req(2, 0, 0),
    "export-name-zeroes": struct.pack(">I", 1) + opt(1, b"") + req(0, 0, 8) + req(2, 0, 0),
    "errors": (flags + opt(99, b"x") + opt(5) + go + req(0, (1 << 20) - 1, 2) + req(1, 1 << 20, 1) + b"z"
               + req(9, 0, 1) + req(0, 0, 0) + req(3, 0, 0, flags=0x40) + req(2, 0, 0)),
    "pipelined": flags + opt(8) + go + b"".join(req(0, i * 4096, 4096, handle=i) for i in range(32)) + req(2, 0, 0),
    "big-write": flags + go + req(1, 4096, 33000) + bytes(range(250)) * 132 + req(0, 4096, 65536) + req(2, 0, 0),
    "cut-write": flags + go + req(1, 0, 4096) + b"\x55" * 1000,
    "too-big-option": flags + struct.pack(">QII", OPTS, 7, 8192) + b"\0" * 8192 + go + req(2, 0, 0),
}
if len(sys.argv) == 3:
    server, proto = sys.argv[1], sys.argv[2]
else:
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
    server, proto = os.path.join(out, "fuzz_nbd_server"), os.path.join(out, "fuzz_nbd_proto")
os.makedirs(server, exist_ok=True)
os.makedirs(proto, exist_ok=True)
for name, data in sessions.items():
    for mode, tag in ((INLINE, "inline"), (WORKER, "worker")):
        open(os.path.join(server, "%s-%s" % (tag, name)), "wb").write(bytes([mode]) + data)
open(os.path.join(server, "readonly-go-rw"), "wb").write(bytes([READONLY]) + sessions["go-rw"])
open(os.path.join(server, "tls-refused"), "wb").write(bytes([TLS]) + flags + opt(3) + go + opt(5) + rw)
for i, (typ, off, ln) in enumerate([(0, 0, 4096), (1, 1 << 20, 1), (6, 0, 0xffffffff), (3, 0, 0)]):
    open(os.path.join(proto, "req%d" % i), "wb").write(req(typ, off, ln) + struct.pack(">QHB", 1 << 20, 0x16d, 3))
open(os.path.join(proto, "info"), "wb").write(info())
