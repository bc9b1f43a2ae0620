import type { FleetNode } from '../fleet/node.ts';
import { placeJsonOf, placeSerialOf, type GeoLocation } from '../geo/location.ts';
import { latin1Json } from './latin1-json.ts';

/**
 * The store file's table of places (store version 4): each distinct location is written once, in
 * `"places":[...]` after the nodes, and a node's `geo` and `speed.exitGeo` hold its index there. Inline,
 * every located node carried ~130 bytes of the same few thousand objects: 13 MB more per 100,000
 * nodes to write (measured: the geo bench's import 35 % slower with lookups, 11 % from the bytes alone).
 * In memory nothing changes: nodes share one object per place.
 */

/** What makes two locations the same place. */
export function placeKey(g: GeoLocation): string {
  return `${g.country}\u0000${g.region}\u0000${g.city}\u0000${g.asn}\u0000${g.asOrg}\u0000${g.source}`;
}

/**
 * Indexes handed out while the store is open. They only grow: a node's cached JSON keeps its index
 * until the node changes, so an index must never be reused for another place. A place no node refers
 * to any more stays in the table until the next start (which writes only the places still used).
 */
export class PlaceTable {
  /** Each place's JSON, in index order. */
  private readonly texts: string[] = [];
  private readonly byObject = new Map<GeoLocation, number>();
  private readonly byText = new Map<string, number>();
  /** Index by serial number, for places made with their text (describedPlace): no hashing at all. */
  private readonly bySerial: number[] = [];

  indexOf(g: GeoLocation): number {
    const serial = placeSerialOf(g);
    if (serial !== undefined) return this.described(g, serial);
    let i = this.byObject.get(g);
    if (i !== undefined) return i;
    // A copy of a known place (patched from elsewhere) gets the same index: its text is the key
    // (the text is needed anyway; a key of its own fields cost more than the write saved).
    const text = latin1Json(JSON.stringify(g));
    i = this.byText.get(text);
    if (i === undefined) {
      i = this.texts.length;
      this.texts.push(text);
      this.byText.set(text, i);
    }
    this.byObject.set(g, i);
    return i;
  }

  /**
   * A place that came with its text (located off the main thread): the text is written as it is.
   * It is not matched against other copies of the same place: each such object is one of a kind
   * where it was made, and a copy from elsewhere gets an entry of its own (the same text twice in
   * the table at worst, which reads back the same; the next start writes only the places in use).
   */
  private described(g: GeoLocation, serial: number): number {
    let i = this.bySerial[serial];
    if (i === undefined) {
      i = this.texts.length;
      this.texts.push(placeJsonOf(g)!);
      this.bySerial[serial] = i;
    }
    return i;
  }

  /** The table as JSON array elements, one place per line. */
  elements(): string[] {
    return this.texts;
  }

  /**
   * A node's JSON as written: its places as indexes (same keys, same order). The node's own fields are
   * swapped for the indexes around one JSON.stringify and put back before anything else can run: a
   * copy of each node to write (object spread) cost more in allocation and GC than the bytes it saved.
   */
  nodeJson(n: FleetNode): string {
    const geo = n.geo;
    const speed = n.speed;
    const exit = speed?.exitGeo;
    if (!geo && !exit) return JSON.stringify(n);
    if (Object.isFrozen(n) || (exit && Object.isFrozen(speed))) {
      // Not ours to swap (a caller's frozen object): write a copy.
      return JSON.stringify({ ...n, geo: geo ? this.indexOf(geo) : geo, ...(exit ? { speed: { ...speed, exitGeo: this.indexOf(exit) } } : {}) });
    }
    const slots = n as unknown as { geo: unknown };
    const speedSlots = speed as unknown as { exitGeo: unknown };
    try {
      if (geo) slots.geo = this.indexOf(geo);
      if (exit) speedSlots.exitGeo = this.indexOf(exit);
      return JSON.stringify(n);
    } finally {
      slots.geo = geo;
      if (exit) speedSlots.exitGeo = exit;
    }
  }
}

/**
 * The raw file data with every place index replaced by its place (one shared object per place) and
 * the table removed, ready for the schema; a file without a table (version 3 and older) is returned as
 * it is. Returns the reason when an index points nowhere.
 */
export function inlinePlaces(raw: Record<string, unknown>): { ok: true; data: Record<string, unknown> } | { ok: false; reason: string } {
  if (raw.places === undefined) return { ok: true, data: raw };
  const { places, ...data } = raw;
  if (!Array.isArray(places)) return { ok: false, reason: 'its places are not a list' };
  if (!Array.isArray(data.nodes)) return { ok: true, data };
  const place = (v: unknown, where: string): unknown => {
    if (typeof v !== 'number') return v;
    if (!Number.isInteger(v) || v < 0 || v >= places.length) throw new RangeError(`${where} refers to place ${v}, which the file's ${places.length} places do not have`);
    return places[v];
  };
  try {
    for (const [i, n] of (data.nodes as Array<Record<string, unknown>>).entries()) {
      if (n === null || typeof n !== 'object') continue;
      n.geo = place(n.geo, `nodes.${i}.geo`);
      const speed = n.speed as Record<string, unknown> | null | undefined;
      if (speed && typeof speed === 'object' && 'exitGeo' in speed) speed.exitGeo = place(speed.exitGeo, `nodes.${i}.speed.exitGeo`);
    }
  } catch (err) {
    return { ok: false, reason: (err as Error).message };
  }
  return { ok: true, data };
}
