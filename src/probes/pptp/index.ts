export * from './codec.ts';
export * from './probe.ts';
export * from './policy.ts';
