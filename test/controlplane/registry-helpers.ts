// A registry on a temp store, without HTTP: for validation and allocation tests.

import { ApiError } from '../../src/controlplane/errors.ts';
import type { Json, JsonObject } from '../../src/controlplane/json.ts';
import { parsePortRange } from '../../src/controlplane/registry/allocator.ts';
import { endpointSliceStrategy } from '../../src/controlplane/registry/endpointslice.ts';
import { namespaceStrategy } from '../../src/controlplane/registry/namespace.ts';
import { nodeStrategy } from '../../src/controlplane/registry/node.ts';
import { Registry, type WriteOptions } from '../../src/controlplane/registry/registry.ts';
import { ServiceAllocators } from '../../src/controlplane/registry/service/allocation.ts';
import { serviceStrategy } from '../../src/controlplane/registry/service/strategy.ts';
import { Store } from '../../src/controlplane/storage/store.ts';
import { systemClock } from '../../src/util/clock.ts';
import { silentLogger } from '../../src/util/logger.ts';
import { removeDir, tempDir } from './helpers.ts';

export interface TestRegistry {
  readonly registry: Registry;
  readonly alloc: ServiceAllocators;
  readonly store: Store;
  create(resource: string, body: Json, ns?: string): Promise<JsonObject>;
  /** The ApiError a create fails with. */
  createError(resource: string, body: Json, ns?: string): Promise<ApiError>;
  close(): Promise<void>;
}

export const OPTS: WriteOptions = { dryRun: false, fieldValidation: 'Strict' };

export async function testRegistry(serviceCIDRs: readonly string[] = ['10.96.0.0/12'], nodePorts = '30000-32767'): Promise<TestRegistry> {
  const dir = await tempDir('reg');
  const store = await Store.open({ dir, logger: silentLogger(), fsync: false });
  const alloc = new ServiceAllocators({ serviceCIDRs, nodePortRange: parsePortRange(nodePorts) });
  const registry = new Registry(store, [namespaceStrategy(), nodeStrategy(), serviceStrategy(alloc), endpointSliceStrategy()], systemClock, silentLogger());
  await registry.init();
  const create = async (resource: string, body: Json, ns = 'default'): Promise<JsonObject> => (await registry.create(resource, ns, body, OPTS)).obj;
  return {
    registry, alloc, store, create,
    async createError(resource, body, ns = 'default') {
      try {
        await create(resource, body, ns);
      } catch (err) {
        if (err instanceof ApiError) return err;
        throw err;
      }
      throw new Error('create succeeded');
    },
    async close() {
      await store.close();
      await removeDir(dir);
    },
  };
}
