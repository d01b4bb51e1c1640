// Errors of the nftables dataplane. Each carries a stable `code`.

/** A value that would be written into an nft script is outside the safe charset. */
export class NftUnsafeValueError extends Error {
  readonly code = 'NFT_UNSAFE_VALUE';
  readonly field: string;
  readonly value: string;
  constructor(field: string, value: unknown) {
    const shown = JSON.stringify(typeof value === 'string' ? value : String(value));
    super(`refusing to render ${field}=${shown}: not in the safe charset for nft scripts`);
    this.name = 'NftUnsafeValueError';
    this.field = field;
    this.value = typeof value === 'string' ? value : String(value);
  }
}

/** Renderer options that make no sense (bad CIDR, bad interface name, bad mark bit). */
export class NftConfigError extends Error {
  readonly code = 'NFT_BAD_CONFIG';
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'NftConfigError';
  }
}

/** `nft` ran and refused the transaction (or could not be started). */
export class NftCommandError extends Error {
  readonly code: 'NFT_NOT_FOUND' | 'NFT_FAILED';
  readonly stderr: string;
  readonly exitCode: number | null;
  constructor(code: 'NFT_NOT_FOUND' | 'NFT_FAILED', message: string, stderr: string, exitCode: number | null, options?: ErrorOptions) {
    super(message, options);
    this.name = 'NftCommandError';
    this.code = code;
    this.stderr = stderr;
    this.exitCode = exitCode;
  }
}

/** The host cannot run the nftables dataplane (missing binary or kernel feature). */
export class NftCapabilityError extends Error {
  readonly code = 'NFT_UNSUPPORTED';
  /** What is missing, e.g. "nft binary", "nf_tables", "numgen". */
  readonly missing: string;
  constructor(missing: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'NftCapabilityError';
    this.missing = missing;
  }
}
