import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { BlockList, SocketAddress } from 'node:net';
import { endianness } from 'node:os';

/**
 * The TCP sockets that processes listen on, read from Linux's /proc (so Linux only): `/proc/net/tcp` and
 * `/proc/net/tcp6` list every listening socket of the network namespace with its inode, and `/proc/<pid>/fd`
 * says which inodes a process holds. No `ss` or `lsof` needed, and Java's sockets count as much as Node's.
 */
export interface ListeningSocket {
  readonly family: 'ipv4' | 'ipv6';
  /** As Node writes it: `127.0.0.1`, `0.0.0.0`, `::1`, `::ffff:127.0.0.1`, `::`. */
  readonly address: string;
  readonly port: number;
  readonly inode: number;
}

export interface OwnedListeningSocket extends ListeningSocket {
  readonly pid: number;
}

/** TCP_LISTEN in the kernel's tcp_states.h, as `/proc/net/tcp*` prints the `st` column. */
const LISTEN_STATE = '0A';

const loopback = new BlockList();
loopback.addSubnet('127.0.0.0', 8, 'ipv4');
loopback.addAddress('::1', 'ipv6');

/** 127.0.0.0/8 or ::1; an IPv4-mapped `::ffff:127.x.y.z` (how Java binds 127.0.0.1 on a dual-stack socket) too. */
export function isLoopback(socket: Pick<ListeningSocket, 'address' | 'family'>): boolean {
  return loopback.check(socket.address, socket.family);
}

/**
 * The listening sockets in the text of `/proc/net/tcp` (`ipv4`) or `/proc/net/tcp6` (`ipv6`). The kernel prints
 * each address as 32-bit words in the machine's byte order, so `byteOrder` defaults to this machine's.
 */
export function parseProcNetTcp(
  text: string,
  family: 'ipv4' | 'ipv6',
  byteOrder: 'LE' | 'BE' = endianness(),
): ListeningSocket[] {
  const sockets: ListeningSocket[] = [];
  // The first line is the column header.
  for (const line of text.split('\n').slice(1)) {
    const fields = line.trim().split(/\s+/);
    const [local, state, inode] = [fields[1], fields[3], fields[9]];
    if (local === undefined || state !== LISTEN_STATE || inode === undefined) {
      continue;
    }
    const [hexAddress = '', hexPort = ''] = local.split(':');
    sockets.push({
      family,
      address: decodeAddress(hexAddress, family, byteOrder),
      port: Number.parseInt(hexPort, 16),
      inode: Number(inode),
    });
  }
  return sockets;
}

function decodeAddress(hex: string, family: 'ipv4' | 'ipv6', byteOrder: 'LE' | 'BE'): string {
  const expectedLength = family === 'ipv4' ? 8 : 32;
  if (!new RegExp(`^[0-9A-Fa-f]{${expectedLength}}$`).test(hex)) {
    throw new Error(`not a /proc/net/tcp${family === 'ipv4' ? '' : '6'} address: ${hex}`);
  }
  const bytes: number[] = [];
  for (let word = 0; word < hex.length; word += 8) {
    const wordBytes = (hex.slice(word, word + 8).match(/../g) ?? []).map((pair) => Number.parseInt(pair, 16));
    bytes.push(...(byteOrder === 'LE' ? wordBytes.reverse() : wordBytes));
  }
  if (family === 'ipv4') {
    return bytes.join('.');
  }
  const groups: string[] = [];
  for (let index = 0; index < bytes.length; index += 2) {
    groups.push((((bytes[index] ?? 0) << 8) | (bytes[index + 1] ?? 0)).toString(16));
  }
  return new SocketAddress({ address: groups.join(':'), family: 'ipv6' }).address;
}

/** The socket inodes a process holds open: its `/proc/<pid>/fd` links read `socket:[<inode>]`. */
function socketInodesOf(pid: number): Set<number> {
  const inodes = new Set<number>();
  let descriptors: string[];
  try {
    descriptors = readdirSync(`/proc/${pid}/fd`);
  } catch {
    // Exited since it was listed: it holds nothing.
    return inodes;
  }
  for (const descriptor of descriptors) {
    try {
      const match = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${descriptor}`));
      if (match?.[1] !== undefined) {
        inodes.add(Number(match[1]));
      }
    } catch {
      // Closed between the listing and the read.
    }
  }
  return inodes;
}

/** Every TCP socket that one of `pids` listens on, IPv4 and IPv6. */
export function listeningSocketsOf(pids: readonly number[]): OwnedListeningSocket[] {
  const listening = [
    ...parseProcNetTcp(readFileSync('/proc/net/tcp', 'utf8'), 'ipv4'),
    // A kernel without IPv6 has no tcp6 file, and then no IPv6 sockets either.
    ...(existsSync('/proc/net/tcp6') ? parseProcNetTcp(readFileSync('/proc/net/tcp6', 'utf8'), 'ipv6') : []),
  ];
  const owned: OwnedListeningSocket[] = [];
  for (const pid of pids) {
    const inodes = socketInodesOf(pid);
    for (const socket of listening) {
      if (inodes.has(socket.inode)) {
        owned.push({ ...socket, pid });
      }
    }
  }
  return owned;
}
