/**
 * Addresses in the order to look them up: neighbouring addresses share the database's tree nodes, so
 * walking them sorted hits the CPU cache (measured: 100,000 public addresses 0.22 s in file order,
 * 0.13 s sorted). The main thread's lookups (apply-import.ts) and the IP database's thread
 * (locate-worker.ts) both sort with this.
 */

/** Positions are below 2^21, so address * 2^21 + position is exact in a double for addresses up to 2^32. */
const SPAN = 2 ** 21;

/**
 * One number per address, sorted: address * 2^21 + its position (read back with addressOf and
 * positionOf). Null when there are too many addresses to number this way: look them up in order.
 */
export function inAddressOrder(addresses: ArrayLike<number>): Float64Array | null {
  if (addresses.length >= SPAN) return null;
  const keys = new Float64Array(addresses.length);
  for (let i = 0; i < addresses.length; i++) keys[i] = addresses[i]! * SPAN + i;
  return keys.sort();
}

export const addressOf = (key: number): number => Math.floor(key / SPAN);
export const positionOf = (key: number): number => key % SPAN;
