export * from './codec.ts';
export * from './probe.ts';
