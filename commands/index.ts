import type { AnyCommand } from '../src/chat/registry.ts';
import { audit } from './audit.ts';
import { deleteCommand } from './delete.ts';
import { exportCommand } from './export.ts';
import { help } from './help.ts';
import { importCommand } from './import.ts';
import { cancel, jobs } from './jobs.ts';
import { list } from './list.ts';
import { alerts, monitor } from './monitor.ts';
import { ping } from './ping.ts';
import { speed } from './speed.ts';
import { start } from './start.ts';
import { stop } from './stop.ts';
import { bundle } from './bundle.ts';
import { reset } from './reset.ts';
import { secrets } from './secrets.ts';
import { show } from './show.ts';
import { stats } from './stats.ts';
import { schedule, schedules, unschedule } from './schedule.ts';
import { gateway, gateways } from './gateways.ts';
import { move } from './move.ts';

/** Every command, in the order `help` lists them. No folder scanning: a command exists when it is here. */
export const COMMANDS: readonly AnyCommand[] = [help, importCommand, list, show, secrets, stats, ping, speed, start, stop, move, bundle, jobs, cancel, reset, deleteCommand, exportCommand, monitor, alerts, schedule, schedules, unschedule, gateways, gateway, audit];
