/**
 * An exception a remote method raises on purpose. The RPC server turns it into the original
 * error envelope `{"type": "exception", "exn_type": <exnType>, "exn_message": <message>, …}`
 * with HTTP 500, the way the Python server reported `RuntimeError`, `ValueError`,
 * `ValidationError`… (spec §1.3). `exnType` is the Python class name clients match on.
 */
export class RpcException extends Error {
  readonly exnType: string;
  constructor(exnType: string, message: string) {
    super(message);
    this.name = 'RpcException';
    this.exnType = exnType;
  }
}

/** Wrong argument names or count, as Python reports a bad call (`TypeError`). */
export function rpcTypeError(message: string): RpcException {
  return new RpcException('TypeError', message);
}
