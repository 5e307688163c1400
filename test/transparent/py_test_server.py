#!/usr/bin/env python3
"""The device's own gRPC server in the transparent-call tests (grpcio).

Serves testsvc.TestService (proto/testsvc.proto) in plaintext on
127.0.0.1:0 and prints "PORT <n>" once it listens. Block calls are recorded
(started, cancelled, finished) and each is also printed as "EVENT <kind>
<tag>". Stops when its standard input closes or on SIGTERM.

Usage: py_test_server.py
"""

import signal
import sys
import tempfile
import threading
from concurrent import futures

import grpc

import testsvc_stubs

MAX_MESSAGE_BYTES = 64 * 1024 * 1024
WORKERS = 256
# Any time left above a year means no deadline.
NO_DEADLINE_SECONDS = 365 * 24 * 3600


class Recorder:
    def __init__(self, pb2):
        self._pb2 = pb2
        self._lock = threading.Lock()
        self._events = []

    def add(self, tag, kind, time_remaining_ms=-1):
        with self._lock:
            self._events.append(
                self._pb2.Event(tag=tag, kind=kind, time_remaining_ms=time_remaining_ms)
            )
        print("EVENT %s %s" % (kind, tag), flush=True)

    def snapshot(self):
        with self._lock:
            return list(self._events)


def time_remaining_ms(context):
    """-1 without a deadline (grpcio then reports None or an enormous value)."""
    left = context.time_remaining()
    if left is None or left > NO_DEADLINE_SECONDS:
        return -1
    return int(left * 1000)


def ended_event(context):
    """An event set when the call terminates (completed, cancelled, expired)."""
    ended = threading.Event()
    if not context.add_callback(ended.set):
        ended.set()
    return ended


def servicer_class(pb2, pb2_grpc, stubs):
    class TestService(pb2_grpc.TestServiceServicer):
        def __init__(self, recorder):
            self._recorder = recorder

        def Unary(self, request, context):
            return pb2.EchoReply(text=request.text, payload=request.payload)

        def ServerStream(self, request, context):
            ended = ended_event(context)
            for i in range(request.count):
                if i > 0 and request.interval_ms > 0:
                    if ended.wait(request.interval_ms / 1000):
                        return
                yield pb2.EchoReply(text="%s-%d" % (request.text, i))

        def ClientStream(self, request_iterator, context):
            count, texts, size = 0, [], 0
            for request in request_iterator:
                count += 1
                texts.append(request.text)
                size += len(request.payload)
            return pb2.SumReply(count=count, text="".join(texts), payload_bytes=size)

        def Bidi(self, request_iterator, context):
            for request in request_iterator:
                yield pb2.EchoReply(text=request.text, payload=request.payload)

        def Block(self, request, context):
            ended = ended_event(context)
            self._recorder.add(request.tag, "started", time_remaining_ms(context))
            ended.wait(request.sleep_ms / 1000 if request.sleep_ms > 0 else None)
            if context.is_active():
                self._recorder.add(request.tag, "finished")
                return pb2.EchoReply(text=request.tag)
            self._recorder.add(request.tag, "cancelled")
            return pb2.EchoReply()

        def Events(self, request, context):
            return pb2.EventsReply(events=self._recorder.snapshot())

        def Fail(self, request, context):
            trailers = [
                (entry.key, entry.bin_value if entry.key.endswith("-bin") else entry.value)
                for entry in request.trailers
            ]
            context.set_trailing_metadata(trailers)
            context.abort(stubs.status_code(request.code), request.message)

        def Metadata(self, request, context):
            context.send_initial_metadata((("x-test-header", "header-value"),))
            context.set_trailing_metadata(
                (
                    ("x-test-trailer", "trailer-value"),
                    ("x-test-trailer-bin", b"\x00\xfftrailer\x01"),
                )
            )
            entries = []
            for key, value in context.invocation_metadata():
                if key.endswith("-bin"):
                    entries.append(pb2.Entry(key=key, bin_value=value))
                else:
                    entries.append(pb2.Entry(key=key, value=value))
            return pb2.MetadataReply(entries=entries)

    return TestService


def main():
    with tempfile.TemporaryDirectory(prefix="testsvc-") as out_dir:
        pb2, pb2_grpc = testsvc_stubs.load(out_dir)
        recorder = Recorder(pb2)
        server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=WORKERS),
            options=[
                ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
                ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
            ],
        )
        pb2_grpc.add_TestServiceServicer_to_server(
            servicer_class(pb2, pb2_grpc, testsvc_stubs)(recorder), server
        )
        port = server.add_insecure_port("127.0.0.1:0")
        server.start()
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
        print("PORT %d" % port, flush=True)
        while not stop.wait(0.2):
            pass
        server.stop(0).wait(2)


if __name__ == "__main__":
    main()
