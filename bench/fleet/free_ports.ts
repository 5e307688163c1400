// Free loopback ports chosen up front, so a relay process can be killed and
// restarted on the same addresses (devices reconnect to where they were).
export function freeTcpPort(hostname = "127.0.0.1"): number {
  const listener = Deno.listen({ hostname, port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

export function freeUdpPort(hostname = "127.0.0.1"): number {
  const socket = Deno.listenDatagram({ hostname, port: 0, transport: "udp" });
  const { port } = socket.addr as Deno.NetAddr;
  socket.close();
  return port;
}
