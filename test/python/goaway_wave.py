#!/usr/bin/env python3
"""Waves of grpcio channels that close all at once while their streams are open.

Driven by test/goaway_wave_test.ts over stdin/stdout, one command a line, one
JSON answer a line:

  open N      opens N channels (each its own TCP connection), each with one
              ConnectToDevice stream on which an "echo" request was answered
              and HELD requests ("hold", answered only later by the device)
              are in flight; answers {"opened": N}
  close       closes every open channel at once (a thread per channel behind
              a barrier); answers {"closed": N, "errors": {...}} with how
              the held requests ended on the client
  probe       a fresh channel: one echo request; answers {"echoed": true}
  quit        exits

grpcio 1.51's channel.close() cancels each open call (RST_STREAM CANCEL) and
closes the socket; it sends no GOAWAY (a frame-logging proxy shows none), so
for the relay this is the "clients vanish mid-stream" half of the test.

Usage:
  goaway_wave.py ADDRESS CA_PEM TOKEN_FILE DEVICE_ID [--hold N]

ADDRESS is host:port of the relay; the certificate is checked for the name
"localhost" (the dev certificate's name). It first answers {"ready": true}
(stubs compiled); when a command fails it answers {"fail": "..."} and exits 1.
"""

import json
import os
import queue
import random
import shutil
import sys
import tempfile
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from controller import load_relay_pb2, relay_argument_parser, relay_stub  # noqa: E402

CALL_TIMEOUT_SECONDS = 20
END = object()


class WaveChannel:
    """One channel with one open ConnectToDevice stream."""

    def __init__(self, grpc, pb2, address, credentials, metadata, device_id, hold):
        self.pb2 = pb2
        self.channel = grpc.secure_channel(
            address,
            credentials,
            options=[
                ("grpc.ssl_target_name_override", "localhost"),
                # Without it every channel with the same target shares one
                # TCP connection (C-core's global subchannel pool).
                ("grpc.use_local_subchannel_pool", 1),
            ],
        )
        self.outbox = queue.Queue()
        self.answers = queue.Queue()
        self.ended = threading.Event()
        self.end_reason = None
        self.device_id = device_id
        self.hold = hold
        self.base = random.randint(1, 2**40)
        stub = relay_stub(self.channel, pb2)
        self.call = stub["ConnectToDevice"](
            self._requests(), metadata=metadata, timeout=CALL_TIMEOUT_SECONDS * 3
        )
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _requests(self):
        while True:
            message = self.outbox.get()
            if message is END:
                return
            yield message

    def _read(self):
        try:
            for response in self.call:
                self.answers.put(response)
            self.end_reason = "ended"
        except Exception as error:  # grpc.RpcError once the channel closes
            code = getattr(error, "code", None)
            self.end_reason = code().name if callable(code) else type(error).__name__
        finally:
            self.ended.set()

    def _request(self, method, sequence):
        return self.pb2.ControllerMessage(
            target_device_id=self.device_id,
            method_name=method,
            sequence_number=sequence,
            encrypted_payload=b"py-%d" % sequence,
        )

    def start(self):
        """An answered echo (the stream works), then held requests in flight."""
        self.outbox.put(self._request("echo", self.base))
        try:
            response = self.answers.get(timeout=CALL_TIMEOUT_SECONDS)
        except queue.Empty:
            raise RuntimeError("no echo answer (stream ended: %s)" % self.end_reason)
        error = self.pb2.ErrorCode.Name(response.error)
        if error != "OK" or response.encrypted_payload != b"py-%d" % self.base:
            raise RuntimeError("echo answered %s %r" % (error, response.encrypted_payload))
        for index in range(self.hold):
            self.outbox.put(self._request("hold", self.base + 1 + index))

    def close(self):
        self.channel.close()


def echo_once(grpc, pb2, address, credentials, metadata, device_id):
    channel = grpc.secure_channel(
        address,
        credentials,
        options=[("grpc.ssl_target_name_override", "localhost"), ("grpc.use_local_subchannel_pool", 1)],
    )
    try:
        stub = relay_stub(channel, pb2)
        sequence = random.randint(1, 2**40)
        request = pb2.ControllerMessage(
            target_device_id=device_id,
            method_name="echo",
            sequence_number=sequence,
            encrypted_payload=b"probe-%d" % sequence,
        )
        responses = list(stub["ConnectToDevice"](iter([request]), metadata=metadata, timeout=CALL_TIMEOUT_SECONDS))
        if len(responses) != 1:
            raise RuntimeError("probe: %d answers" % len(responses))
        error = pb2.ErrorCode.Name(responses[0].error)
        if error != "OK" or responses[0].encrypted_payload != b"probe-%d" % sequence:
            raise RuntimeError("probe answered %s" % error)
    finally:
        channel.close()


def close_all(channels):
    """Closes every channel at the same moment; returns how their streams ended."""
    barrier = threading.Barrier(len(channels)) if channels else None

    def close(channel):
        barrier.wait()
        channel.close()

    threads = [threading.Thread(target=close, args=(channel,)) for channel in channels]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    reasons = {}
    for channel in channels:
        channel.ended.wait(CALL_TIMEOUT_SECONDS)
        reason = channel.end_reason or "still open"
        reasons[reason] = reasons.get(reason, 0) + 1
    return reasons


def serve(args):
    import grpc

    with open(args.ca, "rb") as handle:
        credentials = grpc.ssl_channel_credentials(root_certificates=handle.read())
    with open(args.token_file) as handle:
        metadata = (("authorization", "Bearer " + handle.read().strip()),)
    out_dir = tempfile.mkdtemp(prefix="relay-py-stubs-")
    try:
        pb2 = load_relay_pb2(out_dir)
        channels = []
        reply({"ready": True})
        for line in sys.stdin:
            words = line.split()
            if not words:
                continue
            if words[0] == "open":
                opened = [
                    WaveChannel(grpc, pb2, args.address, credentials, metadata, args.device_id, args.hold)
                    for _ in range(int(words[1]))
                ]
                channels.extend(opened)
                for channel in opened:
                    channel.start()
                reply({"opened": len(opened)})
            elif words[0] == "close":
                reasons = close_all(channels)
                reply({"closed": len(channels), "ended": reasons})
                channels = []
            elif words[0] == "probe":
                echo_once(grpc, pb2, args.address, credentials, metadata, args.device_id)
                reply({"echoed": True})
            elif words[0] == "quit":
                break
            else:
                raise RuntimeError("unknown command %r" % words[0])
        close_all(channels)
    finally:
        shutil.rmtree(out_dir, ignore_errors=True)


def reply(answer):
    sys.stdout.write(json.dumps(answer) + "\n")
    sys.stdout.flush()


def main():
    parser = relay_argument_parser(__doc__, "an online device that answers echo and hold")
    parser.add_argument("--hold", type=int, default=2, help="held requests in flight per stream")
    args = parser.parse_args()
    try:
        serve(args)
    except Exception as error:  # grpc.RpcError, OSError, timeouts: name them
        reply({"fail": "%s: %s" % (type(error).__name__, error)})
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
