// The flags that are not options.go's own: component-base logging flags (logsapi.AddFlags),
// --version (verflag), --help (cobra), and kube-proxy-ts's additions (userspace dataplane,
// embedded control plane). Logging flags override the file, as upstream (copyLogsFromFlags).

import { bool, defineFlag, duration, field, FlagValueError, int32, ipPortValue, parseInteger, str, type CommandLineExtras, type Flag } from './flagparse.ts';
import { formatDuration } from './duration.ts';

const VERBOSITY_MAX = 2 ** 32 - 1;

function verbosity(raw: string): number {
  return parseInteger(raw, 0, VERBOSITY_MAX, 'ParseUint');
}

/** logsapi VModuleConfiguration: "pattern=N,...". Repeats append. */
function vmodule(raw: string, prev: readonly { filePattern: string; verbosity: number }[] | undefined): { filePattern: string; verbosity: number }[] {
  const out = [...(prev ?? [])];
  for (const part of raw.split(',')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    if (eq < 0) throw new FlagValueError('expect comma-separated list of filename=N');
    const filePattern = part.slice(0, eq);
    const n = part.slice(eq + 1);
    try {
      out.push({ filePattern, verbosity: verbosity(n) });
    } catch (e) {
      if (e instanceof FlagValueError) throw new FlagValueError(`parsing verbosity in ${JSON.stringify(part)}: ${e.message}`);
      throw e;
    }
  }
  return out;
}

/** A resource quantity as logsapi takes it ("0", "512", "1K", "2Ki", "3M", "5Mi"). */
function quantity(raw: string): string {
  if (!/^\d+(\.\d+)?(Ki|Mi|Gi|Ti|Pi|Ei|k|K|M|G|T|P|E)?$/.test(raw)) {
    throw new FlagValueError('quantities must match the regular expression \'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$\'');
  }
  return raw;
}

const BUFFER_HELP =
  'the info messages can be buffered for a while to increase performance. The default value of zero bytes disables buffering. The size can be specified as number of bytes (512), multiples of 1000 (1K), multiples of 1024 (2Ki), or powers of those (3M, 4G, 5Mi, 6Gi). Accepted for compatibility; no effect in kube-proxy-ts.';

export const LOGGING_FLAGS: readonly Flag[] = [
  field<string>('logging-format', 'string', str, 'logging.format', (c, v) => { c.logging.format = v; }, 'Sets the log format. Permitted formats: "json", "text". When unset: json, or text when stderr is a terminal.'),
  field<number>('log-flush-frequency', 'duration', duration, 'logging.flushFrequency', (c, v) => { c.logging.flushFrequency = v; }, 'Maximum number of seconds between log flushes', (c) => formatDuration(c.logging.flushFrequency)),
  field<number>('v', 'Level', verbosity, 'logging.verbosity', (c, v) => { c.logging.verbosity = v; }, 'number for the log level verbosity', undefined, { shorthand: 'v' }),
  field<readonly { filePattern: string; verbosity: number }[]>('vmodule', 'pattern=N,...', vmodule, 'logging.vmodule', (c, v) => { c.logging.vmodule = [...v]; }, 'comma-separated list of pattern=N settings for file-filtered logging (only works for text log format)'),
  field<boolean>('log-text-split-stream', '', bool, 'logging.options.text.splitStream', (c, v) => { c.logging.options.text.splitStream = v; }, '[Alpha] In text format, write error messages to stderr and info messages to stdout. The default is to write a single stream to stdout.'),
  field<string>('log-text-info-buffer-size', 'quantity', quantity, 'logging.options.text.infoBufferSize', (c, v) => { c.logging.options.text.infoBufferSize = v; }, `[Alpha] In text format with split output streams, ${BUFFER_HELP}`),
  field<boolean>('log-json-split-stream', '', bool, 'logging.options.json.splitStream', (c, v) => { c.logging.options.json.splitStream = v; }, '[Alpha] In JSON format, write error messages to stderr and info messages to stdout. The default is to write a single stream to stdout.'),
  field<string>('log-json-info-buffer-size', 'quantity', quantity, 'logging.options.json.infoBufferSize', (c, v) => { c.logging.options.json.infoBufferSize = v; }, `[Alpha] In JSON format with split output streams, ${BUFFER_HELP}`),
  defineFlag<boolean>({ name: 'help', shorthand: 'h', type: '', phase: 'pre', usage: 'help for kube-proxy-ts', parse: bool, apply: (ctx, v) => { ctx.extras.help = v; } }),
  defineFlag<string>({
    name: 'version', type: 'version', noOptDefVal: 'true', phase: 'pre',
    usage: '--version, --version=raw prints version information and quits',
    parse: (raw) => {
      if (raw === 'raw') return raw;
      return bool(raw) ? 'true' : 'false';
    },
    apply: (ctx, v) => { ctx.extras.version = v === 'false' ? undefined : v; },
  }),
];

function controlPlane(name: string, type: string, usage: string, set: (v: string, x: CommandLineExtras) => void, parse: (raw: string) => string, defaultText?: (x: CommandLineExtras) => string): Flag {
  return defineFlag<string>({
    name, type, usage, phase: 'pre', parse,
    ...(defaultText === undefined ? {} : { defaultText: (d) => defaultText(d.extras) }),
    apply: (ctx, v) => {
      set(v, ctx.extras);
      ctx.extras.controlPlaneRequested = true;
    },
  });
}

export const DEFAULT_CONTROL_PLANE_LISTEN = '127.0.0.1:6443';
export const DEFAULT_CONTROL_PLANE_SERVICE_CIDR = '10.96.0.0/12';

/** Default --control-plane-data-dir: $XDG_STATE_HOME/kube-proxy-ts, else ~/.local/state/kube-proxy-ts. */
export function defaultControlPlaneDataDir(env: NodeJS.ProcessEnv): string {
  const xdg = env['XDG_STATE_HOME'];
  if (xdg !== undefined && xdg.startsWith('/')) return `${xdg.replace(/\/+$/, '')}/kube-proxy-ts`;
  const home = env['HOME'];
  if (home !== undefined && home !== '') return `${home.replace(/\/+$/, '')}/.local/state/kube-proxy-ts`;
  return '/var/lib/kube-proxy-ts';
}

export const OUR_FLAGS: readonly Flag[] = [
  field<string>('userspace-algorithm', 'string', str, 'userspace.algorithm', (c, v) => { c.userspace.algorithm = v; }, "[kube-proxy-ts] Endpoint selection of the userspace dataplane: 'round-robin', 'random', 'least-connections', 'power-of-two-choices' or 'source-hash'.", (c) => c.userspace.algorithm),
  field<number>('userspace-threads', 'int32', int32, 'userspace.threads', (c, v) => { c.userspace.threads = v; }, '[kube-proxy-ts] Threads accepting and forwarding TCP connections in the userspace dataplane, the main thread included; more than 1 opens every TCP listener with SO_REUSEPORT in each thread. Session-affinity services and UDP stay on the main thread.', (c) => String(c.userspace.threads)),
  controlPlane('control-plane-listen', 'ipport', '[kube-proxy-ts] IP:port the embedded control plane (API server) listens on.', (v, x) => { x.controlPlaneListen = v; }, ipPortValue, (x) => x.controlPlaneListen),
  controlPlane('control-plane-data-dir', 'string', '[kube-proxy-ts] Directory where the embedded control plane keeps its state.', (v, x) => { x.controlPlaneDataDir = v; }, str, (x) => x.controlPlaneDataDir),
  controlPlane('control-plane-service-cidr', 'string', '[kube-proxy-ts] Service ClusterIP range(s) of the embedded control plane (a CIDR or a comma-separated dual-stack pair).', (v, x) => { x.controlPlaneServiceCIDR = v; }, str, (x) => x.controlPlaneServiceCIDR),
  controlPlane('manifests', 'string', '[kube-proxy-ts] Directory of YAML manifests (Services, EndpointSlices, Nodes) loaded into the embedded control plane.', (v, x) => { x.manifestsDir = v === '' ? undefined : v; }, str),
];
