#!/usr/bin/env python3
"""A Python grpcio client of a device's own service, through the relay.

An ordinary gRPC client of testsvc.TestService (proto/testsvc.proto): TLS
with the relay's CA to the relay's gRPC port, the device named in
`relay-device-id` metadata and the controller JWT in `authorization`. It
makes a unary call, a bidi call (each echo read before the next request is
sent), a call that fails with a status and trailers, a metadata call, and a
call without relay-device-id.

Usage: py_test_client.py ADDRESS CA_PEM TOKEN_FILE DEVICE_ID

Prints one "ok: ..." line per check and "PASS" at the end; exit status 1
with a "FAIL: ..." line otherwise.
"""

import queue
import sys
import tempfile

import grpc

import testsvc_stubs

TIMEOUT_SECONDS = 20


class CheckFailed(Exception):
    pass


def check(condition, message):
    if not condition:
        raise CheckFailed(message)


def bidi(stub, pb2, metadata):
    requests = queue.Queue()

    def request_iterator():
        while True:
            item = requests.get()
            if item is None:
                return
            yield item

    responses = stub.Bidi(request_iterator(), metadata=metadata, timeout=TIMEOUT_SECONDS)
    for i in range(5):
        requests.put(pb2.EchoRequest(text="py-%d" % i, payload=bytes([i, 255])))
        reply = next(responses)
        check(reply.text == "py-%d" % i, "bidi echo %d: %r" % (i, reply.text))
        check(reply.payload == bytes([i, 255]), "bidi payload %d" % i)
    requests.put(None)
    rest = list(responses)
    check(rest == [], "bidi: unexpected replies after the half-close: %r" % rest)
    print("ok: bidi echoed 5 messages one by one")


def failure(stub, pb2, metadata):
    try:
        stub.Fail(
            pb2.FailRequest(
                code=grpc.StatusCode.FAILED_PRECONDITION.value[0],
                message="not now, python",
                trailers=[
                    pb2.Entry(key="x-reason", value="python-reason"),
                    pb2.Entry(key="x-detail-bin", bin_value=b"\x01\x00\xff"),
                ],
            ),
            metadata=metadata,
            timeout=TIMEOUT_SECONDS,
        )
    except grpc.RpcError as error:
        check(
            error.code() == grpc.StatusCode.FAILED_PRECONDITION,
            "Fail: code %s" % error.code(),
        )
        check(error.details() == "not now, python", "Fail: details %r" % error.details())
        trailers = dict(error.trailing_metadata() or ())
        check(trailers.get("x-reason") == "python-reason", "Fail: trailers %r" % trailers)
        check(trailers.get("x-detail-bin") == b"\x01\x00\xff", "Fail: trailers %r" % trailers)
        print("ok: Fail answered FAILED_PRECONDITION with its message and trailers")
        return
    raise CheckFailed("Fail succeeded")


def main(argv):
    if len(argv) != 5:
        print(__doc__)
        return 2
    address, ca_file, token_file, device_id = argv[1:]
    with open(ca_file, "rb") as f:
        credentials = grpc.ssl_channel_credentials(f.read())
    with open(token_file) as f:
        token = f.read().strip()
    auth = ("authorization", "Bearer " + token)
    metadata = [("relay-device-id", device_id), auth]
    with tempfile.TemporaryDirectory(prefix="testsvc-") as out_dir:
        pb2, pb2_grpc = testsvc_stubs.load(out_dir)
        with grpc.secure_channel(address, credentials) as channel:
            stub = pb2_grpc.TestServiceStub(channel)
            try:
                reply = stub.Unary(
                    pb2.EchoRequest(text="from python", payload=b"\x00\x01"),
                    metadata=metadata,
                    timeout=TIMEOUT_SECONDS,
                )
                check(reply.text == "from python", "Unary: %r" % reply.text)
                check(reply.payload == b"\x00\x01", "Unary payload: %r" % reply.payload)
                print("ok: Unary echoed")
                bidi(stub, pb2, metadata)
                failure(stub, pb2, metadata)
                answer = stub.Metadata(
                    pb2.EchoRequest(),
                    metadata=metadata + [("x-python", "yes")],
                    timeout=TIMEOUT_SECONDS,
                )
                keys = [entry.key for entry in answer.entries]
                check("x-python" in keys, "Metadata: %r" % keys)
                check(
                    not [k for k in keys if k == "authorization" or k.startswith("relay-")],
                    "Metadata: the device received %r" % keys,
                )
                print("ok: the device got x-python and no authorization or relay-* key")
                try:
                    stub.Unary(pb2.EchoRequest(), metadata=[auth], timeout=TIMEOUT_SECONDS)
                    raise CheckFailed("a call without relay-device-id succeeded")
                except grpc.RpcError as error:
                    check(
                        error.code() == grpc.StatusCode.UNIMPLEMENTED,
                        "no relay-device-id: %s %s" % (error.code(), error.details()),
                    )
                    check("relay-device-id" in error.details(), error.details())
                print("ok: without relay-device-id: UNIMPLEMENTED")
            except CheckFailed as failed:
                print("FAIL: %s" % failed)
                return 1
            except grpc.RpcError as error:
                print("FAIL: %s %s" % (error.code(), error.details()))
                return 1
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
