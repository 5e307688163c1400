// The topic policy port: which topics a device may publish to through its
// relay connection. The composition root passes the MQTT topic ACL
// (src/mqtt/topic_acl.ts, relay.mqtt.acl).

export interface TopicPolicy {
  /** Whether `topic` is a well-formed topic name (non-empty, no wildcards). */
  isValidTopic(topic: string): boolean;
  /** Whether device `deviceId` may publish to `topic`. */
  canPublish(deviceId: string, topic: string): boolean;
}
