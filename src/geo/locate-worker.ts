/**
 * The IP database's own thread (batch-locator.ts starts it): an import's addresses are located here
 * while the main thread applies the import, on the second core. It opens the databases as soon as it
 * starts, answers each batch in address order (neighbouring addresses share the tree's nodes, so the
 * walk hits the CPU cache), and sends each distinct place once per thread, with its store-file text.
 * Everything is local files: no network, no DNS.
 */
import { parentPort } from 'node:worker_threads';
import { latin1Json } from '../store/latin1-json.ts';
import { addressOf, inAddressOrder, positionOf } from './address-order.ts';
import { locateIp } from './ip-database.ts';
import type { GeoLocation } from './location.ts';

/** A batch to locate: IPv4 addresses as 32-bit numbers. */
export interface LocateRequest {
  id: number;
  ips: Uint32Array;
}

/** A place the main thread has not had yet: its fields in GeoLocation order, then its JSON text. */
export type FreshPlace = [country: string | null, region: string | null, city: string | null, asn: number | null, asOrg: string | null, source: string, json: string];

export type LocateReply =
  | {
      id: number;
      /** Per address, in request order: its place's number in this thread (0, 1, ...). */
      places: Int32Array;
      /** The places numbered from `firstFresh` on, in order: new to the main thread. */
      fresh: FreshPlace[];
      firstFresh: number;
    }
  | { id: number; error: string };

const port = parentPort;
if (!port) throw new Error('locate-worker.ts runs as a worker thread (batch-locator.ts starts it)');

const numberOf = new Map<GeoLocation, number>();
/** Records of the same city with other coordinates or postcodes are one place for Connexa: one number. */
const numberOfText = new Map<string, number>();
let count = 0;

function locateBatch(ips: Uint32Array): { places: Int32Array; fresh: FreshPlace[]; firstFresh: number } {
  const firstFresh = count;
  const fresh: FreshPlace[] = [];
  const places = new Int32Array(ips.length);
  const at = (i: number, ip: number) => {
    const g = locateIp.v4!(ip);
    let n = numberOf.get(g);
    if (n === undefined) {
      const json = latin1Json(JSON.stringify(g));
      n = numberOfText.get(json);
      if (n === undefined) {
        n = count++;
        numberOfText.set(json, n);
        fresh.push([g.country, g.region, g.city, g.asn ?? null, g.asOrg ?? null, g.source, json]);
      }
      numberOf.set(g, n);
    }
    places[i] = n;
  };
  const keys = inAddressOrder(ips);
  if (keys) for (let k = 0; k < keys.length; k++) at(positionOf(keys[k]!), addressOf(keys[k]!));
  else for (let i = 0; i < ips.length; i++) at(i, ips[i]!);
  return { places, fresh, firstFresh };
}

// Open the databases now: the main thread starts this thread when an import begins, before it parses.
locateIp.v4!(0x08080808);

port.on('message', (req: LocateRequest) => {
  let reply: LocateReply;
  try {
    reply = { id: req.id, ...locateBatch(req.ips) };
  } catch (err) {
    reply = { id: req.id, error: err instanceof Error ? err.message : String(err) };
  }
  port.postMessage(reply, 'places' in reply ? [reply.places.buffer as ArrayBuffer] : []);
});
