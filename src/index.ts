/**
 * The public API: what a plug-in kind imports (`import { defineKind, s } from 'dev2mqtt'`),
 * and what a program embedding agents uses.
 */
export { s, Schema, formatIssues, type Infer, type Issue } from './schema/schema.js';
export {
  defineKind,
  defineProbe,
  command,
  type DeviceKind,
  type Device,
  type DeviceContext,
  type CommandContext,
  type CommandSpec,
  type Poll,
  type PollOptions,
  type SimContext,
  type SimParts,
  type SandboxNeeds,
  type SandboxHost,
  type KindProbe,
  type ProbeHost,
  type StarterDevice,
} from './devices/kind.js';
export { CommandError, ERROR_CODES, type ErrorCode, type ErrorBody } from './devices/errors.js';
export type { HaEntity, HaDeviceInfo, HaTopics, HaComponent } from './homeassistant/entities.js';
export { KernelError } from './kernel/errors.js';
export { Sysfs, type SysfsEntry } from './kernel/sysfs.js';
export { O, POLL, type Kernel, type DeviceFile } from './kernel/kernel.js';
export { catalogue, termiosRequests, type IoctlRequest } from './kernel/requests.js';
export { encode, decode, alloc, intArg, readInt } from './kernel/codec.js';
export * as structs from './kernel/structs.js';
export { hostArch, archByName, type Arch } from './kernel/arch.js';
export { Agent, type AgentOptions } from './agent/agent.js';
export { loadConfig, ConfigError, type AgentConfig } from './config/load.js';
export { KindRegistry } from './devices/registry.js';
export { builtinKinds } from './devices/builtin.js';
export { createLogger } from './log.js';
