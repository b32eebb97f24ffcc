# SPDX-License-Identifier: GPL-2.0
"""Debian's python3-faiss: an IndexFlatL2 of dimension 64 gets 20 batches of 10,000 vectors.
Each add() appends 2,560,000 bytes of codes to a std::vector<uint8_t> through
faiss::IndexFlatCodes::add and std::vector::_M_default_append, which grows the vector to twice
its size when it is full: capacities 2.56, 5.12, 10.24, 20.48, 40.96 and 81.92 MB, 161.28 MB
allocated in 6 blocks, the last one kept. Prints "ready PID", waits for SIGUSR1, adds, prints
"done" and waits for SIGTERM."""
import os
import signal

import faiss
import numpy as np

signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1, signal.SIGTERM})
index = faiss.IndexFlatL2(64)
batch = np.zeros((10000, 64), dtype="float32")
print("ready", os.getpid(), flush=True)
signal.sigwait({signal.SIGUSR1})
for _ in range(20):
    index.add(batch)
print("done", index.ntotal, flush=True)
signal.sigwait({signal.SIGTERM})
