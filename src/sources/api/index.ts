// The API source's public surface, for the composition root (src/cli/) and tests.

export { ApiSource, type ApiSourceOptions, type ResourceStatus } from './api-source.ts';
export { createApiClient, type ApiClient, type ApiClientOptions, type ApiRequestOptions, type ApiResponse } from './client.ts';
export {
  Reflector, DEFAULT_REFLECTOR_TUNING,
  type ListReason, type ReflectorObserver, type ReflectorOptions, type ReflectorSink, type ReflectorTuning, type WatchEndReason,
} from './reflector.ts';
export {
  Backoff, CLIENT_GO_REFLECTOR_BACKOFF, createReachabilityProbe, waitForRetry,
  type BackoffPolicy, type ReachabilityProbe,
} from './backoff.ts';
export { ApiError, isApiError, type ApiErrorCode } from './errors.ts';
export { loadKubeConfig, SERVICE_ACCOUNT_DIR, type KubeConfigSource } from './kubeconfig.ts';
export {
  servicesResource, endpointSlicesResource, nodeResource,
  SERVICES_LABEL_SELECTOR, SERVICES_FIELD_SELECTOR, ENDPOINT_SLICES_LABEL_SELECTOR, LEGACY_COMBINED_LABEL_SELECTOR,
  type ResourceSpec, type ServiceSelectorOptions,
} from './resources.ts';
