/** Numeric snowflake ids like Discord's (timestamp since 2015 << 22), strictly increasing. */
const DISCORD_EPOCH = 1420070400000n;
let last = 0n;

export function snowflake(): string {
  const candidate = (BigInt(Date.now()) - DISCORD_EPOCH) << 22n;
  last = candidate > last ? candidate : last + 1n;
  return last.toString();
}
