/**
 * Test helpers for the services: an HTTP server that answers with the address it saw the
 * connection come from, curl through a SOCKS5 proxy (credentials on stdin, never in argv), and a
 * bare SOCKS5 client for protocol-level checks.
 */
import { spawn } from 'node:child_process';
import net from 'node:net';
import { bytesAsked, sendBytes, startHttp } from '../kit/http.ts';

export interface WhoAmI {
  url(host?: string): string;
  port: number;
  /** Remote addresses of every request, in order. */
  seen: string[];
  close(): Promise<void>;
}

/** GET / answers `you are <remote address>`; GET /bytes/N answers N bytes of the kit's pattern. */
export async function whoAmIServer(host = '127.0.0.1'): Promise<WhoAmI> {
  const seen: string[] = [];
  const server = await startHttp((req, res) => {
    const remote = req.socket.remoteAddress ?? '?';
    seen.push(remote);
    const bytes = bytesAsked(req);
    if (bytes !== null) sendBytes(res, bytes);
    else res.end(`you are ${remote}\n`);
  }, host);
  return { port: server.port, seen, url: (h = host) => server.url('/', h), close: server.close };
}

export interface CurlResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * curl --socks5-hostname through a proxy. The proxy (with its credentials) goes in a config read
 * from stdin, so no password is in the process list. `creds` null: no credentials offered.
 */
export function curlViaSocks(o: { proxyHost: string; proxyPort: number; creds: { login: string; password: string } | null; url: string; timeoutS?: number; netns?: string; extra?: string[] }): Promise<CurlResult> {
  const proxy = `${o.creds ? `${o.creds.login}:${o.creds.password}@` : ''}${o.proxyHost}:${o.proxyPort}`;
  const config = [`socks5-hostname = "${proxy}"`, `url = "${o.url}"`, 'silent', 'show-error', `max-time = ${o.timeoutS ?? 10}`, ''].join('\n');
  const argv = ['-K', '-', ...(o.extra ?? [])];
  const [cmd, args] = o.netns ? ['ip', ['netns', 'exec', o.netns, 'curl', ...argv]] : ['curl', argv];
  return new Promise((resolve) => {
    const child = spawn(cmd, args as string[], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    child.stdin.end(config);
  });
}

/** A bare SOCKS5 client: sends exactly the bytes a test gives and collects what comes back. */
export class RawSocks {
  readonly socket: net.Socket;
  private buf = Buffer.alloc(0);
  private waiters: Array<() => void> = [];
  closed = false;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on('data', (c: Buffer) => {
      this.buf = Buffer.concat([this.buf, c]);
      for (const w of this.waiters.splice(0)) w();
    });
    socket.on('close', () => {
      this.closed = true;
      for (const w of this.waiters.splice(0)) w();
    });
    socket.on('error', () => {});
  }

  static connect(port: number, host = '127.0.0.1', localAddress?: string): Promise<RawSocks> {
    return new Promise((resolve, reject) => {
      const s = net.connect({ port, host, ...(localAddress ? { localAddress } : {}) }, () => resolve(new RawSocks(s)));
      s.once('error', reject);
    });
  }

  send(bytes: number[] | Buffer): void {
    this.socket.write(Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes));
  }

  /** Resolves with exactly n bytes, or rejects when the connection closes first or time runs out. */
  async read(n: number, timeoutMs = 3000): Promise<Buffer> {
    const until = Date.now() + timeoutMs;
    while (this.buf.length < n) {
      if (this.closed) throw new Error(`closed after ${this.buf.length} of ${n} bytes`);
      const left = until - Date.now();
      if (left <= 0) throw new Error(`timeout after ${this.buf.length} of ${n} bytes`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    return out;
  }

  /** Resolves when the proxy closes the connection (true) or after timeoutMs (false). */
  async waitClosed(timeoutMs = 3000): Promise<boolean> {
    const until = Date.now() + timeoutMs;
    while (!this.closed && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
    return this.closed;
  }

  /** Greeting with user/pass, then the credentials; returns the auth status byte. */
  async login(login: string, password: string): Promise<number> {
    this.send([5, 1, 2]);
    const m = await this.read(2);
    if (m[1] !== 2) throw new Error(`method ${m[1]}`);
    const u = Buffer.from(login);
    const p = Buffer.from(password);
    this.send(Buffer.concat([Buffer.from([1, u.length]), u, Buffer.from([p.length]), p]));
    return (await this.read(2))[1]!;
  }

  /** CONNECT to an IPv4 address; returns the reply code. */
  async connectIPv4(ip: string, port: number): Promise<number> {
    const b = Buffer.alloc(10);
    b.set([5, 1, 0, 1], 0);
    ip.split('.').forEach((o, i) => (b[4 + i] = Number(o)));
    b.writeUInt16BE(port, 8);
    this.send(b);
    return (await this.read(10))[1]!;
  }

  close(): void {
    this.socket.destroy();
  }
}
