#!/usr/bin/env python3
"""A grpcio controller that keeps requests alive across a relay crash.

Used by test/relay_crash_recovery_test.ts. It sends COUNT requests at once,
each on its own ConnectToDevice stream over one channel, with sequence
numbers FIRST .. FIRST + COUNT - 1 and the payload "<PREFIX>-<sequence
number>". A request that fails (an RPC error, or a DeviceResponse with an
error code) is sent again with the same sequence number and payload until it
is answered with OK, or until the overall deadline. Calls use
wait_for_ready=True with a deadline, as README "### After a crash" advises
for gRPC C-core clients. How soon the channel redials a restarted relay is
its reconnect backoff (C-core's default: 1 s, then 1.6x per failure, with
jitter); --reconnect-backoff-ms sets a fixed one.

What it sees is printed as one JSON object a line, as it happens; the test
reads and judges them (it knows which payload belongs to which request):
  {"event": "failed", "seq": S, "attempt": N, "code": "UNAVAILABLE", "details": "..."}
  {"event": "refused", "seq": S, "attempt": N, "error": "DEVICE_NOT_FOUND", "message": "..."}
  {"event": "answered", "seq": S, "attempt": N, "answer_seq": S2, "payload": "..."}
  {"event": "extra", "seq": S, "answer_seq": S2, "error": "...", "payload": "..."}
  {"event": "gave_up", "seq": S, "attempts": N}
  {"event": "done"}
"extra" is a further response on a stream that already had its answer.

Usage:
  crash_controller.py ADDRESS CA_PEM TOKEN_FILE DEVICE_ID --prefix PREFIX --first FIRST
                      [--count COUNT] [--method METHOD] [--reconnect-backoff-ms MS]
"""

import json
import os
import shutil
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from controller import load_relay_pb2, relay_argument_parser, relay_stub  # noqa: E402

# One attempt's deadline (the relay forwards it to the device as timeout_ms).
ATTEMPT_TIMEOUT_SECONDS = 10
# How long a request is retried before it is given up.
OVERALL_SECONDS = 60
# Pause after a refusal (the device is not back yet): the relay answers at once.
REFUSED_PAUSE_SECONDS = 0.05

print_lock = threading.Lock()


def emit(event, **fields):
    line = json.dumps(dict(event=event, **fields))
    with print_lock:
        print(line, flush=True)


class Request:
    def __init__(self, pb2, device_id, method, sequence, payload):
        self.sequence = sequence
        self.message = pb2.ControllerMessage(
            target_device_id=device_id,
            method_name=method,
            sequence_number=sequence,
            encrypted_payload=payload,
            timeout_ms=ATTEMPT_TIMEOUT_SECONDS * 1000,
        )


def attempt(stub, pb2, metadata, request, number):
    """One ConnectToDevice stream for one request; True once answered with OK."""
    import grpc

    answered = threading.Event()

    def messages():
        yield request.message
        # Half-close only after the answer, as a controller that pipelines would.
        answered.wait(ATTEMPT_TIMEOUT_SECONDS)

    responses = stub["ConnectToDevice"](
        messages(),
        metadata=metadata,
        timeout=ATTEMPT_TIMEOUT_SECONDS,
        wait_for_ready=True,
    )
    result = False
    try:
        for response in responses:
            error = pb2.ErrorCode.Name(response.error)
            payload = response.encrypted_payload.decode("utf-8", "replace")
            if answered.is_set():
                emit("extra", seq=request.sequence, answer_seq=response.sequence_number, error=error, payload=payload)
                continue
            answered.set()
            if error == "OK":
                emit("answered", seq=request.sequence, attempt=number, answer_seq=response.sequence_number, payload=payload)
                result = True
            else:
                emit("refused", seq=request.sequence, attempt=number, error=error, message=response.error_message)
    except grpc.RpcError as failure:
        if not result:
            emit("failed", seq=request.sequence, attempt=number, code=failure.code().name, details=failure.details() or "")
    finally:
        answered.set()
    return result


def worker(stub, pb2, metadata, request, deadline):
    number = 0
    while time.monotonic() < deadline:
        number += 1
        if attempt(stub, pb2, metadata, request, number):
            return
        time.sleep(REFUSED_PAUSE_SECONDS)
    emit("gave_up", seq=request.sequence, attempts=number)


def main():
    parser = relay_argument_parser(__doc__, "the device to call")
    parser.add_argument("--method", default="echo", help="method name of every request")
    parser.add_argument("--prefix", required=True, help="payload of request S is PREFIX-S")
    parser.add_argument("--first", type=int, required=True, help="sequence number of the first request")
    parser.add_argument("--count", type=int, default=20, help="requests sent at once")
    parser.add_argument(
        "--reconnect-backoff-ms",
        type=int,
        help="the channel's reconnect backoff, initial and maximum (default: grpcio's own, 1 s growing 1.6x)",
    )
    args = parser.parse_args()
    import grpc

    with open(args.ca, "rb") as handle:
        ca_pem = handle.read()
    with open(args.token_file, "r") as handle:
        metadata = (("authorization", "Bearer " + handle.read().strip()),)
    options = []
    if args.reconnect_backoff_ms is not None:
        # Not grpc.min_reconnect_backoff_ms: C-core takes that as the connect
        # (TCP, TLS and HTTP/2 handshake) timeout.
        options = [
            ("grpc.initial_reconnect_backoff_ms", args.reconnect_backoff_ms),
            ("grpc.max_reconnect_backoff_ms", args.reconnect_backoff_ms),
        ]
    out_dir = tempfile.mkdtemp(prefix="relay-py-stubs-")
    try:
        pb2 = load_relay_pb2(out_dir)
        credentials = grpc.ssl_channel_credentials(root_certificates=ca_pem)
        with grpc.secure_channel(args.address, credentials, options=options) as channel:
            stub = relay_stub(channel, pb2)
            requests = [
                Request(pb2, args.device_id, args.method, sequence, ("%s-%d" % (args.prefix, sequence)).encode())
                for sequence in range(args.first, args.first + args.count)
            ]
            deadline = time.monotonic() + OVERALL_SECONDS
            threads = [
                threading.Thread(target=worker, args=(stub, pb2, metadata, request, deadline))
                for request in requests
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
    finally:
        shutil.rmtree(out_dir, ignore_errors=True)
    emit("done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
