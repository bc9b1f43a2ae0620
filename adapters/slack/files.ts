import { remoteFile } from '../../src/chat/download.ts';
import type { IncomingFile } from '../../src/chat/types.ts';

/** The part of a Slack file object (from a file_share message event) that a download needs. */
export interface SlackFileMeta {
  id: string;
  name: string;
  size: number | null;
  mimetype: string | null;
  url: string | null;
}

export interface DownloadOptions {
  botToken: string;
  /** Hosts the bot token may be sent to (Slack's file hosts and the configured API host). */
  trustedHosts: readonly string[];
  timeoutMs?: number;
}

/** Hosts that serve url_private on slack.com and GovSlack. */
export const SLACK_FILE_HOSTS = ['files.slack.com', 'slack.com', 'files.slack-gov.com', 'slack-gov.com'];

function trusted(url: URL, hosts: readonly string[]): boolean {
  return hosts.some((h) => url.host === h || url.hostname === h);
}

/**
 * A Slack upload as an IncomingFile: downloaded lazily from url_private with the bot token. The size
 * Slack reports is checked first (nothing is fetched for a file over the cap), and the body is counted
 * while it streams, so a wrong size or a missing Content-Length cannot push past the cap either.
 */
export function slackFile(meta: SlackFileMeta, opts: DownloadOptions): IncomingFile {
  return remoteFile({ name: meta.name, size: meta.size, contentType: meta.mimetype }, async () => {
    if (!meta.url) throw new Error('Slack gave no download link for it (a file from another workspace?)');
    const url = new URL(meta.url);
    // The bot token goes only to Slack: a forged link must not collect it.
    if (!trusted(url, opts.trustedHosts)) throw new Error(`its download link points to ${url.host}, which is not a Slack file host`);
    const res = await fetch(url, {
      headers: { Authorization: `Bearer ${opts.botToken}` },
      // Slack answers a refused token with a redirect to its login page, not an error status.
      redirect: 'manual',
      signal: AbortSignal.timeout(opts.timeoutMs ?? 60_000),
    });
    if (res.status >= 300 && res.status < 400) {
      throw new Error('Slack refused the bot\'s download (redirected to sign-in): check the files:read scope and that the bot is in the channel');
    }
    if (!res.ok || !res.body) throw new Error(`Slack answered HTTP ${res.status} to the download`);
    return res;
  });
}

/** What files.info gives back, in the shape of a file_share event's file. */
export interface SlackFileObject {
  id: string;
  name?: string;
  title?: string;
  mimetype?: string;
  size?: number;
  url_private?: string;
  url_private_download?: string;
  /** `check_file_info`: Slack left the details out of the event (e.g. a file shared from a Slack Connect channel). */
  file_access?: string;
}

export function metaOf(f: SlackFileObject): SlackFileMeta {
  return {
    id: f.id,
    name: f.name ?? f.title ?? f.id,
    size: f.size ?? null,
    mimetype: f.mimetype ?? null,
    url: f.url_private_download ?? f.url_private ?? null,
  };
}

/**
 * The file as the event gave it, or, when Slack withheld the details (`file_access:
 * check_file_info`: no name, no URL), as files.info describes it. files.info needs files:read,
 * which the manifest asks for; null when Slack will not say (the file is then left alone).
 */
export async function resolveFile(f: SlackFileObject, fileInfo: (id: string) => Promise<SlackFileObject | null>): Promise<SlackFileMeta | null> {
  if (f.file_access !== 'check_file_info' && (f.url_private_download ?? f.url_private)) return metaOf(f);
  const info = await fileInfo(f.id);
  return info ? metaOf({ ...info, id: f.id }) : null;
}

const TEXT_TYPES = /^(text\/|application\/(csv|x-csv|vnd\.ms-excel)$)/;
const TEXT_NAMES = /\.(txt|csv|tsv|list|lst|conf|cfg|text|log)$|^[^.]+$/i;

/**
 * Which shared files are server lists worth importing: text-like types or names. Screenshots, PDFs and
 * archives shared in the same channel are left alone instead of answered with a refusal.
 */
export function looksImportable(meta: SlackFileMeta): boolean {
  return (meta.mimetype !== null && TEXT_TYPES.test(meta.mimetype)) || TEXT_NAMES.test(meta.name);
}
