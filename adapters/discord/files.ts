import type { RawFile } from 'discord.js';
import { remoteFile } from '../../src/chat/download.ts';
import type { IncomingFile, OutgoingFile } from '../../src/chat/types.ts';

/** Discord takes at most 10 attachments in one message. */
export const MAX_FILES_PER_MESSAGE = 10;

export interface AttachmentInfo {
  name: string;
  size: number | null;
  contentType: string | null;
  url: string;
}

export interface DownloadOptions {
  /** The whole download must finish within this (default 120 s): a stalled CDN must not hold a command forever. */
  timeoutMs?: number;
}

/**
 * An attachment (slash-command option or message attachment) as an IncomingFile. The size Discord
 * reports is checked before any byte is fetched, and the bytes are counted while they arrive, so a
 * wrong `size` or a missing Content-Length cannot make the bot buffer more than the cap.
 * Attachment URLs are signed CDN links: the bot token is never sent with them.
 */
export function attachmentFile(info: AttachmentInfo, opts: DownloadOptions = {}): IncomingFile {
  return remoteFile(info, async () => {
    const url = new URL(info.url);
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new Error(`unsupported attachment URL scheme ${url.protocol}`);
    const res = await fetch(url, { signal: AbortSignal.timeout(opts.timeoutMs ?? 120_000) });
    if (!res.ok || !res.body) {
      await res.body?.cancel();
      throw new Error(`the attachment download failed with HTTP ${res.status}`);
    }
    return res;
  });
}

/** Outgoing files as discord.js REST files, in groups Discord accepts in one message. */
export function fileGroups(files: readonly OutgoingFile[] | undefined): RawFile[][] {
  const raw = (files ?? []).map((f): RawFile => ({ name: f.name, data: f.data, contentType: f.contentType }));
  const groups: RawFile[][] = [];
  for (let i = 0; i < raw.length; i += MAX_FILES_PER_MESSAGE) groups.push(raw.slice(i, i + MAX_FILES_PER_MESSAGE));
  return groups;
}

/**
 * `data` in `parts` pieces of at most ceil(size/parts) bytes each, cut after a line end where one
 * falls in the second half of a piece (so CSV and text parts end on whole lines).
 */
export function splitAtLines(data: Buffer, parts: number): Buffer[] {
  const size = Math.ceil(data.length / parts);
  const out: Buffer[] = [];
  for (let start = 0; start < data.length; ) {
    let end = Math.min(data.length, start + size);
    if (end < data.length) {
      const nl = data.lastIndexOf(0x0a, end - 1);
      if (nl >= start + size / 2) end = nl + 1;
    }
    out.push(data.subarray(start, end));
    start = end;
  }
  return out;
}
