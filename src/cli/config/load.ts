// The single entry point: command line (+ configuration file) → what to do. Pure: the file is
// read through the injected `readFile`, and nothing is printed or exited here.
//
// Order, as upstream's cobra command: flag syntax errors first, then --help, then --version,
// then the file is decoded and defaulted, explicit flags are applied over it (see the
// DIVERGENCE note in flags.ts), platform defaults are applied, and everything is validated.
// --write-config-to then yields the YAML to write.

import { applyDefaults, applyPlatformDefaults, defaultConfiguration } from './defaults.ts';
import { decodeConfiguration } from './decode.ts';
import { toEffectiveConfig, toV1Alpha1YAML } from './effective.ts';
import { attributeToFlags, invalid, renderErrors } from './errors.ts';
import { DEFAULT_CONTROL_PLANE_LISTEN, DEFAULT_CONTROL_PLANE_SERVICE_CIDR, defaultControlPlaneDataDir } from './flags-extra.ts';
import { KUBE_PROXY_FLAGS } from './flags.ts';
import { parseCommandLine, renderFlagUsages, type CommandLineExtras, type FlagContext, type FlagPhase } from './flagparse.ts';
import { joinHostPort, parseDualStackCIDRs, parseHostPort, splitHostPort } from './net.ts';
import type { ConfigError, KubeProxyConfiguration, LoadResult } from './types.ts';
import { validateConfiguration } from './validate.ts';

export const PROGRAM = 'kube-proxy-ts';
/** Keep in step with package.json (a test checks). */
export const KUBE_PROXY_TS_VERSION = '0.1.0';

const DESCRIPTION = `The Kubernetes network proxy runs on each node. This
reflects services as defined in the Kubernetes API on each node and can do simple
TCP, UDP, and SCTP stream forwarding or round robin TCP, UDP, and SCTP forwarding across a set of backends.
kube-proxy-ts is a drop-in reimplementation of kube-proxy: it reads the same
KubeProxyConfiguration (kubeproxy.config.k8s.io/v1alpha1) and flags.`;

export function defaultExtras(env: NodeJS.ProcessEnv): CommandLineExtras {
  return {
    help: false,
    version: undefined,
    configFile: undefined,
    writeConfigTo: undefined,
    cleanup: false,
    initOnly: false,
    master: undefined,
    healthzPort: undefined,
    metricsPort: undefined,
    controlPlaneRequested: false,
    controlPlaneListen: DEFAULT_CONTROL_PLANE_LISTEN,
    controlPlaneDataDir: defaultControlPlaneDataDir(env),
    controlPlaneServiceCIDR: DEFAULT_CONTROL_PLANE_SERVICE_CIDR,
    manifestsDir: undefined,
  };
}

/** The --help text: description, usage, and every flag with its type, default and help. */
export function helpText(env: NodeJS.ProcessEnv): string {
  const usages = renderFlagUsages(KUBE_PROXY_FLAGS, { config: defaultConfiguration(), extras: defaultExtras(env) });
  return `${DESCRIPTION}\n\nUsage:\n  ${PROGRAM} [flags]\n\nFlags:\n${usages}\n`;
}

function versionText(kind: string): string {
  if (kind === 'raw') {
    return `${JSON.stringify({ gitVersion: `v${KUBE_PROXY_TS_VERSION}`, program: PROGRAM, configAPIVersion: 'kubeproxy.config.k8s.io/v1alpha1' })}\n`;
  }
  return `${PROGRAM} v${KUBE_PROXY_TS_VERSION}\n`;
}

/** Deprecated --healthz-port / --metrics-port: 0 disables the server, else replaces the port. */
function applyDeprecatedPort(ctx: FlagContext, key: 'healthzBindAddress' | 'metricsBindAddress', port: number | undefined, flag: string): void {
  if (port === undefined) return;
  const current = ctx.config[key];
  if (port === 0) {
    ctx.config[key] = '';
  } else if (port < 0 || port > 65535) {
    ctx.errors.push(invalid(flag, port, 'must be a valid port'));
    return;
  } else if (current !== '') {
    const hp = splitHostPort(current);
    ctx.config[key] = joinHostPort('error' in hp ? current : hp.host, port);
  }
  ctx.setBy.set(key, flag);
}

function validateExtras(x: CommandLineExtras): ConfigError[] {
  const errs: ConfigError[] = [];
  const listen = parseHostPort(x.controlPlaneListen);
  if ('errors' in listen) for (const e of listen.errors) errs.push(invalid('--control-plane-listen', e.value, e.detail));
  const svc = parseDualStackCIDRs(x.controlPlaneServiceCIDR, '--control-plane-service-cidr');
  if ('errors' in svc) for (const e of svc.errors) errs.push(invalid(e.field, e.value, e.detail));
  if (x.controlPlaneDataDir.trim() === '') errs.push(invalid('--control-plane-data-dir', x.controlPlaneDataDir, 'must not be empty'));
  return errs;
}

function failure(errors: readonly ConfigError[], heading?: string): LoadResult {
  const body = renderErrors(errors);
  return { kind: 'error', message: heading === undefined ? body : `${heading}: ${body}`, errors };
}

/**
 * Work out what the command line asks for. `readFile` reads the --config file (and may throw;
 * its message is reported). `env` supplies HOME / XDG_STATE_HOME for default paths.
 */
export function loadConfiguration(argv: readonly string[], env: NodeJS.ProcessEnv, readFile: (path: string) => string): LoadResult {
  const parsed = parseCommandLine(KUBE_PROXY_FLAGS, argv);
  const extras = defaultExtras(env);
  const scratch: FlagContext = { config: defaultConfiguration(), extras, setBy: new Map(), errors: [] };
  const applyPhase = (ctx: FlagContext, phase: FlagPhase): void => {
    for (const b of parsed.given.values()) if (b.flag.phase === phase) b.apply(ctx);
  };
  applyPhase(scratch, 'pre');

  const argErrors = [...parsed.errors];
  const stray = parsed.positionals.filter((p) => p !== '');
  if (stray.length > 0) {
    argErrors.push({ field: 'arguments', value: stray.join(' '), message: `"${PROGRAM}" does not take any arguments, got ${JSON.stringify(stray)}` });
  }
  if (argErrors.length > 0) return failure(argErrors);
  if (extras.help) return { kind: 'help', text: helpText(env) };
  if (extras.version !== undefined) return { kind: 'version', text: versionText(extras.version) };

  const warnings = [...parsed.warnings];
  let config: KubeProxyConfiguration;
  // Fields that failed to decode are left unset (defaulted), so validation can still report
  // every other problem; all are returned together.
  const decodeErrors: ConfigError[] = [];
  if (extras.configFile !== undefined) {
    let text: string;
    try {
      text = readFile(extras.configFile);
    } catch (e) {
      const reason = e instanceof Error ? e.message : String(e);
      return failure([{ field: '--config', value: extras.configFile, message: `failed to read configuration file ${JSON.stringify(extras.configFile)}: ${reason}` }]);
    }
    const decoded = decodeConfiguration(text, extras.configFile);
    warnings.push(...decoded.warnings);
    decodeErrors.push(...decoded.errors);
    config = applyDefaults(decoded.input);
  } else {
    config = applyDefaults({});
  }

  const ctx: FlagContext = { config, extras, setBy: new Map(), errors: [] };
  applyPhase(ctx, 'mode');
  applyPhase(ctx, 'config');
  applyPhase(ctx, 'post');
  applyDeprecatedPort(ctx, 'healthzBindAddress', extras.healthzPort, '--healthz-port');
  applyDeprecatedPort(ctx, 'metricsBindAddress', extras.metricsPort, '--metrics-port');
  applyPlatformDefaults(config);

  const errors = [...decodeErrors, ...attributeToFlags([...ctx.errors, ...validateConfiguration(config, warnings)], ctx.setBy)];
  errors.push(...validateExtras(extras));
  if (errors.length > 0) {
    const where = extras.configFile === undefined ? '' : ` (configuration file ${JSON.stringify(extras.configFile)})`;
    return failure(errors, `invalid configuration${where}`);
  }

  if (extras.writeConfigTo !== undefined) {
    return { kind: 'write-config', path: extras.writeConfigTo, yaml: toV1Alpha1YAML(config), warnings };
  }
  return { kind: 'run', config: toEffectiveConfig(config, extras), warnings };
}

