// The relay's view of one MQTT client session in a tunnel: every packet from
// the client is parsed with mqtt-packet (MQTT 3.1.1 and 5.0) and checked
// against the device's topic ACL; allowed packets reach the broker byte for
// byte, refused ones get the protocol's refusal from the relay, and the few
// broker packets that answer a rewritten or refused packet are adjusted so
// the client's session stays consistent. No I/O here: the bridge feeds whole
// packets in and writes what comes out.
//
// Per version and QoS (client packet -> what the relay does):
// - CONNECT: client id becomes "<device id>/<client id>" (an empty one gets
//   a random suffix; 5.0 learns it as Assigned Client Identifier), so a
//   tunnel client can only take over sessions of its own device. The
//   client's username/password are dropped (the tunnel is authenticated by
//   the device credential; the relay's broker credentials are sent when
//   configured). A will outside the publish ACL is refused with CONNACK
//   0x05 (3.1.1) / 0x87 (5.0); 5.0 enhanced authentication with 0x8C; MQTT
//   3.1 with 0x01; 3.1.1 with an empty id and no clean session with 0x02.
// - PUBLISH outside the ACL: QoS 0 dropped; QoS 1 PUBACK (5.0: reason 0x87);
//   QoS 2 PUBREC (5.0: reason 0x87, which ends the flow; 3.1.1: success,
//   and the relay answers the PUBREL with PUBCOMP itself). 3.1.1 cannot say
//   "refused", so the acknowledgement is positive and the message is
//   dropped (MQTT-3.3.5-2 allows exactly that). Acknowledgements the relay
//   makes are held back until the broker acknowledged every earlier
//   forwarded publication, so the client sees them in publication order.
// - SUBSCRIBE: refused filters are removed and the broker's SUBACK gets
//   0x80 (3.1.1) / 0x87 (5.0) at their positions; with no allowed filter the
//   relay answers the SUBACK itself.
// - Packet ids are never renumbered; everything else passes unchanged.
import { Buffer } from "node:buffer";
import * as mqttPacket from "mqtt-packet";
import type {
  IConnackPacket,
  IConnectPacket,
  IPublishPacket,
  ISubackPacket,
  ISubscribePacket,
  Packet,
} from "mqtt-packet";
import { RelayError } from "../errors/relay_error.ts";
import type { TopicAcl } from "./topic_acl.ts";
import { AckOrder } from "./tunnel_ack_order.ts";
import { packetType } from "./tunnel_packet_framer.ts";

export type RefusedPacket = "connect" | "will" | "publish" | "subscribe";

export interface MqttTunnelSessionOptions {
  deviceId: string;
  acl: TopicAcl;
  /** Sent to the broker instead of the client's (none: the client's are dropped). */
  brokerCredentials?: { username: string; password: string };
  /** Suffix for clients that send an empty client id (default: random). */
  randomId?: () => string;
  /** Told about every refusal (metrics). */
  onRefusal?: (packet: RefusedPacket) => void;
}

/** What one packet produced; the bridge writes it and ends the session when `end` is set. */
export interface SessionOutput {
  toBroker: Uint8Array[];
  toClient: Uint8Array[];
  /** Why the session ends (refused CONNECT, protocol violation); the output is written first. */
  end?: string;
}

const TYPE = {
  CONNECT: 1,
  CONNACK: 2,
  PUBLISH: 3,
  PUBACK: 4,
  PUBREC: 5,
  PUBREL: 6,
  SUBSCRIBE: 8,
  SUBACK: 9,
} as const;

const V311 = 4;
const V5 = 5;
/** 3.1.1 SUBACK failure; 5.0 reason codes. */
const SUBACK_FAILURE_311 = 0x80;
const NOT_AUTHORIZED = 0x87;
const MALFORMED_PACKET = 0x81;
const PROTOCOL_ERROR = 0x82;
const BAD_AUTHENTICATION_METHOD = 0x8c;
const PACKET_TOO_LARGE = 0x95;
const SERVER_UNAVAILABLE = 0x88;
const REFUSAL_REASON = "not allowed by the relay's topic ACL";

export class MqttTunnelSession {
  readonly #options: MqttTunnelSessionOptions;
  #version: 4 | 5 | undefined;
  #clientParser: PacketParser | undefined;
  #brokerParser: PacketParser | undefined;
  /** 5.0: the suffix the relay chose for an empty client id. */
  #assignedId: string | undefined;
  #problemInformation = true;
  /** 5.0 topic aliases as the client set them (client to broker). */
  readonly #aliases = new Map<number, string>();
  /** SUBSCRIBEs sent with refused filters removed: packet id -> allowed mask. */
  readonly #pendingSubacks = new Map<number, boolean[]>();
  /** 3.1.1 refused QoS 2 publications whose PUBREL the relay answers. */
  readonly #refusedQos2 = new Set<number>();
  readonly #ackOrder = new AckOrder();

  constructor(options: MqttTunnelSessionOptions) {
    this.#options = options;
  }

  /** 4 (3.1.1) or 5 once the CONNECT was accepted. */
  get protocolVersion(): 4 | 5 | undefined {
    return this.#version;
  }

  /** One whole packet from the client. */
  fromClient(raw: Uint8Array, out: SessionOutput): void {
    if (this.#version === undefined) return this.#connect(raw, out);
    let packet: Packet;
    try {
      packet = this.#clientParser!.parse(raw);
    } catch (error) {
      return this.#disconnect(out, MALFORMED_PACKET, (error as Error).message);
    }
    switch (packet.cmd) {
      case "publish":
        return this.#publish(raw, packet, out);
      case "subscribe":
        return this.#subscribe(raw, packet, out);
      case "pubrel": {
        const id = packet.messageId ?? 0;
        if (this.#refusedQos2.delete(id)) {
          out.toClient.push(this.#generate({ cmd: "pubcomp", messageId: id }));
          return;
        }
        out.toBroker.push(raw);
        return;
      }
      case "connect":
        return this.#disconnect(out, PROTOCOL_ERROR, "second CONNECT");
      default:
        out.toBroker.push(raw);
    }
  }

  /**
   * The client's bytes could not be split into packets (a length over the
   * limit, or a malformed one): 5.0 clients get DISCONNECT 0x95 / 0x81.
   */
  framingFailed(out: SessionOutput, tooLarge: boolean, why: string): void {
    this.#disconnect(out, tooLarge ? PACKET_TOO_LARGE : MALFORMED_PACKET, why);
  }

  /**
   * The broker could not be reached for the accepted CONNECT: the client gets
   * CONNACK "server unavailable" (3.1.1 0x03, 5.0 0x88), as from a broker.
   */
  brokerUnavailable(out: SessionOutput): void {
    this.#refuseConnect(
      out,
      this.#version === V5 ? SERVER_UNAVAILABLE : 0x03,
      "the broker is unreachable",
      false,
    );
  }

  /** One whole packet from the broker. */
  fromBroker(raw: Uint8Array, out: SessionOutput): void {
    switch (packetType(raw)) {
      case TYPE.PUBACK:
      case TYPE.PUBREC:
        out.toClient.push(raw);
        this.#ackOrder.brokerAcked(packetIdAfterHeader(raw), out.toClient);
        return;
      case TYPE.SUBACK: {
        const id = packetIdAfterHeader(raw);
        const allowed = this.#pendingSubacks.get(id);
        if (allowed === undefined) break;
        this.#pendingSubacks.delete(id);
        const suback = this.#parseBroker(raw) as ISubackPacket;
        const granted = suback.granted as number[];
        let next = 0;
        out.toClient.push(this.#generate({
          ...suback,
          granted: allowed.map((ok) =>
            ok
              ? granted[next++] ?? this.#subackRefusal()
              : this.#subackRefusal()
          ),
        }));
        return;
      }
      case TYPE.CONNACK: {
        if (this.#assignedId === undefined) break;
        const connack = this.#parseBroker(raw) as IConnackPacket;
        if (connack.reasonCode !== 0) break;
        out.toClient.push(this.#generate({
          ...connack,
          properties: {
            ...connack.properties,
            assignedClientIdentifier: this.#assignedId,
          },
        }));
        return;
      }
    }
    out.toClient.push(raw);
  }

  #connect(raw: Uint8Array, out: SessionOutput): void {
    if (packetType(raw) !== TYPE.CONNECT) {
      out.end = "the first MQTT packet must be CONNECT";
      return;
    }
    let connect: IConnectPacket;
    try {
      connect = new PacketParser(undefined).parse(raw) as IConnectPacket;
    } catch (error) {
      out.end = `malformed CONNECT: ${(error as Error).message}`;
      return;
    }
    const version = connect.protocolVersion;
    if (version !== V311 && version !== V5) {
      // MQTT 3.1: "unacceptable protocol version" (the same CONNACK layout).
      return this.#refuseConnect(out, 0x01, `MQTT protocol version ${version}`);
    }
    this.#version = version;
    this.#clientParser = new PacketParser(version);
    this.#brokerParser = new PacketParser(version);
    const { deviceId, acl } = this.#options;
    if (version === V5 && connect.properties?.authenticationMethod) {
      return this.#refuseConnect(
        out,
        BAD_AUTHENTICATION_METHOD,
        "enhanced authentication is not supported through the tunnel",
      );
    }
    if (connect.will && !acl.canPublish(deviceId, connect.will.topic)) {
      this.#options.onRefusal?.("will");
      return this.#refuseConnect(
        out,
        version === V5 ? NOT_AUTHORIZED : 0x05,
        `will topic ${connect.will.topic} refused`,
      );
    }
    if (connect.clientId === "" && version === V311 && !connect.clean) {
      return this.#refuseConnect(
        out,
        0x02,
        "empty client id without clean session",
      );
    }
    this.#problemInformation =
      connect.properties?.requestProblemInformation !== false;
    let suffix = connect.clientId;
    if (suffix === "") {
      suffix = this.#options.randomId?.() ?? randomSuffix();
      if (version === V5) this.#assignedId = suffix;
    }
    const rewritten: IConnectPacket = {
      ...connect,
      clientId: `${deviceId}/${suffix}`,
    };
    delete rewritten.username;
    delete rewritten.password;
    const credentials = this.#options.brokerCredentials;
    if (credentials?.username) rewritten.username = credentials.username;
    if (credentials?.password) {
      rewritten.password = Buffer.from(credentials.password);
    }
    out.toBroker.push(this.#generate(rewritten));
  }

  #refuseConnect(
    out: SessionOutput,
    code: number,
    why: string,
    refusal = true,
  ): void {
    if (refusal) this.#options.onRefusal?.("connect");
    const v5 = this.#version === V5;
    out.toClient.push(
      mqttPacket.generate(
        v5
          ? { cmd: "connack", sessionPresent: false, reasonCode: code }
          : { cmd: "connack", sessionPresent: false, returnCode: code },
        { protocolVersion: v5 ? V5 : V311 },
      ),
    );
    out.end = `CONNECT refused: ${why}`;
  }

  #publish(raw: Uint8Array, publish: IPublishPacket, out: SessionOutput): void {
    let topic = publish.topic;
    const alias = publish.properties?.topicAlias;
    if (this.#version === V5 && alias !== undefined) {
      if (topic !== "") this.#aliases.set(alias, topic);
      else {
        const known = this.#aliases.get(alias);
        if (known === undefined) {
          return this.#disconnect(out, PROTOCOL_ERROR, "unknown topic alias");
        }
        topic = known;
      }
    }
    const id = publish.messageId ?? 0;
    if (publish.qos === 2) this.#refusedQos2.delete(id);
    if (this.#options.acl.canPublish(this.#options.deviceId, topic)) {
      out.toBroker.push(raw);
      if (publish.qos > 0) this.#ackOrder.forwarded(id);
      return;
    }
    this.#options.onRefusal?.("publish");
    if (publish.qos === 0) return;
    const v5 = this.#version === V5;
    const reason = v5 ? this.#refusal() : {};
    if (publish.qos === 1) {
      this.#acknowledge(
        this.#generate({ cmd: "puback", messageId: id, ...reason }),
        out,
      );
      return;
    }
    if (!v5) this.#refusedQos2.add(id);
    this.#acknowledge(
      this.#generate({ cmd: "pubrec", messageId: id, ...reason }),
      out,
    );
  }

  #subscribe(
    raw: Uint8Array,
    subscribe: ISubscribePacket,
    out: SessionOutput,
  ): void {
    const { acl, deviceId } = this.#options;
    const allowed = subscribe.subscriptions.map((subscription) =>
      acl.canSubscribe(deviceId, subscription.topic)
    );
    if (allowed.every(Boolean)) {
      out.toBroker.push(raw);
      return;
    }
    this.#options.onRefusal?.("subscribe");
    const id = subscribe.messageId ?? 0;
    if (!allowed.some(Boolean)) {
      out.toClient.push(this.#generate({
        cmd: "suback",
        messageId: id,
        granted: allowed.map(() => this.#subackRefusal()),
        ...(this.#version === V5 && this.#problemInformation
          ? { properties: { reasonString: REFUSAL_REASON } }
          : {}),
      }));
      return;
    }
    this.#pendingSubacks.set(id, allowed);
    out.toBroker.push(this.#generate({
      ...subscribe,
      subscriptions: subscribe.subscriptions.filter((_, i) => allowed[i]),
    }));
  }

  /** Sends the relay's acknowledgement now, or after earlier broker ones. */
  #acknowledge(bytes: Uint8Array, out: SessionOutput): void {
    if (!this.#ackOrder.acknowledge(bytes, out.toClient)) {
      this.#disconnect(out, PROTOCOL_ERROR, "too many packets in flight");
    }
  }

  #disconnect(out: SessionOutput, reasonCode: number, why: string): void {
    // 3.1.1 has no server DISCONNECT: closing the connection is the answer.
    if (this.#version === V5) {
      out.toClient.push(this.#generate({ cmd: "disconnect", reasonCode }));
    }
    out.end = `protocol violation: ${why}`;
  }

  #refusal(): { reasonCode: number; properties?: { reasonString: string } } {
    return this.#problemInformation
      ? {
        reasonCode: NOT_AUTHORIZED,
        properties: { reasonString: REFUSAL_REASON },
      }
      : { reasonCode: NOT_AUTHORIZED };
  }

  #subackRefusal(): number {
    return this.#version === V5 ? NOT_AUTHORIZED : SUBACK_FAILURE_311;
  }

  #parseBroker(raw: Uint8Array): Packet {
    try {
      return this.#brokerParser!.parse(raw);
    } catch (error) {
      throw new RelayError(
        "UNAVAILABLE",
        `malformed MQTT packet from the broker: ${(error as Error).message}`,
        { source: "upstream", cause: error },
      );
    }
  }

  #generate(packet: Packet): Uint8Array {
    return mqttPacket.generate(packet, { protocolVersion: this.#version });
  }
}

/** mqtt-packet's streaming parser fed exactly one whole packet at a time. */
class PacketParser {
  readonly #parser: mqttPacket.Parser;
  #packet: Packet | undefined;
  #error: Error | undefined;

  constructor(protocolVersion: 4 | 5 | undefined) {
    this.#parser = mqttPacket.parser(
      protocolVersion === undefined ? {} : { protocolVersion },
    );
    this.#parser.on("packet", (packet) => this.#packet = packet);
    this.#parser.on("error", (error) => this.#error ??= error);
  }

  parse(raw: Uint8Array): Packet {
    this.#packet = undefined;
    this.#error = undefined;
    const left = this.#parser.parse(
      Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength),
    );
    const packet = this.#packet;
    if (this.#error !== undefined || packet === undefined || left !== 0) {
      throw this.#error ?? new Error("incomplete packet");
    }
    return packet;
  }
}

/** The packet identifier right after the fixed header (PUBACK, PUBREC, SUBACK). */
function packetIdAfterHeader(raw: Uint8Array): number {
  let offset = 1;
  while (offset < 5 && (raw[offset]! & 0x80) !== 0) offset++;
  return ((raw[offset + 1] ?? 0) << 8) | (raw[offset + 2] ?? 0);
}

function randomSuffix(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(9));
  return btoa(String.fromCharCode(...bytes)).replaceAll("+", "-")
    .replaceAll("/", "_");
}
