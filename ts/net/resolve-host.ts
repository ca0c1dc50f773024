/** Host names to addresses, for `connect()` and `Server.listen()`. */
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';

/** Resolves a host name to one IP address (IP literals pass through). */
export async function resolveHost(host: string): Promise<string> {
  if (isIP(host) !== 0) return host;
  const { address } = await lookup(host);
  return address;
}
