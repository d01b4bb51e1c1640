// Public API of the embedded control plane.

export { startControlPlane, parseListen, type ControlPlane, type ControlPlaneOptions } from './controlplane.ts';
export { runControlPlaneCommand, parseControlPlaneArgs, CONTROL_PLANE_USAGE, type CommandIO } from './command.ts';
export type { FailOptions } from './faults.ts';
