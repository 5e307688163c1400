// gRPC server reflection through the relay: the device's grpc-js server
// serves grpc.reflection (npm @grpc/reflection), and a grpc-js reflection
// client (proto/reflection_v1.proto) lists its services and fetches the
// descriptor of testsvc.TestService through a transparent bidi call.
import * as protoLoader from "@grpc/proto-loader";
import assert from "node:assert/strict";
import type { Buffer } from "node:buffer";
import { fileURLToPath } from "node:url";
import { JsTestServer } from "./js_test_server.ts";
import { grpc, methodOf, startCall } from "./relay_grpc_client.ts";
import { SERVICE } from "./testsvc_proto.ts";
import { rigTest } from "./transparent_rig.ts";

const REFLECTION_PROTO = fileURLToPath(
  new URL("./proto/reflection_v1.proto", import.meta.url),
);
const REFLECTION = "grpc.reflection.v1.ServerReflection";

interface ReflectionRequest {
  list_services?: string;
  file_containing_symbol?: string;
}
interface ReflectionResponse {
  list_services_response?: { service: { name: string }[] };
  file_descriptor_response?: { file_descriptor_proto: Buffer[] };
  error_response?: { error_code: number; error_message: string };
}

function reflectionService(): grpc.ServiceDefinition {
  const definition = protoLoader.loadSync(REFLECTION_PROTO, {
    keepCase: true,
    defaults: false,
    oneofs: true,
  });
  return definition[REFLECTION] as grpc.ServiceDefinition;
}

rigTest(
  "transparent calls: gRPC server reflection on the device lists its services through the relay",
  { server: () => JsTestServer.start({ reflection: true }) },
  async ({ client, target }) => {
    const info = methodOf<ReflectionRequest, ReflectionResponse>(
      reflectionService(),
      "ServerReflectionInfo",
    );
    const call = startCall(client, info, target());
    call.write({ list_services: "*" });
    await call.received(1);
    call.write({ file_containing_symbol: SERVICE });
    await call.received(2);
    call.end();
    const { status, messages } = await call.result;
    assert.equal(status.code, grpc.status.OK, status.details);

    const names =
      messages[0]?.list_services_response?.service.map((s) => s.name) ?? [];
    // @grpc/reflection lists the services it describes, not itself.
    assert.deepEqual(names, [SERVICE]);

    const files = messages[1]?.file_descriptor_response
      ?.file_descriptor_proto ?? [];
    assert.ok(files.length > 0, JSON.stringify(messages[1]));
    const text = files.map((bytes) => new TextDecoder().decode(bytes)).join();
    assert.match(text, /testsvc\.proto/);
    assert.match(text, /TestService/);
  },
);
