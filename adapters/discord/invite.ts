import { OAuth2Scopes, PermissionFlagsBits } from 'discord.js';

/**
 * What the bot needs in the channels it answers in: read and post (public output is an ordinary
 * channel message), attach files (CSV reports, exports), start public threads under its own messages
 * and post in them. No administrator bit, no privileged intent.
 */
export const BOT_PERMISSIONS = {
  ViewChannel: PermissionFlagsBits.ViewChannel,
  SendMessages: PermissionFlagsBits.SendMessages,
  SendMessagesInThreads: PermissionFlagsBits.SendMessagesInThreads,
  CreatePublicThreads: PermissionFlagsBits.CreatePublicThreads,
  AttachFiles: PermissionFlagsBits.AttachFiles,
  ReadMessageHistory: PermissionFlagsBits.ReadMessageHistory,
} as const;

export const INVITE_SCOPES = [OAuth2Scopes.Bot, OAuth2Scopes.ApplicationsCommands] as const;

export function permissionBits(): bigint {
  return Object.values(BOT_PERMISSIONS).reduce((a, b) => a | b, 0n);
}

/** The URL a server admin opens to add the bot (with the slash command) to a server. */
export function inviteUrl(applicationId: string, guildId?: string): string {
  const q = new URLSearchParams({ client_id: applicationId, scope: INVITE_SCOPES.join(' '), permissions: permissionBits().toString() });
  if (guildId) {
    q.set('guild_id', guildId);
    q.set('disable_guild_select', 'true');
  }
  return `https://discord.com/oauth2/authorize?${q.toString()}`;
}
