// Shared helpers for the configuration tests: an in-memory file system and result narrowing.

import assert from 'node:assert/strict';
import { loadConfiguration } from '../../../src/cli/config/load.ts';
import type { ConfigError, EffectiveConfig, LoadResult } from '../../../src/cli/config/types.ts';

export const ENV: NodeJS.ProcessEnv = { HOME: '/home/test' };

export function load(argv: readonly string[], files: Readonly<Record<string, string>> = {}, env: NodeJS.ProcessEnv = ENV): LoadResult {
  return loadConfiguration(argv, env, (path) => {
    const text = files[path];
    if (text === undefined) throw new Error(`ENOENT: no such file or directory, open '${path}'`);
    return text;
  });
}

export function run(argv: readonly string[], files: Readonly<Record<string, string>> = {}): { config: EffectiveConfig; warnings: readonly string[] } {
  const r = load(argv, files);
  if (r.kind !== 'run') assert.fail(`expected kind run, got ${r.kind}: ${r.kind === 'error' ? r.message : ''}`);
  return { config: r.config, warnings: r.warnings };
}

export function fail(argv: readonly string[], files: Readonly<Record<string, string>> = {}): { message: string; errors: readonly ConfigError[] } {
  const r = load(argv, files);
  if (r.kind !== 'error') assert.fail(`expected an error, got kind ${r.kind}`);
  return r;
}

/** A KubeProxyConfiguration file with the given body (YAML, indented at top level). */
export function file(body: string): string {
  return `apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\n${body}`;
}
