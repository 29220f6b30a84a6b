#!/usr/bin/env python3
"""Idle gRPC streams for the soak test: opens --streams WatchEvents calls to tapstackd, spread
over --channels connections, and never reads from them. Every --interval seconds, and once more
on SIGTERM, prints one JSON line: {"t": seconds, "open": calls still open, "ended": {code: n}}.
A call the daemon ends (or refuses) shows in "ended" under its status code."""

import argparse
import json
import os
import signal
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
import harness as h  # noqa: E402  (the e2e tests' generated stubs)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--server", required=True)
    parser.add_argument("--streams", type=int, default=1000)
    parser.add_argument("--channels", type=int, default=10)
    parser.add_argument("--endpoint", type=int, default=0, help="watch only this endpoint")
    parser.add_argument("--interval", type=float, default=10)
    parser.add_argument("--proto-root")
    args = parser.parse_args()
    if args.proto_root:
        h.Paths.proto_root = args.proto_root

    import grpc
    p = h.protos()
    # One connection per channel: a local subchannel pool keeps gRPC from sharing one.
    channels = [grpc.insecure_channel(args.server, options=[("grpc.use_local_subchannel_pool", 1)])
                for _ in range(args.channels)]
    stubs = [p.endpoints_pb2_grpc.EndpointsStub(c) for c in channels]
    request = p.endpoints_pb2.WatchEventsRequest(endpoint_id=args.endpoint)
    calls = [stubs[i % len(stubs)].WatchEvents(request) for i in range(args.streams)]

    signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGTERM])  # taken by sigtimedwait below
    start = time.monotonic()

    def report():
        ended = {}
        for call in calls:
            if call.done():
                code = call.code().name
                ended[code] = ended.get(code, 0) + 1
        print(json.dumps({"t": round(time.monotonic() - start, 1),
                          "open": len(calls) - sum(ended.values()), "ended": ended}), flush=True)

    report()
    while signal.sigtimedwait([signal.SIGTERM], args.interval) is None:
        report()
    report()
    for call in calls:
        call.cancel()


if __name__ == "__main__":
    main()
