/**
 * The speed probe: download (and optionally upload) through an open tunnel, bound to its local
 * address. See measure.ts for how the figure is made; server.ts is a matching test server.
 */
export * from './measure.ts';
export { startSpeedServer, type SpeedServer, type SpeedServerOptions } from './server.ts';
