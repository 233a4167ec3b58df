"""The PortAudio input callback, compiled: it never takes the interpreter's lock.

PortAudio calls its stream callback from the audio thread once a period. A callback written in
Python must take the interpreter's lock first, and so waits whenever another thread holds it: the
analysis between two hand-overs, the composer between two LSTM steps, the garbage collector for
as long as a full collection takes (tens of milliseconds). A wait longer than the period is an
xrun. This callback is compiled by numba to a C function that touches no Python object: it
copies the block into the :class:`~listener.audio.ring.RingBuffer` with the ring's own kernel
(which also wakes the analysis through the ring's eventfd), stamps its arrival with
``clock_gettime(CLOCK_MONOTONIC)``, counts PortAudio's input overflow and underflow flags as
xruns, and returns. The interpreter is never involved, whatever its threads do.

Its ``userData`` is the ring's state array, which holds the addresses of the ring's samples and
arrival records; the ring must outlive the stream.

The house rule for the callback (no allocation, logging, locks, numba or onnx: nothing that can
compile, allocate or wait) holds here more strictly than for a Python callback: the function is
compiled when this module is imported (0.6 s; never cached, because numba's cache would not
see a change to the ring's kernels it calls, and a stale callback would write the old way),
before any stream opens,
and when PortAudio calls it nothing is dispatched, compiled or allocated, and no lock is taken,
the interpreter's included. Numba is only the compiler that wrote it.
"""

from __future__ import annotations

import time

import numpy as np
from numba import carray, cfunc, types

from listener.audio.ring import (
    ARRIVALS_ADDRESS,
    CAPACITY,
    CLOCK,
    DATA_ADDRESS,
    SLOTS,
    STATE_SIZE,
    XRUNS,
    address_to_pointer,
    ring_put,
)

_PA_INPUT_UNDERFLOW = 0x1  # paInputUnderflow
_PA_INPUT_OVERFLOW = 0x2  # paInputOverflow
_PA_CONTINUE = 0  # paContinue
_clock_gettime = types.ExternalFunction("clock_gettime", types.intc(types.intc, types.voidptr))
_MONOTONIC = time.CLOCK_MONOTONIC

# int PaStreamCallback(const void *input, void *output, unsigned long frameCount,
#     const PaStreamCallbackTimeInfo *timeInfo, PaStreamCallbackFlags statusFlags, void *userData)
_SIGNATURE = types.intc(
    types.voidptr, types.voidptr, types.ulong, types.voidptr, types.ulong, types.voidptr
)


@cfunc(_SIGNATURE)
def input_callback(input_, output, frames, time_info, status, user_data):
    """Copy one block into the ring whose state array is ``user_data``.

    PortAudio's stream callback, a C function at ``input_callback.address``: the arrival is
    stamped and PortAudio's xrun flags counted; it returns ``paContinue``.
    """
    state = carray(user_data, STATE_SIZE, dtype=np.int64)
    data = carray(address_to_pointer(state[DATA_ADDRESS]), state[CAPACITY], dtype=np.float32)
    arrivals = carray(
        address_to_pointer(state[ARRIVALS_ADDRESS]), (state[SLOTS], 2), dtype=np.int64
    )
    block = carray(input_, frames, dtype=np.float32)  # one channel of float32
    if status & (_PA_INPUT_UNDERFLOW | _PA_INPUT_OVERFLOW):
        state[XRUNS] += 1
    _clock_gettime(_MONOTONIC, address_to_pointer(state.ctypes.data + 8 * CLOCK))
    now = state[CLOCK] * 1_000_000_000 + state[CLOCK + 1]
    ring_put(state, data, arrivals, block, now, True)
    return _PA_CONTINUE
