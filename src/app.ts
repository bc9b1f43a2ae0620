import type { CommandRegistry } from './chat/registry.ts';
import type { Config } from './config.ts';
import type { Logger } from './log.ts';
import type { Store } from './store/store.ts';

/** What command handlers may use; main.ts builds it. */
export interface App {
  config: Config;
  store: Store;
  log: Logger;
  registry: CommandRegistry;
}
