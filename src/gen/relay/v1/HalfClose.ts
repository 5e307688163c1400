// Original file: proto/relay/v1/relay.proto

export interface HalfClose {
}

export interface HalfClose__Output {
}
