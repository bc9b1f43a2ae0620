/**
 * What an import locates with by default: the local IP database, its batches on a thread of their own
 * (batch-locator.ts), single addresses (IPv6, an updated password) on the calling thread.
 */
import { BatchLocator } from './batch-locator.ts';
import { locateIp } from './ip-database.ts';
import type { Locate } from './location.ts';

const batches = new BatchLocator();

export const locateForImport: Locate = Object.assign((ip: string) => locateIp(ip), {
  v4: locateIp.v4,
  many: (ips: Uint32Array) => batches.locate(ips),
});

/** An import begins: start the thread now, so it opens the databases while the file is parsed. */
export const prepareImportLocating = (): void => batches.prepare();
