// Original file: proto/relay/v1/relay.proto

export interface ListOnlineDevicesRequest {
  "controller_id"?: string;
  "token"?: string;
  "region_filter"?: string;
  "label_filter"?: { [key: string]: string };
}

export interface ListOnlineDevicesRequest__Output {
  "controller_id": string;
  "token": string;
  "region_filter": string;
  "label_filter": { [key: string]: string };
}
