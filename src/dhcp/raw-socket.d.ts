/** The parts of raw-socket 1.8 (no bundled types) that the DHCP transport uses. */
declare module 'raw-socket' {
  import type { EventEmitter } from 'node:events';

  export interface RawSocket extends EventEmitter {
    send(
      buffer: Buffer,
      offset: number,
      length: number,
      address: string,
      afterCallback: (error: Error | null, bytes: number) => void,
    ): RawSocket;
    setOption(level: number, option: number, value: number): void;
    setOption(level: number, option: number, value: Buffer, length: number): void;
    getOption(level: number, option: number, value: Buffer, length: number): number;
    close(): RawSocket;
    pauseRecv(): RawSocket;
    resumeRecv(): RawSocket;
    on(event: 'message', listener: (buffer: Buffer, source: string) => void): this;
    on(event: 'error', listener: (error: Error) => void): this;
    on(event: 'close', listener: () => void): this;
  }

  export function createSocket(options?: {
    addressFamily?: number;
    protocol?: number;
    bufferSize?: number;
    generateChecksums?: boolean;
    checksumOffset?: number;
  }): RawSocket;

  export const AddressFamily: { IPv4: number; IPv6: number };
  export const Protocol: { None: number; ICMP: number; TCP: number; UDP: number; ICMPv6: number };
  export const SocketLevel: { SOL_SOCKET: number; IPPROTO_IP: number; IPPROTO_IPV6: number };
  export const SocketOption: {
    SO_BROADCAST: number;
    SO_RCVBUF: number;
    SO_SNDBUF: number;
    SO_BINDTODEVICE: number;
    IP_HDRINCL: number;
    IP_TTL: number;
    IP_TOS: number;
  };

  const raw: {
    createSocket: typeof createSocket;
    AddressFamily: typeof AddressFamily;
    Protocol: typeof Protocol;
    SocketLevel: typeof SocketLevel;
    SocketOption: typeof SocketOption;
  };
  export default raw;
}
