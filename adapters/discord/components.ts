import { MessageFlags, type AutocompleteInteraction, type ButtonInteraction } from 'discord.js';
import type { DispatchEntry } from '../../src/chat/dispatcher.ts';
import type { Actor, ChatPort, Message } from '../../src/chat/types.ts';
import type { Logger } from '../../src/log.ts';
import type { CommandsSchema } from './commands-schema.ts';
import { payload, tokenGone, type PrivateReplies } from './interactions.ts';
import { interactionWhere } from './refs.ts';

export interface ComponentDeps {
  port: ChatPort;
  dispatcher: Pick<DispatchEntry, 'press' | 'suggest'>;
  schema: CommandsSchema;
  sessions: Map<string, PrivateReplies>;
  log: Logger;
  /** Role ids Discord sent with this interaction (the raw gateway packet). */
  roleIds(interactionId: string): string[];
  /** DISCORD_GUILD_ID: suggestions show fleet data, so other servers and DMs get none. */
  guildId: string | null;
}

function actorOf(i: ButtonInteraction | AutocompleteInteraction, roleIds: string[]): Actor {
  const name = i.inCachedGuild() ? i.member.displayName : (i.user.globalName ?? i.user.username);
  return { platform: 'discord', id: i.user.id, name, roleIds };
}

/** The private answers of one press: ephemeral follow-ups while its token lives. */
class PressReplies implements PrivateReplies {
  private readonly interaction: ButtonInteraction;
  constructor(interaction: ButtonInteraction) {
    this.interaction = interaction;
  }

  get userId(): string {
    return this.interaction.user.id;
  }

  async reply(msg: Message): Promise<boolean> {
    try {
      await this.interaction.followUp({ ...payload(msg), flags: MessageFlags.Ephemeral });
      return true;
    } catch (err) {
      if (tokenGone(err)) return false;
      throw err;
    }
  }
}

/**
 * A button pressed: acknowledged at once with a deferred update (type 6: nothing changes yet, and
 * Discord's 3 s are met), then handed to the dispatcher, which checks who pressed and whether the
 * button is still good. The pressed message is replaced through the interaction (@original is the
 * message the button is on, ephemeral prompts included); private answers are ephemeral follow-ups.
 */
export async function handlePress(interaction: ButtonInteraction, deps: ComponentDeps): Promise<void> {
  try {
    await interaction.deferUpdate();
  } catch (err) {
    deps.log.warn('discord: could not acknowledge a button press; not handled', { interaction: interaction.id, error: err instanceof Error ? err.message : String(err) });
    return;
  }
  deps.sessions.set(interaction.id, new PressReplies(interaction));
  try {
    await deps.dispatcher.press(deps.port, {
      actionId: interaction.customId,
      actor: actorOf(interaction, deps.roleIds(interaction.id)),
      where: interactionWhere(interaction.id, interaction.channelId),
      async update(msg) {
        await interaction.editReply(payload(msg));
      },
    });
  } catch (err) {
    deps.log.error('discord: a button press failed', { interaction: interaction.id, error: err instanceof Error ? (err.stack ?? err.message) : String(err) });
  } finally {
    deps.sessions.delete(interaction.id);
  }
}

/**
 * Autocomplete (type 4): the focused option of a sub-command, answered with the dispatcher's
 * suggestions (type 8). Everything comes from memory, well inside Discord's 3 s.
 */
export async function handleAutocomplete(interaction: AutocompleteInteraction, deps: ComponentDeps): Promise<void> {
  const sub = interaction.options.getSubcommand(false) ?? '';
  const focused = interaction.options.getFocused(true);
  const binding = deps.schema.bindings.get(sub)?.find((b) => b.option === focused.name);
  const field = binding?.kind === 'filter' ? 'filter' : binding?.kind === 'positional' ? 'positional' : binding?.kind === 'option' ? (`option:${binding.key}` as const) : null;
  const outside = deps.guildId !== null && interaction.guildId !== deps.guildId;
  // Suggestions show fleet data: only to someone the command is for (the dispatcher checks the role).
  const actor = actorOf(interaction, deps.roleIds(interaction.id));
  const values = field && !outside ? deps.dispatcher.suggest(sub, field, String(focused.value ?? ''), actor) : [];
  try {
    await interaction.respond(values.map((v) => ({ name: v, value: v })));
  } catch (err) {
    // Too late or already answered: the user simply sees no suggestions.
    deps.log.debug('discord: an autocomplete answer failed', { interaction: interaction.id, error: err instanceof Error ? err.message : String(err) });
  }
}
