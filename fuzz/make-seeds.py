#!/usr/bin/env python3
# fuzz/make-seeds.py SERVER_DIR PROTO_DIR - the seeds of fuzz_nbd_server and
# fuzz_nbd_proto, written by approaches/common/fuzz/make-corpus.py (which
# also made the committed corpus in approaches/common/fuzz/corpus/).
import os, sys

here = os.path.dirname(os.path.abspath(__file__))
script = os.path.join(here, "..", "approaches", "common", "fuzz", "make-corpus.py")
os.execv(sys.executable, [sys.executable, script] + sys.argv[1:3])
