// Shared bits for the server tests.

import type { Counter } from 'prom-client';

export interface FetchResult {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
}

export async function get(url: string, init: RequestInit = {}): Promise<FetchResult> {
  const res = await fetch(url, init);
  return { status: res.status, headers: res.headers, text: await res.text() };
}

/** Current value of a counter child, 0 when never incremented. */
export async function counterValue<T extends string>(counter: Counter<T>, labels: Partial<Record<T, string>>): Promise<number> {
  const { values } = await counter.get();
  const match = values.find((v) => Object.entries(labels).every(([k, want]) => String((v.labels as Record<string, unknown>)[k]) === want));
  return match?.value ?? 0;
}
