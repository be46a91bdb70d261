import { describe, expect, it } from 'vitest';
import { isLoopback, parseProcNetTcp } from '../support/listening-sockets';

// Lines as a little-endian Linux prints them (x86-64, arm64), trailing columns shortened.
const TCP = [
  '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
  '   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 41001 1 0 100 0 0 10 0',
  '   1: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 41002 1 0 100 0 0 10 0',
  '   2: 0A00000A:C350 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 41003 1 0 100 0 0 10 0',
  '   3: 0100007F:1F90 0100007F:D6A4 01 00000000:00000000 00:00000000 00000000  1000        0 41004 1 0 20 4 30 10 -1',
  '',
].join('\n');

const TCP6 = [
  '  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
  '   0: 00000000000000000000000001000000:1F91 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 42001 1 0 100 0 0 10 0',
  '   1: 00000000000000000000000000000000:1F92 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 42002 1 0 100 0 0 10 0',
  '   2: 0000000000000000FFFF00000100007F:EC95 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 42003 1 0 100 0 0 10 0',
  '   3: 0000000000000000FFFF00000A00000A:EC96 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 42004 1 0 100 0 0 10 0',
].join('\n');

describe('parseProcNetTcp', () => {
  it('reads the listening IPv4 sockets, their addresses and ports, and leaves out connections', () => {
    // Prepare: TCP above.

    // Act
    const sockets = parseProcNetTcp(TCP, 'ipv4', 'LE');

    // Assess
    expect(sockets).toEqual([
      { family: 'ipv4', address: '127.0.0.1', port: 8080, inode: 41001 },
      { family: 'ipv4', address: '0.0.0.0', port: 22, inode: 41002 },
      { family: 'ipv4', address: '10.0.0.10', port: 50000, inode: 41003 },
    ]);
  });

  it('reads IPv6 sockets, IPv4-mapped ones included', () => {
    // Prepare: TCP6 above.

    // Act
    const sockets = parseProcNetTcp(TCP6, 'ipv6', 'LE');

    // Assess
    expect(sockets.map(({ address, port, inode }) => [address, port, inode])).toEqual([
      ['::1', 8081, 42001],
      ['::', 8082, 42002],
      ['::ffff:127.0.0.1', 60565, 42003],
      ['::ffff:10.0.0.10', 60566, 42004],
    ]);
  });

  it('reads the words in big-endian order when told the machine is big-endian', () => {
    // Prepare
    const bigEndian = TCP.replace('0100007F:1F90 00000000', '7F000001:1F90 00000000');

    // Act
    const first = parseProcNetTcp(bigEndian, 'ipv4', 'BE')[0];

    // Assess
    expect(first?.address).toBe('127.0.0.1');
  });

  it('refuses an address that is not one', () => {
    // Prepare
    const broken = TCP.replace('0100007F:1F90 00000000', '0100007:1F90 00000000');

    // Act
    const parse = () => parseProcNetTcp(broken, 'ipv4', 'LE');

    // Assess
    expect(parse).toThrow(/not a \/proc\/net\/tcp address: 0100007/);
  });
});

describe('isLoopback', () => {
  it('accepts 127.0.0.0/8, ::1 and IPv4-mapped loopback, and refuses wildcard and other addresses', () => {
    // Prepare
    const sockets = [...parseProcNetTcp(TCP, 'ipv4', 'LE'), ...parseProcNetTcp(TCP6, 'ipv6', 'LE')];

    // Act
    const verdicts = sockets.map((socket) => [socket.address, isLoopback(socket)]);

    // Assess
    expect(verdicts).toEqual([
      ['127.0.0.1', true],
      ['0.0.0.0', false],
      ['10.0.0.10', false],
      ['::1', true],
      ['::', false],
      ['::ffff:127.0.0.1', true],
      ['::ffff:10.0.0.10', false],
    ]);
    expect(isLoopback({ address: '127.200.3.4', family: 'ipv4' })).toBe(true);
  });
});
