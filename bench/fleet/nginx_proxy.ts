// A second reference hop: Debian's nginx as a child process, TLS + HTTP/2 on
// a free loopback port, grpc_pass to the direct echo server (TLS), or to a
// device's plaintext gRPC server in the transparent-call scenario. It shows what a
// mature C proxy adds on the same path, next to what the relay adds.
import { freeTcpPort } from "./free_ports.ts";

export const NGINX_BINARY = "/usr/sbin/nginx";

export interface NginxGrpcProxyOptions {
  /** host:port of the gRPC server behind nginx (TLS unless `caFile` is null). */
  upstream: string;
  /** Certificate and key nginx serves (SAN must include localhost). */
  certFile: string;
  keyFile: string;
  /**
   * CA that signed the upstream's certificate; null: the upstream speaks
   * plaintext HTTP/2 (h2c, grpc_pass grpc://).
   */
  caFile: string | null;
  /**
   * Idle upstream connections nginx keeps for reuse (an upstream block with
   * `keepalive`); default none: a new upstream connection per call.
   */
  keepalive?: number;
  binary?: string;
  startTimeoutMs?: number;
}

export interface NginxGrpcProxy {
  /** 127.0.0.1:PORT; verify it as "localhost". */
  address: string;
  pid: number;
  close(): Promise<void>;
}

/** Throws an Error naming what is missing or what nginx said when it failed. */
export async function startNginxGrpcProxy(
  options: NginxGrpcProxyOptions,
): Promise<NginxGrpcProxy> {
  const binary = options.binary ?? NGINX_BINARY;
  try {
    await Deno.stat(binary);
  } catch {
    throw new Error(`nginx is missing (${binary} not found)`);
  }
  const dir = await Deno.makeTempDir({ prefix: "bench-nginx-" });
  const port = freeTcpPort();
  const conf = `${dir}/nginx.conf`;
  await Deno.writeTextFile(conf, config(dir, port, options));
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(binary, {
      args: [
        "-g",
        "daemon off;",
        "-c",
        conf,
        "-p",
        `${dir}/`,
        "-e",
        `${dir}/error.log`,
      ],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
  } catch (error) {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    throw new Error(`nginx could not be started: ${(error as Error).message}`);
  }
  const stderr = new Response(child.stderr).text();
  const close = async () => {
    try {
      child.kill("SIGQUIT"); // graceful: workers finish, master exits
    } catch {
      // already gone
    }
    const forced = setTimeout(() => {
      try {
        child.kill("SIGKILL");
      } catch {
        // already gone
      }
    }, 3000);
    await child.status;
    clearTimeout(forced);
    await stderr.catch(() => "");
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };
  // Ready once the port accepts connections (nginx prints nothing on start).
  const deadline = Date.now() + (options.startTimeoutMs ?? 10_000);
  let exited = false;
  child.status.then(() => exited = true);
  while (!exited && Date.now() < deadline) {
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      return { address: `127.0.0.1:${port}`, pid: child.pid, close };
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  const log = await Deno.readTextFile(`${dir}/error.log`).catch(() => "");
  await close();
  throw new Error(
    `nginx did not start (${exited ? "exited" : "timed out"}): ${
      (await stderr.catch(() => "") + log).trim().split("\n").slice(-5)
        .join("\n")
    }`,
  );
}

function upstreamBlock(options: NginxGrpcProxyOptions): string {
  if (!options.keepalive) return "";
  return `upstream device {
    server ${options.upstream};
    keepalive ${options.keepalive};
    keepalive_requests 1000000;
    keepalive_timeout 1h;
  }`;
}

function upstream(options: NginxGrpcProxyOptions): string {
  const to = options.keepalive ? "device" : options.upstream;
  if (options.caFile === null) return `grpc_pass grpc://${to};`;
  return `grpc_pass grpcs://${to};
      grpc_ssl_trusted_certificate ${options.caFile};
      grpc_ssl_verify on;
      grpc_ssl_name localhost;
      grpc_ssl_server_name on;`;
}

function config(
  dir: string,
  port: number,
  options: NginxGrpcProxyOptions,
): string {
  // Workers stay root when the bench is root: the prefix directory is private.
  const user = Deno.uid() === 0 ? "user root;" : "";
  return `${user}
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  # One long bidirectional stream: no body size cap, no idle cut-offs.
  client_max_body_size 0;
  client_body_timeout 1h;
  keepalive_timeout 1h;
  keepalive_requests 1000000;
  ${upstreamBlock(options)}
  server {
    listen 127.0.0.1:${port} ssl http2;
    ssl_certificate ${options.certFile};
    ssl_certificate_key ${options.keyFile};
    location / {
      ${upstream(options)}
      grpc_read_timeout 1h;
      grpc_send_timeout 1h;
    }
  }
}
`;
}
