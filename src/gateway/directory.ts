/**
 * The gateways the bot knows: the local one (always up while the bot runs) and every remote one
 * that has sent a heartbeat or that a node record names. Liveness is judged by when heartbeats
 * ARRIVE here (never by a gateway's clock): silent for GATEWAY_DEAD_AFTER, a gateway is down. Each
 * change of state is announced once (down, then up), so the caller alerts once per change.
 *
 * Draining (`gateway drain NAME`) is kept in the store's settings: it outlives a restart of the bot.
 */
import type { GatewayDescription, GatewayHeartbeat, GatewayPort } from './port.ts';

export interface GatewayState {
  name: string;
  local: boolean;
  description: GatewayDescription | null;
  /** When the last heartbeat arrived (ms since the epoch); null: none since the bot started. */
  lastHeartbeatAt: number | null;
  bootId: string | null;
  /** Node ids it said it runs, in its last heartbeat. */
  running: readonly string[];
  up: boolean;
  /** When it was seen down (ms since the epoch), while it is. */
  downSince: number | null;
  draining: boolean;
}

export interface DirectoryEvents {
  /** A gateway went silent for deadAfterMs (or never spoke since the bot started). */
  down(g: GatewayState, silentMs: number): void;
  /** A gateway that was down speaks again; `rebooted` when its process restarted meanwhile. */
  up(g: GatewayState, how: { rebooted: boolean }): void;
  /** A gateway's first heartbeat since the bot started (not news, but its nodes may need restoring). */
  seen?(g: GatewayState): void;
}

export interface DirectoryOptions {
  deadAfterMs: number;
  /** Reaches a remote gateway by name (the BullMQ client); null when no REDIS_URL is set. */
  connect: ((name: string) => GatewayPort) | null;
  /** Where draining names are kept (the store's settings). */
  drained: { get(): readonly string[]; set(names: readonly string[]): void };
  events: DirectoryEvents;
  now?: () => number;
}

interface Entry extends GatewayState {
  port: GatewayPort | null;
}

export class GatewayDirectory {
  private readonly entries = new Map<string, Entry>();
  private readonly startedAt: number;
  private timer: NodeJS.Timeout | null = null;
  private readonly o: DirectoryOptions;
  private readonly now: () => number;

  constructor(o: DirectoryOptions) {
    this.o = o;
    this.now = o.now ?? Date.now;
    this.startedAt = this.now();
  }

  get deadAfterMs(): number {
    return this.o.deadAfterMs;
  }

  /** The bot's own host: up for as long as the bot runs, described on demand. */
  addLocal(port: GatewayPort): void {
    this.entries.set(port.name, { ...this.blank(port.name, true), port, up: true });
  }

  /** Asks the local gateway to describe itself (its capacity changes with every start and stop). */
  async refreshLocal(): Promise<void> {
    for (const e of this.entries.values()) if (e.local && e.port) e.description = await e.port.describe();
  }

  /**
   * Names that node records give (`node.gateway`): known before their first heartbeat, so a gateway
   * that never comes back after a restart of the bot is still seen down after deadAfterMs.
   */
  expect(names: Iterable<string>): void {
    for (const name of names) if (!this.entries.has(name)) this.entries.set(name, this.blank(name, false));
  }

  heartbeat(hb: GatewayHeartbeat): void {
    const at = this.now();
    let e = this.entries.get(hb.name);
    if (!e) {
      e = this.blank(hb.name, false);
      this.entries.set(hb.name, e);
    }
    if (e.local) return; // a remote process that took the local name: ignored (config.ts refuses it)
    // Only a gateway declared down is announced back: a first heartbeat is not news.
    const wasDown = e.downSince !== null;
    const first = e.lastHeartbeatAt === null;
    const rebooted = e.bootId !== null && e.bootId !== hb.bootId;
    e.description = hb.description;
    e.lastHeartbeatAt = at;
    e.bootId = hb.bootId;
    e.running = hb.running;
    e.up = true;
    e.downSince = null;
    if (wasDown) this.o.events.up(this.view(e), { rebooted });
    else if (first) this.o.events.seen?.(this.view(e));
  }

  /** Marks silent gateways down; called on a timer (start()) and by tests with their own clock. */
  sweep(): void {
    const now = this.now();
    for (const e of this.entries.values()) {
      if (e.local || !e.up) continue;
      const silent = now - (e.lastHeartbeatAt ?? this.startedAt);
      if (silent < this.o.deadAfterMs) continue;
      e.up = false;
      e.downSince = now;
      this.o.events.down(this.view(e), silent);
    }
  }

  start(): void {
    // Several sweeps per dead-after period: a gateway is seen down at most a third of it late.
    this.timer ??= setInterval(() => this.sweep(), Math.max(250, Math.min(5_000, Math.floor(this.o.deadAfterMs / 3))));
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  list(): GatewayState[] {
    return [...this.entries.values()].map((e) => this.view(e)).sort((a, b) => Number(b.local) - Number(a.local) || a.name.localeCompare(b.name));
  }

  get(name: string): GatewayState | undefined {
    const e = this.entries.get(name);
    return e && this.view(e);
  }

  /** The port to reach a gateway by; undefined for an unknown name (or a remote one without Redis). */
  port(name: string): GatewayPort | undefined {
    const e = this.entries.get(name);
    if (!e) return undefined;
    if (!e.port && !e.local && this.o.connect) e.port = this.o.connect(name);
    return e.port ?? undefined;
  }

  /** How long a gateway has been silent (0 for the local one). */
  silentMs(name: string): number {
    const e = this.entries.get(name);
    if (!e || e.local) return 0;
    return this.now() - (e.lastHeartbeatAt ?? this.startedAt);
  }

  setDraining(name: string, on: boolean): void {
    const names = new Set(this.o.drained.get());
    if (on) names.add(name);
    else names.delete(name);
    this.o.drained.set([...names].sort());
  }

  private isDraining(name: string): boolean {
    return this.o.drained.get().includes(name);
  }

  private blank(name: string, local: boolean): Entry {
    // Up until proven silent: a gateway named by the store gets deadAfterMs from the bot's start to speak.
    return { name, local, description: null, lastHeartbeatAt: null, bootId: null, running: [], up: true, downSince: null, draining: false, port: null };
  }

  private view(e: Entry): GatewayState {
    const { port: _port, ...state } = e;
    return { ...state, running: [...e.running], draining: this.isDraining(e.name) };
  }
}
