#!/usr/bin/env python3
# fuzz/make-seeds.py SERVER_DIR PROTO_DIR - write a small seed corpus of
# well-formed NBD client sessions (for fuzz_nbd_server) and headers (for
# fuzz_nbd_proto), so the fuzzer starts past the magics.
import os, struct, sys

OPTS, REQ = 0x49484156454F5054, 0x25609513

def opt(o, data=b""):
    return struct.pack(">QII", OPTS, o, len(data)) + data

def info(name=b"fuzz", infos=(3,)):
    return struct.pack(">I", len(name)) + name + struct.pack(">H", len(infos)) + b"".join(struct.pack(">H", i) for i in infos)

def req(typ, off, ln, flags=0, handle=1):
    return struct.pack(">IHHQQI", REQ, flags, typ, handle, off, ln)

flags = struct.pack(">I", 3)
go = opt(7, info())
rw = req(1, 0, 512) + b"\xab" * 512 + req(0, 0, 512, handle=2) + req(3, 0, 0) + req(4, 4096, 4096) + req(6, 8192, 100, flags=2) + req(2, 0, 0)
seeds = {
    "go-rw": flags + go + rw,
    "structured-go-rw": flags + opt(8) + go + rw,
    "list-info-abort": flags + opt(3) + opt(6, info(b"")) + opt(2),
    "export-name": flags + opt(1, b"fuzz") + req(0, 1000, 100) + req(2, 0, 0),
    "errors": flags + opt(99, b"x") + opt(5) + go + req(0, (1 << 20) - 1, 2) + req(1, 1 << 20, 1) + b"z" + req(9, 0, 1) + req(2, 0, 0),
    "pipelined": flags + opt(8) + go + b"".join(req(0, i * 4096, 4096, handle=i) for i in range(32)) + req(2, 0, 0),
}
os.makedirs(sys.argv[1], exist_ok=True)
for name, data in seeds.items():
    open(os.path.join(sys.argv[1], name), "wb").write(data)
os.makedirs(sys.argv[2], exist_ok=True)
for i, (typ, off, ln) in enumerate([(0, 0, 4096), (1, 1 << 20, 1), (6, 0, 0xffffffff), (3, 0, 0)]):
    open(os.path.join(sys.argv[2], "req%d" % i), "wb").write(req(typ, off, ln) + struct.pack(">QHB", 1 << 20, 0x16d, 1))
open(os.path.join(sys.argv[2], "info"), "wb").write(info())
