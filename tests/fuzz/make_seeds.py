#!/usr/bin/env python3
"""Writes the frame fuzzer's seeds into corpus/frame_fuzzer (tests/fuzz/frame_fuzzer.cc explains
the input format): inputs that reach the data path's deeper states, which random mutation finds
slowly."""
import pathlib
import struct

HERE = pathlib.Path(__file__).parent / "corpus" / "frame_fuzzer"
MSS = 536  # the handshake's MSS option
OFFSET = 1024  # the harness subtracts this from sequence, acknowledgment and SACK offsets


def segment(seq=0, ack=0, flags=0x10, sack=(), payload=b"", pick=0x02):
    """A frame for the established connection; seq/ack/sack are offsets into the data."""
    options = b""
    if sack:
        options = b"\x01\x01\x05" + bytes([2 + 8 * len(sack)])
        options += b"".join(struct.pack("!II", left + OFFSET, right + OFFSET)
                            for left, right in sack)
    eth = bytes([pick]) + struct.pack("!HH", seq + OFFSET, ack + OFFSET) + bytes(9)
    tcp = bytes(12) + bytes([(20 + len(options)) // 4 << 4, flags]) + b"\xff\xff" + bytes(4)
    return eth + bytes(20) + tcp + options + payload


def frames(*pieces):
    return b"\xff\x00\xff\x00".join(pieces)


seeds = {
    # Segment 1 lost: three duplicate ACKs SACK what follows, recovery repairs it, then all
    # is acknowledged.
    "sack_recovery": frames(
        segment(ack=MSS),
        segment(ack=MSS, sack=[(2 * MSS, 3 * MSS)]),
        segment(ack=MSS, sack=[(2 * MSS, 4 * MSS)]),
        segment(ack=MSS, sack=[(2 * MSS, 5 * MSS)]),
        segment(ack=5 * MSS)),
    # The peer's data out of order, then the hole filled.
    "reassembly": frames(
        segment(seq=100, flags=0x18, payload=bytes(100)),
        segment(seq=300, flags=0x18, payload=bytes(50)),
        segment(seq=0, flags=0x18, payload=bytes(100))),
}
for name, data in seeds.items():
    (HERE / name).write_bytes(data)
